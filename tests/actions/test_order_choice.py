"""A verified customer can list and pick their recent orders (issue 20: "what about my other
orders?" got "didn't understand", and asking again answered about the same order)."""

from __future__ import annotations

import asyncio

import yaml

from actions.identifiers import ActionAskOrderId
from actions.verification import ValidateOrderVerificationForm
from kefu_config.settings import REPO_ROOT
from tests.actions.conftest import tracker

DOMAIN = yaml.safe_load((REPO_ROOT / "domain.yml").read_text(encoding="utf-8"))


def _payloads(message) -> list[str]:
    return [b["payload"] for b in message.get("buttons") or []]


def test_which_order_lists_the_verified_customers_own_orders_newest_first(shop, dispatcher):
    asyncio.run(ActionAskOrderId().run(dispatcher, tracker(slots={
        "customer_id": str(shop["jane"]), "order_request": "track"}), {}))
    message = dispatcher.messages[0]
    assert message["text"].startswith("Which order is it?")
    assert _payloads(message) == ['/inform{"order_id": "A2002"}', '/inform{"order_id": "A2001"}']
    assert message["buttons"][1]["title"].startswith("A2001 · ") and "shipped" in \
        message["buttons"][1]["title"]


def test_an_unverified_chat_is_asked_for_the_number_and_shown_no_orders(shop, dispatcher):
    asyncio.run(ActionAskOrderId().run(dispatcher, tracker(slots={"order_request": "track"}), {}))
    assert dispatcher.messages[0]["response"] == "utter_ask_order_id"
    assert not _payloads(dispatcher.messages[0])


def test_a_refund_question_keeps_the_policy_answer_and_offers_the_orders(shop, dispatcher):
    asyncio.run(ActionAskOrderId().run(dispatcher, tracker(slots={
        "customer_id": str(shop["jane"]), "order_request": "refund"}), {}))
    message = dispatcher.messages[0]
    assert "within 5 working days" in message["text"]
    assert _payloads(message)[-1] == "/deny" and len(_payloads(message)) == 3


def _history(request: str) -> list[dict]:
    return [{"event": "user", "text": "where is A2001", "parse_data": {}},
            {"event": "slot", "name": "order_request", "value": request},
            {"event": "bot", "text": "Order A2001 … shipped"},
            {"event": "user", "text": "what about my other orders?", "parse_data": {}}]


def _start_form(shop, request_before: str, request_now: str, text: str, entities=None):
    t = tracker(slots={"customer_id": str(shop["jane"]), "order_id": "A2001",
                       "email": "jane@example.com", "order_request": request_now},
                text=text, intent="track_order", entities=entities,
                events=_history(request_before), active_loop="order_verification_form")
    events = asyncio.run(ValidateOrderVerificationForm().run(None, t, DOMAIN))
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


def test_asking_again_about_orders_asks_which_one_instead_of_repeating_the_last(shop):
    slots = _start_form(shop, "track", "track", "what about my other orders?")
    assert slots["order_id"] is None and slots["requested_slot"] == "order_id"


def test_a_different_question_is_about_the_order_just_discussed(shop):
    slots = _start_form(shop, "track", "cancel", "cancel it")
    assert slots.get("order_id", "A2001") == "A2001" and slots.get("requested_slot") is None


def test_naming_another_order_takes_that_one(shop):
    slots = _start_form(shop, "track", "track", "and A2002?",
                        entities=[{"entity": "order_id", "value": "A2002"}])
    assert slots.get("order_id", "A2002") == "A2002"
