"""Feedback and suggestions: stored where staff see it (a feedback ticket), and acknowledged.

A question is no suggestion: when the model reads one as feedback ("how many loyalty points do I
get per euro?") and the shop's help pages answer it, the customer gets the answer, and no
feedback ticket is filed for staff to read. A tap on the "feedback" button is never second-guessed.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.help_answers import find_help_answer, is_question, send_help_answer
from actions.identifiers import words_of_latest_request
from actions.store import in_store, sender_identity
from crm_store.models import TicketCategory, TicketKind, TicketPriority
from crm_store.services import conversations, tickets


class ActionStoreFeedback(Action):
    def name(self) -> str:
        return "action_store_feedback"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        text = words_of_latest_request(tracker).strip()  # never a button's "/feedback"
        if is_question(text) and (answer := await find_help_answer(tracker)) is not None:
            send_help_answer(dispatcher, answer)
            return []
        channel, external_id = sender_identity(tracker)
        customer_id = tracker.get_slot("customer_id")

        def store(session):
            conversation = conversations.get_or_start(session, channel=channel,
                                                      external_id=external_id)
            ticket = tickets.open(
                session, subject=" ".join(text.split())[:120] or "Feedback",
                kind=TicketKind.FEEDBACK, category=TicketCategory.OTHER,
                priority=TicketPriority.LOW, description=text,
                customer_id=int(customer_id) if customer_id else conversation.customer_id,
                conversation_id=conversation.id, channel=channel, actor="bot")
            return ticket.reference

        reference = await in_store(store)
        dispatcher.utter_message(
            text=(f"Thank you — I've passed your feedback to the team ({reference}). "
                  "Ideas like yours are how the shop gets better."))
        return []
