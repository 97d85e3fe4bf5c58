"""Messages the assistant did not understand: ask to rephrase once, then offer a person.

Used both for low NLU confidence (`nlu_fallback`) and when the dialogue policy has no good
next step (RulePolicy's core fallback). The customer's turn is reverted either way, so the
conversation continues where it was once they rephrase. The gateway stores every message with
its intent and confidence, so not-understood ones are in crm_store for staff to review.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import UserUtteranceReverted
from rasa_sdk.executor import CollectingDispatcher

from actions.language import english_only_text, other_language

ACTION_NAME = "action_kefu_fallback"
LISTEN = "action_listen"


def consecutive_misses(events: list[dict[str, Any]]) -> int:
    """How many customer turns in a row (the current one included) ended in this fallback."""
    turns: list[str | None] = []  # per user message: the first action that answered it
    for event in events:
        if event.get("event") == "user":
            turns.append(None)
        elif event.get("event") == "action" and turns and turns[-1] is None:
            name = event.get("name")
            if name != LISTEN:
                turns[-1] = name
    misses = 1  # the current turn is being answered by this fallback right now
    for first_action in reversed(turns[:-1]):
        if first_action != ACTION_NAME:
            break
        misses += 1
    return misses


def offer_english_or_a_person(dispatcher: CollectingDispatcher, tracker: Tracker) -> bool:
    """A message in another language gets, in English, what Kefu can do; True if it did."""
    text = (tracker.latest_message or {}).get("text") or ""
    language = None if text.lstrip().startswith("/") else other_language(text)
    if language is None:
        return False
    dispatcher.utter_message(text=english_only_text(language),
                             buttons=[{"title": "Talk to a person",
                                       "payload": "/human_handoff"}])
    return True


class ActionOutOfScope(Action):
    """Out of scope: what Kefu can help with; for a message in another language, that Kefu
    speaks English for now (it was only out of scope to the English model)."""

    def name(self) -> str:
        return "action_out_of_scope"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        if not offer_english_or_a_person(dispatcher, tracker):
            dispatcher.utter_message(response="utter_out_of_scope")
        return []


class ActionKefuFallback(Action):
    def name(self) -> str:
        return ACTION_NAME

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        if offer_english_or_a_person(dispatcher, tracker):
            pass  # a person or English: asking to rephrase in English would not help
        elif consecutive_misses(tracker.events) < 2:
            dispatcher.utter_message(response="utter_please_rephrase")
        else:
            dispatcher.utter_message(
                text=("I'm sorry, I'm still not getting it. Would you like to talk to a person? "
                      "They'll see this conversation, so you won't have to repeat yourself. "
                      "Or try saying it in other words."),
                buttons=[{"title": "Talk to a person", "payload": "/human_handoff"}],
            )
        # Forget the misunderstood turn so the dialogue continues where it was.
        return [UserUtteranceReverted()]
