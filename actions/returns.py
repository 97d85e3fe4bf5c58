"""Opening a return for a verified, delivered order: check eligibility, ask why, record it."""

from __future__ import annotations

from rasa_sdk.events import FollowupAction, SlotSet

from actions.orders import VerifiedOrderAction
from actions.store import in_store
from crm_store.errors import NotAllowed, NotFound
from crm_store.services import orders, returns
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

    async def handle(self, dispatcher, tracker, order_number, email):
        reason = (tracker.get_slot("return_reason") or "").strip()
        try:
            ret = await in_store(lambda s: returns.request(s, order_number=order_number,
                                                           email=email, reason=reason))
        except NotAllowed as exc:
            dispatcher.utter_message(text=f"I'm sorry, I can't start a return: {exc}.")
            return [SlotSet("return_reason", None)]
        except NotFound:
            dispatcher.utter_message(response="utter_verification_failed")
            return [SlotSet("return_reason", None)]
        policy = load_policy().returns
        dispatcher.utter_message(
            text=(f"Your return R-{ret.id} for order {order_number} is open. What happens next: "
                  f"{policy.how} {policy.refund_time}"))
        return [SlotSet("return_reason", None)]
