"""Messages the assistant did not understand: ask to rephrase once, then offer a person.

Used both for low NLU confidence (`nlu_fallback`) and when the dialogue policy has no good
next step (RulePolicy's core fallback). When the NLU was only torn between two customer goals,
the assistant asks "Did you mean…?" with one button per goal instead of "say that another
way": a button is a normal intent message (`/track_order{"order_id": "90001"}`), so the
dialogue takes its usual path, with what the message named kept as entities. The customer's
turn is reverted either way, so the conversation continues where it was. The gateway stores
every message with its intent and confidence, so not-understood ones are in crm_store for
staff to review.
"""

from __future__ import annotations

import json
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import UserUtteranceReverted
from rasa_sdk.executor import CollectingDispatcher

from actions.help_answers import (
    answer_or_say_not_covered,
    find_help_answer,
    is_question,
    send_dont_know,
    send_help_answer,
)
from actions.intent_labels import SOMETHING_ELSE, label
from actions.language import english_only_text, other_language
from actions.texts import latest_text

ACTION_NAME = "action_kefu_fallback"
LISTEN = "action_listen"
NLU_FALLBACK = "nlu_fallback"
# "Something else" under the guesses: the rule for nlu_fallback brings it back here, where it
# asks the customer to rephrase (nlu_fallback is one of Rasa's built-in intents).
SOMETHING_ELSE_PAYLOAD = f"/{NLU_FALLBACK}"
# When two guesses are worth offering. Set by reasoning, not tuned (there is no labelled set of
# ambiguous messages): DIET's confidences over the domain's ~30 intents sum to 1, so noise is
# a few hundredths each. The runner-up must be a real contender (a fifth of the mass, several
# times noise), and the two together must hold at least half of it, so the model narrowed the
# message down to these two rather than spreading it over many (then guessing would mislead).
MIN_RUNNER_UP = 0.2
MIN_PAIR = 0.5
# Web frames carry payloads of up to 500 characters; a payload with entities longer than this
# is sent without them rather than not at all.
MAX_PAYLOAD = 400


def customer_turns(events: list[dict[str, Any]]) -> list[tuple[str, str | None]]:
    """Per customer message, in order: its text and the first action that answered it (None
    while unanswered: the current message)."""
    turns: list[tuple[str, str | None]] = []
    for event in events:
        if event.get("event") == "user":
            turns.append((event.get("text") or "", None))
        elif event.get("event") == "action" and turns and turns[-1][1] is None:
            name = event.get("name")
            if name != LISTEN:
                turns[-1] = (turns[-1][0], name)
    return turns


def consecutive_misses(events: list[dict[str, Any]]) -> int:
    """How many customer turns in a row (the current one included) ended in this fallback."""
    turns = [first_action for _, first_action in customer_turns(events)]
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
    speaks English for now (it was only out of scope to the English model). A question the
    shop's help articles answer confidently ("do you sell gift cards?") is not out of scope
    to the shop: it gets the article's answer."""

    def name(self) -> str:
        return "action_out_of_scope"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        if offer_english_or_a_person(dispatcher, tracker):
            return []
        if not await answer_or_say_not_covered(dispatcher, tracker):
            dispatcher.utter_message(response="utter_out_of_scope")
        return []


def likely_intents(latest_message: dict[str, Any]) -> list[str]:
    """The two goals the NLU was torn between, when both are worth offering as buttons; else [].

    Only for a message the NLU classifier marked as unsure (nlu_fallback): a core fallback on a
    confident intent is no question of which intent it was.
    """
    if ((latest_message.get("intent") or {}).get("name")) != NLU_FALLBACK:
        return []
    ranking = sorted((r for r in latest_message.get("intent_ranking") or []
                      if r.get("name") and r.get("name") != NLU_FALLBACK),
                     key=lambda r: -float(r.get("confidence") or 0.0))
    if len(ranking) < 2:
        return []
    top, runner_up = ranking[0], ranking[1]
    names = [top["name"], runner_up["name"]]
    if not all(label(name) for name in names):
        return []  # small talk, out of scope or a form answer among the two: not a goal to offer
    second = float(runner_up.get("confidence") or 0.0)
    if second < MIN_RUNNER_UP or float(top.get("confidence") or 0.0) + second < MIN_PAIR:
        return []
    return names


def intent_payload(intent: str, entities: list[dict[str, Any]]) -> str:
    """`/intent{"entity": "value"}`: the intent with what the message named, so an order number
    typed in the unclear message is not lost when a button is tapped."""
    values: dict[str, list[Any]] = {}
    for entity in entities:
        name, value = entity.get("entity"), entity.get("value")
        if name and isinstance(value, (str, int, float)) and value not in values.get(name, []):
            values.setdefault(name, []).append(value)
    if not values:
        return f"/{intent}"
    packed = {name: found[0] if len(found) == 1 else found for name, found in values.items()}
    payload = f"/{intent}{json.dumps(packed, ensure_ascii=False)}"
    return payload if len(payload) <= MAX_PAYLOAD else f"/{intent}"


def did_you_mean_buttons(intents: list[str], entities: list[dict[str, Any]]) -> list[dict]:
    return [{"title": label(name), "payload": intent_payload(name, entities)}
            for name in intents] + [{"title": SOMETHING_ELSE, "payload": SOMETHING_ELSE_PAYLOAD}]


def chose_something_else(tracker: Tracker) -> bool:
    text = ((tracker.latest_message or {}).get("text") or "").strip()
    return text == SOMETHING_ELSE_PAYLOAD


class ActionKefuFallback(Action):
    def name(self) -> str:
        return ACTION_NAME

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        latest = tracker.latest_message or {}
        first_miss = consecutive_misses(tracker.events) < 2
        guesses = likely_intents(latest) if first_miss else []
        if offer_english_or_a_person(dispatcher, tracker):
            pass  # a person or English: asking to rephrase in English would not help
        elif chose_something_else(tracker):
            # None of the guesses: ask for their own words, however many misses came before.
            dispatcher.utter_message(response="utter_please_rephrase")
        elif (answer := await find_help_answer(tracker)) is not None:
            # No intent fits, but the shop's help pages answer it: that beats guessing.
            send_help_answer(dispatcher, answer)
        elif guesses:
            dispatcher.utter_message(
                response="utter_did_you_mean",
                buttons=did_you_mean_buttons(guesses, latest.get("entities") or []))
        elif first_miss and is_question(latest_text(tracker)):
            # A question neither an intent nor the help pages answer: say so, offer a person.
            send_dont_know(dispatcher)
        elif first_miss:
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
