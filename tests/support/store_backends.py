"""A fresh, migrated customer store per test on SQLite and on the real PostgreSQL (`url`),
for tests of crm_store services that must behave the same on both.

Import both fixtures into a test module: `from tests.support.store_backends import (pg_schemas,
url)`. The PostgreSQL schemas are dropped when the module ends, without resetting the engine
other tests of the directory configured.
"""

from __future__ import annotations

import pytest
from sqlalchemy import text

from tests.crm_store.conftest import PostgresSchemas, _require_postgres, migrated


@pytest.fixture(scope="module")
def pg_schemas():
    schemas = PostgresSchemas(_require_postgres())
    yield schemas
    with schemas.admin.connect() as connection:
        for name in schemas.created:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
    schemas.admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def url(request, tmp_path):
    return migrated(request, tmp_path)
