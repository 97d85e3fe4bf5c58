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

from crm_store import db, migrate
from crm_store.db import session_scope
from kefu.demo import load_if_empty
from crm_store.services import staff
from kefu_config.settings import REPO_ROOT, Settings
from kefu.stack import action_server_spec, rasa_spec
from kefu.supervisor import Supervisor
from tests.conftest import free_port
from tests.crm_store.conftest import PostgresSchemas, _require_postgres
from tests.staff.conftest import ADA, ANNA, MIA, Account, token_for
from tests.support.gateway_server import GatewayServer

# Child processes must not download anything (sentence-transformers, Hugging Face).
os.environ.setdefault("HF_HUB_OFFLINE", "1")

ACCOUNTS = (ANNA, MIA, ADA)


@pytest.fixture(scope="session")
def store_url() -> Iterator[str]:
    schemas = PostgresSchemas(_require_postgres())
    url = schemas.new()
    db.configure(url)
    migrate.upgrade(url=url)
    load_if_empty()
    with session_scope() as session:
        for account in ACCOUNTS:
            staff.create_user(session, email=account.email, password=account.password,
                              role=account.role, name=account.name)
    yield url
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
    data_dir = tmp_path_factory.mktemp("kefu-bad-input-rasa")
    settings = Settings(data_dir=data_dir, database_url=store_url, rasa_port=free_port(),
                        action_port=free_port())
    if not any(settings.model_dir.glob("*.tar.gz")):
        pytest.fail(f"no trained Rasa model in {settings.model_dir} (run `make train`)")
    supervisor = Supervisor(data_dir / "logs", cwd=REPO_ROOT)
    env = {"HF_HUB_OFFLINE": "1", "KEFU_DATABASE_URL": store_url,
           "KEFU_DATA_DIR": str(data_dir)}
    try:
        for spec in (action_server_spec(settings), rasa_spec(settings)):
            spec.env.update(env)
            supervisor.wait_healthy(supervisor.start(spec))
        yield settings
    finally:
        supervisor.stop_all()


@pytest.fixture(scope="module")
def rasa_gateway(store_url, rasa_settings, tmp_path_factory) -> Iterator[GatewayServer]:
    server = GatewayServer(gateway_settings(store_url, tmp_path_factory.mktemp("gw"),
                                            rasa_settings)).start()
    yield server
    server.stop()


def bearer(server: GatewayServer, account: Account) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_for(server, account)}"}
