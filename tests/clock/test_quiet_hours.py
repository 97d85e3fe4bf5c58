"""Marketing quiet hours (policy/shop.yml: 21:00-09:00 in Europe/London) on both sides, across
midnight and across a daylight-saving change."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from marketing.rules import SendPolicy
from tests.clock.moments import london

pytestmark = pytest.mark.clock


@pytest.fixture
def policy() -> SendPolicy:
    return SendPolicy.from_shop()


@pytest.mark.parametrize(("moment", "quiet"), [
    (london(2026, 12, 1, 20, 59, 59), False),
    (london(2026, 12, 1, 21, 0), True),
    (london(2026, 12, 1, 23, 59), True),
    (london(2026, 12, 2, 0, 0), True),
    (london(2026, 12, 2, 8, 59, 59), True),
    (london(2026, 12, 2, 9, 0), False),
    (datetime(2026, 7, 1, 20, 30, tzinfo=UTC), True),    # 21:30 summer time
    (datetime(2026, 12, 1, 20, 30, tzinfo=UTC), False),  # 20:30 winter time
])
def test_quiet_or_not_in_the_shops_time_zone(policy, moment, quiet):
    assert policy.quiet(moment) is quiet


def test_quiet_hours_end_next_morning_across_midnight(policy):
    assert policy.quiet_ends(london(2026, 12, 1, 22, 0)) == london(2026, 12, 2, 9, 0)
    assert policy.quiet_ends(london(2026, 12, 2, 3, 0)) == london(2026, 12, 2, 9, 0)
    assert policy.quiet_ends(london(2026, 12, 2, 12, 0)) == london(2026, 12, 2, 12, 0)


def test_quiet_hours_across_a_daylight_saving_change(policy):
    # The night the clocks go forward is an hour shorter: 09:00 BST is 08:00 UTC.
    ends = policy.quiet_ends(london(2027, 3, 27, 23, 0))
    assert ends.astimezone(UTC) == datetime(2027, 3, 28, 8, 0, tzinfo=UTC)
    # The night they go back is an hour longer: 09:00 GMT is 09:00 UTC.
    ends = policy.quiet_ends(london(2026, 10, 24, 23, 0))
    assert ends.astimezone(UTC) == datetime(2026, 10, 25, 9, 0, tzinfo=UTC)
