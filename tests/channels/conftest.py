"""Shared by the channel tests: one store, one real Rasa (with its action server) per session,
and helpers to run the gateway in-process against them.

Rasa takes a while to load the trained model, so it starts once for all channel tests; each
test module runs its own gateway (seconds) with the channel settings it needs.
"""

from __future__ import annotations

import os

import pytest

from crm_store import db
from kefu_config.settings import Settings
from tests.conftest import free_port
from tests.support.demo_store import open_demo_store
from tests.support.gateway_server import GatewayServer
from tests.support.rasa_stack import running_rasa


@pytest.fixture(scope="session")
def store_url(tmp_path_factory) -> str:
    data_dir = tmp_path_factory.mktemp("kefu-channels")
    yield open_demo_store(f"sqlite:///{data_dir / 'kefu.db'}")
    db.reset_engine()


@pytest.fixture(scope="session")
def rasa_settings(store_url, tmp_path_factory) -> Settings:
    """A real Rasa server with the trained model, and the real action server, on free ports."""
    with running_rasa(store_url, tmp_path_factory.mktemp("kefu-rasa")) as settings:
        yield settings


def gateway_settings(rasa_settings: Settings, **overrides) -> Settings:
    values = dict(data_dir=rasa_settings.data_dir, database_url=rasa_settings.database_url,
                  rasa_port=rasa_settings.rasa_port, action_port=rasa_settings.action_port,
                  gateway_port=free_port(), outbound_sweep_interval=0.5, rasa_timeout=60.0)
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def start_gateway():
    """`start_gateway(settings)` -> a running GatewayServer, stopped after the test."""
    servers: list[GatewayServer] = []

    def start(settings: Settings) -> GatewayServer:
        server = GatewayServer(settings).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


# Child processes must not download anything (sentence-transformers, Hugging Face).
os.environ.setdefault("HF_HUB_OFFLINE", "1")
