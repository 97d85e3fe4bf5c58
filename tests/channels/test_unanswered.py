"""Messages stored but never answered (the gateway died, the store stayed down) are answered
once, through the real gateway and the real Rasa (bot/recovery.py).

A message left unfinished is made the way a crash leaves it: stored by crm_store's inbound
path under a lease of a replica that is gone. The kill -9 itself is in tests/faults.
"""

from __future__ import annotations

import time
from datetime import timedelta

import httpx
from sqlalchemy import select, update

from bot.recovery import HANDOFF_REASON
from crm_store.db import session_scope
from crm_store.models import Conversation, Direction, Handoff, Message, utcnow
from crm_store.services import delivery
from tests.channels.conftest import gateway_settings
from tests.support import conversation_log

DEAD = "gw-dead:1"  # a replica that stored the message and died


def _leave_unanswered(sender: str, text: str, *, dedupe_key: str | None = None,
                      age: timedelta = timedelta(0)) -> int:
    with session_scope() as session:
        stored = delivery.record_inbound(session, channel="rest", external_id=sender,
                                         text=text, dedupe_key=dedupe_key,
                                         lease=(DEAD, utcnow() - timedelta(seconds=1)))
        assert stored.message is not None
        if age:
            session.execute(update(Message).where(Message.id == stored.message.id)
                            .values(created_at=utcnow() - age))
        return stored.message.id


def _messages(sender: str) -> list[Message]:
    return conversation_log.messages("rest", sender)


def _bot_texts(sender: str) -> list[str]:
    return [m.text for m in _messages(sender) if m.direction == Direction.OUTBOUND]


def _wait(predicate, timeout: float = 60.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := predicate():
            return result
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def _quiet_gateway(rasa_settings, start_gateway, **settings):
    """A gateway whose own sweep ran once at start-up and not again during the test."""
    gateway = start_gateway(gateway_settings(rasa_settings, unanswered_sweep_interval=3600,
                                             **settings))
    _wait(lambda: gateway.app.state.recovery.sweeps >= 1, what="the start-up sweep")
    return gateway


def test_a_resend_of_a_message_that_was_never_answered_gets_the_answer(rasa_settings,
                                                                         start_gateway):
    gateway = _quiet_gateway(rasa_settings, start_gateway)  # only the resend can answer it
    sender = "rest-resent"
    message_id = _leave_unanswered(sender, "hello", dedupe_key=f"rest:{sender}:m-1")
    assert _bot_texts(sender) == []  # today: the resend is a duplicate and gets []

    response = httpx.post(f"{gateway.url}/webhooks/rest/webhook", timeout=60,
                          json={"sender": sender, "message": "hello", "message_id": "m-1"})
    assert response.status_code == 200, response.text
    answer = [m.get("text") or "" for m in response.json()]
    assert any("I'm Kefu" in text for text in answer), answer
    assert _bot_texts(sender) == answer
    inbound = [m for m in _messages(sender) if m.direction == Direction.INBOUND]
    assert [m.id for m in inbound] == [message_id]  # stored once, answered once
    assert inbound[0].unanswered_since is None and inbound[0].intent == "greet"

    # A third copy is an ordinary duplicate now.
    again = httpx.post(f"{gateway.url}/webhooks/rest/webhook", timeout=60,
                       json={"sender": sender, "message": "hello", "message_id": "m-1"})
    assert again.json() == [] and _bot_texts(sender) == answer


def test_the_gateway_answers_recent_unanswered_messages_and_hands_old_ones_to_staff(
        rasa_settings, start_gateway):
    gateway = _quiet_gateway(rasa_settings, start_gateway, unanswered_window_minutes=15)
    recent, old, repeated = "rest-recent", "rest-old", "rest-repeated"
    _leave_unanswered(recent, "hello")
    _leave_unanswered(old, "where is my refund?", age=timedelta(minutes=40))
    _leave_unanswered(repeated, "hello", age=timedelta(minutes=1))
    with session_scope() as session:  # ...asked again and answered since
        later = delivery.record_inbound(session, channel="rest", external_id=repeated,
                                        text="Hello")
        delivery.queue_outbound(session, conversation_id=later.conversation.id,
                                text="Hi! I'm Kefu.", payload=None, sender_kind="bot")

    assert gateway.call(gateway.app.state.recovery.sweep, timeout=90) == 3
    answered = _bot_texts(recent)
    assert any("I'm Kefu" in text for text in answered), answered
    # The REST integration collects it where every later message waits, once.
    fetched = httpx.get(f"{gateway.url}/webhooks/rest/messages", params={"sender": recent},
                        timeout=30).json()
    assert [m.get("text") for m in fetched] == answered

    def handed_over():
        with session_scope() as session:
            conversation = session.scalar(select(Conversation).where(
                Conversation.channel == "rest", Conversation.external_id == old))
            handoff = session.scalar(select(Handoff).where(
                Handoff.conversation_id == conversation.id))
            return handoff and (handoff.reason, handoff.priority.value, conversation.mode.value)
    assert handed_over() == (HANDOFF_REASON, "high", "human")
    assert _bot_texts(old) == []  # not answered automatically forty minutes late
    assert all(m.unanswered_since is None for m in _messages(repeated))
    assert _bot_texts(repeated) == ["Hi! I'm Kefu."]  # not answered twice
    # Another sweep finds nothing left: nothing is answered a second time.
    assert gateway.call(gateway.app.state.recovery.sweep, timeout=90) == 0
    assert _bot_texts(recent) == answered


def test_a_message_answered_live_is_finished_and_no_sweep_takes_it(rasa_settings, start_gateway):
    gateway = _quiet_gateway(rasa_settings, start_gateway)
    sender = "rest-live"
    for text in ("hello", "/help"):  # Rasa's answer, and a gateway command
        response = httpx.post(f"{gateway.url}/webhooks/rest/webhook", timeout=60,
                              json={"sender": sender, "message": text})
        assert response.status_code == 200 and response.json()
    assert all(m.unanswered_since is None for m in _messages(sender))
    before = _bot_texts(sender)
    assert gateway.call(gateway.app.state.recovery.sweep, timeout=90) == 0
    assert _bot_texts(sender) == before
