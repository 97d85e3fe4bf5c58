"""The Alembic migrations build exactly the models' schema, and take it down again."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from crm_store import db, migrate
from crm_store.models import Base
from crm_store.services.search import is_index_object

BACKENDS = ["sqlite", "postgresql"]


def _tables(url: str) -> set[str]:
    """The tables the models describe; the search index's own (FTS5 tables on SQLite,
    migration 0013) are left out."""
    return {name for name in inspect(db.get_engine(url)).get_table_names()
            if name != "alembic_version" and not is_index_object(name)}


def _ignore_search_index(name, type_, parent_names) -> bool:
    return not (type_ in ("table", "index") and is_index_object(name))


@pytest.mark.parametrize("empty_database", BACKENDS, indirect=True)
def test_upgrade_from_empty_to_head_then_back_to_base(empty_database):
    url = empty_database
    assert _tables(url) == set()
    assert migrate.current_revision(url=url) is None

    migrate.upgrade(url=url)
    assert migrate.current_revision(url=url) == migrate.head_revision()
    assert _tables(url) == set(Base.metadata.tables)

    migrate.downgrade("base", url=url)
    assert migrate.current_revision(url=url) is None
    assert _tables(url) == set()

    # And up again: downgrade left nothing behind that blocks a fresh upgrade.
    migrate.upgrade(url=url)
    assert _tables(url) == set(Base.metadata.tables)


@pytest.mark.parametrize("empty_database", BACKENDS, indirect=True)
def test_migrations_and_models_agree(empty_database):
    """Autogenerate finds nothing to do: no model change is missing a migration."""
    url = empty_database
    migrate.upgrade(url=url)
    with db.get_engine(url).connect() as connection:
        context = MigrationContext.configure(connection, opts={
            "compare_type": True, "include_name": _ignore_search_index})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []
