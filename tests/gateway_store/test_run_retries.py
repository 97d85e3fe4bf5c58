"""bot.store.run: a busy or unreachable database is retried (tenacity) for as long as the caller
may wait, then refused with a 503; any other database error is raised at once. Without a
database: the unit of work is a stand-in that fails the way SQLAlchemy does."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest
from sqlalchemy.exc import OperationalError, ProgrammingError

from bot import store

LOCKED = OperationalError("BEGIN IMMEDIATE", {}, sqlite3.OperationalError("database is locked"))


@pytest.fixture
def unit(monkeypatch):
    """crm_store.db.run_in_thread replaced by a unit that fails `failures` times first."""
    calls = []

    def install(failures: int, error: Exception = LOCKED):
        async def run_in_thread(work):
            calls.append(work)
            if len(calls) <= failures:
                raise error
            return "done"

        monkeypatch.setattr(store.db, "run_in_thread", run_in_thread)
        return calls

    return install


def test_a_busy_database_is_retried_while_the_caller_may_wait(unit):
    calls = unit(failures=2)
    assert asyncio.run(store.run(lambda session: None, wait=5.0)) == "done"
    assert len(calls) == 3


def test_without_waiting_a_busy_database_is_a_503_at_once(unit):
    calls = unit(failures=1)
    with pytest.raises(store.StoreUnavailable) as refused:
        asyncio.run(store.run(lambda session: None))
    assert len(calls) == 1
    assert refused.value.status_code == 503 and refused.value.reason == "OperationalError"


def test_waiting_ends_in_a_503_when_the_database_stays_away(unit):
    calls = unit(failures=100)
    with pytest.raises(store.StoreUnavailable):
        asyncio.run(store.run(lambda session: None, wait=0.5))
    assert len(calls) == 2  # after 0.25 s a second try; a 0.5 s wait would pass the deadline


def test_a_database_error_that_is_not_an_outage_is_raised_at_once(unit):
    calls = unit(failures=1, error=ProgrammingError("SELECT", {}, Exception("no such table")))
    with pytest.raises(ProgrammingError):
        asyncio.run(store.run(lambda session: None, wait=5.0))
    assert len(calls) == 1
