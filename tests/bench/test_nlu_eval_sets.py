"""bench/nlu_eval_sets.py: the independent NLU sets stay out of training, and the scoring is right.

bench/nlu_external.py needs a trained model and the Rasa environment; these check, in well under
a second, the parts whose mistakes would make its figures lie: an evaluation message that is
also trained on, a "typo" that changes an order number, a metric that counts wrongly.
"""

from __future__ import annotations

import json

import pytest

from bench.nlu_eval_sets import (
    FALLBACK,
    Example,
    add_typos,
    check_targets,
    domain_intents,
    eval_files,
    find_leaks,
    identifier_key,
    known_overlap,
    load_eval_sets,
    normalise_text,
    score,
    training_texts,
)
from crm_store.normalise import normalise_email, normalise_order_number, normalise_ticket_reference


def test_no_evaluation_message_is_in_the_training_data():
    files = eval_files()
    if not files:
        pytest.skip("no bench/nlu_external/*.jsonl")
    examples, problems = load_eval_sets(files, domain_intents())
    assert problems == []
    assert find_leaks(examples) == [], "evaluation messages copied into training data"


def test_known_overlap_lists_only_evaluation_texts():
    texts = {normalise_text(e.text) for e in load_eval_sets(eval_files())[0]}
    assert known_overlap() <= texts


def test_a_copied_message_is_caught_whatever_its_case_spacing_punctuation_or_markup(tmp_path):
    training = tmp_path / "orders.yml"
    training.write_text(
        'version: "3.1"\nnlu:\n- intent: track_order\n  examples: |\n'
        "    - Where is my order [A1077](order_id)?\n"
        '    - status of [T-1042]{"entity": "ticket_id"} please\n'
        "- regex: order_id\n  examples: |\n    - \\b[Aa]\\d{4,6}\\b\n"
    )
    copied = Example("where is  my ORDER A1077?", "track_order", "x.jsonl", 3)
    # The same words with other punctuation are the same message ("Where is my order?").
    repunctuated = Example("Where is my order A1077.", "track_order", "x.jsonl", 5)
    own = Example("where has my parcel got to", "track_order", "x.jsonl", 4)
    assert set(training_texts([tmp_path])) == {"where is my order a1077", "status of t 1042 please"}
    assert find_leaks([copied, own, repunctuated], [tmp_path], allowed=set()) == [
        f"x.jsonl:3: 'where is  my ORDER A1077?' is in {training}",
        f"x.jsonl:5: 'Where is my order A1077.' is in {training}"]
    assert find_leaks([copied, own], [tmp_path], allowed={"where is my order a1077?"}) == []


def test_invalid_lines_are_reported_with_their_line_numbers(tmp_path):
    path = tmp_path / "set.jsonl"
    rows = [{"text": "hi", "intent": "greet"}, "not json", {"text": "where is A1", "intent": "track"},
            {"text": "order A1", "intent": "track_order", "entities": {"order_id": "A2"}}]
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n")
    examples, problems = load_eval_sets([path], {"greet", "track_order"})
    assert [e.text for e in examples] == ["hi"]
    assert [p.split(":")[1] for p in problems] == ["2", "3", "4"]


def _distance(a: str, b: str) -> int:
    """Edit distance counting an adjacent swap as one edit (optimal string alignment)."""
    d = [[i + j if i * j == 0 else 0 for j in range(len(b) + 1)] for i in range(len(a) + 1)]
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] != b[j - 1]))
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
    return d[len(a)][len(b)]


TEXTS = [
    ("where is my order A1179 please", {"order_id": "A1179"}),
    ("emma.hughes@example.com is the address on it", {"email": "emma.hughes@example.com"}),
    ("any news on ticket T-1026, it has been a week", {"ticket_id": "T-1026"}),
    ("order #1001 and 123-4567890-1234567 never came", {"order_id": "#1001"}),
    ("hi", {}),
    ("could you be a real person", {}),
    ("Ünïcode wörds too", {}),
]


@pytest.mark.parametrize("text, entities", TEXTS)
def test_typos_are_one_or_two_edits_and_never_touch_an_identifier(text, entities):
    for seed in range(200):
        typed = add_typos(text, entities.values(), seed)
        assert 1 <= _distance(text, typed) <= 2, (seed, typed)
        for value in entities.values():
            assert value in typed
        # Nor any other token with a digit or an @ in it.
        assert [t for t in text.split() if any(c.isdigit() or c == "@" for c in t)] == \
               [t for t in typed.split() if any(c.isdigit() or c == "@" for c in t)]


def test_typos_are_deterministic_per_seed_and_message():
    first = [add_typos(text, entities.values(), 7) for text, entities in TEXTS]
    assert first == [add_typos(text, entities.values(), 7) for text, entities in TEXTS]
    # A message's typo does not depend on the other messages around it.
    assert add_typos(TEXTS[2][0], TEXTS[2][1].values(), 7) == first[2]
    assert first != [add_typos(text, entities.values(), 8) for text, entities in TEXTS]


def test_a_message_with_nothing_to_edit_comes_back_as_it_is():
    assert add_typos("A1179", ["A1179"], 1) == "A1179"
    assert add_typos("4/5", (), 1) == "4/5"


def _p(intent, classifier=None, entities=()):
    return {"intent": intent, "classifier": classifier or intent, "entities": list(entities)}


def test_metrics_on_a_hand_made_example():
    ex = lambda text, intent, **entities: Example(text, intent, "t.jsonl", 1, entities=entities)  # noqa: E731
    examples = [
        ex("where is A1", "track_order", order_id="A1001"),  # right, id found as typed in lower case
        ex("track #A1002", "track_order", order_id="#A1002"),  # right, id normalised by the extractor
        ex("stop it", "cancel_order", order_id="A1003"),  # sent to fallback, id missed
        ex("hi", "greet"),  # right
        ex("bye", "goodbye"),  # taken for cancel_order
        ex("flu shot?", "out_of_scope"),  # fallback: caught
        ex("bank hours", "out_of_scope"),  # answered as track_order: not caught
    ]
    predictions = [
        _p("track_order", entities=[("order_id", "a1001")]),
        _p("track_order", entities=[("order_id", "A1002")]),
        _p(FALLBACK, "cancel_order"),
        _p("greet"),
        _p("cancel_order"),
        _p(FALLBACK, "track_order"),
        _p("track_order"),
    ]
    result = score(examples, predictions)
    assert result["accuracy"] == pytest.approx(4 / 7)
    assert result["classifier_accuracy"] == pytest.approx(4 / 7)  # cancel right, flu shot wrong
    # track_order: P 2/3 R 2/2 F1 0.8; cancel_order: P 0/1 R 0/1 F1 0; greet 1; goodbye 0.
    assert result["per_intent"]["track_order"]["f1"] == pytest.approx(0.8)
    assert result["per_intent"]["cancel_order"]["precision"] == 0.0
    assert result["macro_f1"] == pytest.approx((0.8 + 0 + 1 + 0) / 4)
    # out_of_scope (with fallback): predicted 2 (cancel's fallback, flu shot), 1 right.
    assert result["per_intent"]["out_of_scope"]["precision"] == pytest.approx(0.5)
    assert result["small_talk_accuracy"] == pytest.approx(0.5)
    assert result["off_topic_caught"] == pytest.approx(0.5)
    assert result["in_domain_to_fallback"] == pytest.approx(1 / 5)
    assert result["entities"]["order_id"] == {"recall": pytest.approx(2 / 3), "found": 2, "total": 3}
    assert result["entities"]["email"]["recall"] is None


def test_targets_are_marked_met_or_not():
    clean = {"accuracy": 0.95, "macro_f1": 0.91, "small_talk_accuracy": 0.94,
             "off_topic_caught": 0.95, "in_domain_to_fallback": 0.05}
    typos = {"accuracy": 0.92, "macro_f1": 0.85}
    met = [row[3] for row in check_targets(clean, typos)]
    assert met == [True, True, False, False, False]  # fallback 5% > 4%; macro-F1 6 points lower


@pytest.mark.parametrize("entity, a, b", [
    ("order_id", "a1066", "A1066"), ("order_id", "#A1001", "A-1001"), ("order_id", "A1001", "A1002"),
    ("ticket_id", "t1042", "T-1042"), ("ticket_id", "#T 01042", "T-1042"), ("ticket_id", "T-1042", "T-1043"),
    ("email", "Jane@Example.com", "jane@example.com"), ("email", "jane@example.com", "jane@example.org"),
])
def test_identifier_values_match_as_the_store_normalises_them(entity, a, b):
    normalise = {"order_id": normalise_order_number, "ticket_id": normalise_ticket_reference,
                 "email": normalise_email}[entity]
    assert (identifier_key(entity, a) == identifier_key(entity, b)) == (normalise(a) == normalise(b))
