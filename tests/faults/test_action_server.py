"""The action server killed in the middle of a conversation.

Rasa 3.6 catches the failed call, logs "Bot will continue, but the actions events are lost"
and ends the turn as if nothing happened; without Kefu's channel noticing, the customer would
get silence or a reply that makes no sense. Here the customer must read the polite "try again
shortly", their message must be in the conversation log, and once the action server is back
the very same message must carry the conversation on where it was.
"""

from __future__ import annotations

import pytest

from bot.rasa_client import UNAVAILABLE_TEXT
from tests.faults.conftest import new_sender

pytestmark = pytest.mark.e2e


def test_killed_action_server_gets_a_polite_reply_and_the_conversation_resumes(stack):
    sender = new_sender("actions")
    assert "I'm Kefu" in stack.says(sender, "hello")
    asked = stack.says(sender, "where is my order A1178?")
    assert "email" in asked.lower()  # the verification form waits for the email

    stack.kill("actions")
    try:
        # Checking the email needs the action server (validate_order_verification_form).
        during = stack.rest(sender, "emma.hughes@example.com")
        assert during.status_code == 200, during.text
        assert [m.get("text") for m in during.json()] == [UNAVAILABLE_TEXT]
        # Nothing lost: the message is in the log, with what the customer was told.
        assert stack.store.inbound_texts("rest", sender)[-1] == "emma.hughes@example.com"
        assert stack.store.outbound_texts("rest", sender)[-1] == UNAVAILABLE_TEXT
    finally:
        stack.start("actions")

    # The failed turn was taken back: the form still waits for the email of order A1178.
    answer = stack.says(sender, "emma.hughes@example.com")
    assert "A1178" in answer and "shipped" in answer, answer
    assert "MY237890581GB" in answer
    assert stack.store.inbound_texts("rest", sender) == [
        "hello", "where is my order A1178?", "emma.hughes@example.com",
        "emma.hughes@example.com"]
    # It was the channel's check that caught it (Rasa itself carried on without a word).
    assert "the action server failed for rest:" + sender in stack.log("rasa")


def test_a_new_conversation_while_the_action_server_is_down(stack):
    """The first message of a new chat needs the action server at once
    (action_session_start); the chat must start properly once it is back."""
    sender = new_sender("actions-new")
    stack.kill("actions")
    try:
        during = stack.rest(sender, "hello")
        assert [m.get("text") for m in during.json()] == [UNAVAILABLE_TEXT]
        assert stack.store.inbound_texts("rest", sender) == ["hello"]
    finally:
        stack.start("actions")
    assert "I'm Kefu" in stack.says(sender, "hello")
    asked = stack.says(sender, "where is my order A1178?")
    assert "email" in asked.lower()
    answer = stack.says(sender, "emma.hughes@example.com")
    assert "A1178" in answer and "shipped" in answer, answer
