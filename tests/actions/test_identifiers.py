"""Identifiers in the shop's own formats (issue 14): a shop whose orders are numbered 90001 (or
#1001, SO-88412, 123-4567890-1234567) is understood without the NLU model having seen them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pydantic import ValidationError
from rasa_sdk.events import SlotSet

from actions.complaints import ActionAcknowledgeComplaint, ValidateComplaintForm
from actions.identifiers import (
    ActionAskComplaintOrder,
    ActionAskOrderId,
    ActionAskTicketId,
    order_number_in,
    single_identifier,
    ticket_reference_in,
)
from actions.orders import ActionCancelOrder, ActionConfirmCancel, ActionTrackOrder
from actions.tickets import ActionTicketStatus, ValidateTicketStatusForm
from actions.verification import ValidateOrderVerificationForm
from crm_store.db import session_scope
from crm_store.models import OrderStatus
from crm_store.services import orders, tickets
from kefu_config.policy import IdentifierFormat, Identifiers, load_policy
from tests.actions.conftest import said, tracker
from tests.crm_store import factories

ORDER_FORM = {"forms": {"order_verification_form": {"required_slots": ["order_id", "email"]}},
              "slots": {}}
TICKET_FORM = {"forms": {"ticket_status_form": {"required_slots": ["ticket_id", "email"]}},
               "slots": {}}
COMPLAINT_FORM = {"forms": {"complaint_form": {"required_slots": [
    "complaint_details", "complaint_order", "complaint_resolution"]}}, "slots": {}}


def slot_events(events) -> dict:
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


def user_turn(text: str, *, intent: str = "inform", slots: dict | None = None,
              entities: list[dict] | None = None, active_loop: str | None = None,
              sender: str = "rest:numeric"):
    return tracker(sender=sender, text=text, intent=intent, slots=slots, entities=entities,
                   events=[{"event": "user", "text": text}], active_loop=active_loop)


@pytest.fixture
def numeric_shop(shop) -> Iterator[dict]:
    """The action tests' shop plus orders numbered like other shops number theirs."""
    with session_scope() as session:
        kettle = factories.product(session, "KIT-001", price="49.00", name="Kettle")
        noor = factories.customer(session, "noor@example.com", name="Noor")
        factories.order(session, "90001", noor, [(kettle, 1)], status=OrderStatus.SHIPPED,
                        shipped_days_ago=1)
        factories.order(session, "90002", noor, [(kettle, 1)], status=OrderStatus.PAID)
        factories.order(session, "123-4567890-1234567", noor, [(kettle, 2)],
                        status=OrderStatus.PAID)
        factories.order(session, "SO88412", noor, [(kettle, 1)], status=OrderStatus.PENDING)
        noor_id = noor.id
    yield {**shop, "noor": noor_id}


# --- finding identifiers in text ----------------------------------------------------------------

@pytest.mark.parametrize("text, found", [
    ("where is my order 90001?", "90001"),
    ("order #1001.", "#1001"),
    ("purchase A1179 current status", "A1179"),
    ("has so-88412 shipped", "so-88412"),
    ("cancel 123-4567890-1234567 please", "123-4567890-1234567"),
    ("it's 90001, jane@example.com", "90001"),
    # Not order numbers: part of an email, a date, a price, a ticket reference.
    ("my email is noor.90001@example.com", None),
    ("I ordered it on 01/05/2024", None),
    ("it cost 1,200.50", None),
    ("what's the status of ticket T-1026?", None),
    ("where is my order?", None),
])
def test_default_patterns_find_every_common_format(text, found):
    assert order_number_in(text) == found


def test_in_free_text_only_a_number_said_to_be_an_order_counts():
    assert order_number_in("I paid 150 euros and it broke", cue_required=True) is None
    assert order_number_in("my order 90001 arrived broken", cue_required=True) == "90001"
    assert order_number_in("the parcel #1001 was crushed", cue_required=True) == "#1001"


def test_ticket_references_and_bare_numbers_about_a_ticket():
    assert ticket_reference_in("status of ticket T-1026?", about_a_ticket=False) == "T-1026"
    assert ticket_reference_in("my ticket #5532 please", about_a_ticket=False) is None
    assert ticket_reference_in("my ticket #5532 please", about_a_ticket=True) == "#5532"


def test_a_one_word_reply_is_left_to_the_store():
    assert single_identifier("ORD/2024/55") == "ORD/2024/55"
    assert single_identifier("it's ORD-55!") == "ORD-55"
    assert single_identifier("I don't know") is None
    assert single_identifier("I ordered 2 kettles and 3 mugs") is None


def test_a_shop_format_is_checked_at_start_up():
    with pytest.raises(ValidationError, match="not a regular expression"):
        IdentifierFormat(patterns=["(unclosed"], example="1")
    with pytest.raises(ValidationError, match="matches none of the patterns"):
        IdentifierFormat(patterns=[r"\d{5}"], example="A1234")
    with pytest.raises(ValidationError, match="empty"):
        IdentifierFormat(patterns=[r"\d*"], example="1")
    defaults = Identifiers()
    assert defaults.order_number.matches("#1001") and defaults.ticket_reference.matches("T-1234")


def test_the_shops_own_patterns_decide(shop_policy):
    shop_policy({"order_number": {"patterns": [r"KF\d{6}"], "example": "KF000123"}})
    assert order_number_in("where is KF004711?") == "KF004711"
    assert order_number_in("where is 90001?") is None
    assert load_policy().identifiers.ticket_reference.example == "T-1234"  # default kept


# --- questions carry the shop's example ----------------------------------------------------------

async def test_questions_show_the_shops_example(shop_policy, dispatcher):
    shop_policy({"order_number": {"patterns": [r"\d{5}"], "example": "90001"},
                 "ticket_reference": {"patterns": [r"T-\d+"], "example": "T-5532"}})
    for action in (ActionAskOrderId(), ActionAskComplaintOrder(), ActionAskTicketId()):
        await action.run(dispatcher, tracker(), {})
    assert [(m["response"], m["example"]) for m in dispatcher.messages] == [
        ("utter_ask_order_id", "90001"), ("utter_ask_complaint_order", "90001"),
        ("utter_ask_ticket_id", "T-5532")]


# --- the order form with numeric orders ----------------------------------------------------------

async def test_numeric_order_is_found_in_the_message_and_verified(numeric_shop, dispatcher):
    # "where is my order 90001?" with no entity from the NLU model: the form finds the number.
    first = user_turn("where is my order 90001?", intent="track_order",
                      active_loop="order_verification_form")
    values = slot_events(await ValidateOrderVerificationForm().run(dispatcher, first, ORDER_FORM))
    assert values["order_id"] == "90001" and values["order_request"] == "track"
    assert "customer_id" not in values and dispatcher.messages == []
    second = user_turn("noor@example.com", slots={"order_id": "90001", "order_request": "track",
                                                 "requested_slot": "email"},
                       entities=[{"entity": "email", "value": "noor@example.com"}],
                       active_loop="order_verification_form")
    second.events.append({"event": "slot", "name": "email", "value": "noor@example.com"})
    second.slots["email"] = "noor@example.com"
    values = slot_events(await ValidateOrderVerificationForm().run(dispatcher, second, ORDER_FORM))
    assert values["customer_id"] == str(numeric_shop["noor"])
    verified = {"order_id": "90001", "email": "noor@example.com",
                "customer_id": str(numeric_shop["noor"])}
    await ActionTrackOrder().run(dispatcher, tracker(slots=verified), {})
    assert "Order 90001" in said(dispatcher)[-1] and "shipped" in said(dispatcher)[-1]


@pytest.mark.parametrize("typed, stored", [
    ("#90002", "90002"), ("123 4567890 1234567", "123-4567890-1234567"), ("SO-88412", "SO88412"),
])
async def test_any_spelling_of_the_number_reaches_the_order(numeric_shop, dispatcher, typed,
                                                           stored):
    t = user_turn(typed, slots={"requested_slot": "order_id", "email": "noor@example.com"},
                  active_loop="order_verification_form")
    values = slot_events(await ValidateOrderVerificationForm().run(dispatcher, t, ORDER_FORM))
    assert values["order_id"] == stored and values["customer_id"] == str(numeric_shop["noor"])


async def test_an_entity_from_the_model_in_the_shops_format_is_kept(numeric_shop, dispatcher):
    t = user_turn("where is 90001", entities=[{"entity": "order_id", "value": "90001"}],
                  active_loop="order_verification_form")
    assert await ValidateOrderVerificationForm().extract_order_id(dispatcher, t, ORDER_FORM) == {
        "order_id": "90001"}


async def test_another_question_while_the_form_waits_gives_no_order_number(numeric_shop,
                                                                          dispatcher):
    form = ValidateOrderVerificationForm()
    asked = {"requested_slot": "order_id"}
    product = user_turn("do you have a tent under 2000 euros?", intent="product_question",
                        slots=asked, entities=[{"entity": "order_id", "value": "2000"}],
                        active_loop="order_verification_form")
    assert await form.extract_order_id(dispatcher, product, ORDER_FORM) == {}
    # A reply that is nothing but the number counts whatever the model made of it.
    bare = user_turn("90001", intent="rate", slots=asked, active_loop="order_verification_form")
    assert await form.extract_order_id(dispatcher, bare, ORDER_FORM) == {"order_id": "90001"}


async def test_a_tagged_value_in_none_of_the_shops_formats_gives_way(numeric_shop, shop_policy,
                                                                     dispatcher):
    shop_policy({"order_number": {"patterns": [r"KF\d{6}"], "example": "KF000123"}})
    t = user_turn("I paid 150 for KF004711, where is it",
                  entities=[{"entity": "order_id", "value": "150"}],
                  active_loop="order_verification_form")
    assert await ValidateOrderVerificationForm().extract_order_id(dispatcher, t, ORDER_FORM) == {
        "order_id": "KF004711"}


async def test_an_answer_that_cannot_be_a_number_gets_the_shops_example(numeric_shop, shop_policy,
                                                                      dispatcher):
    shop_policy({"order_number": {"patterns": [r"\d{5}"], "example": "90001"}})
    t = user_turn("ORD/2024/55", slots={"requested_slot": "order_id"},
                  active_loop="order_verification_form")
    values = slot_events(await ValidateOrderVerificationForm().run(dispatcher, t, ORDER_FORM))
    assert values["order_id"] is None
    assert [(m["response"], m["example"]) for m in dispatcher.messages] == [
        ("utter_order_id_format", "90001")]


async def test_an_unknown_number_is_the_stores_answer_not_a_format_error(numeric_shop,
                                                                         dispatcher):
    t = user_turn("77777", slots={"requested_slot": "order_id", "email": "noor@example.com"},
                  active_loop="order_verification_form")
    values = slot_events(await ValidateOrderVerificationForm().run(dispatcher, t, ORDER_FORM))
    assert values["order_id"] is None and "customer_id" not in values
    assert said(dispatcher) == ["utter_verification_failed"]


async def test_a_numeric_order_is_cancelled(numeric_shop, dispatcher):
    verified = {"order_id": "90002", "email": "noor@example.com",
                "customer_id": str(numeric_shop["noor"])}
    events = await ActionCancelOrder().run(dispatcher, tracker(slots=verified), {})
    assert SlotSet("pending_cancel", "90002") in events
    await ActionConfirmCancel().run(
        dispatcher, tracker(slots={**verified, "pending_cancel": "90002"}), {})
    assert "90002 is cancelled" in said(dispatcher)[-1]
    with session_scope() as session:
        assert orders.get_by_number(session, order_number="90002").status == OrderStatus.CANCELLED


# --- complaints and tickets ----------------------------------------------------------------------

async def test_a_complaint_names_its_numeric_order_but_not_a_price(numeric_shop, dispatcher):
    named = user_turn("my order 90001 arrived broken and the box was crushed", intent="complaint")
    values = slot_events(await ActionAcknowledgeComplaint().run(dispatcher, named, {}))
    assert values["complaint_order"] == "90001"
    # The model may tag any number as an order_id; a price is still not an order number.
    priced = user_turn("I paid 150 euros and the kettle broke after two days", intent="complaint",
                       entities=[{"entity": "order_id", "value": "150"}])
    values = slot_events(await ActionAcknowledgeComplaint().run(dispatcher, priced, {}))
    assert values["complaint_order"] is None


async def test_asked_which_order_a_bare_number_is_taken(numeric_shop, dispatcher):
    t = user_turn("#90001", slots={"requested_slot": "complaint_order",
                                   "complaint_details": "it arrived broken",
                                   "customer_id": str(numeric_shop["noor"])},
                  active_loop="complaint_form")
    values = slot_events(await ValidateComplaintForm().run(dispatcher, t, COMPLAINT_FORM))
    assert values["complaint_order"] == "90001"


async def test_ticket_status_by_a_bare_number(numeric_shop, dispatcher):
    with session_scope() as session:
        reference = tickets.open(session, subject="Kettle leaks", kind="complaint",
                                 category="product_quality",
                                 customer_id=numeric_shop["noor"]).reference
    number = reference.removeprefix("T-")
    t = user_turn(f"what's the status of my ticket #{number}?", intent="ticket_status",
                  active_loop="ticket_status_form")
    values = slot_events(await ValidateTicketStatusForm().run(dispatcher, t, TICKET_FORM))
    assert values["ticket_id"] == reference
    # A verified chat skips the form: the action finds the number in the message itself.
    verified = user_turn(f"what's the status of my ticket #{number}?", intent="ticket_status",
                         slots={"customer_id": str(numeric_shop["noor"])})
    await ActionTicketStatus().run(dispatcher, verified, {})
    assert reference in said(dispatcher)[-1] and "Kettle leaks" in said(dispatcher)[-1]
