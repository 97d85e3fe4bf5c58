"""Shared by the bad-input tests: one customer store on the real PostgreSQL (the production
store: it refuses what SQLite lets through, e.g. NUL characters and over-long values), the
demo shop and the staff accounts of tests/staff, and gateways run in-process on top.

`bare_gateway` has no Rasa behind it (the gateway answers with its polite "try again
shortly"), for the API tests that need no dialogue; `rasa_gateway` talks to the real Rasa
with the trained model and the real action server, started once for the directory.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from kefu_config.settings import Settings
from tests.conftest import free_port
from tests.crm_store.conftest import PostgresSchemas, _require_postgres
from tests.staff.conftest import ADA, ANNA, MIA, Account, token_for
from tests.support.demo_store import open_demo_store
from tests.support.gateway_server import GatewayServer
from tests.support.rasa_stack import running_rasa

# Child processes must not download anything (sentence-transformers, Hugging Face).
os.environ.setdefault("HF_HUB_OFFLINE", "1")

ACCOUNTS = (ANNA, MIA, ADA)


@pytest.fixture(scope="session")
def store_url() -> Iterator[str]:
    schemas = PostgresSchemas(_require_postgres())
    yield open_demo_store(schemas.new(), ACCOUNTS)
    schemas.drop_all()


def gateway_settings(store_url: str, data_dir: Path, rasa: Settings | None = None,
                     **overrides) -> Settings:
    """Settings for an in-process gateway; without `rasa`, Rasa's port has nobody on it."""
    values = dict(data_dir=data_dir, database_url=store_url, gateway_port=free_port(),
                  rasa_port=rasa.rasa_port if rasa else free_port(),
                  action_port=rasa.action_port if rasa else free_port(),
                  outbound_sweep_interval=0.5, rasa_timeout=90.0 if rasa else 5.0,
                  rest_token=None)
    values.update(overrides)
    return Settings(**values)


@pytest.fixture(scope="module")
def bare_gateway(store_url, tmp_path_factory) -> Iterator[GatewayServer]:
    server = GatewayServer(gateway_settings(store_url, tmp_path_factory.mktemp("gw"))).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def rasa_settings(store_url, tmp_path_factory) -> Iterator[Settings]:
    """The real Rasa server with the trained model and the real action server, on this
    directory's store."""
    with running_rasa(store_url, tmp_path_factory.mktemp("kefu-bad-input-rasa")) as settings:
        yield settings


@pytest.fixture(scope="module")
def rasa_gateway(store_url, rasa_settings, tmp_path_factory) -> Iterator[GatewayServer]:
    server = GatewayServer(gateway_settings(store_url, tmp_path_factory.mktemp("gw"),
                                            rasa_settings)).start()
    yield server
    server.stop()


def bearer(server: GatewayServer, account: Account) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_for(server, account)}"}
