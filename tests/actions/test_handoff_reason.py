"""The reason staff see on a handoff says what happened: the customer asked for a person, or
asked after the assistant failed to understand them twice in a row."""

from __future__ import annotations

import asyncio

import pytest

from actions.handoff import ActionHandoff
from crm_store.db import session_scope
from crm_store.services import conversations, handoffs
from tests.actions.conftest import tracker

ASKED = "customer asked for a person"
NOT_UNDERSTOOD_TWICE = "customer asked for a person after the assistant did not understand twice"


def _understood(intent: str, text: str, answer: str) -> list[dict]:
    return [{"event": "user", "text": text,
             "parse_data": {"intent": {"name": intent, "confidence": 0.95}}},
            {"event": "action", "name": answer}, {"event": "bot", "text": "..."},
            {"event": "action", "name": "action_listen"}]


def _missed(text: str) -> list[dict]:
    """A turn the fallback answered; it reverts the turn, as Rasa records it."""
    return [{"event": "user", "text": text,
             "parse_data": {"intent": {"name": "nlu_fallback", "confidence": 0.3}}},
            {"event": "action", "name": "action_kefu_fallback"},
            {"event": "bot", "text": "Sorry, could you say that in other words?"},
            {"event": "rewind"}, {"event": "action", "name": "action_listen"}]


def _asks_for_a_person(text: str) -> list[dict]:
    return [{"event": "user", "text": text,
             "parse_data": {"intent": {"name": "human_handoff", "confidence": 0.97}}}]


def _reason_stored(sender: str, events: list[dict], text: str, dispatcher) -> str:
    asyncio.run(ActionHandoff().run(dispatcher, tracker(sender=sender, text=text,
                                                        intent="human_handoff",
                                                        events=events), {}))
    with session_scope() as session:
        conversation = conversations.get_or_start(session, channel="rest",
                                                  external_id=sender.split(":", 1)[1])
        return handoffs.active_for(session, conversation_id=conversation.id).reason


@pytest.mark.parametrize("before", [
    [],
    _missed("can I pay with bitcoin"),  # one miss, then the customer asks
    _missed("asdf") + _missed("qwerty") + _understood("greet", "hi", "utter_greet")
    + _understood("order_status", "where is my order", "action_order_status"),  # long ago
], ids=["straight away", "after one miss", "after misses long ago"])
def test_a_customer_who_asks_for_a_person_is_recorded_as_asking(shop, dispatcher, before):
    text = "I want to talk to a person"
    reason = _reason_stored("rest:asker", before + _asks_for_a_person(text), text, dispatcher)
    assert reason == ASKED


def test_after_two_misses_in_a_row_the_reason_says_the_assistant_did_not_understand(
        shop, dispatcher):
    events = (_understood("greet", "hi", "utter_greet") + _missed("blorp")
              + _missed("zzz what") + _asks_for_a_person("/human_handoff"))
    reason = _reason_stored("rest:missed", events, "/human_handoff", dispatcher)
    assert reason == NOT_UNDERSTOOD_TWICE
