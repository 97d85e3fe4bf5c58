"""The gateway's units of work (bot/store.py) when PostgreSQL goes away, on the real database
behind the cuttable proxy: work that follows a stored customer message waits for the database
and is written once; anything else fails at once with a 503 that says when to retry."""

from __future__ import annotations

import asyncio
import functools
import time

import pytest

from bot import store as units
from bot.messages import Content
from crm_store import db
from crm_store.db import session_scope
from tests.faults.conftest import new_sender


@pytest.fixture
def via_proxy(store, monkeypatch):
    """bot.store's units of work (through crm_store.db.run) on the proxied database, for this
    test only (the test process's engine setting is left alone for the other test packages)."""
    monkeypatch.setattr(db, "session_scope", functools.partial(session_scope, store.proxied_url))
    yield store
    store.proxy.restore()


def test_a_reply_waits_out_the_outage_and_is_written_once(via_proxy):
    sender = new_sender("unit")
    conversation = asyncio.run(units.run(units.start_conversation("rest", sender)))

    async def outage() -> float:
        via_proxy.proxy.cut()
        started = time.monotonic()
        reply = asyncio.create_task(units.run(
            units.queue_outbound(conversation.id, Content("Your parcel is on its way."), "bot"),
            wait=units.OUTAGE_GRACE))
        await asyncio.sleep(3.0)  # the outage: its length is the scenario, not an event
        assert not reply.done()  # still waiting for the database, not failed
        via_proxy.proxy.restore()
        await asyncio.wait_for(reply, 30)
        return time.monotonic() - started

    assert asyncio.run(outage()) >= 3.0
    assert via_proxy.outbound_texts("rest", sender) == ["Your parcel is on its way."]


def test_without_waiting_it_fails_at_once_with_a_503_and_writes_nothing(via_proxy):
    sender = new_sender("unit-503")
    via_proxy.proxy.cut()
    started = time.monotonic()
    with pytest.raises(units.StoreUnavailable) as refused:
        asyncio.run(units.run(units.record_inbound("rest", sender, "hello", None, None)))
    assert time.monotonic() - started < 5.0
    assert refused.value.status_code == 503
    assert int(refused.value.headers["Retry-After"]) > 0
    assert "unavailable" in refused.value.detail
    via_proxy.proxy.restore()
    assert via_proxy.messages("rest", sender) == []


def test_a_database_error_that_is_not_an_outage_is_not_retried(via_proxy):
    def broken(session):
        from sqlalchemy import text

        session.execute(text("select * from no_such_table"))

    started = time.monotonic()
    with pytest.raises(Exception) as raised:
        asyncio.run(units.run(broken, wait=units.OUTAGE_GRACE))
    assert not isinstance(raised.value, units.StoreUnavailable)  # a bug stays a bug
    assert time.monotonic() - started < 5.0
