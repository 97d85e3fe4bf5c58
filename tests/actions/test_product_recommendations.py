"""Chat, campaigns and `kefu recommend` recommend from one customer profile.

A real SQLite store, a real index of a small catalog (the bundled MiniLM model), and each path
called the way production calls it: the chat action with a tracker, the campaign recommender
with a session, the CLI in-process.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from actions.products import ActionRecommendProducts
from crm_store.db import session_scope
from crm_store.models import InterestSource, OrderStatus
from crm_store.services import interests
from kefu.cli import app as kefu_app
from knowledge import recommend_for_customer
from marketing.composing import knowledge_recommender
from tests.actions.conftest import catalog_store, reset_catalog_store, tracker
from tests.crm_store import factories

PRODUCTS = [
    ("HIK-001", "Stormline Waterproof Rain Jacket", "Hiking", "129",
     "A breathable shell with taped seams that keeps you dry on rainy hikes.", 12),
    ("HIK-002", "Ridgeback Leather Hiking Boots", "Hiking", "169",
     "Mid-cut boots with a waterproof membrane and ankle support for rocky trails.", 5),
    ("HIK-004", "Merino Hiking Socks", "Hiking", "19",
     "Cushioned wool socks that keep feet warm and dry on long walks.", 40),
    ("HIK-005", "Trail Headlamp 400", "Hiking", "35",
     "A rechargeable 400 lumen head torch for early starts and dark campsites.", 8),
    ("CAM-001", "Two-Person Dome Tent", "Camping", "199",
     "A freestanding tent for two with a full rain fly, pitches in five minutes.", 4),
    ("KIT-002", "Vacuum Insulated Coffee Flask", "Kitchen", "29",
     "Keeps coffee hot for twelve hours; leak-proof lid for the commute.", 25),
    ("RUN-001", "Trail Runner Shoes", "Running", "109",
     "Light running shoes with a grippy outsole for muddy trail runs.", 14),
    ("ELE-002", "20000 mAh Power Bank", "Electronics", "45",
     "Charges a phone four times over; USB-C fast charging for travel.", 20),
]


@pytest.fixture
def shop(tmp_path, monkeypatch) -> Iterator[dict]:
    """Jane likes hiking, got her socks and cancelled her boots; John bought a power bank."""
    with catalog_store(tmp_path, monkeypatch, PRODUCTS) as (session, rows):
        jane = factories.customer(session, "jane@example.com", name="Jane")
        john = factories.customer(session, "john@example.com", name="John")
        interests.add(session, customer_id=jane.id, topic="hiking", source=InterestSource.STATED)
        factories.order(session, "A3001", jane, [(rows["HIK-004"], 1)],
                        status=OrderStatus.DELIVERED, created_days_ago=9, shipped_days_ago=8,
                        delivered_days_ago=6)
        factories.order(session, "A3002", jane, [(rows["HIK-002"], 1)],
                        status=OrderStatus.CANCELLED, created_days_ago=2)
        factories.order(session, "A3003", john, [(rows["ELE-002"], 1)],
                        status=OrderStatus.DELIVERED, created_days_ago=5, shipped_days_ago=4,
                        delivered_days_ago=3)
        ids = {"jane": jane.id, "john": john.id}
    yield ids
    reset_catalog_store()


def _chat_skus(customer_id: int, dispatcher) -> list[str]:
    action = ActionRecommendProducts()
    asyncio.run(action.run(dispatcher, tracker(slots={"customer_id": str(customer_id)},
                                               text="recommend me something",
                                               intent="recommend_product"), {}))
    cards = [m["custom"] for m in dispatcher.messages if m.get("custom")]
    assert cards, dispatcher.messages
    return [card["sku"] for card in cards[0]["products"]]


@pytest.mark.parametrize("who", ["jane", "john"])
def test_chat_campaigns_and_cli_rank_the_same_products(shop, dispatcher, who):
    customer_id = shop[who]
    email = f"{who}@example.com"
    chat = _chat_skus(customer_id, dispatcher)

    cli = [r.item.sku for r in recommend_for_customer(email, k=len(chat))]
    result = CliRunner().invoke(kefu_app, ["recommend", "--customer", email, "-k", str(len(chat)),
                                          "--json"])
    assert result.exit_code == 0, result.output
    with session_scope() as session:
        campaign = knowledge_recommender(session, customer_id)

    assert chat == cli
    assert [r["sku"] for r in json.loads(result.stdout)["results"]] == chat
    assert campaign is not None and campaign["sku"] == chat[0]


def test_a_cancelled_order_is_not_a_purchase_in_chat(shop, dispatcher):
    # Jane cancelled the boots: chat may suggest them again, and never "goes with" them.
    chat = _chat_skus(shop["jane"], dispatcher)
    assert "HIK-004" not in chat  # the socks she did buy
    reasons = [card["reason"] for card in dispatcher.messages[0]["custom"]["products"]]
    assert not any("Boots you bought" in reason for reason in reasons)


def test_a_request_is_answered_once_as_cards_saying_why_each_fits(shop, dispatcher):
    """Issue 20: the products came twice (a text list and the cards) and the reason only
    repeated the customer ("matches 'something for my dad…'")."""
    request = "something for my dad who drinks a lot of coffee"
    asyncio.run(ActionRecommendProducts().run(dispatcher, tracker(
        slots={"customer_id": str(shop["john"])}, text=request,
        intent="recommend_product"), {}))
    [message] = dispatcher.messages
    cards = message["custom"]["products"]
    assert cards[0]["sku"] == "KIT-002"
    # The text introduces the cards; channels without cards get a line per card from them.
    assert not any(card["name"] in message["text"] for card in cards), message["text"]
    assert cards[0]["reason"] == "matches “coffee”"
    assert not any("dad" in card.get("reason", "") for card in cards), cards
