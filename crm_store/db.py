"""Engine and session handling: one cached engine per URL, one short-lived session per unit of work.

The URL comes from settings (`KEFU_DATABASE_URL`, default a SQLite file in the data directory);
tests and tools point the store elsewhere with `configure(url)` and undo it with `reset_engine()`.

One unit of work, for every caller: `run(work)` calls `work(session)` in one session and commits
(`session_scope` is the same as a `with` block); `run_in_thread(work)` does it from an event loop.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from kefu_config.settings import get_settings

logger = logging.getLogger(__name__)

T = TypeVar("T")

_lock = threading.Lock()
_engines: dict[str, Engine] = {}
_sessionmakers: dict[str, sessionmaker[Session]] = {}
_configured_url: str | None = None


def normalise_url(url: str) -> str:
    """Map plain PostgreSQL URLs to psycopg 3 (SQLAlchemy would otherwise pick psycopg2)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def database_url() -> str:
    """The URL the store uses now: the configured one, else the settings'."""
    return normalise_url(_configured_url or get_settings().resolved_database_url)


def _sqlite_connect(dbapi_connection, _record) -> None:
    # WAL lets the gateway read while the action server writes; SQLite leaves foreign keys
    # off unless every connection asks for them.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()
    # Take transaction control away from the sqlite3 module, which would otherwise open
    # transactions only before writes and let a SAVEPOINT's RELEASE commit the whole unit of
    # work. `_sqlite_begin` starts every transaction itself.
    dbapi_connection.isolation_level = None


def _sqlite_begin(connection) -> None:
    # IMMEDIATE: take the write lock at the start, so two processes doing read-then-write
    # queue up (busy_timeout) instead of one failing with "database is locked" at its first
    # write. Units of work are short, so the wait is too.
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def _create_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(url, pool_pre_ping=True)


def get_engine(url: str | None = None) -> Engine:
    """The engine for `url` (default: the store's URL), created once per process and URL."""
    url = normalise_url(url) if url else database_url()
    with _lock:
        engine = _engines.get(url)
        if engine is None:
            engine = _create_engine(url)
            _engines[url] = engine
            logger.debug("created engine for %s", engine.url.render_as_string(hide_password=True))
        return engine


def _sessionmaker(url: str) -> sessionmaker[Session]:
    engine = get_engine(url)
    with _lock:
        maker = _sessionmakers.get(url)
        if maker is None:
            # expire_on_commit=False: callers read the returned models after the unit of work.
            maker = sessionmaker(engine, expire_on_commit=False)
            _sessionmakers[url] = maker
        return maker


def configure(url: str) -> None:
    """Point `get_engine()` and `session_scope()` at another database (tests, tools)."""
    global _configured_url
    with _lock:
        _configured_url = normalise_url(url)


def reset_engine() -> None:
    """Dispose every cached engine and forget `configure()`; the next use reads settings again."""
    global _configured_url
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()
        _sessionmakers.clear()
        _configured_url = None


@contextmanager
def session_scope(url: str | None = None) -> Iterator[Session]:
    """One unit of work: commit when the block succeeds, roll back when it raises."""
    session = _sessionmaker(normalise_url(url) if url else database_url())()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def run(work: Callable[[Session], T]) -> T:
    """`work(session)` as one unit of work (session_scope): what every caller that is not
    already inside a `with session_scope()` block uses."""
    with session_scope() as session:
        return work(session)


async def run_in_thread(work: Callable[[Session], T]) -> T:
    """The same from an event loop (the gateway, the action server): the database call runs
    in a worker thread so the loop keeps serving other customers meanwhile."""
    return await asyncio.to_thread(run, work)
