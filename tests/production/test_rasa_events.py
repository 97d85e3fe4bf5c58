"""The gateway's consumer of Rasa's event broker, on the machine's RabbitMQ.

Events are published the way Rasa's pika broker publishes them (JSON tracker events with the
sender id) into a queue of this test's own; the end-to-end version, with real Rasa replicas
publishing, is in test_replicas.py."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import subprocess
import time

import aio_pika
import pytest

from bot.rasa_events import RasaEventConsumer
from crm_store import db, migrate
from crm_store.db import session_scope
from crm_store.services import conversations, dialogue_events
from tests.e2e.stack import KEFU, RABBITMQ_URL, REPO


@pytest.fixture
def store(tmp_path):
    url = f"sqlite:///{tmp_path / 'kefu.db'}"
    db.configure(url)
    migrate.upgrade(url=url)
    yield url
    db.reset_engine()


def _turn(sender_id: str, at: float) -> list[dict]:
    """One customer turn as Rasa's tracker store publishes it."""
    return [
        {"sender_id": sender_id, "event": "user", "timestamp": at, "text": "hello",
         "parse_data": {"intent": {"name": "greet", "confidence": 0.98}}},
        {"sender_id": sender_id, "event": "action", "timestamp": at + 0.01,
         "name": "utter_greet", "confidence": 1.0},
        {"sender_id": sender_id, "event": "bot", "timestamp": at + 0.02, "text": "Hello!"},
        {"sender_id": sender_id, "event": "action", "timestamp": at + 0.03,
         "name": "action_listen"},
        {"sender_id": sender_id, "event": "action_execution_rejected",
         "timestamp": at + 0.04, "name": "action_check_order"},
    ]


async def _publish(queue: str, bodies: list[bytes]) -> None:
    connection = await aio_pika.connect(RABBITMQ_URL)
    async with connection:
        channel = await connection.channel()
        for body in bodies:
            await channel.default_exchange.publish(aio_pika.Message(body), routing_key=queue)


async def _delete(queue: str) -> None:
    connection = await aio_pika.connect(RABBITMQ_URL)
    async with connection:
        await (await connection.channel()).queue_delete(queue)


def test_a_turn_is_kept_once_even_when_delivered_twice_and_bad_events_are_dropped(store):
    sender_id = f"rest:{secrets.token_hex(4)}"
    with session_scope() as session:
        conversation = conversations.get_or_start(session, channel="rest",
                                                  external_id=sender_id[5:])
        conversation_id = conversation.id
    queue = f"kefu_test_{secrets.token_hex(4)}"
    events = _turn(sender_id, time.time())
    bodies = [b"not json", b"[1, 2]", b'{"event": "user"}',
              *(json.dumps(e).encode() for e in events),
              json.dumps(events[0]).encode()]  # the broker delivers at least once

    async def scenario() -> RasaEventConsumer:
        consumer = RasaEventConsumer(RABBITMQ_URL, queue)
        await consumer.start()
        try:
            await _publish(queue, bodies)
            deadline = time.monotonic() + 15
            while consumer.handled < len(bodies) and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
        finally:
            await consumer.stop()
            await _delete(queue)
        return consumer

    consumer = asyncio.run(scenario())
    assert consumer.handled == len(bodies)
    with session_scope() as session:
        kept = [(e.kind, e.name, e.conversation_id, e.confidence)
                for e in dialogue_events.for_sender(session, sender_id)]
        counts = dialogue_events.summary(session)
    assert kept == [("intent", "greet", conversation_id, pytest.approx(0.98)),
                    ("action", "utter_greet", conversation_id, 1.0),
                    ("action_rejected", "action_check_order", conversation_id, None)]
    assert counts["intent"] == {"greet": 1}
    assert counts["action_rejected"] == {"action_check_order": 1}


def test_kefu_dialogue_prints_what_was_recorded(store, tmp_path):
    with session_scope() as session:
        for event in _turn("web:abc", time.time()):
            dialogue_events.record(session, event)
    env = {**os.environ, "KEFU_DATABASE_URL": store, "KEFU_DATA_DIR": str(tmp_path)}
    done = subprocess.run([str(KEFU), "dialogue", "--hours", "1"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    lines = [line.split() for line in done.stdout.splitlines()]
    assert ["intent:"] in lines and ["1", "greet"] in lines
    assert ["action_rejected:"] in lines and ["1", "action_check_order"] in lines
    assert not any("action_listen" in line for line in done.stdout.splitlines())
