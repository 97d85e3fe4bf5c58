"""Gateway replicas sharing staff events and widget deliveries over the machine's Redis.

Two `RedisFanout`s in one event loop stand for two gateway processes (each has its own Redis
connections, exactly as two processes would); the end-to-end version with two real gateway
processes behind nginx is in test_replicas.py."""

from __future__ import annotations

import asyncio
import json
import secrets
from datetime import UTC, datetime

import pytest

from bot.channels.web import Connection, WebConnections, WebSender
from bot.fanout import RedisFanout
from bot.messages import ChatMessage, Content
from bot.staff_bus import RedisStaffBus
from bot.store import ConversationRef
from tests.conftest import free_port
from tests.e2e.stack import REDIS_URL


class Widget:
    """Stands in for Starlette's WebSocket: what the gateway sent to one browser tab."""

    def __init__(self) -> None:
        self.frames: list[dict] = []
        self.arrived = asyncio.Event()

    async def send_text(self, text: str) -> None:
        self.frames.append(json.loads(text))
        self.arrived.set()


async def _replicas(n: int = 2) -> list[RedisFanout]:
    fanouts = [RedisFanout(REDIS_URL) for _ in range(n)]
    for fanout in fanouts:
        await fanout.start()
    return fanouts


async def _stop(fanouts: list[RedisFanout]) -> None:
    for fanout in fanouts:
        await fanout.stop()


def test_a_console_on_one_replica_sees_what_another_publishes():
    async def scenario() -> None:
        a, b = await _replicas()
        try:
            bus_a, bus_b = RedisStaffBus(a), RedisStaffBus(b)
            await bus_a.start()
            await bus_b.start()
            async with bus_a.subscribe() as events:
                marker = secrets.token_hex(4)
                await bus_b.publish({"type": "message", "conversation_id": 7, "m": marker})
                event = await asyncio.wait_for(anext(events), 5)
            assert event == {"type": "message", "conversation_id": 7, "m": marker}
        finally:
            await _stop([a, b])

    asyncio.run(scenario())


def test_redis_gone_still_reaches_this_replicas_consoles():
    async def scenario() -> None:
        # Nobody listens on this port: every publish fails to connect.
        bus = RedisStaffBus(RedisFanout(f"redis://127.0.0.1:{free_port()}/0"))
        async with bus.subscribe() as events:
            await bus.publish({"type": "handoff.requested", "conversation_id": 1})
            event = await asyncio.wait_for(anext(events), 5)
        assert event["type"] == "handoff.requested"

    asyncio.run(scenario())


def _message(text: str) -> ChatMessage:
    return ChatMessage(id=1, conversation_id=1, direction="outbound", sender="agent",
                       content=Content(text), created_at=datetime.now(UTC))


@pytest.mark.parametrize("tabs_on_b", [1, 2])
def test_a_reply_sent_by_one_replica_reaches_the_widget_open_on_another(tabs_on_b):
    async def scenario() -> None:
        a, b = await _replicas()
        try:
            web_a, web_b = WebConnections(relay=a), WebConnections(relay=b)
            session = secrets.token_urlsafe(18)
            conversation = ConversationRef(id=1, channel="web", external_id=session,
                                           customer_id=None, mode="bot")
            sender_a = WebSender(web_a)
            # Nobody has the chat open anywhere: the message waits for the history.
            outcome = await sender_a.send(conversation, _message("early"))
            assert outcome.status == "deferred"

            widgets = [Widget() for _ in range(tabs_on_b)]
            for widget in widgets:
                await web_b.add(Connection(widget, session))
            outcome = await sender_a.send(conversation, _message("Anna here"))
            assert outcome.status == "sent"
            for widget in widgets:
                await asyncio.wait_for(widget.arrived.wait(), 5)
                assert [f["text"] for f in widget.frames] == ["Anna here"]
        finally:
            await _stop([a, b])

    asyncio.run(scenario())


def test_the_customers_other_tabs_see_their_message_but_the_sending_tab_does_not():
    async def scenario() -> None:
        a, b = await _replicas()
        try:
            web_a, web_b = WebConnections(relay=a), WebConnections(relay=b)
            session = secrets.token_urlsafe(18)
            sending, other_here, other_there = Widget(), Widget(), Widget()
            sending_tab = Connection(sending, session)
            await web_a.add(sending_tab)
            await web_a.add(Connection(other_here, session))
            await web_b.add(Connection(other_there, session))
            reached = await web_a.broadcast(session, {"type": "message", "text": "hi"},
                                            exclude=sending_tab)
            assert reached == 2  # both replicas hold the session
            await asyncio.wait_for(other_here.arrived.wait(), 5)
            await asyncio.wait_for(other_there.arrived.wait(), 5)
            assert sending.frames == []
            # The last tab on B closes: B stops listening for the session.
            await web_b.remove(web_b.get(session)[0])
            assert await web_a.broadcast(session, {"type": "ping"}) == 1
        finally:
            await _stop([a, b])

    asyncio.run(scenario())
