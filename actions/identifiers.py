"""Order numbers and ticket references in the shop's own formats (policy/shop.yml `identifiers`).

The NLU model finds identifiers in the shapes it was trained on and the regexes in
data/nlu/lookups.yml; a shop's own format must work without retraining, so the forms also look
for them in the latest message with the shop's patterns when the model found none. The questions
that ask for an identifier show the shop's example, not the demo shop's.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.fallback import ACTION_NAME as FALLBACK_ACTION
from actions.fallback import customer_turns
from actions.order_choice import recent_order_buttons
from actions.texts import latest_text, typed
from kefu_config.policy import load_policy

# A bare ticket number, accepted while the conversation is about a ticket.
_BARE_NUMBER = re.compile(r"(?<![\w@/.#-])#?\s?\d{3,10}(?![\w@/-]|[.,]\w)")
_ADDRESS = re.compile(r"\S+@\S+|https?://\S+|www\.\S+", re.IGNORECASE)
# An order number typed right after a word that says it is one ("order 90001", "#1001").
_ORDER_CUE = re.compile(r"(?:order|purchase|number|no\.?|nr\.?)\s*(?:number|no\.?|is|was|:)?\s*$",
                        re.IGNORECASE)
_TOKEN_EDGES = ".,;:!?()[]\"'“”"
# Intents whose messages may carry the order number a form is waiting for (the domain maps the
# order_id entity to its slot for the same intents).
ORDER_INTENTS = frozenset({"inform", "track_order", "cancel_order", "change_order",
                           "refund_status", "return_item", "payment_issue"})


def words_of_latest_request(tracker: Tracker) -> str:
    """What the customer typed last; for a tap on a "Did you mean…?" button, the words of the
    unclear message it answers. The button carries that message's intent and entities, not its
    words, which a search, a complaint's details or feedback still need."""
    text = latest_text(tracker)
    if text or not ((tracker.latest_message or {}).get("text") or "").strip():
        return text
    turns = customer_turns(tracker.events)
    if len(turns) >= 2 and turns[-2][1] == FALLBACK_ACTION:
        return typed(turns[-2][0])
    return ""


def latest_intent(tracker: Tracker) -> str | None:
    """The latest message's intent; the runner-up when it was only "not sure" (nlu_fallback)."""
    name = ((tracker.latest_message or {}).get("intent") or {}).get("name")
    return tracker.get_intent_of_latest_message() if name == "nlu_fallback" else name


def _has_entity(tracker: Tracker, entity: str) -> bool:
    return any(str(value or "").strip()
               for value in tracker.get_latest_entity_values(entity))


def order_number_in(text: str, *, cue_required: bool = False) -> str | None:
    """The first order number in `text` in one of the shop's formats, as typed.

    Values that are written like a ticket reference are left out. With `cue_required`, only a
    number that follows "order", "number", "no." or starts with '#' counts (for free text such
    as a complaint, where "I paid 150" is not an order number).
    """
    identifiers = load_policy().identifiers
    cleaned = _ADDRESS.sub(" ", text or "")
    for candidate in identifiers.order_number.find(cleaned):
        if identifiers.ticket_reference.matches(candidate):
            continue
        if cue_required and not candidate.startswith("#"):
            before = cleaned[:cleaned.find(candidate)]
            if not _ORDER_CUE.search(before):
                continue
        return candidate
    return None


def ticket_reference_in(text: str, *, about_a_ticket: bool) -> str | None:
    """The first ticket reference in `text`; a bare number too when the conversation is about a
    ticket and the shop allows it (policy `identifiers.ticket_reference.bare_numbers`)."""
    tickets = load_policy().identifiers.ticket_reference
    found = tickets.find(text)
    if found:
        return found[0]
    if about_a_ticket and tickets.bare_numbers:
        match = _BARE_NUMBER.search(_ADDRESS.sub(" ", text or ""))
        if match:
            return match.group(0).strip()
    return None


def single_identifier(text: str) -> str | None:
    """The reply to "what's the number?" when it is one word with a digit in it ("ORD/55"), so
    the store, not a format, decides whether it exists. None for anything longer."""
    words = [w.strip(_TOKEN_EDGES) for w in _ADDRESS.sub(" ", text or "").split()]
    with_digits = [w for w in words if any(ch.isdigit() for ch in w)]
    if len(with_digits) == 1 and len(words) <= 4 and len(with_digits[0]) <= 40:
        return with_digits[0]
    return None


def order_number_from_message(tracker: Tracker, *, asked: bool,
                              about_an_order: bool | None = None) -> str | None:
    """An order number for a form slot from the latest message, in the shop's formats.

    `asked`: the assistant has just asked for the order number, so a one-word reply counts.
    `about_an_order`: whether the message is about an order (default: its intent is one of
    ORDER_INTENTS); a message about something else ("a tent under 2000 euros?") gives an order
    number only when it is nothing but one.
    """
    text = latest_text(tracker)
    if not text:
        return None
    if about_an_order is None:
        about_an_order = latest_intent(tracker) in ORDER_INTENTS
    if not about_an_order:
        return single_identifier(text) if asked and len(text.split()) == 1 else None
    tagged = [str(v).strip() for v in tracker.get_latest_entity_values("order_id")
              if str(v or "").strip()]
    # The model's value (the last one, as the slot mapping takes it) when it is written in one
    # of the shop's formats; else the shop's formats applied to the text itself.
    if tagged and load_policy().identifiers.order_number.matches(tagged[-1]):
        return tagged[-1]
    found = order_number_in(text)
    if found or tagged:
        return found
    return single_identifier(text) if asked else None


def ticket_reference_from_message(tracker: Tracker, *, asked: bool) -> str | None:
    if _has_entity(tracker, "ticket_id"):
        return None
    text = latest_text(tracker)
    if not text:
        return None
    about_a_ticket = asked or latest_intent(tracker) == "ticket_status"
    found = ticket_reference_in(text, about_a_ticket=about_a_ticket)
    if found is None and asked:
        found = single_identifier(text)
    return found


def order_example() -> str:
    return load_policy().identifiers.order_number.example


def ticket_example() -> str:
    return load_policy().identifiers.ticket_reference.example


class _AskWithExample(Action):
    """Forms ask for a slot with `action_ask_<slot>` when it exists: the domain's question,
    filled with the shop's example ({example} in the response)."""

    action_name = ""
    response = ""
    example: Callable[[], str]

    def name(self) -> str:
        return self.action_name

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        dispatcher.utter_message(response=self.response, example=self.example())
        return []


class ActionAskOrderId(_AskWithExample):
    action_name, response = "action_ask_order_id", "utter_ask_order_id"
    example = staticmethod(order_example)

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        choices = await recent_order_buttons(tracker)
        if tracker.get_slot("order_request") == "refund":
            # "How long do refunds take?" is a policy question as often as one about an order:
            # answer it from the policy first; "no" then leaves the form (rules/orders.yml).
            which = ("pick it below or type its number." if choices else
                     f"what's the order number? It looks like {order_example()}.")
            dispatcher.utter_message(
                text=f"{load_policy().returns.refund_time} To check the refund of one of your "
                     f"orders, {which}",
                buttons=choices + [{"title": "No, that answers it", "payload": "/deny"}])
            return []
        if not choices:
            return await super().run(dispatcher, tracker, domain)
        dispatcher.utter_message(
            text="Which order is it? Here are your latest ones — or type another order number.",
            buttons=choices)
        return []


class ActionAskComplaintOrder(_AskWithExample):
    action_name, response = "action_ask_complaint_order", "utter_ask_complaint_order"
    example = staticmethod(order_example)

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        choices = await recent_order_buttons(tracker)
        payment = tracker.get_slot("complaint_category") == "payment"
        if not (choices or payment):
            return await super().run(dispatcher, tracker, domain)
        question = ("Which order was charged?" if payment
                    else "Is this about a particular order?")
        how = ("Pick it below, type its number, or say no if it isn't about an order." if choices
               else f"Give me the order number (like {order_example()}), or say no if there's "
                    "no order.")
        dispatcher.utter_message(text=f"{question} {how}", buttons=choices + [
            {"title": "No, it's not about an order", "payload": "/deny"}])
        return []


class ActionAskTicketId(_AskWithExample):
    action_name, response = "action_ask_ticket_id", "utter_ask_ticket_id"
    example = staticmethod(ticket_example)
