"""Alembic, driven from code: `kefu db upgrade` and `kefu prepare` call these.

The scripts live in crm_store/migrations; no alembic.ini is needed (crm_store/alembic.ini
exists only for people who want the `alembic` command itself).
"""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from crm_store.db import database_url, get_engine, normalise_url

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # env.py takes the URL from here; '%' would be read as interpolation by configparser.
    config.set_main_option("sqlalchemy.url", (normalise_url(url) if url else database_url())
                           .replace("%", "%%"))
    return config


def upgrade(revision: str = "head", *, url: str | None = None) -> None:
    command.upgrade(alembic_config(url), revision)


def downgrade(revision: str, *, url: str | None = None) -> None:
    command.downgrade(alembic_config(url), revision)


def current_revision(*, url: str | None = None) -> str | None:
    with get_engine(url).connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def is_up_to_date(*, url: str | None = None) -> bool:
    return current_revision(url=url) == head_revision()
