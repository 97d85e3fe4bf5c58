"""Ticket status for the customer who owns the ticket — a reference alone is not enough.

A verified chat sees its own tickets: the one it names, or for "my complaint" the latest one,
with how many others are still open. An unverified chat proves ownership with the ticket
reference and the email of the customer who opened it (like order number + email).
"""

from __future__ import annotations

import re
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import FormValidationAction
from rasa_sdk.types import DomainDict

from actions.form_stop import StoppableForm, said_stopped, stopped
from actions.identifiers import ticket_example, ticket_reference_from_message
from actions.store import in_store, sender_identity
from actions.texts import day
from actions.verification import MAX_FAILURES, EmailSlotValidation
from crm_store.normalise import normalise_ticket_reference
from crm_store.services import identities, tickets
from kefu_config.handoff import staff_name
from kefu_config.policy import load_policy

# A reply that is nothing but a number ("5532", "#5532"): a ticket's number where the shop
# allows bare numbers (policy `identifiers.ticket_reference.bare_numbers`).
_BARE_NUMBER = re.compile(r"#?\s?\d{1,10}")


def checked_ticket_reference(value: Any) -> str | None:
    """The stored spelling of a reference written in the shop's ticket format, else None.
    Whether the ticket exists (and is the customer's) is the store's answer, not the format's."""
    typed = str(value or "").strip()
    reference = normalise_ticket_reference(typed)
    shop_format = load_policy().identifiers.ticket_reference
    if shop_format.matches(typed) or shop_format.matches(reference):
        return reference
    if shop_format.bare_numbers and _BARE_NUMBER.fullmatch(typed):
        return reference
    return None


class ValidateTicketStatusForm(StoppableForm, EmailSlotValidation, FormValidationAction):
    own_slots = ("ticket_id",)

    def name(self) -> str:
        return "validate_ticket_status_form"

    async def required_slots(self, domain_slots, dispatcher, tracker, domain):
        if tracker.get_slot("customer_id") or tracker.get_slot("verification_blocked"):
            return []  # a verified chat sees all its tickets
        return ["ticket_id", "email"]

    async def extract_ticket_id(self, dispatcher, tracker, domain):
        """The shop's ticket format (or a bare "#5532"), when the NLU model found none."""
        found = ticket_reference_from_message(
            tracker, asked=tracker.get_slot("requested_slot") == "ticket_id")
        return {"ticket_id": found} if found else {}

    def validate_ticket_id(self, value: Any, dispatcher, tracker, domain):
        reference = checked_ticket_reference(value)
        if reference is None:
            dispatcher.utter_message(response="utter_ticket_id_format", example=ticket_example())
            return {"ticket_id": None}
        return {"ticket_id": reference}

    async def get_validation_events(self, dispatcher, tracker, domain: DomainDict):
        events = await super().get_validation_events(dispatcher, tracker, domain)
        reference, email = tracker.get_slot("ticket_id"), tracker.get_slot("email")
        if tracker.get_slot("customer_id") or not (reference and email):
            return events
        channel, external_id = sender_identity(tracker)
        owner = await in_store(lambda s: _verify_by_ticket(s, reference, email, channel,
                                                           external_id))
        if owner is not None:
            return events + [SlotSet("customer_id", str(owner)), SlotSet("verification_failures", 0)]
        failures = int(tracker.get_slot("verification_failures") or 0) + 1
        extra = [SlotSet("ticket_id", None), SlotSet("email", None),
                 SlotSet("verification_failures", failures)]
        tracker.slots["ticket_id"] = tracker.slots["email"] = None
        if failures >= MAX_FAILURES:
            dispatcher.utter_message(response="utter_verification_blocked")
            extra.append(SlotSet("verification_blocked", True))
            tracker.slots["verification_blocked"] = True
        else:
            dispatcher.utter_message(response="utter_ticket_not_found")
        return events + extra


def _verify_by_ticket(session, reference: str, email: str, channel: str,
                      external_id: str) -> int | None:
    ticket = tickets.status_for(session, reference=reference, email=email)
    if ticket is None:
        return None
    identities.link(session, customer_id=ticket.customer_id, channel=channel,
                    external_id=external_id, verified=True, actor="bot")
    return ticket.customer_id


class ActionTicketStatus(Action):
    def name(self) -> str:
        return "action_ticket_status"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        if stopped(tracker):
            return said_stopped(dispatcher, "I haven't looked anything up") + [
                SlotSet("ticket_id", None)]
        customer_id = tracker.get_slot("customer_id")
        if not customer_id:
            if not tracker.get_slot("verification_blocked"):
                dispatcher.utter_message(response="utter_ticket_not_found")
            return [SlotSet("ticket_id", None)]
        wanted = (tracker.get_slot("ticket_id")
                  or next(tracker.get_latest_entity_values("ticket_id"), None)
                  or ticket_reference_from_message(tracker, asked=False))
        lines = await in_store(lambda s: _ticket_lines(s, int(customer_id), wanted))
        if not lines:
            dispatcher.utter_message(
                text=("I can't find that ticket among yours." if wanted
                      else "You have no open complaints or requests with us right now."))
        else:
            dispatcher.utter_message(text="\n".join(lines))
        return [SlotSet("ticket_id", None)]


def _ticket_lines(session, customer_id: int, wanted: str | None) -> list[str]:
    if wanted:
        ticket = tickets.status_for(session, reference=normalise_ticket_reference(str(wanted)),
                                    customer_id=customer_id)
        return [_describe(session, ticket)] if ticket else []
    # "My complaint" means the one they are waiting on: the latest, not a list of everything.
    mine = tickets.for_customer(session, customer_id=customer_id)
    if not mine:
        return []
    latest = latest_ticket(mine)
    others = [t for t in mine if t is not latest and t.status in tickets.ACTIVE]
    first = _describe(session, latest)
    if len(mine) > 1:
        first = f"Your latest request is {first}"
    return [first] + ([_others_open(others)] if others else [])


def latest_ticket(found: list) -> Any:
    """The ticket with the latest news: most recently updated, else most recently opened."""
    return max(found, key=lambda t: (t.updated_at or t.created_at, t.created_at, t.id))


def _others_open(others: list) -> str:
    references = ", ".join(t.reference for t in others[:3])
    more = f" and {len(others) - 3} more" if len(others) > 3 else ""
    what = "another open request" if len(others) == 1 else f"{len(others)} other open requests"
    return (f"You also have {what} ({references}{more}). Ask me about one by its reference "
            "for its status.")


def _describe(session, ticket) -> str:
    assignee = "not yet assigned"
    if ticket.assignee_id:
        from crm_store.services import staff

        person = staff.get(session, user_id=ticket.assignee_id)
        # Customers are told a display name or nothing, never anything made from an email.
        assignee = f"handled by {staff_name(person.name) or 'a member of our team'}"
    text = (f"{ticket.reference} “{ticket.subject}”: {ticket.status.value}, {assignee}, "
            f"last updated {day(ticket.updated_at)}.")
    if ticket.resolution:
        text += f" Resolution: {ticket.resolution}"
    elif ticket.status.value in ("open", "pending"):
        text += f" We'll answer by {day(ticket.sla_due_at)}."
    return text
