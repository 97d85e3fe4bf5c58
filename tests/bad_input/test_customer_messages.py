"""Odd and hostile customer messages through the gateway and the real Rasa: each gets an
answer, nothing crashes, and what is stored is exactly what was sent.

The rule for what is refused is one (bot/limits.py: empty, over KEFU_MAX_MESSAGE_CHARS, NUL
or broken UTF-16) and the REST channel and the web widget apply it alike.
"""

from __future__ import annotations

import json
import uuid

import httpx
import pytest
from sqlalchemy import func, select
from websockets.sync.client import connect

from crm_store.db import session_scope
from crm_store.models import Direction, Message, Ticket
from kefu_config.settings import get_settings
from tests.bad_input.conftest import ANNA, bearer
from tests.support.conversation_log import messages as conversation_messages

MAX_MESSAGE_CHARS = get_settings().max_message_chars

ODD_BUT_FINE = {
    "control characters": "hello\x07 there\x1b[31m red\ttab\r\nnew line\x7f",
    "emoji": "where is my 📦? 👍🏽 👨‍👩‍👧 🏳️‍🌈",
    "right-to-left": "مرحبا، أين طلبي؟ \u202eשלום\u202c עברית",
    "SQL injection": "A1178'; DROP TABLE messages; -- \" OR 1=1; SELECT * FROM customers",
    "script injection": "<script>alert('x')</script><img src=x onerror=alert(1)>{{7*7}}",
    "exactly the longest allowed": "a" * (MAX_MESSAGE_CHARS - 10) + " thank you",
}


def rest(gateway, sender: str, message: str) -> httpx.Response:
    return httpx.post(f"{gateway.url}/webhooks/rest/webhook",
                      json={"sender": sender, "message": message}, timeout=120)


@pytest.mark.parametrize("what", list(ODD_BUT_FINE))
def test_odd_messages_are_answered_and_stored_exactly(rasa_gateway, what):
    text = ODD_BUT_FINE[what]
    sender = f"odd-{uuid.uuid4().hex[:8]}"
    response = rest(rasa_gateway, sender, text)
    assert response.status_code == 200, response.text
    replies = response.json()
    assert replies and all(r.get("text") or r.get("buttons") for r in replies), replies
    # The dialogue answered (not the gateway's "try again shortly" when Rasa fails).
    assert not any("try again shortly" in r.get("text", "") for r in replies), replies
    stored = conversation_messages("rest", sender)
    assert [m.text for m in stored if m.direction == Direction.INBOUND] == [text]
    assert [m.text for m in stored if m.direction == Direction.OUTBOUND] == \
        [r["text"] for r in replies if "text" in r]


def test_injection_strings_are_kept_as_text_and_shown_as_text_to_staff(rasa_gateway):
    sender = f"inject-{uuid.uuid4().hex[:8]}"
    for text in (ODD_BUT_FINE["SQL injection"], ODD_BUT_FINE["script injection"]):
        assert rest(rasa_gateway, sender, text).status_code == 200
    with session_scope() as session:
        # The "DROP TABLE" did nothing: the table is there with every message in it.
        assert session.scalar(select(func.count()).select_from(Message)) > 2
    stored = conversation_messages("rest", sender)
    transcript = httpx.get(f"{rasa_gateway.url}/api/conversations/{stored[0].conversation_id}",
                           headers=bearer(rasa_gateway, ANNA), timeout=30)
    assert transcript.status_code == 200, transcript.text
    customer_said = [m["text"] for m in transcript.json()["messages"]
                     if m["sender"] == "customer"]
    assert customer_said == [ODD_BUT_FINE["SQL injection"], ODD_BUT_FINE["script injection"]]
    # JSON carries it as a string; the agent console sets it with textContent, never as HTML.
    assert transcript.headers["content-type"].startswith("application/json")


@pytest.mark.parametrize("text, reason", [
    ("", "the message is empty"),
    ("   \n\t  ", "the message is empty"),
    ("x" * 10_000, "too long (10,000 characters)"),
    ("x" * (MAX_MESSAGE_CHARS + 1), f"keep it to {MAX_MESSAGE_CHARS:,} characters"),
    ("nul \x00 byte", "not text"),
    ("broken \ud800 surrogate", "not text"),
], ids=["empty", "whitespace", "10000 chars", "one over", "NUL", "lone surrogate"])
def test_refused_messages_get_the_reason_and_nothing_is_stored(rasa_gateway, text, reason):
    sender = f"refused-{uuid.uuid4().hex[:8]}"
    # json.dumps writes a lone surrogate as the \\ud800 escape, as a client would send it.
    response = httpx.post(f"{rasa_gateway.url}/webhooks/rest/webhook",
                          content=json.dumps({"sender": sender, "message": text}),
                          headers={"Content-Type": "application/json"}, timeout=30)
    assert response.status_code == 422, response.text
    assert reason in response.text
    assert conversation_messages("rest", sender) == []


def test_bytes_that_are_not_utf8_get_400_and_nothing_is_stored(rasa_gateway):
    sender = f"latin1-{uuid.uuid4().hex[:8]}"
    body = f'{{"sender": "{sender}", "message": "caf'.encode() + b'\xe9 cr\xe8me"}'
    response = httpx.post(f"{rasa_gateway.url}/webhooks/rest/webhook", content=body,
                          headers={"Content-Type": "application/json"}, timeout=30)
    assert response.status_code in (400, 422), response.text
    assert response.json()["detail"]
    assert conversation_messages("rest", sender) == []


class Widget:
    def __init__(self, gateway) -> None:
        self.ws = connect(gateway.ws_url, open_timeout=10)
        self.ws.send(json.dumps({"type": "hello"}))
        welcome = json.loads(self.ws.recv(30))
        assert welcome["type"] == "welcome", welcome
        self.session = welcome["session"]

    def say(self, text: str) -> dict:
        """The first answer to this message: its ack or an error."""
        client_id = uuid.uuid4().hex
        self.ws.send(json.dumps({"type": "message", "client_id": client_id, "text": text}))
        while True:
            frame = json.loads(self.ws.recv(120))
            if frame["type"] in ("ack", "error"):
                return frame

    def close(self) -> None:
        self.ws.close()


def test_the_web_widget_applies_the_same_length_rule(rasa_gateway):
    widget = Widget(rasa_gateway)
    try:
        longest = "b" * (MAX_MESSAGE_CHARS - 10) + " thank you"
        assert widget.say(longest)["type"] == "ack"
        over = widget.say("b" * (MAX_MESSAGE_CHARS + 1))
        assert over["type"] == "error" and f"{MAX_MESSAGE_CHARS:,}" in over["reason"]
        empty = widget.say("   ")
        assert empty["type"] == "error" and "empty" in empty["reason"]
        emoji = widget.say(ODD_BUT_FINE["emoji"])
        assert emoji["type"] == "ack"
    finally:
        widget.close()
    inbound = [m.text for m in conversation_messages("web", widget.session)
               if m.direction == Direction.INBOUND]
    assert inbound == [longest, ODD_BUT_FINE["emoji"]]


def test_guessing_someone_elses_order_number_reveals_nothing(rasa_gateway):
    # A1178 is Emma's (demo shop): shipped with Royal Mail, tracking MY237890581GB.
    sender = f"guesser-{uuid.uuid4().hex[:8]}"
    said = []
    for text in ("where is my order A1178?", "mallory@example.com", "A1178",
                 "emma@example.com"):
        response = rest(rasa_gateway, sender, text)
        assert response.status_code == 200, response.text
        said += [r.get("text", "") for r in response.json()]
    answer = "\n".join(said)
    assert said, "the bot said nothing"
    for secret in ("MY237890581GB", "Royal Mail", "shipped", "CAM-006", "19.00", "Emma"):
        assert secret.lower() not in answer.lower(), answer


def test_guessing_someone_elses_ticket_reference_reveals_nothing(rasa_gateway):
    with session_scope() as session:
        ticket = session.scalar(select(Ticket).where(Ticket.reference.is_not(None),
                                                     Ticket.customer_id.is_not(None))
                                .order_by(Ticket.id))
        assert ticket is not None, "the demo shop has tickets"
        reference, subject = ticket.reference, ticket.subject
    sender = f"ticket-guesser-{uuid.uuid4().hex[:8]}"
    said = []
    for text in (f"what is the status of my complaint {reference}?", "mallory@example.com"):
        response = rest(rasa_gateway, sender, text)
        assert response.status_code == 200, response.text
        said += [r.get("text", "") for r in response.json()]
    answer = "\n".join(said)
    assert said, "the bot said nothing"
    assert subject.lower() not in answer.lower(), answer
