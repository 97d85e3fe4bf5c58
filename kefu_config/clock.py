"""The product's one clock.

Every decision that depends on the date or the time of day asks `now()`: business hours and
quiet hours, ticket SLAs, campaign scheduling and attribution, the dashboard's periods, link-code
and staff-session expiry, the demo shop's dates. Durations between two moments of one process
(timeouts, rate-limit windows, retry backoff) use `time.monotonic()` instead: they must not jump
when the calendar clock is set.

The clock is injectable so nothing has to wait for a Tuesday to be tested:
- in a process, `set_source()` or the `frozen()` / `running_from()` context managers (tests);
- for every process Kefu starts, `KEFU_CLOCK_START` (an ISO time with its zone): the clock reads
  that moment when the process first asks and runs on at the real pace from there. CI uses it
  to run the time-dependent tests on a weekday morning, a Sunday night and a year from now.

Imports nothing of Kefu: every layer may use it.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime, timedelta

Source = Callable[[], datetime]
ENV_START = "KEFU_CLOCK_START"

_source: Source | None = None
_lock = threading.Lock()


def system() -> datetime:
    """The machine's clock, in UTC."""
    return datetime.now(UTC)


def parse_moment(value: str) -> datetime:
    """An ISO 8601 moment with its time zone ('2026-12-07T10:00:00+00:00', '...Z')."""
    moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"{ENV_START}={value!r} has no time zone; add one, e.g. +00:00")
    return moment.astimezone(UTC)


def running_from_moment(start: datetime) -> Source:
    """A clock that reads `start` now and runs on at the real pace."""
    if start.tzinfo is None:
        raise ValueError("a clock's start needs a time zone")
    origin = time.monotonic()
    start = start.astimezone(UTC)
    return lambda: start + timedelta(seconds=time.monotonic() - origin)


def _from_environment() -> Source:
    value = os.environ.get(ENV_START, "").strip()
    return running_from_moment(parse_moment(value)) if value else system


def now() -> datetime:
    """The current moment, timezone-aware, in UTC."""
    global _source
    source = _source
    if source is None:
        with _lock:
            if _source is None:
                _source = _from_environment()
            source = _source
    return source().astimezone(UTC)


def set_source(source: Source | None) -> None:
    """Use `source` from now on; None goes back to the environment's (or the system's)."""
    global _source
    with _lock:
        _source = source


@contextmanager
def using(source: Source) -> Iterator[None]:
    previous = _source
    set_source(source)
    try:
        yield
    finally:
        set_source(previous)


def frozen(at: datetime) -> AbstractContextManager[None]:
    """Inside the block the clock reads `at`, always."""
    if at.tzinfo is None:
        raise ValueError("a frozen moment needs a time zone")
    return using(lambda: at)


def running_from(at: datetime) -> AbstractContextManager[None]:
    """Inside the block the clock starts at `at` and runs on."""
    return using(running_from_moment(at))
