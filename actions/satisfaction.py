"""Satisfaction: after a resolved conversation or ticket, a 1–5 rating and an optional comment.

The gateway triggers `EXTERNAL_conversation_resolved` (or `EXTERNAL_ticket_resolved` with the
ticket reference) when staff resolve something; the assistant then asks. A rating the customer
gives unprompted goes to their latest resolved ticket, else to the conversation.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import FormValidationAction

from actions.store import in_store, sender_identity
from crm_store.errors import StoreError
from crm_store.models import TicketStatus
from crm_store.services import conversations, tickets

RATING_BUTTONS = [{"title": f"{n} {'★' * n}", "payload": f'/rate{{"rating": "{n}"}}'}
                  for n in range(5, 0, -1)]


def parse_rating(value: Any) -> int | None:
    try:
        score = int(float(str(value).strip()))
    except (TypeError, ValueError, OverflowError):  # OverflowError: "inf", "1e400"
        return None
    return score if 1 <= score <= 5 else None


class ActionAskRating(Action):
    def name(self) -> str:
        return "action_ask_rating"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        reference = next(tracker.get_latest_entity_values("ticket_id"), None)
        target = f"ticket:{reference}" if reference else "conversation"
        what = f"how we handled {reference}" if reference else "the help you got today"
        dispatcher.utter_message(
            text=f"How would you rate {what}, from 1 (poor) to 5 (excellent)?",
            buttons=RATING_BUTTONS)
        return [SlotSet("rating_target", target)]


class ActionStoreRating(Action):
    def name(self) -> str:
        return "action_store_rating"

    async def run(self, dispatcher, tracker, domain):
        score = parse_rating(next(tracker.get_latest_entity_values("rating"), None))
        if score is None:
            dispatcher.utter_message(response="utter_rating_range")
            return []
        target = tracker.get_slot("rating_target") or ""
        channel, external_id = sender_identity(tracker)
        customer_id = tracker.get_slot("customer_id")

        def store(session):
            conversation = conversations.get_or_start(session, channel=channel,
                                                      external_id=external_id)
            reference = target.removeprefix("ticket:") if target.startswith("ticket:") else None
            owner = int(customer_id) if customer_id else conversation.customer_id
            ticket = None
            if reference:
                ticket = tickets.status_for(session, reference=reference, customer_id=owner)
            elif target != "conversation":
                ticket = next((t for t in tickets.for_customer(session, customer_id=owner)
                               if t.status in (TicketStatus.RESOLVED, TicketStatus.CLOSED)
                               and t.satisfaction is None), None)
            if ticket is not None:
                tickets.rate(session, ticket_id=ticket.id, satisfaction=score)
                return f"ticket:{ticket.reference}"
            conversations.rate(session, conversation_id=conversation.id, score=score)
            return "conversation"

        try:
            rated = await in_store(store)
        except StoreError:
            rated = None
        if rated is None:
            dispatcher.utter_message(response="utter_rating_range")
            return []
        dispatcher.utter_message(text=f"Thank you for rating us {score}/5!")
        return [SlotSet("rating_target", rated), SlotSet("rating_comment", None)]


class ActionAskRatingComment(Action):
    """The form's question after a rating, by score: after a poor one, what went wrong (and a
    person if they want one); after a middling one, what would have made it better."""

    def name(self) -> str:
        return "action_ask_rating_comment"

    async def run(self, dispatcher, tracker, domain):
        score = parse_rating(next(tracker.get_latest_entity_values("rating"), None))
        if score is not None and score <= 2:
            dispatcher.utter_message(
                text="I'm sorry it wasn't better. What went wrong? Tell me in your own words and "
                     "I'll pass it to the team, or say no.",
                buttons=[{"title": "Talk to a person", "payload": "/human_handoff"},
                         {"title": "No, that's all", "payload": "/deny"}])
        elif score == 3:
            dispatcher.utter_message(
                text="Thanks. What would have made it better? Just type it, or say no.")
        else:
            dispatcher.utter_message(response="utter_ask_rating_comment")
        return []


class ValidateRatingCommentForm(FormValidationAction):
    """Asks for a comment only after a rating was stored (not after an out-of-range one)."""

    def name(self) -> str:
        return "validate_rating_comment_form"

    async def required_slots(self, domain_slots, dispatcher, tracker, domain):
        return ["rating_comment"] if tracker.get_slot("rating_target") else []


class ActionStoreRatingComment(Action):
    def name(self) -> str:
        return "action_store_rating_comment"

    async def run(self, dispatcher, tracker, domain):
        comment = (tracker.get_slot("rating_comment") or "").strip()
        target = tracker.get_slot("rating_target")
        if not target:
            return []  # no rating was stored; the customer was asked for a valid one
        channel, external_id = sender_identity(tracker)
        if comment:
            def store(session):
                if target.startswith("ticket:"):
                    ticket = tickets.get_by_reference(session, reference=target.removeprefix("ticket:"))
                    if ticket is not None:
                        tickets.comment_on_rating(session, ticket_id=ticket.id, comment=comment)
                        return
                conversation = conversations.get_or_start(session, channel=channel,
                                                          external_id=external_id)
                conversations.comment_on_rating(session, conversation_id=conversation.id,
                                                comment=comment)

            await in_store(store)
            dispatcher.utter_message(text="Thanks, I've passed that on to the team.")
        else:
            dispatcher.utter_message(response="utter_anything_else")
        return [SlotSet("rating_target", None), SlotSet("rating_comment", None)]
