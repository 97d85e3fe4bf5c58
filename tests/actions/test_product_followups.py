"""Issue 14 item 4: follow-up questions about the product just shown are answered about that
product, and a product card's "Tell me more" button names its product exactly.

A real SQLite store and a real index of a small catalog (the bundled MiniLM model), as in
test_product_recommendations.py: "is it in stock?" must not become a new catalog search.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from actions.product_followup import asked_about, is_about_shown
from actions.products import ActionProductQuestion, ActionRecommendProducts
from tests.actions.conftest import read_only_catalog, tracker

REPO = Path(__file__).resolve().parents[2]
PRODUCTS = [
    ("HIK-001", "Stormline Waterproof Rain Jacket", "Hiking", "129",
     "A breathable shell with taped seams that keeps you dry on rainy hikes. Comes in red "
     "and navy.", 12),
    ("HIK-002", "Ridgeback Leather Hiking Boots", "Hiking", "169",
     "Mid-cut leather boots with ankle support for rocky trails.", 3),
    ("CAM-001", "Two-Person Dome Tent", "Camping", "199",
     "A freestanding tent for two with a full rain fly, pitches in five minutes.", 0),
    ("KIT-002", "Vacuum Insulated Coffee Flask", "Kitchen", "29",
     "Keeps coffee hot for twelve hours; leak-proof lid for the commute.", 25),
]


@pytest.fixture(scope="module")
def catalog(tmp_path_factory) -> Iterator[None]:
    yield from read_only_catalog(tmp_path_factory, PRODUCTS)


def _ask(dispatcher, text: str, last: str | None = None, entities: list[dict] | None = None,
         events: list[dict] | None = None):
    t = tracker(text=text, intent="product_question", entities=entities, events=events,
                slots={"last_product": last} if last else None)
    return _slots(ActionProductQuestion().run(dispatcher, t, {}))


def _slots(coroutine) -> dict:
    import asyncio

    return {e["name"]: e["value"] for e in asyncio.run(coroutine) if e.get("event") == "slot"}


def _responses(dispatcher) -> list[tuple[str, dict]]:
    return [(m["response"], {k: v for k, v in m.items()
                             if k in ("product", "price", "count", "attribute", "sentence")})
            for m in dispatcher.messages if m.get("response")]


def test_a_product_shown_is_remembered(catalog, dispatcher):
    slots = _ask(dispatcher, "do you have hiking boots?")
    assert dispatcher.messages[0]["custom"]["products"][0]["sku"] == "HIK-002"
    assert slots["last_product"] == "HIK-002"


def test_is_it_in_stock_and_how_much_are_about_the_product_shown(catalog, dispatcher):
    slots = _ask(dispatcher, "is it in stock?", last="HIK-002")
    assert _responses(dispatcher) == [
        ("utter_product_few_left", {"product": "Ridgeback Leather Hiking Boots", "count": 3})]
    assert slots == {"last_product": "HIK-002"}
    assert not any(m.get("custom") for m in dispatcher.messages)  # no new search results
    dispatcher.messages.clear()
    _ask(dispatcher, "how much is it?", last="CAM-001")
    [(response, values)] = _responses(dispatcher)
    assert response == "utter_product_price" and values["product"] == "Two-Person Dome Tent"
    assert "199" in values["price"]
    dispatcher.messages.clear()
    _ask(dispatcher, "and are they available?", last="CAM-001")
    assert _responses(dispatcher) == [("utter_product_out_of_stock",
                                       {"product": "Two-Person Dome Tent"})]


def test_a_colour_or_feature_is_looked_up_in_its_entry_and_never_guessed(catalog, dispatcher):
    _ask(dispatcher, "does it come in blue?", last="HIK-001")
    assert _responses(dispatcher) == [("utter_product_not_mentioned", {
        "product": "Stormline Waterproof Rain Jacket", "attribute": "blue"})]
    dispatcher.messages.clear()
    _ask(dispatcher, "does it come in navy?", last="HIK-001")
    assert _responses(dispatcher) == [("utter_product_mentions", {
        "product": "Stormline Waterproof Rain Jacket", "sentence": "Comes in red and navy."})]
    dispatcher.messages.clear()
    # The boots' entry does not say waterproof, though the jacket's does: no borrowing.
    _ask(dispatcher, "is that one waterproof?", last="HIK-002")
    assert _responses(dispatcher) == [("utter_product_not_mentioned", {
        "product": "Ridgeback Leather Hiking Boots", "attribute": "waterproof"})]


def test_a_question_naming_another_product_is_a_new_search(catalog, dispatcher):
    slots = _ask(dispatcher, "is that tent big enough for two?", last="HIK-002")
    assert dispatcher.messages[0]["custom"]["products"][0]["sku"] == "CAM-001"
    assert slots["last_product"] == "CAM-001"


def test_without_a_product_shown_it_is_a_search_as_before(catalog, dispatcher):
    _ask(dispatcher, "is it waterproof?")
    assert dispatcher.messages[0]["custom"]["products"][0]["sku"] == "HIK-001"


def test_tell_me_more_names_its_product_exactly(catalog, dispatcher):
    # The widget's card button: /product_question{"product_sku": "KIT-002"} (Rasa turns the
    # payload into the intent and this entity), shown to the customer as "Tell me more about…".
    payload = '/product_question{"product_sku": "KIT-002"}'
    slots = _ask(dispatcher, payload, entities=[{"entity": "product_sku", "value": "KIT-002"}],
                 last="HIK-002")
    [message] = dispatcher.messages
    card = message["custom"]["products"][0]
    assert card["sku"] == "KIT-002"
    assert "twelve hours" in card["detail"] and "leak-proof" in card["detail"]
    assert slots == {"last_product": "KIT-002"}


def test_a_tapped_did_you_mean_guess_searches_the_words_of_the_unclear_message(catalog,
                                                                              dispatcher):
    unclear = [{"event": "user", "text": "flask that keeps coffee hot or my order"},
               {"event": "action", "name": "action_kefu_fallback"},
               {"event": "user", "text": "/product_question"}]
    _ask(dispatcher, "/product_question", events=unclear)
    assert dispatcher.messages[0]["custom"]["products"][0]["sku"] == "KIT-002"
    dispatcher.messages.clear()
    _ask(dispatcher, "/product_question")  # no words at all: asked, not searched for
    assert _responses(dispatcher) == [("utter_ask_product", {})]


def test_several_products_shown_forget_the_one_before(catalog, dispatcher):
    events = _slots(ActionRecommendProducts().run(dispatcher, tracker(
        text="recommend me something for hiking", intent="recommend_product",
        slots={"last_product": "KIT-002"}), {}))
    assert events["last_product"] is None


def test_a_new_session_forgets_the_product_shown(catalog, dispatcher):
    from actions.session import ActionSessionStart

    events = _slots(ActionSessionStart().run(dispatcher, tracker(events=[
        {"event": "slot", "name": "last_product", "value": "HIK-002"},
        {"event": "slot", "name": "email", "value": "jane@example.com"}]), {}))
    assert "last_product" not in events and events["email"] == "jane@example.com"


@pytest.mark.parametrize("text, about_shown", [
    ("is it in stock?", True),
    ("how much?", True),
    ("any in blue?", True),
    ("is this one good for winter?", True),
    ("do you have kayaks in stock?", False),   # other words and no good match: a search
    ("is that tent waterproof?", False),       # names another product the search found
])
def test_what_refers_back_to_the_shown_boots(text, about_shown):
    best = "Two-Person Dome Tent" if "tent" in text else None
    assert is_about_shown(text, shown_name="Ridgeback Leather Hiking Boots", named=None,
                          best_match_name=best) is about_shown


def test_what_a_question_asks_about():
    asked = asked_about("how much are the boots and do they come in black leather?",
                        "Ridgeback Leather Hiking Boots")
    assert asked.price and not asked.stock and asked.features == ["black"]


# --- every button the bot offers can be understood --------------------------------------------

_PAYLOAD = re.compile(r"""["']payload["']\s*:\s*f?(["'])(/.*?)\1""")
_WIDGET_PAYLOAD = re.compile(r'"(/\w+)"\s*\+\s*JSON\.stringify\(\{\s*(\w+):')
# Handled by the gateway itself, not Rasa (bot/gateway.py: "Undo" after unsubscribing).
GATEWAY_PAYLOADS = {"undo"}


def _payloads() -> list[str]:
    sources = [*sorted((REPO / "actions").glob("*.py")), REPO / "bot" / "channels" / "web.py",
               REPO / "domain.yml"]
    found = [p for path in sources
             for _, p in _PAYLOAD.findall(path.read_text(encoding="utf-8"))]
    domain = yaml.safe_load((REPO / "domain.yml").read_text(encoding="utf-8"))
    for variants in domain["responses"].values():
        found += [b["payload"] for v in variants for b in v.get("buttons") or []]
    widget = (REPO / "bot" / "static" / "widget.js").read_text(encoding="utf-8")
    found += [f'{intent}{{"{entity}": "x"}}' for intent, entity in _WIDGET_PAYLOAD.findall(widget)]
    return found


def test_every_button_payload_names_an_intent_and_entities_the_domain_knows():
    domain = yaml.safe_load((REPO / "domain.yml").read_text(encoding="utf-8"))
    intents = {i if isinstance(i, str) else next(iter(i)) for i in domain["intents"]}
    intents |= {"nlu_fallback"}  # one of Rasa's own intents (the "Something else" button)
    entities = {e if isinstance(e, str) else next(iter(e)) for e in domain["entities"]}
    payloads = _payloads()
    assert any(p.startswith("/product_question{") for p in payloads)  # the card's button
    for payload in payloads:
        match = re.fullmatch(r"/(\w+)(\{.*\})?", payload)
        assert match, payload
        intent, extra = match.groups()
        assert intent in intents | GATEWAY_PAYLOADS, payload
        if extra and "{{" not in extra:  # an f-string's braces are filled in at run time
            assert set(json.loads(extra)) <= entities, payload
        elif extra:
            assert set(re.findall(r'"(\w+)"\s*:', extra)) <= entities, payload
