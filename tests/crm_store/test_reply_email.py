"""An email address a customer waiting for staff leaves for the answer (bot/store.py decides
that the team is offline; the store keeps the address on the waiting handoff only)."""

from __future__ import annotations

import pytest

from crm_store.db import session_scope
from crm_store.models import ConversationMode, Handoff
from crm_store.services import conversations, handoffs, staff


@pytest.mark.parametrize(("text", "found"), [
    ("my email is jane.doe@example.com", "jane.doe@example.com"),
    ("Jane.Doe@Example.COM.", "jane.doe@example.com"),         # a sentence's full stop
    ("(write to <sam@shop.example>, please)", "sam@shop.example"),
    ("mailto:ana@example.org", "ana@example.org"),
    ("my email is jane@example", None),                        # no domain to send to
    ("jane@@example.com", None),
    ("I ordered 2 @ 10 EUR", None),
    ("", None),
])
def test_an_address_is_found_in_what_the_customer_wrote(text, found):
    assert handoffs.email_in(text) == found


def _conversation(session, external_id: str) -> int:
    return conversations.get_or_start(session, channel="rest", external_id=external_id).id


def test_an_address_is_noted_on_the_waiting_handoff_and_a_later_one_replaces_it(store):
    with session_scope() as session:
        conversation_id = _conversation(session, "waits")
        handoff = handoffs.hand_over(session, conversation_id=conversation_id, reason=None)
        handoff_id = handoff.id
        assert handoffs.record_reply_email(session, conversation_id=conversation_id,
                                           text="jane@example.com").id == handoff_id
        assert handoffs.record_reply_email(session, conversation_id=conversation_id,
                                           text="sorry, it is jane@example.org") is not None
        # Not an address: the one given stays.
        assert handoffs.record_reply_email(session, conversation_id=conversation_id,
                                           text="thanks!") is None
        assert handoffs.record_reply_email(session, conversation_id=conversation_id,
                                           text="jane@example") is None
    with session_scope() as session:
        assert session.get(Handoff, handoff_id).reply_email == "jane@example.org"


def test_nothing_is_noted_once_staff_took_the_conversation_or_without_a_handoff(store):
    with session_scope() as session:
        agent = staff.create_user(session, email="agent@shop.example",
                                  password="correct horse battery staple", role="agent")
        bot_conversation = _conversation(session, "with-the-bot")
        assert handoffs.record_reply_email(session, conversation_id=bot_conversation,
                                           text="jane@example.com") is None
        taken = _conversation(session, "taken")
        handoff = handoffs.hand_over(session, conversation_id=taken, reason=None)
        handoffs.claim(session, handoff_id=handoff.id, staff_id=agent.id)
        assert handoffs.record_reply_email(session, conversation_id=taken,
                                           text="jane@example.com") is None
        assert handoff.reply_email is None
        # A waiting handoff whose conversation is back with the assistant.
        back = _conversation(session, "back-with-the-bot")
        waiting = handoffs.hand_over(session, conversation_id=back, reason=None)
        conversations.set_mode(session, conversation_id=back, mode=ConversationMode.BOT)
        assert handoffs.record_reply_email(session, conversation_id=back,
                                           text="jane@example.com") is None
        assert waiting.reply_email is None
