"""A button's label typed instead of tapped counts as the tap (issue 20: a typed "undo" after
unsubscribing was not understood; only the button worked)."""

from __future__ import annotations

import pytest

from bot import store
from bot.messages import Button, Content
from bot.typed_buttons import typed_button
from crm_store import db
from crm_store.db import session_scope
from crm_store.models import Message
from tests.support.demo_store import fresh_store

UNDO = (Button("Undo", "/undo"),)
CANCEL = (Button("Yes, cancel it", "/affirm"), Button("No, keep it", "/deny"))


@pytest.mark.parametrize(("typed", "payload"), [
    ("undo", "/undo"), ("Undo!", "/undo"), ("  UNDO ", "/undo"),
    ("yes cancel it", "/affirm"), ("No, keep it.", "/deny"),
    ("undo the cancellation of my order", None), ("yes", None), ("", None),
])
def test_only_a_whole_label_counts_whatever_its_case_and_punctuation(typed, payload):
    button = typed_button(typed, UNDO + CANCEL)
    assert (button.payload if button else None) == payload


@pytest.fixture
def chat(tmp_path):
    fresh_store(tmp_path)
    with session_scope() as session:
        conversation = store.start_conversation("rest", "typed")(session)
    yield conversation
    db.reset_engine()


def _inbound(text: str, payload: dict | None = None):
    with session_scope() as session:
        return store.record_inbound("rest", "typed", text, None, payload)(session)


def _bot_says(conversation, text: str, buttons=()):
    with session_scope() as session:
        store.queue_outbound(conversation.id, Content(text, buttons=buttons), "bot")(session)


def test_typing_the_label_of_the_last_replys_button_gives_its_payload_and_keeps_it(chat):
    _inbound("unsubscribe me")
    _bot_says(chat, "You're unsubscribed.", UNDO)
    _bot_says(chat, "Anything else?")
    stored = _inbound("undo")
    assert stored.rasa_text == "/undo"
    with session_scope() as session:
        message = session.get(Message, stored.message.id)
        assert message.text == "undo"  # the transcript keeps what was typed
        assert message.payload["payload"] == "/undo"  # a resend is answered the same way


def test_a_label_from_an_older_reply_or_no_buttons_at_all_is_just_text(chat):
    _bot_says(chat, "You're unsubscribed.", UNDO)
    _inbound("thanks")
    _bot_says(chat, "You're welcome!")
    assert _inbound("undo").rasa_text is None


def test_a_tapped_button_keeps_its_own_payload(chat):
    _bot_says(chat, "Cancel it?", CANCEL)
    assert _inbound("Yes, cancel it", {"payload": "/affirm"}).rasa_text is None
