"""Business hours on both sides of every boundary (policy/shop.yml: Monday to Friday 09:00-18:00,
Saturday 10:00-14:00, Sunday closed, Europe/London), and what a customer is told at a handoff."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from kefu_config import clock
from kefu_config.handoff import masked_email, next_steps_text, reply_email_text
from kefu_config.policy import ShopPolicy, load_policy
from tests.clock.moments import london

pytestmark = pytest.mark.clock


@pytest.fixture
def policy() -> ShopPolicy:
    return load_policy()


@pytest.mark.parametrize(("moment", "is_open"), [
    (london(2026, 12, 1, 8, 59, 59), False),   # Tuesday, a second before opening
    (london(2026, 12, 1, 9, 0), True),
    (london(2026, 12, 1, 17, 59, 59), True),
    (london(2026, 12, 1, 18, 0), False),       # closing time is closed
    (london(2026, 12, 5, 9, 59), False),       # Saturday opens later
    (london(2026, 12, 5, 10, 0), True),
    (london(2026, 12, 5, 14, 0), False),
    (london(2026, 12, 6, 12, 0), False),       # Sunday
    (london(2026, 7, 1, 9, 0), True),          # summer time: 08:00 UTC
    (datetime(2026, 7, 1, 8, 30, tzinfo=UTC), True),
    (datetime(2026, 12, 1, 8, 30, tzinfo=UTC), False),  # the same UTC time in winter: 08:30
])
def test_open_or_closed_in_the_shops_time_zone(policy, moment, is_open):
    assert policy.is_open(moment) is is_open


def test_after_saturday_the_team_is_back_on_monday_morning(policy):
    assert policy.next_opening(london(2026, 12, 5, 14, 0)) == london(2026, 12, 7, 9, 0)
    assert policy.next_opening(london(2026, 12, 6, 23, 59)) == london(2026, 12, 7, 9, 0)


def test_across_midnight_the_next_day_in_the_shop_counts(policy):
    # 23:30 UTC on a summer Sunday is already Monday 00:30 in London.
    sunday_night = datetime(2026, 6, 7, 23, 30, tzinfo=UTC)
    assert not policy.is_open(sunday_night)
    assert policy.next_opening(sunday_night) == london(2026, 6, 8, 9, 0)
    # Friday after closing: Saturday's shorter hours are next.
    assert policy.next_opening(london(2026, 12, 4, 23, 30)) == london(2026, 12, 5, 10, 0)


def test_across_a_daylight_saving_change(policy):
    # Clocks go forward on Sunday 2027-03-28: Monday 09:00 is 08:00 UTC, Saturday's was 10:00.
    opens = policy.next_opening(london(2027, 3, 27, 15, 0))
    assert opens == london(2027, 3, 29, 9, 0)
    assert opens.astimezone(UTC) == datetime(2027, 3, 29, 8, 0, tzinfo=UTC)
    assert policy.is_open(london(2027, 3, 27, 10, 0).astimezone(UTC))
    # Clocks go back on Sunday 2026-10-25: Monday 09:00 is 09:00 UTC again.
    assert policy.next_opening(london(2026, 10, 24, 15, 0)).astimezone(UTC) \
        == datetime(2026, 10, 26, 9, 0, tzinfo=UTC)
    assert not policy.is_open(datetime(2026, 10, 26, 8, 30, tzinfo=UTC))


def test_a_holiday_is_closed_and_the_next_working_day_is_named(policy):
    christmas = policy.model_copy(update={"holidays": [date(2026, 12, 25), date(2026, 12, 26)]})
    ordinary = policy.model_copy(update={"holidays": []})
    assert ordinary.is_open(london(2026, 12, 25, 10, 0))  # a Friday
    assert not christmas.is_open(london(2026, 12, 25, 10, 0))
    # Friday and Saturday are holidays, Sunday is closed: Monday 28th.
    assert christmas.next_opening(london(2026, 12, 24, 18, 0)) == london(2026, 12, 28, 9, 0)


def test_all_day_hours_include_the_last_second_of_the_day(policy):
    always = policy.model_copy(update={"business_hours": {
        day: "00:00-24:00" for day in policy.business_hours}})
    assert always.is_open(london(2026, 12, 6, 23, 59, 59))
    assert always.is_open(london(2026, 12, 6, 0, 0))


def test_a_handoff_inside_business_hours_says_who_is_next():
    with clock.frozen(london(2026, 12, 1, 10, 0)):
        assert "connecting you with a member of our team" in next_steps_text(1)
        assert "You're next in line" in next_steps_text(1)
        assert "You're number 3 in the queue" in next_steps_text(3)


@pytest.mark.parametrize(("moment", "back"), [
    (london(2026, 12, 1, 18, 0), "Wednesday at 09:00"),   # a weekday after closing
    (london(2026, 12, 5, 15, 0), "Monday at 09:00"),      # Saturday afternoon
    (london(2026, 12, 6, 3, 0), "Monday at 09:00"),       # Sunday night
])
def test_a_handoff_outside_business_hours_says_when_the_team_is_back(moment, back):
    with clock.frozen(moment):
        text = next_steps_text(1)
    assert "offline right now" in text and back in text and "Europe/London" in text


EMAIL_OFFER = "If you'd like the answer by email as well, just type your email address here."


def test_only_an_offline_handoff_offers_the_answer_by_email():
    with clock.frozen(london(2026, 12, 5, 15, 0)):  # Saturday afternoon: offline
        offline = next_steps_text(1)
    with clock.frozen(london(2026, 12, 1, 10, 0)):  # Tuesday morning: open
        open_hours = [next_steps_text(1), next_steps_text(3)]
    assert offline.endswith(EMAIL_OFFER) and "right here" in offline
    assert all("email" not in text for text in open_hours)


def test_the_address_noted_for_the_answer_is_masked_in_the_chat():
    assert reply_email_text("jane.doe@example.com") == (
        "Thanks — our team will send their answer to j***@example.com as well as here.")
    assert masked_email("x@shop.example") == "x***@shop.example"
    assert "jane" not in reply_email_text("jane@example.com")
