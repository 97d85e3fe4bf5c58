"""Leaving a form writes nothing and says so (issue 20: "actually never mind", then "cancel",
opened complaint T-1027 with those words)."""

from __future__ import annotations

import asyncio

import pytest
import yaml
from rasa_sdk.events import ActiveLoop, SlotSet

from actions.complaints import ActionOpenComplaint, ValidateComplaintForm
from actions.returns import ActionOpenReturn, ValidateReturnForm
from crm_store.db import session_scope
from crm_store.models import ReturnRequest, Ticket
from kefu_config.settings import REPO_ROOT
from tests.actions.conftest import tracker

DOMAIN = yaml.safe_load((REPO_ROOT / "domain.yml").read_text(encoding="utf-8"))


def _validate(action, requested: str, text: str, intent: str, **slots):
    t = tracker(slots={"requested_slot": requested, requested: text, **slots}, text=text,
                intent=intent, active_loop=action.form_name())
    return asyncio.run(action.run(None, t, DOMAIN))


def _left(events) -> bool:
    return SlotSet("form_stopped", True) in events and ActiveLoop(None) in events


@pytest.mark.parametrize(("requested", "text", "intent"), [
    ("complaint_details", "actually never mind", "deny"),
    ("complaint_details", "cancel", "cancel_order"),
    ("complaint_resolution", "stop this", "unsubscribe"),
    ("complaint_order", "cancel", "cancel_order"),
])
def test_never_mind_cancel_or_stop_leaves_the_complaint_form_with_nothing_kept(
        shop, requested, text, intent):
    events = _validate(ValidateComplaintForm(), requested, text, intent,
                       complaint_details="my parcel was wet")
    assert _left(events)
    slots = {e["name"]: e["value"] for e in events if e.get("event") == "slot"}
    assert slots["complaint_details"] is None and slots["complaint_order"] is None
    assert slots["complaint_resolution"] is None and slots["requested_slot"] is None


def test_no_at_which_order_means_no_order_not_leaving(shop):
    events = _validate(ValidateComplaintForm(), "complaint_order", "no", "deny",
                       complaint_details="my parcel was wet")
    assert not _left(events)


def test_a_long_message_about_cancelling_is_a_complaint_not_leaving(shop):
    text = "I want to cancel my order because the box arrived crushed and wet"
    events = _validate(ValidateComplaintForm(), "complaint_details", text, "cancel_order")
    assert not _left(events)


def test_a_left_complaint_is_not_opened_and_the_customer_is_told(shop, dispatcher):
    events = asyncio.run(ActionOpenComplaint().run(dispatcher, tracker(
        slots={"form_stopped": True}, intent="deny"), {}))
    assert dispatcher.messages[0]["text"].startswith("OK, I've stopped — no complaint was opened")
    assert SlotSet("form_stopped", False) in events
    with session_scope() as session:
        assert session.query(Ticket).count() == 0


def test_never_mind_at_the_return_reason_starts_no_return(shop, dispatcher):
    assert _left(_validate(ValidateReturnForm(), "return_reason", "never mind", "deny"))
    asyncio.run(ActionOpenReturn().run(dispatcher, tracker(slots={
        "form_stopped": True, "order_id": "A2003", "email": "john@example.com",
        "customer_id": str(shop["john"])}), {}))
    assert "no return was started" in dispatcher.messages[0]["text"]
    with session_scope() as session:
        assert session.query(ReturnRequest).count() == 0


@pytest.mark.parametrize(("first", "describes"), [
    ("I want to make a complaint", False),
    ("Hi, I'd like to file a formal complaint please", False),
    ("can you help me with a complaint", False),
    ("the dumbbells I got are broken and rusty", True),
    ("I want to make a complaint, the dumbbells are rusty", True),
])
def test_only_a_first_message_that_says_what_happened_is_taken_as_the_details(first, describes):
    """Issue 20: "I want to make a complaint" became the ticket's subject."""
    from actions.complaints import describes_a_problem

    assert describes_a_problem(first) is describes


def test_never_mind_at_the_ticket_reference_looks_nothing_up_and_says_so(shop, dispatcher):
    from actions.tickets import ActionTicketStatus, ValidateTicketStatusForm

    assert _left(_validate(ValidateTicketStatusForm(), "ticket_id", "never mind", "deny"))
    asyncio.run(ActionTicketStatus().run(dispatcher, tracker(slots={"form_stopped": True}), {}))
    assert dispatcher.messages[0]["text"].startswith("OK, I've stopped")
    assert "find" not in dispatcher.messages[0]["text"]
