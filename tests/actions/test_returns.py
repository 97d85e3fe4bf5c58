"""Returns: a reason is a reason (issue 20: an order number typed by mistake was stored as the
reason), and once a return is open the customer is told what to do next, not how to start one."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from actions.returns import REASON_HINT, ActionOpenReturn, ValidateReturnForm
from crm_store.db import session_scope
from crm_store.models import ReturnRequest
from tests.actions.conftest import said, tracker

DOMAIN = {"forms": {"return_form": {"required_slots": ["return_reason"]}}, "slots": {}}


@pytest.mark.parametrize("typed", ["A2003", "#A2003", "order A2003", "john@example.com", "???"])
def test_an_order_number_or_an_email_is_not_a_reason_and_is_asked_again(shop, dispatcher,
                                                                          typed):
    validate = ValidateReturnForm()
    assert validate.validate_return_reason(typed, dispatcher, None, DOMAIN) == \
        {"return_reason": None}
    assert said(dispatcher) == [REASON_HINT]


@pytest.mark.parametrize("typed", ["doesn't fit", "arrived damaged, order A2003",
                                   "the sole came off after a week"])
def test_a_reason_is_kept_as_the_customer_wrote_it(shop, dispatcher, typed):
    assert ValidateReturnForm().validate_return_reason(f"  {typed} ", dispatcher, None,
                                                       DOMAIN) == {"return_reason": typed}
    assert said(dispatcher) == []


def test_an_opened_return_says_what_happens_next_not_how_to_start_one(shop, dispatcher):
    t = tracker(slots={"order_id": "A2003", "email": "john@example.com",
                       "customer_id": str(shop["john"]), "return_reason": "doesn't fit"})
    asyncio.run(ActionOpenReturn().run(dispatcher, t, {}))
    [text] = said(dispatcher)
    with session_scope() as session:
        opened = session.scalar(select(ReturnRequest))
    assert opened is not None and opened.reason == "doesn't fit"
    assert text.startswith(f"Your return R-{opened.id} for order A2003 is open.")
    assert "returns label" in text and "refund" in text
    assert "Start a return" not in text


def test_a_refund_question_gets_the_policy_first_and_no_leaves_it_there(shop, dispatcher):
    """Issue 20: "how long do refunds take?" answered about one order, never the policy."""
    from actions.identifiers import ActionAskOrderId
    from kefu_config.policy import load_policy

    asyncio.run(ActionAskOrderId().run(dispatcher, tracker(
        slots={"order_request": "refund"}, text="how long do refunds take?",
        intent="refund_status"), {}))
    [message] = dispatcher.messages
    assert message["text"].startswith(load_policy().returns.refund_time)
    assert "order number" in message["text"]
    assert [b["payload"] for b in message["buttons"]] == ["/deny"]
    dispatcher.messages.clear()
    asyncio.run(ActionAskOrderId().run(dispatcher, tracker(
        slots={"order_request": "track"}, text="where is my order?", intent="track_order"), {}))
    assert said(dispatcher) == ["utter_ask_order_id"]
