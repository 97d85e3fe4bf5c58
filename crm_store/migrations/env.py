"""Alembic environment for the customer store (online mode only; URL from the config)."""

from __future__ import annotations

import logging

from alembic import context

from crm_store.db import get_engine
from crm_store.models import Base, UTCDateTime
from crm_store.services.search import is_index_object

logger = logging.getLogger(__name__)

config = context.config
target_metadata = Base.metadata


def render_item(type_: str, obj, autogen_context):
    # Autogenerate would write crm_store.models.base.UTCDateTime() into the script (and not
    # import it); the database type is a plain timezone-aware DateTime.
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def include_name(name, type_, parent_names) -> bool:
    # The search index (migration 0013) is the database's own: FTS5 tables with their shadow
    # tables on SQLite, GIN expression indexes on PostgreSQL. No model describes it, so
    # autogenerate must not offer to drop it.
    return not (type_ in ("table", "index") and is_index_object(name))


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
            include_name=include_name,
        )
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("crm_store migrations run online only (kefu db upgrade)")
run_migrations_online()
