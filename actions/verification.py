"""Proving who an anonymous chat is before it sees an order: order number + that order's email.

Wrong details get one answer whatever was wrong (unknown order, wrong email), so the reply
reveals nothing. After three failures the assistant stops asking and offers a person. A chat
that succeeds is linked to the customer (a verified channel identity), so later questions in
the conversation, and later conversations from the same chat, are not asked again.
"""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import FormValidationAction
from rasa_sdk.types import DomainDict

from actions.identifiers import order_example, order_number_from_message
from actions.store import in_store, sender_identity
from crm_store.errors import InvalidInput
from crm_store.normalise import looks_like_order_number, normalise_email, normalise_order_number
from crm_store.services import identities, orders

logger = logging.getLogger(__name__)

MAX_FAILURES = 3


def checked_order_number(value: Any, dispatcher: CollectingDispatcher) -> str | None:
    """The normalised order number, or None (and the shop's format explained) for a value that
    cannot be an order number at all. Whether the order exists is the store's answer."""
    number = normalise_order_number(str(value or ""))
    if not looks_like_order_number(number):
        dispatcher.utter_message(response="utter_order_id_format", example=order_example())
        return None
    return number


class EmailSlotValidation:
    """`validate_email` for every form that asks for an email: normalised, or asked again."""

    def validate_email(self, value: Any, dispatcher: CollectingDispatcher,
                       tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        try:
            return {"email": normalise_email(str(value or ""))}
        except InvalidInput:
            dispatcher.utter_message(response="utter_email_format")
            return {"email": None}


class ValidateOrderVerificationForm(EmailSlotValidation, FormValidationAction):
    def name(self) -> str:
        return "validate_order_verification_form"

    async def required_slots(self, domain_slots: list[str], dispatcher: CollectingDispatcher,
                             tracker: Tracker, domain: DomainDict) -> list[str]:
        if tracker.get_slot("verification_blocked"):
            return []  # ends the form; the order action offers a person instead
        if tracker.get_slot("customer_id"):
            return ["order_id"]  # already verified in this conversation
        return ["order_id", "email"]

    async def extract_order_id(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                               domain: DomainDict) -> dict[str, Any]:
        """The shop's own format, when the NLU model found no order number in the message."""
        found = order_number_from_message(
            tracker, asked=tracker.get_slot("requested_slot") == "order_id")
        if found:
            return {"order_id": found}
        if asks_about_another_order(tracker):
            return {"order_id": None}  # asked again: which order? (the recent ones as buttons)
        return {}

    def validate_order_id(self, value: Any, dispatcher: CollectingDispatcher,
                          tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        if value is None:
            return {"order_id": None}  # cleared to ask which order: not an answer
        return {"order_id": checked_order_number(value, dispatcher)}

    async def get_validation_events(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                    domain: DomainDict) -> list[dict[str, Any]]:
        events = await super().get_validation_events(dispatcher, tracker, domain)
        if not tracker.get_slot("order_request"):
            # Just an order number or an email, no question yet: the likeliest one is "where is it".
            events.append(SlotSet("order_request", "track"))
        # The validators above have updated tracker.slots with this turn's values.
        order_number = tracker.get_slot("order_id")
        customer_id = tracker.get_slot("customer_id")
        email = tracker.get_slot("email")
        if not order_number or tracker.get_slot("verification_blocked"):
            return events
        if customer_id:
            owner_email = await in_store(lambda s: _owner_email(s, order_number, int(customer_id)))
            if owner_email:
                return events + [SlotSet("email", owner_email)]
            return events + self._failed(dispatcher, tracker, clear=["order_id"])
        if not email:
            return events
        channel, external_id = sender_identity(tracker)
        verified_customer = await in_store(
            lambda s: verify_and_link(s, order_number, email, channel, external_id))
        if verified_customer is None:
            return events + self._failed(dispatcher, tracker, clear=["order_id", "email"])
        logger.info("conversation %s verified as customer %s", tracker.sender_id, verified_customer)
        return events + [SlotSet("customer_id", str(verified_customer)),
                         SlotSet("verification_failures", 0)]

    @staticmethod
    def _failed(dispatcher: CollectingDispatcher, tracker: Tracker,
                clear: list[str]) -> list[dict[str, Any]]:
        failures = int(tracker.get_slot("verification_failures") or 0) + 1
        events = [SlotSet(slot, None) for slot in clear]
        events.append(SlotSet("verification_failures", failures))
        if failures >= MAX_FAILURES:
            dispatcher.utter_message(response="utter_verification_blocked")
            events.append(SlotSet("verification_blocked", True))
        else:
            dispatcher.utter_message(response="utter_verification_failed")
        for slot in clear:
            tracker.slots[slot] = None
        return events


def asks_about_another_order(tracker: Tracker) -> bool:
    """A verified customer who asks the same thing again without naming an order ("and my
    other orders?" after "where is A2001?") means another one, not the same again; a
    different question ("cancel it") is about the order just discussed."""
    if tracker.get_slot("requested_slot") or not tracker.get_slot("customer_id"):
        return False
    if not tracker.get_slot("order_id") or any(tracker.get_latest_entity_values("order_id")):
        return False
    request = tracker.get_slot("order_request")
    return request is not None and _slot_before_latest_message(tracker, "order_request") == request


def _slot_before_latest_message(tracker: Tracker, name: str) -> Any:
    """The slot's value before the customer's latest message set anything."""
    before_latest = False
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            before_latest = True
        elif before_latest and event.get("event") == "slot" and event.get("name") == name:
            return event.get("value")
    return None


def verify_and_link(session, order_number: str, email: str, channel: str,
                     external_id: str) -> int | None:
    order = orders.owned_order(session, order_number, email)
    if order is None:
        return None
    identities.link(session, customer_id=order.customer_id, channel=channel,
                    external_id=external_id, verified=True, actor="bot")
    return order.customer_id


def _owner_email(session, order_number: str, customer_id: int) -> str | None:
    """The verified customer's email if the order is theirs; None otherwise (reveals nothing)."""
    order = orders.get_by_number(session, order_number=order_number)
    if order is None or order.customer_id != customer_id:
        return None
    return order.customer.email
