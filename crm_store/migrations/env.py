"""Alembic environment for the customer store (online mode only; URL from the config)."""

from __future__ import annotations

import logging

from alembic import context

from crm_store.db import get_engine
from crm_store.models import Base, UTCDateTime

logger = logging.getLogger(__name__)

config = context.config
target_metadata = Base.metadata


def render_item(type_: str, obj, autogen_context):
    # Autogenerate would write crm_store.models.base.UTCDateTime() into the script (and not
    # import it); the database type is a plain timezone-aware DateTime.
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def run_migrations_online() -> None:
    engine = get_engine(config.get_main_option("sqlalchemy.url"))
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            # SQLite cannot ALTER most things; batch mode copies the table instead.
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
            render_item=render_item,
        )
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("crm_store migrations run online only (kefu db upgrade)")
run_migrations_online()
