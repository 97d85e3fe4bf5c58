"""Order actions: verification reveals nothing, links the chat, and answers from real data."""

from __future__ import annotations

from rasa_sdk.events import SlotSet

from actions.orders import ActionCancelOrder, ActionConfirmCancel, ActionTrackOrder
from actions.verification import ValidateOrderVerificationForm
from crm_store.db import session_scope
from crm_store.models import OrderStatus
from crm_store.services import identities, orders
from tests.actions.conftest import said, tracker

DOMAIN = {"forms": {"order_verification_form": {"required_slots": ["order_id", "email"]}},
          "slots": {}}


def slot_events(events) -> dict:
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


async def test_right_details_verify_and_link_the_chat(shop, dispatcher):
    typed = {"order_id": "a2001", "email": " Jane@Example.com "}
    t = tracker(slots=typed, active_loop="order_verification_form",
                events=[{"event": "user", "text": "a2001  Jane@Example.com "}]
                + [{"event": "slot", "name": k, "value": v} for k, v in typed.items()])
    events = await ValidateOrderVerificationForm().run(dispatcher, t, DOMAIN)
    values = slot_events(events)
    assert values["customer_id"] == str(shop["jane"])
    assert values["order_id"] == "A2001" and values["email"] == "jane@example.com"
    with session_scope() as session:
        identity = identities.get(session, channel="rest", external_id="tester")
        assert identity.verified and identity.customer_id == shop["jane"]


async def test_wrong_email_reveals_nothing_and_third_failure_stops(shop, dispatcher):
    for attempt in (1, 2, 3):
        t = tracker(slots={"order_id": "A2001", "email": "john@example.com",
                           "verification_failures": attempt - 1},
                    active_loop="order_verification_form")
        events = await ValidateOrderVerificationForm().run(dispatcher, t, DOMAIN)
        values = slot_events(events)
        assert values["order_id"] is None and values["email"] is None
        assert values["verification_failures"] == attempt
        assert "customer_id" not in values
    assert said(dispatcher) == ["utter_verification_failed", "utter_verification_failed",
                                "utter_verification_blocked"]
    assert values["verification_blocked"] is True
    assert values["requested_slot"] is None  # the form stops asking


async def test_verified_customer_cannot_reach_someone_elses_order(shop, dispatcher):
    t = tracker(slots={"order_id": "A2003", "customer_id": str(shop["jane"]),
                       "email": "jane@example.com"}, active_loop="order_verification_form")
    events = await ValidateOrderVerificationForm().run(dispatcher, t, DOMAIN)
    assert slot_events(events)["order_id"] is None
    assert said(dispatcher) == ["utter_verification_failed"]


async def test_tracking_answer_has_carrier_and_tracking_number(shop, dispatcher):
    t = tracker(slots={"order_id": "A2001", "email": "jane@example.com",
                       "customer_id": str(shop["jane"])})
    await ActionTrackOrder().run(dispatcher, t, {})
    [answer] = said(dispatcher)
    assert "A2001" in answer and "shipped" in answer and "DHL" in answer and "JD0001" in answer


async def test_cancel_asks_first_then_cancels_only_a_paid_order(shop, dispatcher):
    verified = {"email": "jane@example.com", "customer_id": str(shop["jane"])}
    events = await ActionCancelOrder().run(dispatcher, tracker(slots={**verified, "order_id": "A2001"}), {})
    assert "no longer be cancelled" in said(dispatcher)[-1]
    assert SlotSet("pending_cancel", None) in events
    events = await ActionCancelOrder().run(dispatcher, tracker(slots={**verified, "order_id": "A2002"}), {})
    assert SlotSet("pending_cancel", "A2002") in events
    with session_scope() as session:
        assert orders.get_by_number(session, order_number="A2002").status == OrderStatus.PAID
    await ActionConfirmCancel().run(dispatcher, tracker(slots={**verified, "pending_cancel": "A2002"}), {})
    assert "A2002 is cancelled" in said(dispatcher)[-1]
    with session_scope() as session:
        assert orders.get_by_number(session, order_number="A2002").status == OrderStatus.CANCELLED


async def test_unverified_chat_gets_nothing(shop, dispatcher):
    await ActionTrackOrder().run(dispatcher, tracker(slots={"order_id": "A2001"}), {})
    assert said(dispatcher) == ["utter_verification_failed"]
