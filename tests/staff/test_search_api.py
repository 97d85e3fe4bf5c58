"""GET /api/search on the real gateway over the demo shop: service staff find a conversation by
a word said in it or an order number typed in it, a customer by email, phone or name, a
ticket by reference or words; other callers are refused; bad queries get a 422 with a reason;
a forgotten customer is found nowhere."""

from __future__ import annotations

import httpx
import pytest

from crm_store.db import session_scope
from crm_store.privacy import forget_customer
from crm_store.services import conversations, customers, identities, tickets
from tests.staff.conftest import ADA, ANNA, MIA


@pytest.fixture(scope="module")
def emma_chat(api_gateway):
    """Emma (demo shop, order A1178) asks on the web chat about a marketplace order."""
    with session_scope() as session:
        emma = customers.get_by_email(session, email="emma.hughes@example.com")
        identities.link(session, customer_id=emma.id, channel="web", external_id="search-emma",
                        verified=True, actor="test")
        message = conversations.append(
            session, channel="web", external_id="search-emma", direction="inbound",
            sender_kind="customer",
            text="Hi, where is 123-4567890-1234567? The tangerine rucksack is a gift.")
        conversation = conversations.get(session, conversation_id=message.conversation_id)
        conversation.customer_id = emma.id
        ticket = tickets.open(session, subject="Tangerine rucksack zip broken",
                              description="The zip of the side pocket came off",
                              customer_id=emma.id, conversation_id=conversation.id,
                              category="product_quality", kind="complaint")
        return {"customer": emma.id, "conversation": conversation.id, "ticket": ticket.id,
                "reference": ticket.reference}


def found(client, q: str, **params) -> dict:
    return client.ok("GET", "/api/search", params={"q": q, **params})


def test_a_conversation_is_found_by_a_word_and_by_an_order_number(api_gateway, as_staff,
                                                                   emma_chat):
    anna = as_staff(api_gateway, ANNA)
    result = found(anna, "tangerine", kind="conversations")
    assert [c["id"] for c in result["conversations"]] == [emma_chat["conversation"]]
    hit = result["conversations"][0]
    assert hit["customer_name"] == "Emma Hughes" and hit["channel"] == "web"
    assert "tangerine rucksack" in hit["snippet"] and hit["sender"] == "customer"
    assert result["customers"] == result["tickets"] == []  # only the kind asked for
    for typed in ("123-4567890-1234567", "where is 123-4567890-1234567?"):
        ids = [c["id"] for c in found(anna, typed)["conversations"]]
        assert ids == [emma_chat["conversation"]], typed


@pytest.mark.parametrize("typed", ["emma.hughes@example.com", "+44 20 7946 0958",
                                   "Emma Hughes", "hughes", "A1178", "#a1178"])
def test_a_customer_is_found_by_email_phone_name_or_order(api_gateway, as_staff, emma_chat,
                                                          typed):
    result = found(as_staff(api_gateway, ADA), typed, kind="customers")
    assert emma_chat["customer"] in [c["id"] for c in result["customers"]]
    emma = next(c for c in result["customers"] if c["id"] == emma_chat["customer"])
    assert emma["email"] == "emma.hughes@example.com" and emma["name"] == "Emma Hughes"


def test_a_ticket_is_found_by_reference_or_words(api_gateway, as_staff, emma_chat):
    anna = as_staff(api_gateway, ANNA)
    for typed in (emma_chat["reference"], emma_chat["reference"].lower(), "zip broken"):
        tickets_found = found(anna, typed, kind="tickets")["tickets"]
        assert [t["id"] for t in tickets_found] == [emma_chat["ticket"]], typed
    ticket = tickets_found[0]
    assert ticket["subject"] == "Tangerine rucksack zip broken"
    assert ticket["customer_name"] == "Emma Hughes" and ticket["status"] == "open"


def test_all_kinds_at_once(api_gateway, as_staff, emma_chat):
    result = found(as_staff(api_gateway, ANNA), "tangerine")
    assert [c["id"] for c in result["conversations"]] == [emma_chat["conversation"]]
    assert [t["id"] for t in result["tickets"]] == [emma_chat["ticket"]]
    assert result["query"] == "tangerine"


def test_only_service_staff_may_search(api_gateway, as_staff):
    anonymous = httpx.get(f"{api_gateway.url}/api/search", params={"q": "tangerine"})
    assert anonymous.status_code == 401
    marketer = as_staff(api_gateway, MIA).get("/api/search", params={"q": "tangerine"})
    assert marketer.status_code == 403


@pytest.mark.parametrize("params,reason", [
    ({"q": ""}, "the search is empty"),
    ({"q": "   "}, "the search is empty"),
    ({"q": "x" * 201}, "at most 200"),
    ({"q": "?!"}, "no letters or digits"),
    ({"q": "tangerine", "kind": "orders"}, "unknown kind orders"),
])
def test_bad_queries_get_422_with_a_reason(api_gateway, as_staff, params, reason):
    response = as_staff(api_gateway, ANNA).get("/api/search", params=params)
    assert response.status_code == 422
    assert reason in response.json()["detail"]


@pytest.mark.parametrize("params", [{}, {"q": "x", "limit": 0}, {"q": "x", "limit": 51}])
def test_a_missing_query_or_limit_out_of_range_gets_422(api_gateway, as_staff, params):
    response = as_staff(api_gateway, ANNA).get("/api/search", params=params)
    assert response.status_code == 422
    assert response.json()["detail"]  # FastAPI's own reasons, naming the parameter


def test_a_forgotten_customer_is_found_nowhere(api_gateway, as_staff):
    with session_scope() as session:
        zoe = customers.get_or_create_by_email(session, email="zoe.quill@example.org",
                                               name="Zoe Quill")
        zoe.phone = "+442079461234"
        message = conversations.append(session, channel="web", external_id="search-zoe",
                                       direction="inbound", sender_kind="customer",
                                       text="My periwinkle scarf has not arrived")
        conversations.get(session, conversation_id=message.conversation_id
                          ).customer_id = zoe.id
        tickets.open(session, subject="Periwinkle scarf missing", customer_id=zoe.id,
                     category="delivery")
    anna = as_staff(api_gateway, ANNA)
    assert found(anna, "periwinkle")["conversations"] != []
    with session_scope() as session:
        forget_customer(session, email="zoe.quill@example.org", actor="test")
    for typed in ("periwinkle", "zoe.quill@example.org", "Quill", "+442079461234"):
        result = found(anna, typed)
        assert result["conversations"] == result["customers"] == result["tickets"] == [], typed
