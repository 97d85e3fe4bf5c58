"""Marketing tests run on the customer store's fixtures: SQLite, then PostgreSQL."""

from __future__ import annotations

from tests.crm_store.conftest import migrated_url, pg_schemas, store  # noqa: F401
