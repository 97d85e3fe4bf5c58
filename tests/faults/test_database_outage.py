"""The customer store (PostgreSQL) unreachable for 10 seconds.

While it is down nothing may be half-written or silently dropped: REST callers get 503 with
Retry-After and a reason, and Telegram updates are not confirmed (long polling does not move
its offset past them), so they come again. After it is back every message is stored exactly
once and answered. The web widget's message is not acknowledged and comes again with the
widget's next connection.
"""

from __future__ import annotations

import json
import time

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.faults.conftest import chats, new_sender, wait_for

pytestmark = pytest.mark.e2e

OUTAGE = 10.0


def test_ten_seconds_without_the_database_lose_nothing(stack):
    api, store, proxy = stack.bot_api, stack.store, stack.proxy
    rest_sender = new_sender("db")
    chat = next(chats)
    # Both customers have a conversation going before the outage.
    assert "I'm Kefu" in stack.says(rest_sender, "hello", message_id="before")
    api.push_text(chat, "hello")
    api.wait_for(lambda: api.texts(chat), what="the Telegram greeting")
    answered = len(api.texts(chat))

    proxy.cut()
    cut_at = time.monotonic()
    try:
        # REST: refused with 503, a reason and Retry-After; nothing stored.
        refused = stack.rest(rest_sender, "hi", message_id="during")
        assert refused.status_code == 503, refused.text
        assert int(refused.headers["Retry-After"]) > 0
        assert "unavailable" in refused.json()["detail"]
        # Telegram: the update is fetched, cannot be stored, and is not confirmed.
        update = api.push_text(chat, "are you there?")
        polls_before = len(api.sent("getUpdates"))
        api.wait_for(lambda: len(api.sent("getUpdates")) >= polls_before + 2, timeout=30,
                     what="the bot to poll again while the store is down")
        offsets = [int(c.params.get("offset") or 0) for c in api.sent("getUpdates")]
        assert max(offsets) <= update["update_id"]  # never confirmed past it
        assert len(api.texts(chat)) == answered  # no answer while it is not stored
        # The rest of the outage: it is the scenario's length, not a wait for an event.
        time.sleep(max(0.0, OUTAGE - (time.monotonic() - cut_at)))
        assert store.inbound_texts("rest", rest_sender) == ["hello"]
    finally:
        proxy.restore()
    assert proxy.refused > 0  # the processes really did try, and were turned away

    # Back: the REST caller retries (same message_id) and is answered; Telegram's update
    # comes again by itself and is answered.
    assert "I'm Kefu" in stack.says(rest_sender, "hi", message_id="during")
    api.wait_for(lambda: len(api.texts(chat)) > answered, timeout=60,
                 what="the answer to the message sent during the outage")
    assert store.inbound_texts("rest", rest_sender) == ["hello", "hi"]
    assert store.inbound_texts("telegram", str(chat)) == ["hello", "are you there?"]
    # A repeat of the retried request changes nothing.
    assert stack.rest(rest_sender, "hi", message_id="during").json() == []
    assert store.inbound_texts("rest", rest_sender) == ["hello", "hi"]
    # Each inbound message has its answer stored after it.
    for channel, external_id in (("rest", rest_sender), ("telegram", str(chat))):
        directions = [m.direction.value for m in store.messages(channel, external_id)]
        assert directions[0] == "inbound" and directions[-1] == "outbound", directions
        assert directions.count("inbound") == 2
        assert "inbound,inbound" not in ",".join(directions), directions
    wait_for(lambda: all(m.delivery_status.value == "delivered"
                         for m in store.messages("telegram", str(chat))
                         if m.direction.value == "outbound"),
             what="the Telegram replies marked delivered")


class Widget:
    """The web widget's side of the websocket protocol (bot/channels/web.py): hello, then
    frames; like widget.js it keeps a message until the server acknowledges it."""

    def __init__(self, gateway_url: str, session: str | None = None) -> None:
        self.ws = connect(gateway_url.replace("http://", "ws://") + "/ws/chat", open_timeout=10)
        self.ws.send(json.dumps({"type": "hello", "session": session}))
        self.welcome = self.receive()
        assert self.welcome["type"] == "welcome", self.welcome
        self.session = self.welcome["session"]

    def receive(self, timeout: float = 60) -> dict:
        return json.loads(self.ws.recv(timeout))

    def until(self, predicate, timeout: float = 60) -> list[dict]:
        frames, deadline = [], time.monotonic() + timeout
        while True:
            frames.append(self.receive(max(0.1, deadline - time.monotonic())))
            if predicate(frames[-1]):
                return frames

    def send(self, client_id: str, text: str) -> None:
        self.ws.send(json.dumps({"type": "message", "client_id": client_id, "text": text}))


def test_a_web_message_sent_while_the_database_is_down_is_not_acknowledged(stack):
    """The widget keeps an unacknowledged message in its outbox and sends it again after
    its next (re)connect, when the welcome's history does not have it."""
    store, proxy = stack.store, stack.proxy
    widget = Widget(stack.gateway_url)
    proxy.cut()
    try:
        widget.send("outage-1", "hello")
        frames = widget.until(lambda f: f["type"] == "error", timeout=30)
        assert not [f for f in frames if f["type"] == "ack"]  # not acknowledged
        assert "try again" in frames[-1]["reason"]
        # The server then closes with "try again later", so widget.js reconnects and resends.
        with pytest.raises(ConnectionClosed) as closed:
            widget.receive(timeout=10)
        assert closed.value.rcvd.code == 1013
    finally:
        proxy.restore()
    widget.ws.close()
    assert store.messages("web", widget.session) == []
    # widget.js on reconnect: hello with its session; the message is not in the history,
    # so it is sent again with the same client id.
    again = Widget(stack.gateway_url, session=widget.session)
    assert [m for m in again.welcome["history"] if m.get("client_id") == "outage-1"] == []
    again.send("outage-1", "hello")
    acked = again.until(lambda f: f["type"] == "ack")[-1]
    assert acked["client_id"] == "outage-1" and acked["duplicate"] is False
    reply = again.until(lambda f: f["type"] == "message" and f.get("sender") == "bot")[-1]
    assert "I'm Kefu" in reply["text"]
    again.send("outage-1", "hello")  # a resend that crossed the ack changes nothing
    assert again.until(lambda f: f["type"] == "ack")[-1]["duplicate"] is True
    assert store.inbound_texts("web", widget.session) == ["hello"]
    again.ws.close()
