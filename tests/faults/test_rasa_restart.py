"""Rasa restarted (a deployment, a crash) while customers keep writing.

While it is down, customers read the polite "try again shortly" and their messages are
stored; once it is back, the conversation goes on. This is the default profile: Rasa keeps
dialogue state in memory, so a conversation restarts its dialogue (an order question asked
before the restart is asked again); the production profile keeps it in PostgreSQL.
"""

from __future__ import annotations

import pytest

from bot.rasa_client import UNAVAILABLE_TEXT
from tests.faults.conftest import chats, new_sender, wait_for

pytestmark = pytest.mark.e2e


def test_while_rasa_restarts_customers_are_told_and_nothing_is_lost(stack):
    api, store = stack.bot_api, stack.store
    sender = new_sender("rasa")
    chat = next(chats)
    assert "I'm Kefu" in stack.says(sender, "hello")
    api.push_text(chat, "hello")
    api.wait_for(lambda: api.texts(chat), what="the Telegram greeting")
    answered = len(api.texts(chat))

    stack.stop("rasa")
    try:
        during = stack.rest(sender, "where is my order A1178?")
        assert during.status_code == 200, during.text
        assert [m.get("text") for m in during.json()] == [UNAVAILABLE_TEXT]
        api.push_text(chat, "where is my order A1178?")
        told = api.wait_for(lambda: len(api.texts(chat)) > answered and api.texts(chat)[-1],
                            what="the Telegram customer to be told")
        assert told == UNAVAILABLE_TEXT
        for channel, external_id in (("rest", sender), ("telegram", str(chat))):
            assert store.inbound_texts(channel, external_id)[-1] == "where is my order A1178?"
            assert store.outbound_texts(channel, external_id)[-1] == UNAVAILABLE_TEXT
    finally:
        stack.start("rasa")

    # Back: the same question now gets the dialogue going, on both channels.
    asked = stack.says(sender, "where is my order A1178?")
    assert "email" in asked.lower()
    answer = stack.says(sender, "emma.hughes@example.com")
    assert "A1178" in answer and "shipped" in answer, answer
    answered = len(api.texts(chat))
    api.push_text(chat, "where is my order A1178?")
    api.wait_for(lambda: len(api.texts(chat)) > answered
                 and "email" in api.texts(chat)[-1].lower(), timeout=60,
                 what="the order question to be taken up on Telegram")
    wait_for(lambda: store.inbound_texts("telegram", str(chat)).count(
        "where is my order A1178?") == 2, what="both questions stored once each")
