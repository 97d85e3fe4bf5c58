"""Dashboard tests run on SQLite and PostgreSQL with the customer store's fixtures."""

from tests.crm_store.conftest import migrated_url, pg_schemas, store  # noqa: F401
