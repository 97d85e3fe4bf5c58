"""Leaving a form: "never mind", "cancel" or "stop" in the middle of one ends it and nothing is
written (issue 20: "actually never mind", then "cancel", opened a complaint with those words).

A form's free-text questions take whatever is typed, so the form's validation looks at what
the model made of the message first. A "no" (`deny`: "never mind", "I changed my mind") stops
the form, except where the question itself is answered by no (which order? "no order"). A
short message the model reads as cancelling an order or unsubscribing ("cancel", "stop this")
is, inside a form, about the form. The form then ends (ActiveLoop(None), which Rasa lets a
validation action do) with `form_stopped` set; the form's closing action sees it, writes
nothing and says so.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import ActiveLoop, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.identifiers import latest_intent
from actions.texts import latest_text

STOP_INTENTS = frozenset({"deny"})
# Said on their own inside a form, these are about the form, not an order or the newsletter.
SHORT_STOP_INTENTS = frozenset({"cancel_order", "unsubscribe"})
SHORT_WORDS = 3
STOPPED = "form_stopped"
REQUESTED_SLOT = "requested_slot"


def wants_to_stop(tracker: Tracker, *, no_is_an_answer: bool = False) -> bool:
    intent = latest_intent(tracker)
    if intent in STOP_INTENTS:
        return not no_is_an_answer
    return intent in SHORT_STOP_INTENTS and len(latest_text(tracker).split()) <= SHORT_WORDS


class StoppableForm:
    """For a FormValidationAction (listed first among its bases): ends the form, clearing
    `own_slots`, when the customer wants to leave it."""

    own_slots: tuple[str, ...] = ()
    # Questions a "no" answers (the domain maps it to a value), so there "no" does not stop.
    no_answers: frozenset[str] = frozenset()

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[dict[str, Any]]:
        requested = tracker.get_slot(REQUESTED_SLOT)
        if requested and wants_to_stop(tracker, no_is_an_answer=requested in self.no_answers):
            return [SlotSet(slot, None) for slot in self.own_slots] + [
                SlotSet(STOPPED, True), SlotSet(REQUESTED_SLOT, None), ActiveLoop(None)]
        return await super().run(dispatcher, tracker, domain)  # type: ignore[misc]


def stopped(tracker: Tracker) -> bool:
    """The form before this closing action was left: write nothing (see `said_stopped`)."""
    return bool(tracker.get_slot(STOPPED))


def said_stopped(dispatcher: CollectingDispatcher, nothing_done: str) -> list[dict[str, Any]]:
    dispatcher.utter_message(
        text=f"OK, I've stopped — {nothing_done}. Is there anything else I can help with?")
    return [SlotSet(STOPPED, False)]
