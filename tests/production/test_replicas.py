"""Two replicas of everything on the production profile: `kefu run --profile production
--replicas 2` with nginx in front of each tier, PostgreSQL, Redis and RabbitMQ.

One stack for the module (two Rasa replicas take a minute or two to load). The tests reach a
replica directly where the point is that *another* replica did the work.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx
import pytest
import redis
from sqlalchemy import select
from websockets.sync.client import connect

from crm_store import db
from crm_store.db import session_scope
from crm_store.models import Conversation
from crm_store.services import dialogue_events, staff
from tests.e2e.stack import (
    REDIS_URL,
    RunningStack,
    create_production_services,
    drop_production_services,
    free_port_block,
    start_stack,
)

pytestmark = pytest.mark.e2e

REPLICAS = 2
WAIT = 120  # seconds; the first turns of a freshly loaded model are slow on 2 cores
AGENT_EMAIL, AGENT_PASSWORD = "agent@shop.example", "correct horse battery staple"


@dataclass
class Cluster:
    stack: RunningStack
    ports: dict[str, int]

    def gateway(self, replica: int | None = None) -> str:
        """The public URL (nginx), or replica 1..N's own."""
        return f"http://127.0.0.1:{self.ports['gateway'] + (replica or 0)}"

    def rasa(self, replica: int) -> str:
        return f"http://127.0.0.1:{self.ports['rasa'] + replica}"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    services = create_production_services()
    ports = {tier: free_port_block(REPLICAS + 1) for tier in ("gateway", "rasa", "actions")}
    stack = None
    try:
        stack = start_stack(tmp_path_factory.mktemp("kefu-replicas"), ports,
                            extra_env=services.env, timeout=480,
                            args=["--profile", "production", "--replicas", str(REPLICAS)])
        db.configure(services.database_url)
        with session_scope() as session:
            staff.create_user(session, email=AGENT_EMAIL, password=AGENT_PASSWORD,
                              role="agent", name="Agnes")
        yield Cluster(stack, ports)
    finally:
        if stack is not None:
            stack.stop()
        drop_production_services(services)


def _sender(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


def _say(url: str, sender: str, text: str) -> list[dict]:
    response = httpx.post(f"{url}/webhooks/rest/webhook", json={"sender": sender,
                                                               "message": text}, timeout=WAIT)
    assert response.status_code == 200, response.text
    return response.json()


def _token(gateway_url: str) -> str:
    response = httpx.post(f"{gateway_url}/api/auth/login",
                          json={"email": AGENT_EMAIL, "password": AGENT_PASSWORD}, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()["token"]


def _recv_until(ws, predicate, what: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        try:
            frame = json.loads(ws.recv(timeout=max(0.1, deadline - time.monotonic())))
        except TimeoutError:
            break
        seen.append(frame)
        if predicate(frame):
            return frame
    raise AssertionError(f"never received {what}; got {seen}")


def test_one_public_url_in_front_of_two_replicas_of_each_tier(cluster):
    out = cluster.stack.output()
    assert f"Open the shop page: {cluster.gateway()}/" in out
    for name in ("actions-1", "actions-2", "rasa-1", "rasa-2", "gateway-1", "gateway-2",
                 "nginx"):
        assert f"started {name} (pid" in out, out
    assert httpx.get(f"{cluster.gateway()}/healthz", timeout=10).json()["rasa"] is True
    # nginx takes turns: four customers through the public URL reach both gateways.
    for _ in range(4):
        assert _say(cluster.gateway(), _sender("balanced"), "hello")
    logs = cluster.stack.data_dir / "logs"
    for replica in (1, 2):
        assert "POST /webhooks/rest/webhook" in (logs / f"gateway-{replica}.log").read_text()


def test_two_rasa_replicas_answer_one_customer_in_order(cluster):
    """The same customer's messages land on both Rasa replicas at once; Rasa's Redis lock
    store makes one wait for the other, so the tracker holds each turn whole and in order."""
    sender = _sender("lock")
    locks: list[str] = []
    stop_marker = f"kefu:test-stop:{sender}"
    monitor_ready = threading.Event()

    def watch_redis() -> None:
        client = redis.Redis.from_url(REDIS_URL)
        with client.monitor() as monitor:
            monitor_ready.set()
            for command in monitor.listen():
                text = command["command"]
                if stop_marker in text:
                    return
                if f"lock:{sender}" in text:
                    locks.append(text)

    watcher = threading.Thread(target=watch_redis, daemon=True)
    watcher.start()
    assert monitor_ready.wait(10)
    rounds = 4
    with ThreadPoolExecutor(2) as pool:
        for i in range(rounds):
            first = pool.submit(_say, cluster.rasa(1), sender, f"hello {i}a")
            second = pool.submit(_say, cluster.rasa(2), sender, f"hello {i}b")
            assert first.result() and second.result(), "a message went unanswered"
    redis.Redis.from_url(REDIS_URL).get(stop_marker)
    watcher.join(10)

    tracker = httpx.get(f"{cluster.rasa(2)}/conversations/{sender}/tracker", timeout=30).json()
    events = [e for e in tracker["events"] if e["event"] in ("user", "bot", "action")]
    said = [e["text"] for e in events if e["event"] == "user"]
    assert sorted(said) == sorted(f"hello {i}{x}" for i in range(rounds) for x in "ab")
    # Each turn is whole: after a customer's message come the bot's answer and Rasa listening
    # again, before the next message. Two replicas writing at once would interleave them.
    turns: list[list[dict]] = []
    for event in events:
        if event["event"] == "user":
            turns.append([])
        elif turns:
            turns[-1].append(event)
    for text, turn in zip(said, turns, strict=True):
        assert any(e["event"] == "bot" for e in turn), (text, turn)
        assert turn[-1]["event"] == "action" and turn[-1]["name"] == "action_listen", \
            (text, turn)
    # And it was the lock store doing it: both replicas took the sender's lock in Redis.
    assert sum(c.upper().startswith("SET ") for c in locks) >= 2 * rounds, locks


def test_two_gateways_take_one_customers_messages_at_once_and_lose_none(cluster):
    """The same REST customer writing through both gateway replicas at once: every message is
    stored, answered, and classified (the intent Rasa found is kept with it)."""
    sender = _sender("both-gateways")
    rounds = 3
    with ThreadPoolExecutor(2) as pool:
        for i in range(rounds):
            first = pool.submit(_say, cluster.gateway(1), sender, f"hello {i}a")
            second = pool.submit(_say, cluster.gateway(2), sender, f"hello {i}b")
            assert first.result() and second.result(), "a message went unanswered"
    with session_scope() as session:
        conversation = session.scalar(select(Conversation).where(
            Conversation.channel == "rest", Conversation.external_id == sender))
        messages = [(m.sender_kind.value, m.text, m.intent) for m in conversation.messages]
    inbound = [(text, intent) for kind, text, intent in messages if kind == "customer"]
    assert sorted(text for text, _ in inbound) == \
        sorted(f"hello {i}{x}" for i in range(rounds) for x in "ab")
    assert all(intent == "greet" for _, intent in inbound), inbound
    assert sum(kind == "bot" for kind, _, _ in messages) >= 2 * rounds, messages


def test_agent_console_on_one_replica_sees_a_customer_on_the_other(cluster):
    console = connect(cluster.gateway(1).replace("http", "ws") + "/ws/staff",
                      additional_headers={"Authorization": f"Bearer {_token(cluster.gateway(1))}"})
    try:
        assert json.loads(console.recv(timeout=10))["type"] == "hello"
        sender = _sender("fanout")
        text = f"hello, it is {sender}"
        _say(cluster.gateway(2), sender, text)
        event = _recv_until(console, lambda e: e.get("type") == "message"
                            and e["message"]["text"] == text, "the customer's message")
        assert event["channel"] == "rest" and event["direction"] == "inbound"
        # The assistant's answer, given on replica 2, is on replica 1's console too.
        _recv_until(console, lambda e: e.get("type") == "message"
                    and e["conversation_id"] == event["conversation_id"]
                    and e["direction"] == "outbound", "the assistant's answer")
    finally:
        console.close()


def test_agent_reply_from_one_replica_reaches_a_widget_on_the_other(cluster):
    session = secrets.token_urlsafe(18)
    widget = connect(cluster.gateway(2).replace("http", "ws") + "/ws/chat", open_timeout=10)
    try:
        widget.send(json.dumps({"type": "hello", "session": session}))
        assert json.loads(widget.recv(timeout=10))["type"] == "welcome"
        widget.send(json.dumps({"type": "message", "client_id": "m1", "text": "/human"}))
        _recv_until(widget, lambda f: f.get("type") == "ack" and f["client_id"] == "m1",
                    "the acknowledgement")
        with session_scope() as db_session:
            conversation_id = db_session.scalar(select(Conversation.id).where(
                Conversation.channel == "web", Conversation.external_id == session))
        assert conversation_id is not None

        agent = httpx.Client(base_url=cluster.gateway(1), timeout=60, headers={
            "Authorization": f"Bearer {_token(cluster.gateway(1))}"})
        waiting = agent.get("/api/handoffs", params={"status": "waiting"})
        assert waiting.status_code == 200, waiting.text
        [handoff] = [h for h in waiting.json() if h["conversation_id"] == conversation_id]
        assert agent.post(f"/api/handoffs/{handoff['id']}/claim").status_code == 200
        reply = agent.post(f"/api/conversations/{conversation_id}/messages",
                           json={"text": "Agnes here, on the other replica."})
        assert reply.status_code == 201, reply.text

        got = _recv_until(widget, lambda f: f.get("type") == "message"
                          and f.get("sender") == "agent", "the agent's reply")
        assert got["text"] == "Agnes here, on the other replica."
    finally:
        widget.close()


def test_rasas_events_reach_the_store_through_rabbitmq(cluster):
    sender = _sender("events")
    _say(cluster.gateway(), sender, "hello")
    sender_id = f"rest:{sender}"
    deadline = time.monotonic() + 30
    kept: list = []
    while time.monotonic() < deadline:
        with session_scope() as session:
            kept = [(e.kind, e.name, e.conversation_id)
                    for e in dialogue_events.for_sender(session, sender_id)]
        if ("intent", "greet") in [(k, n) for k, n, _ in kept] and \
                ("action", "utter_greet") in [(k, n) for k, n, _ in kept]:
            break
        time.sleep(0.2)
    else:
        raise AssertionError(f"the turn's events were not recorded: {kept}")
    with session_scope() as session:
        conversation_id = session.scalar(select(Conversation.id).where(
            Conversation.channel == "rest", Conversation.external_id == sender))
        counts = dialogue_events.summary(session)
    assert {c for _, _, c in kept} == {conversation_id}
    assert counts["intent"]["greet"] >= 1 and counts["action"]["utter_greet"] >= 1
