"""Handing the conversation to a person: record it, say what happens next, go quiet.

The handoff is written to crm_store and the conversation switched to human mode there; the
gateway reads that mode and stops sending the customer's messages to Rasa until staff resolve
the handoff. The customer hears their place in the queue, or, outside business hours, when
staff are back.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.fallback import consecutive_misses
from actions.store import in_store, sender_identity
from crm_store.services import assignment, conversations, handoffs
from crm_store.services.handoffs import HandoffKind
from kefu_config.handoff import next_steps_text  # shared with the gateway's /human fallback
from kefu_config.settings import get_settings


def handoff_reason(tracker: Tracker) -> tuple[str, HandoffKind]:
    """Why the conversation goes to a person, in words for staff and as crm_store's kind
    (which decides how urgent the handoff is in the agents' queue)."""
    if tracker.get_slot("verification_blocked"):
        return ("could not verify the order details three times",
                HandoffKind.VERIFICATION_FAILED)
    intent = (tracker.latest_message.get("intent") or {}).get("name")
    if intent == "complaint":
        return "angry or urgent complaint", HandoffKind.COMPLAINT
    # The customer's turns just before this one that the fallback answered, in a row: after
    # two the fallback offers a person. One miss, or misses long ago, are not the reason.
    if consecutive_misses(tracker.events) - 1 >= 2:
        return ("customer asked for a person after the assistant did not understand twice",
                HandoffKind.NOT_UNDERSTOOD)
    return "customer asked for a person", HandoffKind.ASKED


def request_handoff(session, channel: str, external_id: str, reason: str,
                    kind: HandoffKind) -> tuple[int, int | None]:
    """Hand the conversation to staff (crm_store's rule); the customer's place in the queue
    and the measured wait, if any (crm_store.services.assignment.expected_wait). The gateway
    gives the handoff to an online agent with room as soon as it sees it."""
    conversation = conversations.get_or_start(session, channel=channel, external_id=external_id)
    handoff = handoffs.hand_over(session, conversation_id=conversation.id, reason=reason,
                                 kind=kind)
    return assignment.expected_wait(session, handoff_id=handoff.id,
                                    default_capacity=get_settings().agent_capacity)


class ActionHandoff(Action):
    def name(self) -> str:
        return "action_handoff"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        channel, external_id = sender_identity(tracker)
        reason, kind = handoff_reason(tracker)
        position, minutes = await in_store(
            lambda s: request_handoff(s, channel, external_id, reason, kind))
        dispatcher.utter_message(text=next_steps_text(position, wait_minutes=minutes))
        return []
