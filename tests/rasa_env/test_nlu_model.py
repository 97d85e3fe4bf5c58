"""Runs in the Rasa environment against the trained model in models/ (`make train` first).

What a customer would notice: their own wording of a request is understood, and the order
number, email, ticket reference or rating they type is picked up.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections import defaultdict
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PARAPHRASES = Path(__file__).with_name("nlu_paraphrases.yml")
# Requests with real consequences (orders, money, a person): each must be understood reliably.
KEY_INTENTS = (
    "track_order", "cancel_order", "change_order", "return_item", "refund_status",
    "complaint", "human_handoff", "unsubscribe", "inform",
)
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="module")
def parse():
    from rasa.core.agent import Agent

    models = sorted((REPO / "models").glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
    assert models, "no trained model in models/: run `make train`"
    agent = Agent.load(str(models[-1]))
    loop = asyncio.new_event_loop()
    yield lambda text: loop.run_until_complete(agent.parse_message(text))
    loop.close()


def _top_intent(parsed: dict) -> str:
    """The classifier's choice, looking past nlu_fallback (which only says "not sure")."""
    ranking = [r for r in parsed["intent_ranking"] if r["name"] != "nlu_fallback"]
    return ranking[0]["name"]


def _entities(parsed: dict) -> dict[str, str]:
    return {e["entity"]: e["value"] for e in parsed["entities"]}


def test_unseen_paraphrases_are_understood(parse):
    from rasa.shared.nlu.training_data.loading import load_data

    examples = load_data(str(PARAPHRASES)).intent_examples
    by_intent: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for example in examples:
        by_intent[example.get("intent")].append((example.get("text"), _top_intent(parse(example.get("text")))))
    wrong = [(text, gold, got) for gold, rows in by_intent.items() for text, got in rows if got != gold]
    assert len(wrong) <= 0.1 * len(examples), f"{len(wrong)} of {len(examples)} wrong: {wrong}"
    for intent in KEY_INTENTS:
        rows = by_intent[intent]
        misses = [text for text, got in rows if got != intent]
        assert len(misses) <= 1, f"{intent}: {misses} of {len(rows)}"


def test_order_number_and_email_in_one_message(parse):
    parsed = parse("A1042 and jane@example.com")
    assert parsed["intent"]["name"] == "inform"
    assert _entities(parsed) == {"order_id": "A1042", "email": "jane@example.com"}


@pytest.mark.parametrize(
    "text, entity, value",
    [
        ("where is my order A1077?", "order_id", "A1077"),
        ("my order number is A1135", "order_id", "A1135"),
        # Typed in lower case, an id seen in training comes out upper-case (see lookups.yml).
        ("cancel a1066 please", "order_id", "A1066"),
        ("the email on it is olivia.m@gmail.com", "email", "olivia.m@gmail.com"),
        ("what's the status of ticket T-1234", "ticket_id", "T-1234"),
        # Bare addresses DIET alone missed under the load test (the customer, asked for the
        # email, was told "Sorry, I didn't quite understand"); the regex extractor finds them.
        ("oliver.smith@example.org", "email", "oliver.smith@example.org"),
        ("felix.novak@example.org", "email", "felix.novak@example.org"),
    ],
)
def test_identifiers_are_extracted(parse, text, entity, value):
    assert _entities(parse(text)).get(entity) == value


# Issue 14: order numbers and ticket references in any shop's format, not only the demo shop's
# A1234: the request is understood and the identifier comes out as typed (the actions normalise
# it), and a ticket reference is not taken for an order number.
@pytest.mark.parametrize(
    "text, intent, entity, value",
    [
        ("where is my order 90001?", "track_order", "order_id", "90001"),
        ("purchase A1179 current status", "track_order", "order_id", "A1179"),
        ("what's the status of ticket T-1026?", "ticket_status", "ticket_id", "T-1026"),
        ("where is my order #1001?", "track_order", "order_id", "1001"),
        ("please cancel order 123-4567890-1234567", "cancel_order", "order_id",
         "123-4567890-1234567"),
        ("90001", "inform", "order_id", "90001"),
    ],
)
def test_identifiers_in_any_shop_format(parse, text, intent, entity, value):
    parsed = parse(text)
    assert _top_intent(parsed) == intent, parsed["intent_ranking"][:3]
    assert _entities(parsed).get(entity) == value, parsed["entities"]


def test_a_ticket_reference_is_not_an_order_number(parse):
    assert "order_id" not in _entities(parse("what's the status of ticket T-1026?"))


def test_synonyms_give_the_canonical_topic(parse):
    parsed = parse("please keep me updated on new trekking gear")
    assert _top_intent(parsed) == "subscribe_interest"
    assert _entities(parsed).get("topic") == "hiking"


def test_a_rating_answer_carries_the_number(parse):
    parsed = parse("I'd rate you a 4")
    assert _top_intent(parsed) == "rate"
    assert _entities(parsed).get("rating") == "4"


# Issue 14: messages a new shop's customers typed that the model used to miss (the issue quotes
# them). Each must reach its intent with enough confidence to be answered, not "please rephrase";
# off-topic ones must not be answered as shop questions.
@pytest.mark.parametrize(
    "text, intent",
    [
        ("purchase A1179 current status", "track_order"),
        ("can you help me to see the options for shipment?", "delivery_options"),
        ("I don't know what to do to lodge a customer claim", "complaint"),
        ("do you have a way to submti a comment for a product?", "feedback"),
        ("need help to see if there are any news on my rebate", "refund_status"),
        ("what's the status of my complaint?", "ticket_status"),
        ("what's the status of ticket T-1026?", "ticket_status"),
        ("hey what's up", "greet"),
        ("could you be a real person", "bot_challenge"),
        ("that is correct", "affirm"),
        ("can we please", "affirm"),
        ("where is my order 90001?", "track_order"),
    ],
)
def test_quoted_customer_messages_are_understood(parse, text, intent):
    parsed = parse(text)
    assert parsed["intent"]["name"] == intent, parsed["intent_ranking"][:3]


@pytest.mark.parametrize("text", ["where can i get the flu shot",
                                  "how long is the bank open until"])
def test_off_topic_messages_are_not_taken_for_shop_questions(parse, text):
    parsed = parse(text)
    assert parsed["intent"]["name"] in ("out_of_scope", "nlu_fallback"), parsed["intent_ranking"][:3]


def test_a_typo_is_read_as_the_word_it_stands_for(parse):
    """The spelling component (nlu_components/spelling.py) in the trained pipeline."""
    parsed = parse("i want a refnd for my shippment")
    assert _top_intent(parsed) in ("refund_status", "return_item"), parsed["intent_ranking"][:3]
