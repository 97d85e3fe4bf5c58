"""Issue 15, product details: questions about a product's attributes (colours, sizes, care,
material...) are answered from the attributes the shop imported, in its own words, and a colour
or size the product does not come in is said not to be there.

A real SQLite store and a real index (the bundled MiniLM model), as in test_product_followups.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from actions.product_details import attribute_asked
from actions.products import ActionProductQuestion
from tests.actions.conftest import read_only_catalog, tracker

SKILLET = {"material": "Cast iron, pre-seasoned with vegetable oil",
           "care": "Hand wash only; not dishwasher safe. Dry and oil after use.",
           "dimensions": "26 cm across, 5 cm deep", "weight": "2.4 kg",
           "warranty": "Lifetime against manufacturing defects"}
COAT = {"material": "Recycled wool blend", "colours": "black; camel; navy",
        "sizes": "XS; S; M; L", "care": "Dry clean only", "warranty": "2 years"}
PRODUCTS = [
    ("KIT-010", "Heritage Cast Iron Skillet", "Kitchen", "49",
     "A heavy skillet that holds its heat for searing and baking.", 14, SKILLET),
    ("FAS-020", "Harbour Wool Overcoat", "Fashion", "219",
     "A knee-length overcoat with a notch lapel and two flap pockets.", 8, COAT),
    ("CAM-001", "Two-Person Dome Tent", "Camping", "199",
     "A freestanding tent for two with a full rain fly, pitches in five minutes.", 3),
]


@pytest.fixture(scope="module")
def catalog(tmp_path_factory) -> Iterator[None]:
    yield from read_only_catalog(tmp_path_factory, PRODUCTS)


def _ask(dispatcher, text: str, last: str | None = None) -> dict:
    t = tracker(text=text, intent="product_question",
                slots={"last_product": last} if last else None)
    events = asyncio.run(ActionProductQuestion().run(dispatcher, t, {}))
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


def _said(dispatcher) -> list[tuple[str, dict]]:
    return [(m["response"], {k: v for k, v in m.items() if k in ("product", "line", "value")})
            for m in dispatcher.messages if m.get("response")]


@pytest.mark.parametrize("question, attribute", [
    ("is it dishwasher safe?", "care"),
    ("can I put it in the dishwasher", "care"),
    ("how do I clean it", "care"),
    ("what's it made of?", "material"),
    ("how heavy is it", "weight"),
    ("how big is it?", "dimensions"),
    ("warranty?", "warranty"),
    ("how long is the guarantee", "warranty"),
])
def test_the_attribute_a_question_asks_about(question, attribute):
    found = attribute_asked(question, "Heritage Cast Iron Skillet", list(SKILLET.items()))
    assert found is not None and found.name == attribute


@pytest.mark.parametrize("question", [
    "is it in stock?", "how much is it?", "is it vegan?", "where is it made?"])
def test_questions_about_nothing_the_shop_lists_get_no_attribute(question):
    assert attribute_asked(question, "Heritage Cast Iron Skillet", list(SKILLET.items())) is None


def test_the_shops_own_attribute_names_are_understood():
    attributes = [("fabric", "Organic cotton twill"), ("pflege", "30 °C"),
                  ("colour options", "sand; olive")]
    assert attribute_asked("what fabric is it?", "Chino", attributes).name == "fabric"
    assert attribute_asked("is it cotton?", "Chino", attributes).name == "fabric"
    answer = attribute_asked("do you have it in blue", "Chino", attributes)
    assert (answer.name, answer.lacks) == ("colour options", "blue")


def test_a_follow_up_is_answered_from_the_attribute_in_the_shops_words(catalog, dispatcher):
    slots = _ask(dispatcher, "is it dishwasher safe?", last="KIT-010")
    assert _said(dispatcher) == [("utter_product_attribute", {
        "product": "Heritage Cast Iron Skillet",
        "line": "Care: Hand wash only; not dishwasher safe. Dry and oil after use."})]
    assert slots == {"last_product": "KIT-010"}
    assert not any(m.get("custom") for m in dispatcher.messages)  # not a new search


def test_a_colour_the_product_does_not_come_in_is_said_not_to_be_there(catalog, dispatcher):
    _ask(dispatcher, "does it come in blue?", last="FAS-020")
    assert _said(dispatcher) == [("utter_product_attribute_lacks", {
        "product": "Harbour Wool Overcoat", "line": "Colours: black; camel; navy",
        "value": "blue"})]
    dispatcher.messages.clear()
    _ask(dispatcher, "do you have it in black?", last="FAS-020")
    assert _said(dispatcher) == [("utter_product_attribute", {
        "product": "Harbour Wool Overcoat", "line": "Colours: black; camel; navy"})]
    dispatcher.messages.clear()
    _ask(dispatcher, "got it in XL?", last="FAS-020")
    assert _said(dispatcher)[0][1]["value"] == "xl"


def test_a_bare_attribute_question_after_a_card_is_about_that_product(catalog, dispatcher):
    slots = _ask(dispatcher, "weight?", last="KIT-010")
    assert _said(dispatcher) == [("utter_product_attribute", {
        "product": "Heritage Cast Iron Skillet", "line": "Weight: 2.4 kg"})]
    assert slots["last_product"] == "KIT-010"


def test_price_and_an_attribute_in_one_question_get_both(catalog, dispatcher):
    _ask(dispatcher, "how much is it and what sizes?", last="FAS-020")
    assert [r for r, _ in _said(dispatcher)] == ["utter_product_price", "utter_product_attribute"]


def test_a_question_naming_the_product_shows_its_card_with_the_attribute(catalog, dispatcher):
    _ask(dispatcher, "is the cast iron skillet dishwasher safe?")
    [card] = dispatcher.messages[0]["custom"]["products"]
    assert card["sku"] == "KIT-010"
    assert card["detail"] == ("In stock. Care: Hand wash only; not dishwasher safe. "
                              "Dry and oil after use.")


def test_tell_me_more_lists_the_attributes(catalog, dispatcher):
    t = tracker(text="/product_question", intent="product_question",
                entities=[{"entity": "product_sku", "value": "FAS-020"}])
    asyncio.run(ActionProductQuestion().run(dispatcher, t, {}))
    [card] = dispatcher.messages[0]["custom"]["products"]
    assert "Colours: black; camel; navy." in card["detail"]
    assert "Sizes: XS; S; M; L." in card["detail"]


def test_a_product_without_attributes_still_answers_from_its_description(catalog, dispatcher):
    _ask(dispatcher, "does it come in green?", last="CAM-001")
    assert [r for r, _ in _said(dispatcher)] == ["utter_product_not_mentioned"]


def test_typos_of_what_is_asked_and_phrases_are_read():
    pairs = list(SKILLET.items())
    assert attribute_asked("warrenty?", "Heritage Cast Iron Skillet", pairs).name == "warranty"
    assert attribute_asked("does it work with induction", "Heritage Cast Iron Skillet",
                           pairs) is None  # "with" is not a typo of "width"
    assert attribute_asked("how long does the seasoning last", "Heritage Cast Iron Skillet",
                           pairs) is None  # a time, not a length
    assert attribute_asked("will it fit in my oven?", "Heritage Cast Iron Skillet",
                           pairs).name == "dimensions"
    coat = list(COAT.items())
    assert attribute_asked("do you have it in a 12?", "Harbour Wool Overcoat",
                           coat).name == "sizes"
