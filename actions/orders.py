"""What a verified customer can do with an order: track, cancel, change, ask about a refund.

Each action runs after `order_verification_form`; the shared base class handles the cases
where the chat is not (or can no longer be) verified, so each operation only does its job.
All reads and writes go through crm_store services, which check ownership again by email.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import FormValidationAction

from actions.form_stop import StoppableForm, said_stopped, stopped
from actions.store import in_store, sender_identity
from actions.texts import day, items_summary, money
from crm_store.errors import NotAllowed, NotFound
from crm_store.models import OrderStatus, TicketCategory, TicketKind, TicketPriority
from crm_store.services import orders, returns, tickets
from crm_store.services.orders import OrderView
from kefu_config.policy import load_policy


class VerifiedOrderAction(Action, ABC):
    """Base: run `handle()` only for a verified chat with an order number."""

    @abstractmethod
    async def handle(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                     order_number: str, email: str) -> list[dict[str, Any]]:
        """The operation itself, for an order the chat has proved it owns."""

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        if tracker.get_slot("verification_blocked"):
            dispatcher.utter_message(response="utter_verification_blocked")
            return []
        order_number = tracker.get_slot("order_id")
        email = tracker.get_slot("email")
        if not (tracker.get_slot("customer_id") and order_number and email):
            dispatcher.utter_message(response="utter_verification_failed")
            return []
        return await self.handle(dispatcher, tracker, order_number, email)

    @staticmethod
    async def order_view(dispatcher: CollectingDispatcher, order_number: str,
                         email: str) -> OrderView | None:
        """The order as its owner may see it; None (and the customer told) if not theirs."""
        view = await in_store(lambda s: orders.status_for(s, order_number=order_number, email=email))
        if view is None:
            dispatcher.utter_message(response="utter_verification_failed")
        return view


def status_sentence(view: OrderView) -> str:
    """One customer-facing paragraph about where an order is, from the real data only."""
    head = f"Order {view.order_number} ({items_summary(view.items)}, {money(view.total, view.currency)})"
    status = view.status
    if status == OrderStatus.PENDING:
        return f"{head} was placed on {day(view.created_at)} and is waiting for payment confirmation."
    if status == OrderStatus.PAID:
        return f"{head} was paid on {day(view.created_at)} and is being packed; it hasn't shipped yet."
    if status == OrderStatus.SHIPPED:
        text = f"{head} shipped on {day(view.shipped_at)}"
        if view.carrier:
            text += f" with {view.carrier}"
        text += "."
        if view.tracking_number:
            text += f" Tracking number: {view.tracking_number}."
        return text
    if status == OrderStatus.DELIVERED:
        when = view.delivered_at or view.shipped_at
        text = f"{head} was delivered"
        text += f" (shipped {day(view.shipped_at)}" if view.shipped_at else ""
        text += f" with {view.carrier}" if view.carrier and view.shipped_at else ""
        text += ")" if view.shipped_at else ""
        if view.delivered_at:
            text += f" on {day(when)}"
        text += "."
        if view.tracking_number:
            text += f" Tracking number: {view.tracking_number}."
        return text
    if status == OrderStatus.CANCELLED:
        return f"{head} was cancelled."
    if status == OrderStatus.RETURNED:
        return f"{head} was returned to us; the refund is being processed."
    return f"{head} was refunded."


class ActionTrackOrder(VerifiedOrderAction):
    def name(self) -> str:
        return "action_track_order"

    async def handle(self, dispatcher, tracker, order_number, email):
        view = await self.order_view(dispatcher, order_number, email)
        if view is None:
            return []
        dispatcher.utter_message(text=status_sentence(view))
        return []


class ActionCancelOrder(VerifiedOrderAction):
    """Asks to confirm; only pending and paid orders can still be cancelled."""

    def name(self) -> str:
        return "action_cancel_order"

    async def handle(self, dispatcher, tracker, order_number, email):
        view = await self.order_view(dispatcher, order_number, email)
        if view is None:
            return []
        if not view.cancellable:
            dispatcher.utter_message(text=_cannot_cancel(view))
            return [SlotSet("pending_cancel", None)]
        dispatcher.utter_message(
            text=(f"Order {view.order_number} ({items_summary(view.items)}, "
                  f"{money(view.total, view.currency)}) hasn't shipped yet, so I can cancel it. "
                  "Shall I cancel it now?"),
            buttons=[{"title": "Yes, cancel it", "payload": "/affirm"},
                     {"title": "No, keep it", "payload": "/deny"}],
        )
        return [SlotSet("pending_cancel", view.order_number)]


def _cannot_cancel(view: OrderView) -> str:
    if view.status in (OrderStatus.SHIPPED, OrderStatus.DELIVERED):
        return (f"I'm sorry, order {view.order_number} has already {view.status.value}, so it can "
                f"no longer be cancelled. You can return it within {load_policy().returns.days} "
                "days of delivery instead — just say \"I want to return it\".")
    return f"Order {view.order_number} is {view.status.value}, so there is nothing left to cancel."


class ActionConfirmCancel(Action):
    def name(self) -> str:
        return "action_confirm_cancel"

    async def run(self, dispatcher, tracker, domain):
        order_number = tracker.get_slot("pending_cancel")
        email = tracker.get_slot("email")
        if not (order_number and email and tracker.get_slot("customer_id")):
            dispatcher.utter_message(response="utter_anything_else")
            return [SlotSet("pending_cancel", None)]
        try:
            await in_store(lambda s: orders.cancel(s, order_number=order_number, email=email,
                                                   actor="customer"))
        except NotAllowed as exc:
            dispatcher.utter_message(text=f"I'm sorry, I couldn't cancel it: {exc}.")
            return [SlotSet("pending_cancel", None)]
        except NotFound:
            dispatcher.utter_message(response="utter_verification_failed")
            return [SlotSet("pending_cancel", None)]
        dispatcher.utter_message(
            text=(f"Done — order {order_number} is cancelled. If you already paid, the money goes "
                  "back to your original payment method within 5 working days."))
        return [SlotSet("pending_cancel", None)]


class ActionKeepOrder(Action):
    def name(self) -> str:
        return "action_keep_order"

    async def run(self, dispatcher, tracker, domain):
        dispatcher.utter_message(response="utter_keep_order")
        return [SlotSet("pending_cancel", None)]


class ActionChangeOrder(VerifiedOrderAction):
    """Changes need a person (warehouse, carrier): check it's still possible, then ask what."""

    def name(self) -> str:
        return "action_change_order"

    async def handle(self, dispatcher, tracker, order_number, email):
        view = await self.order_view(dispatcher, order_number, email)
        if view is None:
            return []
        if not view.cancellable:
            dispatcher.utter_message(
                text=(f"Order {view.order_number} is already {view.status.value}, so it can't be "
                      "changed any more. If something is wrong with it, I can help you return it "
                      "or make a complaint."))
            return []
        return [SlotSet("change_details", None), FollowupAction("change_request_form")]


class ValidateChangeRequestForm(StoppableForm, FormValidationAction):
    """The change details are free text; "never mind" or "cancel" there leaves the form."""

    own_slots = ("change_details",)

    def name(self) -> str:
        return "validate_change_request_form"


class ActionOpenChangeRequest(VerifiedOrderAction):
    def name(self) -> str:
        return "action_open_change_request"

    async def run(self, dispatcher, tracker, domain):
        if stopped(tracker):
            return said_stopped(dispatcher, "no change request was sent")
        return await super().run(dispatcher, tracker, domain)

    async def handle(self, dispatcher, tracker, order_number, email):
        details = (tracker.get_slot("change_details") or "").strip()
        channel, _ = sender_identity(tracker)

        def open_request(session):
            order = orders.owned_order(session, order_number, email)
            if order is None:
                return None
            ticket = tickets.open(
                session, subject=f"Change request for order {order.order_number}",
                kind=TicketKind.SERVICE_REQUEST, category=TicketCategory.OTHER,
                priority=TicketPriority.HIGH,
                description=details, customer_id=order.customer_id, order_id=order.id,
                channel=channel, actor="bot")
            return ticket.reference, ticket.sla_due_at

        result = await in_store(open_request)
        if result is None:
            dispatcher.utter_message(response="utter_verification_failed")
            return [SlotSet("change_details", None)]
        reference, due = result
        dispatcher.utter_message(
            text=(f"Thanks — I've passed your change to our team as request {reference}. "
                  f"They'll update order {order_number} before it ships if they can and reply "
                  f"by {due:%-d %b %H:%M} UTC at the latest."))
        return [SlotSet("change_details", None)]


class ActionRefundStatus(VerifiedOrderAction):
    def name(self) -> str:
        return "action_refund_status"

    async def handle(self, dispatcher, tracker, order_number, email):
        refund = await in_store(lambda s: returns.refund_status(s, order_number=order_number,
                                                                email=email))
        if refund is None:
            dispatcher.utter_message(response="utter_verification_failed")
            return []
        dispatcher.utter_message(text=_refund_sentence(refund))
        return []


def _refund_sentence(refund) -> str:
    number = refund.order_number
    if refund.refunded_at is not None and refund.refund_amount is not None:
        return (f"The refund of {money(refund.refund_amount)} for order {number} was issued on "
                f"{day(refund.refunded_at)}. Depending on your bank it can take 3–5 working days "
                "to appear.")
    if refund.order_status == OrderStatus.REFUNDED:
        return (f"Order {number} has been refunded to your original payment method. Depending "
                "on your bank it can take 3–5 working days to appear.")
    if refund.return_status is not None:
        return (f"Your return for order {number} is {refund.return_status.value} (opened "
                f"{day(refund.requested_at)}). {load_policy().returns.refund_time}")
    if refund.order_status == OrderStatus.CANCELLED:
        return (f"Order {number} was cancelled; any payment goes back to your original payment "
                "method within 5 working days of the cancellation.")
    if refund.order_status == OrderStatus.RETURNED:
        return f"We've received your return for order {number}; the refund is being processed."
    return (f"There's no return or refund for order {number} yet (it is "
            f"{refund.order_status.value}). If you'd like to send something back, just say "
            "\"I want to return it\".")
