"""KEFU_TEST_PROFILE=production: every e2e stack (and `kefu prepare` before it) runs on the
production profile, on one throw-away PostgreSQL database and RabbitMQ queue per test run.

The variables go into this process's environment, which tests/e2e/stack.py and the tests'
own `kefu prepare` pass on to their children."""

from __future__ import annotations

import os

import psycopg
import pytest

from tests.e2e.stack import (
    PROFILE,
    ProductionServices,
    create_production_services,
    drop_production_services,
)


def _written_to_production(services: ProductionServices) -> dict[str, int]:
    """Rows the run left in each production store: proof it ran there, not on SQLite."""
    url = services.database_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url) as connection:
        return {table: connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                for table in ("messages", "events", "dialogue_events")}


@pytest.fixture(scope="session", autouse=True)
def e2e_profile(request):
    if PROFILE != "production":
        yield PROFILE
        return
    services = create_production_services()
    saved = {key: os.environ.get(key) for key in services.env}
    os.environ.update(services.env)
    try:
        yield PROFILE
        if any("test_conversations" in item.nodeid for item in request.session.items):
            # crm_store's messages, Rasa's tracker events (SQL tracker store) and what the
            # gateways consumed from Rasa's event broker all landed in PostgreSQL.
            written = _written_to_production(services)
            assert all(written.values()), f"nothing written on the production profile: {written}"
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        drop_production_services(services)
