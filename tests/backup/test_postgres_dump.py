"""The production profile's backup: the pg_dump / pg_restore steps of docs/deploy.md ("Backup and
restore"), run as written on a throw-away database of the real PostgreSQL server."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from pathlib import Path

import psycopg
import pytest

from crm_store import db, migrate
from crm_store.services import customers
from tests.crm_store.conftest import _require_postgres

pytestmark = pytest.mark.postgres

ADMIN_URL = os.environ.get("KEFU_TEST_POSTGRES_ADMIN_URL",
                           "postgresql://postgres@127.0.0.1:5432/postgres")
# Rasa's SQL tracker store table (rasa/core/tracker_store.py, SQLEvent), as Rasa creates it.
RASA_EVENTS_DDL = """
CREATE SEQUENCE events_seq;
CREATE TABLE events (
    id integer PRIMARY KEY DEFAULT nextval('events_seq'),
    sender_id varchar(255) NOT NULL, type_name varchar(255) NOT NULL,
    timestamp double precision, intent_name varchar(255), action_name varchar(255), data text);
CREATE INDEX ix_events_sender_id ON events (sender_id);
"""


def _admin(sql: str) -> None:
    with psycopg.connect(ADMIN_URL, autocommit=True) as connection:
        connection.execute(sql)


@pytest.fixture
def throwaway_databases():
    """new() -> a libpq URL of a brand-new database; all of them dropped afterwards."""
    _require_postgres()
    created: list[str] = []

    def new() -> str:
        name = f"kefu_backup_test_{secrets.token_hex(4)}"
        _admin(f'CREATE DATABASE "{name}"')
        created.append(name)
        return f"{ADMIN_URL.rsplit('/', 1)[0]}/{name}"

    yield new
    db.reset_engine()
    for name in created:
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def pg(*args: str) -> None:
    done = subprocess.run(list(args), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"{' '.join(args)}:\n{done.stderr}"


def rows(url: str) -> tuple[set[str], set[str]]:
    with psycopg.connect(url) as connection:
        emails = {r[0] for r in connection.execute("SELECT email FROM customers")}
        events = {r[0] for r in connection.execute("SELECT data FROM events")}
    return emails, events


def test_pg_dump_and_pg_restore_round_trip(throwaway_databases, tmp_path: Path):
    if shutil.which("pg_dump") is None or shutil.which("pg_restore") is None:
        pytest.skip("pg_dump / pg_restore are not installed (Debian: postgresql-client)")
    live = throwaway_databases()
    migrate.upgrade(url=live)
    with db.session_scope(live) as session:
        customers.get_or_create_by_email(session, email="kept@example.com", name="Kept")
    with psycopg.connect(live) as connection:
        connection.execute(RASA_EVENTS_DDL)
        connection.execute("INSERT INTO events (sender_id, type_name, data) "
                           "VALUES ('rest:kept', 'user', '{\"text\": \"where is my refund?\"}')")
    db.reset_engine()
    dump = tmp_path / "kefu.dump"

    # docs/deploy.md, "Backup and restore": the backup ...
    pg("pg_dump", "--format=custom", f"--file={dump}", live)

    # ... restored over the live database after later changes (--clean --if-exists) ...
    with psycopg.connect(live) as connection:
        connection.execute("DELETE FROM customers")
        connection.execute("DELETE FROM events")
    with db.session_scope(live) as session:
        customers.get_or_create_by_email(session, email="later@example.com")
    db.reset_engine()
    pg("pg_restore", "--clean", "--if-exists", "--no-owner", "--single-transaction",
       "--exit-on-error", f"--dbname={live}", str(dump))
    assert rows(live) == ({"kept@example.com"}, {'{"text": "where is my refund?"}'})

    # ... and into a new, empty database (another machine).
    fresh = throwaway_databases()
    pg("pg_restore", "--clean", "--if-exists", "--no-owner", "--single-transaction",
       "--exit-on-error", f"--dbname={fresh}", str(dump))
    assert rows(fresh) == ({"kept@example.com"}, {'{"text": "where is my refund?"}'})
    assert migrate.current_revision(url=fresh) == migrate.head_revision()
    # Rasa's sequence came along: its next event does not collide with a restored one.
    with psycopg.connect(fresh) as connection:
        connection.execute("INSERT INTO events (sender_id, type_name) VALUES ('rest:x', 'user')")
