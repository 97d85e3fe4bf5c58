"""The complaint process in conversation: listen, take the details, open a ticket, follow up.

The customer is encouraged to say everything at once; what is missing is asked for (what
happened, which order — optional and verified like order tracking — and how they want it
solved). Angry or urgent complaints are offered a person straight away.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import FormValidationAction
from rasa_sdk.types import DomainDict

from actions.form_stop import StoppableForm, said_stopped, stopped
from actions.identifiers import (
    latest_intent,
    order_number_from_message,
    order_number_in,
    words_of_latest_request,
)
from actions.photo_request import ask_for_photo, photos_added
from actions.store import in_store, sender_identity
from actions.texts import typed
from actions.verification import (
    MAX_FAILURES,
    EmailSlotValidation,
    checked_order_number,
    verify_and_link,
)
from crm_store.models import TicketCategory
from crm_store.normalise import normalise_order_number
from crm_store.services import complaints, conversations, evidence, orders
from kefu_config.policy import load_policy

NO_ORDER = "none"
# What a payment ticket asks the team to do (the customer chose "open a payment ticket").
PAYMENT_RESOLUTION = "Check the charge and refund what was taken wrongly"
# A first message with this many words beyond asking to complain already describes the problem
# ("my parcel came damaged and wet"); "I want to make a complaint" does not, and is never
# taken as what happened (issue 20: it became the ticket's subject).
DETAILS_MIN_WORDS = 3
_ASKING_TO_COMPLAIN = frozenset(
    "i i'd id want would like need wish to make file lodge submit register raise put in have "
    "a an one formal official complaint complaints complain complaining about please can you "
    "help me with hello hi hey there".split())


def describes_a_problem(text: str) -> bool:
    words = [w.strip(".,!?;:'\"").lower() for w in text.split()]
    return sum(1 for w in words if w and w not in _ASKING_TO_COMPLAIN) >= DETAILS_MIN_WORDS


class ActionAcknowledgeComplaint(Action):
    def name(self) -> str:
        return "action_acknowledge_complaint"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        text = words_of_latest_request(tracker)
        angry, urgent = complaints.tone(text)
        if angry or urgent:
            dispatcher.utter_message(
                text=("I'm really sorry — that's not the experience we want you to have. "
                      "You can talk to a member of our team right now, or tell me the details "
                      "here and I'll open a complaint straight away."),
                buttons=[{"title": "Talk to a person now", "payload": "/human_handoff"}])
        else:
            dispatcher.utter_message(response="utter_complaint_sorry")
        events: list[dict[str, Any]] = [SlotSet("complaint_details", None),
                                        SlotSet("complaint_order", None),
                                        SlotSet("complaint_resolution", None),
                                        SlotSet("complaint_category", None)]
        if describes_a_problem(text):
            events.append(SlotSet("complaint_details", text))
        order_id = _order_named_in_complaint(tracker)
        if order_id:
            events.append(SlotSet("complaint_order", normalise_order_number(str(order_id))))
        return events


def _order_named_in_complaint(tracker: Tracker) -> str | None:
    return _order_named(words_of_latest_request(tracker), tracker.get_latest_entity_values("order_id"))


def _order_named(text: str, entity_values: Iterable[Any]) -> str | None:
    """The order a complaint names, if any. In free text only a number said to be an order's
    counts ("order 90001", "#1001"): "I paid 150" is not an order number, whatever the NLU model
    tagged; a letter code it found (A1093) is taken as it always was."""
    cued = order_number_in(text, cue_required=True)
    if cued:
        return cued
    return next((value for value in entity_values
                 if any(ch.isalpha() for ch in str(value))
                 and any(ch.isdigit() for ch in str(value))), None)


def _previous_customer_message(tracker: Tracker) -> dict[str, Any]:
    """The customer's message before the latest one (its parse data), {} if none."""
    seen_latest = False
    for event in reversed(tracker.events):
        if event.get("event") != "user":
            continue
        if seen_latest:
            return event.get("parse_data") or {"text": event.get("text") or ""}
        seen_latest = True
    return {}


class ActionStartPaymentTicket(Action):
    """"Yes, open a payment ticket" after the payment answer: the complaint form, with what
    the customer said about the payment as the problem and the payment category decided, so
    it asks only which order (and, for an unverified chat, that order's email)."""

    def name(self) -> str:
        return "action_start_payment_ticket"

    async def run(self, dispatcher, tracker, domain):
        message = _previous_customer_message(tracker)
        text = typed(message.get("text"))
        entities = [e.get("value") for e in message.get("entities") or []
                    if e.get("entity") == "order_id"]
        order_id = _order_named(text, entities)
        return [
            SlotSet("complaint_details", text.strip() or None),
            SlotSet("complaint_order", normalise_order_number(str(order_id)) if order_id
                    else None),
            SlotSet("complaint_resolution", PAYMENT_RESOLUTION),
            SlotSet("complaint_category", TicketCategory.PAYMENT.value),
        ]


class ValidateComplaintForm(StoppableForm, EmailSlotValidation, FormValidationAction):
    own_slots = ("complaint_details", "complaint_order", "complaint_resolution")
    no_answers = frozenset({"complaint_order"})  # "no": not about an order

    def name(self) -> str:
        return "validate_complaint_form"

    async def required_slots(self, domain_slots: list[str], dispatcher: CollectingDispatcher,
                             tracker: Tracker, domain: DomainDict) -> list[str]:
        order = tracker.get_slot("complaint_order")
        needs_email = bool(order and order != NO_ORDER and not tracker.get_slot("customer_id"))
        slots = ["complaint_details", "complaint_order"]
        if needs_email:
            slots.append("email")
        return slots + ["complaint_resolution"]

    def validate_complaint_details(self, value: Any, dispatcher, tracker, domain):
        if value is None:
            return {"complaint_details": None}  # cleared for a new complaint: not an answer
        text = str(value).strip()
        if len(text) < 3:
            dispatcher.utter_message(response="utter_ask_complaint_details")
            return {"complaint_details": None}
        return {"complaint_details": text}

    async def extract_complaint_order(self, dispatcher, tracker, domain):
        """The shop's own format, when asked which order and the NLU model found no number."""
        if tracker.get_slot("requested_slot") != "complaint_order":
            return {}
        if latest_intent(tracker) == "deny":
            return {}  # "no" is mapped to NO_ORDER by the domain
        found = order_number_from_message(tracker, asked=True, about_an_order=True)
        return {"complaint_order": found} if found else {}

    def validate_complaint_order(self, value: Any, dispatcher, tracker, domain):
        if value is None:
            return {"complaint_order": None}  # cleared for a new complaint: not an answer
        if value == NO_ORDER:
            return {"complaint_order": NO_ORDER}
        return {"complaint_order": checked_order_number(value, dispatcher)}

    async def get_validation_events(self, dispatcher, tracker, domain):
        events = await super().get_validation_events(dispatcher, tracker, domain)
        order = tracker.get_slot("complaint_order")
        if not order or order == NO_ORDER:
            return events
        customer_id = tracker.get_slot("customer_id")
        if customer_id:
            owns = await in_store(lambda s: _owns(s, order, int(customer_id)))
            if owns:
                return events
            dispatcher.utter_message(response="utter_complaint_order_not_found")
            tracker.slots["complaint_order"] = None
            return events + [SlotSet("complaint_order", None)]
        email = tracker.get_slot("email")
        if not email:
            return events
        channel, external_id = sender_identity(tracker)
        verified = await in_store(lambda s: verify_and_link(s, order, email, channel, external_id))
        if verified is not None:
            return events + [SlotSet("customer_id", str(verified))]
        failures = int(tracker.get_slot("verification_failures") or 0) + 1
        extra = [SlotSet("verification_failures", failures), SlotSet("email", None)]
        if failures >= MAX_FAILURES:
            # Take the complaint anyway, without linking an order we could not verify.
            dispatcher.utter_message(response="utter_complaint_without_order")
            extra += [SlotSet("complaint_order", NO_ORDER), SlotSet("verification_blocked", True)]
            tracker.slots["complaint_order"] = NO_ORDER
        else:
            dispatcher.utter_message(response="utter_verification_failed")
            extra.append(SlotSet("complaint_order", None))
            tracker.slots["complaint_order"] = None
        tracker.slots["email"] = None
        return events + extra


def _owns(session, order_number: str, customer_id: int) -> bool:
    order = orders.get_by_number(session, order_number=order_number)
    return order is not None and order.customer_id == customer_id


class ActionOpenComplaint(Action):
    def name(self) -> str:
        return "action_open_complaint"

    async def run(self, dispatcher, tracker, domain):
        if stopped(tracker):
            return said_stopped(dispatcher, "no complaint was opened")
        details = tracker.get_slot("complaint_details") or ""
        resolution = tracker.get_slot("complaint_resolution") or ""
        order_number = tracker.get_slot("complaint_order")
        customer_id = tracker.get_slot("customer_id")
        category = _known_category(tracker)
        channel, external_id = sender_identity(tracker)

        def file(session):
            conversation = conversations.get_or_start(session, channel=channel,
                                                      external_id=external_id)
            owner = int(customer_id) if customer_id else conversation.customer_id
            order_id = None
            if order_number and order_number != NO_ORDER and customer_id:
                order = orders.get_by_number(session, order_number=order_number)
                if order is not None and order.customer_id == owner:
                    order_id = order.id
            ticket, result = complaints.file_complaint(
                session, details=details, desired_resolution=resolution,
                customer_id=owner, conversation_id=conversation.id, order_id=order_id,
                channel=channel, category=category)
            earlier = evidence.link_earlier(session, ticket, conversation_id=conversation.id)
            return (ticket.reference, ticket.sla_due_at, result, order_id is not None,
                    evidence.label(ticket), [row.content_type for row in earlier])

        reference, due, result, with_order, case, earlier = await in_store(file)
        if category == TicketCategory.PAYMENT:
            dispatcher.utter_message(text=_payment_ticket_text(
                reference, due, order_number if with_order else None))
        else:
            dispatcher.utter_message(
                text=(f"Thank you for telling us. I've opened complaint {reference} "
                      f"({result.category.value.replace('_', ' ')}, {result.priority.value} "
                      f"priority). A member of our team will review it and get back to you by "
                      f"{due:%-d %b %H:%M} UTC at the latest, here in this chat. Once it's "
                      "resolved I'll ask you how we did. You can ask me for its status any time."))
        if earlier:
            photos_added(dispatcher, case, earlier)
        elif evidence.wants_photo(details):
            # The urgent question below has a "no" of its own.
            ask_for_photo(dispatcher, case, button=not result.needs_person_now)
        if result.needs_person_now:
            dispatcher.utter_message(
                text="Since this is urgent, would you like to talk to someone right now?",
                buttons=[{"title": "Talk to a person now", "payload": "/human_handoff"},
                         {"title": "No, that's fine", "payload": "/deny"}])
        return [SlotSet("complaint_details", None), SlotSet("complaint_resolution", None),
                SlotSet("complaint_order", None), SlotSet("complaint_category", None),
                SlotSet("last_ticket", reference)]


def _known_category(tracker: Tracker) -> TicketCategory | None:
    value = tracker.get_slot("complaint_category")
    return TicketCategory(value) if value in {c.value for c in TicketCategory} else None


def _payment_ticket_text(reference: str, due, order_number: str | None) -> str:
    about = f" for order {order_number}" if order_number else ""
    text = (f"I've opened payment ticket {reference}{about}. Our team will check the charge "
            f"and get back to you by {due:%-d %b %H:%M} UTC at the latest, here in this chat.")
    days = load_policy().payment.duplicate_refund_days
    if days:
        text += f" If you were charged twice, we refund the duplicate within {days} working days."
    return text
