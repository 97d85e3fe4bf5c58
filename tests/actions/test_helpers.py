"""Small decisions inside actions: fallback counting, budgets, the relevant sentence."""

from __future__ import annotations

from decimal import Decimal

from actions.fallback import consecutive_misses
from actions.products import budget_from, relevant_sentence
from actions.satisfaction import parse_rating


def _turn(intent: str, first_action: str) -> list[dict]:
    return [{"event": "user", "parse_data": {"intent": {"name": intent}}},
            {"event": "action", "name": first_action}, {"event": "action", "name": "action_listen"}]


def test_fallback_counts_consecutive_misses_only():
    assert consecutive_misses([{"event": "user"}]) == 1
    events = _turn("greet", "utter_greet") + _turn("nlu_fallback", "action_kefu_fallback")
    assert consecutive_misses(events + [{"event": "user"}]) == 2
    events += _turn("greet", "utter_greet")
    assert consecutive_misses(events + [{"event": "user"}]) == 1


def test_budget_from_the_request():
    assert budget_from("a tent under €150 please") == Decimal("150")
    assert budget_from("gift, budget of 49.99") == Decimal("49.99")
    assert budget_from("something nice") is None


def test_relevant_sentence_picks_the_matching_part():
    description = ("Lightweight shell with taped seams. Keeps you dry on rainy hikes. "
                   "Packs into its own pocket.")
    assert relevant_sentence(description, "will it keep me dry in the rain on hikes") == \
        "Keeps you dry on rainy hikes."


def test_rating_accepts_only_one_to_five():
    assert [parse_rating(v) for v in ("5", 3, "4.0", "0", "6", "great", None)] == \
        [5, 3, 4, None, None, None, None]


def test_topics_mentioned_in_a_question():
    from actions.products import topics_mentioned

    known = ["hiking", "home office", "running", "yoga"]
    assert topics_mentioned("a jacket for hiking in the rain", known, []) == ["hiking"]
    assert topics_mentioned("desk lamp for my home office", known, ["Lighting"]) == \
        ["lighting", "home office"]
    assert topics_mentioned("something for my mum", known, []) == []
