"""Fixtures for the customer store: every service test runs on SQLite and on PostgreSQL.

PostgreSQL: KEFU_TEST_POSTGRES_URL, else postgresql://postgres@127.0.0.1:5432/test. Each test
session works in a schema of its own (dropped at the end), so runs never see each other's rows.
Without a server the PostgreSQL tests fail when CI is set and are skipped otherwise.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from sqlalchemy import create_engine, text

from crm_store import db, migrate
from crm_store.models import Base

DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/test"


def postgres_base_url() -> str:
    return db.normalise_url(os.environ.get("KEFU_TEST_POSTGRES_URL") or DEFAULT_PG_URL)


def _require_postgres() -> str:
    url = postgres_base_url()
    try:
        engine = create_engine(url)
        with engine.connect() as connection:
            connection.execute(text("select 1"))
        engine.dispose()
    except Exception as exc:  # noqa: BLE001 - any failure means "no server here"
        message = f"PostgreSQL not reachable at {url}: {exc}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return url


class PostgresSchemas:
    """Throw-away schemas on the test server; URLs that put them first on the search path."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        self.admin = create_engine(base_url, isolation_level="AUTOCOMMIT")
        self.created: list[str] = []

    def new(self) -> str:
        name = f"kefu_test_{uuid.uuid4().hex[:12]}"
        with self.admin.connect() as connection:
            connection.execute(text(f'CREATE SCHEMA "{name}"'))
        self.created.append(name)
        separator = "&" if "?" in self.base_url else "?"
        return f"{self.base_url}{separator}options={quote(f'-csearch_path={name}')}"

    def drop_all(self) -> None:
        db.reset_engine()
        with self.admin.connect() as connection:
            for name in self.created:
                connection.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
        self.admin.dispose()


@pytest.fixture(scope="session")
def pg_schemas() -> Iterator[PostgresSchemas]:
    schemas = PostgresSchemas(_require_postgres())
    yield schemas
    schemas.drop_all()


@pytest.fixture
def empty_database(request, tmp_path: Path) -> Iterator[str]:
    """A brand-new empty database URL of the backend named by the test's `backend` param."""
    backend = request.param
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
    else:
        yield request.getfixturevalue("pg_schemas").new()
    db.reset_engine()


def migrated(request, directory: Path) -> str:
    """A new database of the backend named by `request.param`, migrated to head: SQLite in
    `directory`, or a new schema of the `pg_schemas` fixture."""
    if request.param == "sqlite":
        url = f"sqlite:///{directory / 'kefu.db'}"
    else:
        url = request.getfixturevalue("pg_schemas").new()
    migrate.upgrade(url=url)
    return url


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def migrated_url(request, tmp_path_factory) -> str:
    """One database per backend per test session, migrated to head with the real migrations."""
    return migrated(request, tmp_path_factory.mktemp("store"))


def _clear(url: str) -> None:
    engine = db.get_engine(url)
    tables = [t.name for t in Base.metadata.sorted_tables]
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            quoted = ", ".join(f'"{t}"' for t in tables)
            connection.execute(text(f"TRUNCATE {quoted} RESTART IDENTITY CASCADE"))
        else:
            for table in reversed(tables):
                connection.execute(text(f'DELETE FROM "{table}"'))


@pytest.fixture
def store(migrated_url: str) -> Iterator[str]:
    """The store pointed at a migrated, empty database (SQLite, then PostgreSQL)."""
    db.reset_engine()
    db.configure(migrated_url)
    try:
        yield migrated_url
    finally:
        _clear(migrated_url)
        db.reset_engine()


@pytest.fixture
def write_csv(tmp_path: Path):
    """write_csv("name.csv", text) -> path; the text is dedented and stripped of leading space."""
    import textwrap

    def write(name: str, content: str) -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(content).lstrip(), encoding="utf-8")
        return path

    return write
