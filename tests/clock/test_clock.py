"""The product's one clock (kefu_config/clock.py): set in a process, and for every process by
KEFU_CLOCK_START."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import pytest

from crm_store.models.base import utcnow
from kefu_config import clock

pytestmark = pytest.mark.clock


def test_a_frozen_clock_reads_the_same_moment_everywhere_in_the_process():
    at = datetime(2027, 6, 6, 3, 0, tzinfo=UTC)
    with clock.frozen(at):
        assert clock.now() == at and utcnow() == at
    assert clock.now() != at


def test_a_running_clock_starts_where_it_is_set_and_moves_on():
    at = datetime(2030, 1, 1, tzinfo=UTC)
    with clock.running_from(at):
        first = clock.now()
        time.sleep(0.05)
        second = clock.now()
    assert at <= first < second < at + timedelta(seconds=5)


def test_kefu_clock_start_sets_the_clock_of_a_process_kefu_starts():
    env = dict(os.environ, KEFU_CLOCK_START="2027-12-05T03:00:00+00:00")
    out = subprocess.run([sys.executable, "-c", "from kefu_config import clock; print(clock.now())"],
                         env=env, capture_output=True, text=True, check=True).stdout
    moment = datetime.fromisoformat(out.strip())
    assert datetime(2027, 12, 5, 3, 0, tzinfo=UTC) <= moment \
        < datetime(2027, 12, 5, 3, 1, tzinfo=UTC)


def test_a_clock_without_a_time_zone_is_refused():
    with pytest.raises(ValueError, match="time zone"):
        clock.parse_moment("2027-12-05T03:00:00")
    with pytest.raises(ValueError, match="time zone"):
        clock.frozen(datetime(2027, 12, 5, 3, 0))
