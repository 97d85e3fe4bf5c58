"""The reason staff see on a handoff says what happened: the customer asked for a person, or
asked after the assistant failed to understand them twice in a row; and the handoff carries the
priority that reason warrants, for the agents' queue."""

from __future__ import annotations

import asyncio

import pytest

from actions.handoff import ActionHandoff
from crm_store.db import session_scope
from crm_store.models import TicketPriority
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


def _handoff_stored(sender: str, events: list[dict], text: str, dispatcher,
                    intent: str = "human_handoff") -> tuple[str, TicketPriority]:
    asyncio.run(ActionHandoff().run(dispatcher, tracker(sender=sender, text=text,
                                                        intent=intent, events=events), {}))
    with session_scope() as session:
        conversation = conversations.get_or_start(session, channel="rest",
                                                  external_id=sender.split(":", 1)[1])
        handoff = handoffs.active_for(session, conversation_id=conversation.id)
        return handoff.reason, handoff.priority


def _reason_stored(sender: str, events: list[dict], text: str, dispatcher) -> str:
    return _handoff_stored(sender, events, text, dispatcher)[0]


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


def test_the_handoff_carries_the_priority_its_reason_warrants(shop, dispatcher):
    """The dialogue says how urgent the handoff is; the agents' queue does not guess it from
    the reason's wording."""
    asked = _handoff_stored("rest:calm", _asks_for_a_person("a person please"),
                            "a person please", dispatcher)
    assert asked == (ASKED, TicketPriority.NORMAL)
    events = (_missed("blorp") + _missed("zzz what") + _asks_for_a_person("/human_handoff"))
    assert _handoff_stored("rest:lost", events, "/human_handoff", dispatcher) == \
        (NOT_UNDERSTOOD_TWICE, TicketPriority.HIGH)
    complaint = [{"event": "user", "text": "this is outrageous, I want a manager",
                  "parse_data": {"intent": {"name": "complaint", "confidence": 0.9}}}]
    assert _handoff_stored("rest:angry", complaint, "this is outrageous, I want a manager",
                           dispatcher, intent="complaint") == \
        ("angry or urgent complaint", TicketPriority.URGENT)
