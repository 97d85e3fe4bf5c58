"""'I was charged twice' takes the order and opens a payment ticket (issue 20: it got the
generic payment text, though the policy promises the duplicate back in 3 working days)."""

from __future__ import annotations

import asyncio

from actions.complaints import ActionOpenComplaint, ActionStartPaymentTicket
from actions.identifiers import ActionAskComplaintOrder
from actions.info import ActionPaymentIssue
from crm_store.db import session_scope
from crm_store.models import Order, Ticket, TicketCategory
from tests.actions.conftest import tracker


def _user(text: str, intent: str, entities: list[dict] | None = None) -> dict:
    return {"event": "user", "text": text,
            "parse_data": {"text": text, "intent": {"name": intent},
                           "entities": entities or []}}


def _slots(events) -> dict:
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


def test_the_payment_answer_offers_a_payment_ticket(dispatcher):
    asyncio.run(ActionPaymentIssue().run(dispatcher, tracker(text="I was charged twice",
                                                             intent="payment_issue"), {}))
    message = dispatcher.messages[0]
    assert "charged twice" in message["text"] and "payment ticket" in message["text"]
    assert [b["payload"] for b in message["buttons"]] == ["/affirm", "/deny"]


def test_yes_starts_the_complaint_form_as_a_payment_ticket_with_the_order_named(dispatcher):
    said = "you charged me twice for order A2001"
    events = asyncio.run(ActionStartPaymentTicket().run(dispatcher, tracker(
        text="/affirm", intent="affirm", events=[
            _user(said, "payment_issue", [{"entity": "order_id", "value": "A2001"}]),
            {"event": "bot", "text": "…payment ticket…"},
            _user("/affirm", "affirm")]), {}))
    slots = _slots(events)
    assert slots["complaint_details"] == said
    assert slots["complaint_order"] == "A2001"
    assert slots["complaint_category"] == "payment"
    assert slots["complaint_resolution"]  # not asked "how would you like us to put it right?"


def test_a_verified_customer_picks_the_charged_order_from_their_orders(shop, dispatcher):
    asyncio.run(ActionAskComplaintOrder().run(dispatcher, tracker(slots={
        "customer_id": str(shop["jane"]), "complaint_category": "payment"}), {}))
    message = dispatcher.messages[0]
    assert message["text"].startswith("Which order was charged?")
    payloads = [b["payload"] for b in message["buttons"]]
    assert '/inform{"order_id": "A2001"}' in payloads and '/inform{"order_id": "A2002"}' in payloads
    assert not any("A2003" in p for p in payloads)  # John's order is not Jane's to see
    assert payloads[-1] == "/deny"


def test_the_payment_ticket_is_opened_in_the_payment_category_with_the_refund_promise(
        shop, dispatcher):
    asyncio.run(ActionOpenComplaint().run(dispatcher, tracker(slots={
        "customer_id": str(shop["jane"]), "complaint_details": "I was charged twice",
        "complaint_order": "A2002", "complaint_category": "payment",
        "complaint_resolution": "Check the charge and refund what was taken wrongly"}), {}))
    text = dispatcher.messages[0]["text"]
    assert "payment ticket T-" in text and "order A2002" in text
    assert "refund the duplicate within 3 working days" in text
    with session_scope() as session:
        ticket = session.query(Ticket).one()
        assert ticket.category == TicketCategory.PAYMENT
        assert session.get(Order, ticket.order_id).order_number == "A2002"
        assert ticket.subject == "I was charged twice"


def test_a_complaint_after_a_payment_ticket_is_classified_from_its_own_words(shop, dispatcher):
    from actions.complaints import ActionAcknowledgeComplaint

    events = asyncio.run(ActionAcknowledgeComplaint().run(dispatcher, tracker(
        slots={"complaint_category": "payment"}, text="the parcel arrived crushed and wet",
        intent="complaint"), {}))
    assert _slots(events)["complaint_category"] is None
