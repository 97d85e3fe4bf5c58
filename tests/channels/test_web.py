"""The web channel without a browser: the shop page, its catalog API, and the widget's
websocket protocol spoken by a plain websocket client, against the real Rasa."""

from __future__ import annotations

import json
import time
import uuid

import httpx
import pytest
from sqlalchemy import select
from websockets.sync.client import connect

from bot.shop_identity import sign
from crm_store.db import session_scope
from crm_store.models import ChannelIdentity, Conversation, Customer, Direction, Message
from tests.channels.conftest import gateway_settings
from tests.support.gateway_server import GatewayServer

SHOP_SECRET = "shop-secret-for-tests"


@pytest.fixture(scope="module")
def gateway(rasa_settings):
    server = GatewayServer(gateway_settings(rasa_settings, shop_secret=SHOP_SECRET)).start()
    yield server
    server.stop()


class Chat:
    """A widget as the server sees it: hello, then frames both ways."""

    def __init__(self, server: GatewayServer, session: str | None = None, **hello) -> None:
        self.ws = connect(server.ws_url, open_timeout=10)
        self.ws.send(json.dumps({"type": "hello", "session": session, **hello}))
        self.welcome = self.receive()
        assert self.welcome["type"] == "welcome", self.welcome
        self.session = self.welcome["session"]

    def send(self, frame: dict) -> None:
        self.ws.send(json.dumps(frame))

    def say(self, text: str, client_id: str | None = None, payload: str | None = None) -> str:
        client_id = client_id or uuid.uuid4().hex
        frame = {"type": "message", "client_id": client_id, "text": text}
        if payload:
            frame["payload"] = payload
        self.send(frame)
        return client_id

    def receive(self, timeout: float = 60) -> dict:
        return json.loads(self.ws.recv(timeout))

    def until(self, predicate, timeout: float = 60) -> list[dict]:
        """Frames up to and including the first that matches."""
        frames = []
        deadline = time.monotonic() + timeout
        while True:
            frame = self.receive(max(0.1, deadline - time.monotonic()))
            frames.append(frame)
            if predicate(frame):
                return frames

    def answered(self, timeout: float = 60) -> list[dict]:
        """Frames until the bot's reply and the end of typing have both arrived (either order:
        the reply comes from the outbound queue, typing ends when the turn does)."""
        frames = self.until(bot_reply, timeout)
        if TYPING_OFF not in frames:
            frames += self.until(lambda f: f == TYPING_OFF, timeout=10)
        return frames

    def close(self) -> None:
        self.ws.close()


TYPING_OFF = {"type": "typing", "on": False}


def bot_reply(frame: dict) -> bool:
    return frame["type"] == "message" and frame["sender"] != "customer"


def stored(session: str) -> list[Message]:
    with session_scope() as db:
        conversation = db.scalar(select(Conversation).where(
            Conversation.channel == "web", Conversation.external_id == session))
        if conversation is None:
            return []
        return list(db.scalars(select(Message).where(
            Message.conversation_id == conversation.id).order_by(Message.id)))


def test_the_shop_page_shows_the_catalog_and_embeds_the_widget(gateway):
    page = httpx.get(gateway.url + "/")
    assert page.status_code == 200
    assert "Stormline Women&#39;s Waterproof Rain Jacket" in page.text
    assert '<script src="/widget.js" defer></script>' in page.text
    camping = httpx.get(gateway.url + "/", params={"category": "Camping"}).text
    assert 'data-sku="CAM-' in camping and 'data-sku="HIK-' not in camping
    script = httpx.get(gateway.url + "/widget.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert "innerHTML" not in script.text  # everything is set with textContent


def test_the_catalog_api_is_public_and_shows_catalog_fields_only(gateway):
    products = httpx.get(gateway.url + "/api/shop/products").json()
    assert len(products) > 100
    assert set(products[0]) == {"sku", "name", "category", "price", "description", "in_stock"}
    hiking = httpx.get(gateway.url + "/api/shop/products",
                       params={"category": "Hiking & Outdoor"}).json()
    assert hiking and all(p["category"] == "Hiking & Outdoor" for p in hiking)


def test_a_message_is_acknowledged_answered_and_stored(gateway):
    chat = Chat(gateway)
    assert chat.welcome["history"] == [] and chat.welcome["quick_replies"]
    assert len(chat.session) >= 16
    client_id = chat.say("hello")
    frames = chat.answered()
    assert frames[0] == {"type": "ack", "client_id": client_id, "id": frames[0]["id"],
                         "duplicate": False}
    assert frames[1] == {"type": "typing", "on": True}
    replies = [f for f in frames if bot_reply(f)]
    assert len(replies) == 1 and "I'm Kefu" in replies[0]["text"]
    assert replies[0]["sender"] == "bot"
    assert {"type": "typing", "on": False} in frames[2:]
    messages = stored(chat.session)
    assert messages[0].text == "hello" and messages[0].intent == "greet"
    assert messages[0].dedupe_key == f"web:{chat.session}:{client_id}"
    chat.close()


def test_a_resent_message_is_processed_once_and_history_comes_back(gateway):
    chat = Chat(gateway)
    client_id = chat.say("hello")
    reply = next(f for f in chat.answered() if bot_reply(f))
    chat.say("hello", client_id=client_id)  # resent after a reconnect that lost the ack
    assert chat.receive() == {"type": "ack", "client_id": client_id, "id": None,
                              "duplicate": True}
    chat.close()

    again = Chat(gateway, session=chat.session)
    history = again.welcome["history"]
    assert [(m["sender"], m.get("client_id")) for m in history] == \
        [("customer", client_id), ("bot", None)]
    assert history[1]["id"] == reply["id"] and again.welcome["quick_replies"] == []
    assert [m.text for m in stored(chat.session)] == ["hello", reply["text"]]
    again.close()


def test_messages_sent_while_away_arrive_with_the_history_and_acks_mark_them_delivered(gateway):
    chat = Chat(gateway)
    chat.say("hello")
    chat.until(bot_reply)
    chat.close()
    conversation_id = stored(chat.session)[0].conversation_id
    agent = gateway.call(lambda: gateway.gateway.deliver(
        conversation_id=conversation_id, text="Your refund was approved."))
    gateway.call(lambda: gateway.app.state.dispatcher.wait_idle(10))
    assert stored(chat.session)[-1].delivery_status.value == "pending"  # nobody to show it to

    back = Chat(gateway, session=chat.session)
    last = back.welcome["history"][-1]
    assert (last["id"], last["sender"], last["text"]) == \
        (agent.id, "agent", "Your refund was approved.")
    back.send({"type": "ack", "ids": [m["id"] for m in back.welcome["history"]]})
    back.send({"type": "ping"})
    assert back.receive() == {"type": "pong"}  # frames are handled in order: acks are done
    assert all(m.delivery_status.value == "delivered"
               for m in stored(chat.session) if m.direction == Direction.OUTBOUND)
    back.close()


def test_a_live_agent_message_reaches_an_open_widget(gateway):
    chat = Chat(gateway)
    chat.say("hello")
    chat.answered()
    conversation_id = stored(chat.session)[0].conversation_id
    gateway.call(lambda: gateway.gateway.set_mode(conversation_id, "human"))
    client_id = chat.say("I need a person")
    assert chat.receive()["client_id"] == client_id  # ack, and no typing: the bot is quiet
    gateway.call(lambda: gateway.gateway.deliver(conversation_id=conversation_id,
                                                 text="Hello, Sam here."))
    frame = chat.receive(10)
    assert (frame["type"], frame["sender"], frame["text"]) == \
        ("message", "agent", "Hello, Sam here.")
    chat.close()


def test_bad_frames_get_reasons(gateway):
    chat = Chat(gateway)
    chat.ws.send("not json")
    assert chat.receive() == {"type": "error", "reason": "unknown frame type"}
    chat.send({"type": "message", "text": "hi"})
    assert "client_id" in chat.receive()["reason"]
    chat.send({"type": "message", "client_id": "c1", "text": "x" * 2001})
    assert chat.receive() == {"type": "error", "client_id": "c1", "reason": (
        "Sorry, the message is too long (2,001 characters); please keep it to 2,000 "
        "characters or fewer.")}
    chat.send({"type": "message", "client_id": "c2", "text": "   "})
    assert chat.receive() == {"type": "error", "client_id": "c2",
                              "reason": "Sorry, the message is empty."}
    # NUL cannot be stored: refused with its client id, so the widget stops resending it.
    chat.send({"type": "message", "client_id": "c3", "text": "hi\x00there"})
    refusal = chat.receive()
    assert refusal["client_id"] == "c3" and "not text" in refusal["reason"]
    # A binary frame is answered, and the connection goes on working.
    chat.ws.send(b"\x00\xff binary")
    assert "binary" in chat.receive()["reason"]
    chat.ws.send("not json either")
    assert chat.receive() == {"type": "error", "reason": "unknown frame type"}
    chat.send({"type": "message", "client_id": "bad id!", "text": "hi"})
    assert "client_id" in chat.receive()["reason"]
    assert stored(chat.session) == []
    chat.close()

    rude = connect(gateway.ws_url)
    rude.send(json.dumps({"type": "message", "client_id": "c", "text": "hi"}))
    assert "hello" in json.loads(rude.recv(10))["reason"]
    rude.close()


def test_a_signed_identity_verifies_the_chat(gateway):
    email = "Maria.Gonzalez@Example.com"
    chat = Chat(gateway, email=email, token=sign(SHOP_SECRET, email))
    assert chat.welcome["identity"] == "verified" and chat.welcome["verified"] is True
    with session_scope() as db:
        identity = db.scalar(select(ChannelIdentity).where(
            ChannelIdentity.channel == "web", ChannelIdentity.external_id == chat.session))
        customer = db.get(Customer, identity.customer_id)
        assert identity.verified and customer.email == "maria.gonzalez@example.com"
    chat.close()

    forged = Chat(gateway, email="someone@example.com", token=sign("not-the-secret",
                                                                  "someone@example.com"))
    assert forged.welcome["identity"] == "invalid" and forged.welcome["verified"] is False
    forged.close()
