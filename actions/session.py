"""Session start: carry the slots over and recognise a chat that proved who it is before."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.store import in_store, sender_identity
from crm_store.services import identities

# Slots that belong to a single request; a new session starts without them ("is it in
# stock?" an hour later does not mean the product shown then).
TRANSIENT = {"pending_cancel", "change_details", "return_reason", "requested_slot",
             "order_request", "last_product"}


class ActionSessionStart(Action):
    def name(self) -> str:
        return "action_session_start"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = [SessionStarted()]
        for event in tracker.events:
            if event.get("event") == "slot" and event.get("name") not in TRANSIENT:
                events.append(SlotSet(event["name"], event.get("value")))
        channel, external_id = sender_identity(tracker)
        known = await in_store(lambda s: _verified_customer(s, channel, external_id))
        if known is not None:
            customer_id, email = known
            events += [SlotSet("customer_id", str(customer_id)), SlotSet("email", email)]
        events.append(ActionExecuted("action_listen"))
        return events


def _verified_customer(session, channel: str, external_id: str) -> tuple[int, str] | None:
    """A chat verified earlier (order check, signed web login, linked channel) is trusted again."""
    identity = identities.get(session, channel=channel, external_id=external_id)
    if identity is None or not identity.verified or identity.customer.email is None:
        return None
    return identity.customer_id, identity.customer.email
