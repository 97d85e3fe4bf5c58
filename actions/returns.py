"""Opening a return for a verified, delivered order: check eligibility, ask why, record it."""

from __future__ import annotations

import re
from typing import Any

from rasa_sdk import FormValidationAction
from rasa_sdk.events import FollowupAction, SlotSet

from actions.form_stop import StoppableForm, said_stopped, stopped
from actions.identifiers import order_number_in
from actions.orders import VerifiedOrderAction
from actions.photo_request import ask_for_photo, photos_added
from actions.store import in_store, sender_identity
from crm_store.errors import NotAllowed, NotFound
from crm_store.services import conversations, evidence, orders, returns
from kefu_config.policy import load_policy


class ActionStartReturn(VerifiedOrderAction):
    def name(self) -> str:
        return "action_start_return"

    async def handle(self, dispatcher, tracker, order_number, email):
        def problem(session):
            order = orders.owned_order(session, order_number, email)
            return "unknown" if order is None else returns.eligibility(order)

        reason = await in_store(problem)
        if reason == "unknown":
            dispatcher.utter_message(response="utter_verification_failed")
            return []
        if reason:
            dispatcher.utter_message(text=f"I'm sorry, I can't start a return: {reason}. "
                                          "If the item is faulty, I can take a complaint instead.")
            return []
        return [SlotSet("return_reason", None), FollowupAction("return_form")]


class ActionOpenReturn(VerifiedOrderAction):
    def name(self) -> str:
        return "action_open_return"

    async def run(self, dispatcher, tracker, domain):
        if stopped(tracker):
            return said_stopped(dispatcher, "no return was started")
        return await super().run(dispatcher, tracker, domain)

    async def handle(self, dispatcher, tracker, order_number, email):
        reason = (tracker.get_slot("return_reason") or "").strip()
        channel, external_id = sender_identity(tracker)

        def open_return(session):
            conversation = conversations.get_or_start(session, channel=channel,
                                                      external_id=external_id)
            ret = returns.request(session, order_number=order_number, email=email,
                                  reason=reason, conversation_id=conversation.id)
            earlier = evidence.link_earlier(session, ret, conversation_id=conversation.id)
            return ret.id, evidence.label(ret), [row.content_type for row in earlier]

        try:
            return_id, case, earlier = await in_store(open_return)
        except NotAllowed as exc:
            dispatcher.utter_message(text=f"I'm sorry, I can't start a return: {exc}.")
            return [SlotSet("return_reason", None)]
        except NotFound:
            dispatcher.utter_message(response="utter_verification_failed")
            return [SlotSet("return_reason", None)]
        policy = load_policy().returns
        next_steps = " ".join(t for t in (policy.after_opening, policy.refund_time) if t)
        dispatcher.utter_message(
            text=f"Your return R-{return_id} for order {order_number} is open. "
                 f"{next_steps}".strip())
        if earlier:
            photos_added(dispatcher, case, earlier)
        elif evidence.wants_photo(reason):
            ask_for_photo(dispatcher, case)
        return [SlotSet("return_reason", None)]


# Words around an order number that still say nothing about why ("it's order A1178").
_ABOUT_THE_ORDER = frozenset("order number no nr my the it its s is was for of purchase".split())
_EMAIL = re.compile(r"^\S+@\S+\.\S+$")
# Said before the form asks its question again (utter_ask_return_reason, with examples).
REASON_HINT = "Sorry, I need the reason for the return in words, not an order number or an email."


def _not_a_reason(text: str) -> bool:
    """An order number, an email or a word too few: an answer to another question."""
    if len(re.findall(r"[^\W\d_]{2,}", text)) == 0 or _EMAIL.fullmatch(text):
        return True
    number = order_number_in(text)
    if number is None:
        return False
    rest = re.findall(r"[^\W\d_]+", text.replace(number, "").lower())
    return all(word in _ABOUT_THE_ORDER for word in rest)


class ValidateReturnForm(StoppableForm, FormValidationAction):
    """The reason is what the customer says went wrong; an order number typed by mistake is
    not stored as the reason (issue 20: reason "A1178"), it is asked again with a hint."""

    own_slots = ("return_reason",)

    def name(self) -> str:
        return "validate_return_form"

    def validate_return_reason(self, value: Any, dispatcher, tracker, domain):
        text = " ".join(str(value or "").split())
        if _not_a_reason(text):
            dispatcher.utter_message(text=REASON_HINT)
            return {"return_reason": None}
        return {"return_reason": text[:500]}
