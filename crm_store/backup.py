"""A consistent copy of the SQLite customer store while Kefu keeps writing to it, and the checks
a copy must pass before it may replace a store.

The copy uses SQLite's online backup API inside one read transaction on the source: in WAL
mode that transaction is a snapshot, so the copy holds exactly what was committed when it
began, writers are never blocked, and the backup never restarts because of them. kefu/backup.py
puts the copy into an archive with the product index and the secret key; PostgreSQL stores are
backed up with pg_dump (docs/deploy.md).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

from alembic.script import ScriptDirectory
from sqlalchemy.engine import make_url

from crm_store.migrate import alembic_config, head_revision

# Pages copied per backup step (4 KiB each by default): a progress report every ~4 MB.
PAGES_PER_STEP = 1024


class StoreBackupError(RuntimeError):
    """The store cannot be copied, or a copy cannot be used."""


def sqlite_path(url: str) -> Path | None:
    """The file behind a SQLite URL; None for other databases (and in-memory SQLite)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def copy_sqlite(source: Path, target: Path,
                progress: Callable[[int, int], None] | None = None) -> str | None:
    """Copy the store at `source` to a new file `target` (a single file, no -wal); returns the
    copy's Alembic revision. `progress(pages_done, pages_total)` is called after each step."""
    if not source.is_file():
        raise StoreBackupError(f"no customer store at {source}; run `kefu prepare` first")
    if target.exists():
        raise StoreBackupError(f"{target} exists")
    # Read-write like any Kefu process (the last connection to close checkpoints the WAL and
    # removes it); only ever read from.
    src = sqlite3.connect(source, isolation_level=None, timeout=30)
    try:
        src.execute("PRAGMA busy_timeout=30000")
        # Reading inside the transaction fixes the snapshot the whole copy is taken from.
        src.execute("BEGIN")
        src.execute("SELECT count(*) FROM sqlite_master").fetchone()
        dst = sqlite3.connect(target, isolation_level=None)
        try:
            def step(_status: int, remaining: int, total: int) -> None:
                if progress:
                    progress(total - remaining, total)

            src.backup(dst, pages=PAGES_PER_STEP, progress=step)
            src.execute("COMMIT")
            # The copy is a file to archive, not a live store: no WAL beside it.
            dst.execute("PRAGMA journal_mode=DELETE")
            return _revision(dst)
        finally:
            dst.close()
    except sqlite3.Error as exc:
        target.unlink(missing_ok=True)
        raise StoreBackupError(f"cannot copy the customer store at {source}: {exc}") from exc
    finally:
        src.close()


def _revision(connection: sqlite3.Connection) -> str | None:
    try:
        row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.OperationalError:  # never migrated
        return None
    return row[0] if row else None


def check_copy(path: Path) -> str | None:
    """Refuse a copy SQLite finds damaged; return its Alembic revision."""
    try:
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            result = [row[0] for row in connection.execute("PRAGMA integrity_check")]
            if result != ["ok"]:
                raise StoreBackupError(f"the customer store in the archive is damaged: "
                                       f"{'; '.join(result[:5])}")
            return _revision(connection)
        finally:
            connection.close()
    except sqlite3.DatabaseError as exc:
        raise StoreBackupError(f"the customer store in the archive is not a SQLite database: "
                               f"{exc}") from exc


def check_revision(revision: str | None) -> None:
    """Refuse a schema this code does not know: it comes from a newer Kefu, and running these
    migrations (or this code) on it would be guesswork. Older revisions are fine: `kefu
    prepare` (or `kefu db upgrade`) migrates them."""
    if revision is None:
        return
    scripts = ScriptDirectory.from_config(alembic_config("sqlite://"))
    # Exact ids only: Alembic would also accept a unique prefix.
    if revision not in {script.revision for script in scripts.walk_revisions()}:
        raise StoreBackupError(
            f"the archive's customer store is at schema revision {revision}, which this Kefu "
            f"does not know (its newest is {head_revision()}): it was made by a newer Kefu. "
            "Restore it with that version or a later one.")
