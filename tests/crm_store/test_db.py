"""Engine and session behaviour the rest of Kefu relies on."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from crm_store import db
from crm_store.models import Customer, Interest, InterestSource


def test_plain_postgres_urls_use_psycopg3():
    assert db.normalise_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert db.normalise_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert db.normalise_url("sqlite:///x.db") == "sqlite:///x.db"


def test_default_url_is_a_sqlite_file_in_the_data_dir(tmp_path, monkeypatch):
    from kefu_config.settings import get_settings

    monkeypatch.setenv("KEFU_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("KEFU_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    db.reset_engine()
    try:
        assert db.database_url() == f"sqlite:///{tmp_path / 'data' / 'kefu.db'}"
    finally:
        get_settings.cache_clear()


def test_sqlite_runs_with_wal_and_foreign_keys(tmp_path):
    url = f"sqlite:///{tmp_path / 'wal.db'}"
    try:
        with db.get_engine(url).connect() as connection:
            assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
    finally:
        db.reset_engine()


def test_engine_is_cached_per_url(tmp_path):
    url = f"sqlite:///{tmp_path / 'a.db'}"
    try:
        assert db.get_engine(url) is db.get_engine(url)
        assert db.get_engine(url) is not db.get_engine(f"sqlite:///{tmp_path / 'b.db'}")
    finally:
        db.reset_engine()


def test_session_scope_commits_on_success_and_rolls_back_on_error(store):
    with db.session_scope() as session:
        session.add(Customer(email="kept@example.com", tags=[]))
    with pytest.raises(RuntimeError):
        with db.session_scope() as session:
            session.add(Customer(email="lost@example.com", tags=[]))
            session.flush()
            raise RuntimeError("boom")
    with db.session_scope() as session:
        emails = set(session.scalars(select(Customer.email)))
    assert emails == {"kept@example.com"}


def test_run_and_run_in_thread_are_one_committed_unit_of_work(store):
    """db.run (the CLI) and db.run_in_thread (gateway, action server): work(session) in one
    session, committed when it returns, rolled back when it raises; the async one off the
    event loop's thread."""
    import asyncio
    import threading

    def add(email: str):
        def work(session):
            session.add(Customer(email=email, tags=[]))
            session.flush()
            return threading.get_ident()
        return work

    def fail(session):
        add("lost@example.com")(session)
        raise RuntimeError("boom")

    assert db.run(add("sync@example.com")) == threading.get_ident()
    assert asyncio.run(db.run_in_thread(add("async@example.com"))) != threading.get_ident()
    with pytest.raises(RuntimeError):
        asyncio.run(db.run_in_thread(fail))
    emails = db.run(lambda session: set(session.scalars(select(Customer.email))))
    assert emails == {"sync@example.com", "async@example.com"}


def test_foreign_keys_are_enforced(store):
    with pytest.raises(IntegrityError):
        with db.session_scope() as session:
            session.add(Interest(customer_id=999_999, topic="hiking",
                                 source=InterestSource.STATED, weight=1.0))


def test_a_failed_unit_of_work_leaves_nothing_even_after_a_savepoint(store):
    """Services use savepoints; on SQLite a savepoint must not commit the unit of work early."""
    from crm_store.services import customers

    with pytest.raises(RuntimeError):
        with db.session_scope() as session:
            customers.find_or_create_by_identity(session, channel="web", external_id="s-1")
            raise RuntimeError("the action failed after creating the customer")
    with db.session_scope() as session:
        assert session.scalars(select(Customer)).all() == []
