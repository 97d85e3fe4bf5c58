"""Property tests (hypothesis) for what parses outside input: the CSV cell parsers, the
normalisers the store keys on, Rasa's output as the gateway reads it, and the pure parsers
of customer text in the actions. Whatever the input, each returns a value or raises its own
documented error, never anything else."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from actions.products import budget_from, topics_mentioned
from actions.satisfaction import parse_rating
from bot.limits import message_problem
from bot.messages import Content, from_rasa
from crm_store.errors import InvalidInput
from crm_store.importers.common import (
    MAX_AMOUNT,
    RowProblem,
    parse_bool,
    parse_datetime,
    parse_decimal,
    parse_int,
    split_list,
)
from crm_store.importers.orders import parse_items
from crm_store.normalise import (
    normalise_email,
    normalise_order_number,
    normalise_phone,
    normalise_ticket_reference,
    normalise_topic,
)
from kefu_config.settings import get_settings

MAX_MESSAGE_CHARS = get_settings().max_message_chars
PROPERTY = settings(max_examples=300, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow])

# Text as it arrives: any characters, and numbers written every way people (and exports) do.
numbers = st.one_of(
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.integers().map(str),
    st.floats().map(str),
    st.from_regex(r"-?[0-9]{0,40}([.,][0-9]{0,6})?([eE][-+]?[0-9]{1,6})?", fullmatch=True),
)
cells = st.one_of(st.text(), numbers, st.sampled_from(["", " ", "NaN", "inf", "1e999999",
                                                       "0x10", "1_000", "٣", "１２"]))


@PROPERTY
@given(cells)
def test_number_cells_give_a_number_in_range_or_a_row_problem(value):
    try:
        amount = parse_decimal(value, "price")
    except RowProblem as exc:
        assert str(exc).startswith("price")
    else:
        assert amount.is_finite() and 0 <= amount <= MAX_AMOUNT
        assert amount == amount.quantize(Decimal("0.01"))
    try:
        count = parse_int(value, "stock", minimum=0)
    except RowProblem as exc:
        assert str(exc).startswith("stock")
    else:
        assert 0 <= count <= 2_147_483_647


@PROPERTY
@given(cells)
def test_other_cells_give_a_value_or_a_row_problem(value):
    for parse in (parse_bool, parse_datetime):
        try:
            parse(value, "cell")
        except RowProblem:
            pass
    parts = split_list(value)
    assert all(p and p == p.strip() and ";" not in p for p in parts)
    try:
        items = parse_items(value)
    except RowProblem:
        pass
    else:
        assert items and all(sku and qty >= 1 for sku, qty in items)


@PROPERTY
@given(st.text())
def test_normalisers_never_fail_unexpectedly(value):
    try:
        email = normalise_email(value)
    except InvalidInput:
        pass
    else:
        assert email == email.lower() and "@" in email and not any(c.isspace() for c in email)
    phone, _valid = normalise_phone(value)
    assert isinstance(phone, str)
    assert normalise_order_number(value) == normalise_order_number(value).upper()
    assert isinstance(normalise_ticket_reference(value), str)
    topic = normalise_topic(value)
    assert topic == " ".join(topic.split()) and topic == topic.lower()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20)
rasa_messages = st.fixed_dictionaries({}, optional={
    "text": json_values | st.text(),
    "buttons": st.lists(st.fixed_dictionaries({}, optional={
        "title": json_values, "payload": json_values}) | json_values, max_size=12),
    "image": json_values | st.sampled_from(["javascript:alert(1)", "//evil.example/x.png",
                                            "https://shop.example/a.png", "/static/a.png"]),
    "custom": st.fixed_dictionaries({"type": st.sampled_from(["products", "handoff"])},
                                    optional={"products": json_values,
                                              "reason": json_values}) | json_values,
    "recipient_id": json_values,
})


@PROPERTY
@given(rasa_messages)
def test_any_rasa_output_becomes_content_that_survives_storage(message):
    content, signals = from_rasa(message)
    assert isinstance(content.text, str)
    assert content.image is None or content.image.startswith(("https://", "http://", "/"))
    assert content.image is None or not content.image.startswith("//")
    assert len(content.buttons) <= 10 and len(content.products) <= 10
    assert all(isinstance(s.type, str) for s in signals)
    # What the store keeps comes back the same (the conversation log, the widget's history).
    again = Content.from_stored(content.text, content.payload())
    assert again == content
    assert isinstance(content.plain_text(), str)


@PROPERTY
@given(st.text(max_size=MAX_MESSAGE_CHARS + 50))
def test_the_message_rule_refuses_exactly_the_documented_cases(text):
    problem = message_problem(text)
    expected = (not text.strip() or len(text) > MAX_MESSAGE_CHARS or "\x00" in text
                or any(0xD800 <= ord(c) <= 0xDFFF for c in text))
    assert (problem is not None) == expected
    if problem is None:
        text.encode("utf-8")  # storable as it is, in PostgreSQL and by Rasa


@PROPERTY
@given(st.one_of(json_values, numbers, st.text()))
def test_a_rating_is_one_to_five_or_none(value):
    rating = parse_rating(value)
    assert rating is None or 1 <= rating <= 5


@PROPERTY
@given(st.text(), st.lists(st.text(min_size=1, max_size=15), max_size=5),
       st.lists(st.text(max_size=15), max_size=3))
def test_budget_and_topics_from_any_text(text, known, entities):
    budget = budget_from(text)
    assert budget is None or (budget.is_finite() and budget >= 0)
    found = topics_mentioned(text, known, entities)
    assert isinstance(found, list)
