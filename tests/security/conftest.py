"""The security checks run against in-process gateways without Rasa (none of them needs the
dialogue: guards, rate limits and what the public routes expose are the gateway's), on a
store of their own on the real PostgreSQL with the demo shop and the staff accounts."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.bad_input.conftest import (
    gateway_settings,
    store_url,  # noqa: F401 - the fixture, for this directory
)
from tests.support.gateway_server import GatewayServer


@pytest.fixture
def start_gateway(store_url, tmp_path_factory):  # noqa: F811
    """`start_gateway(**settings)` -> a running gateway (no Rasa), stopped after the test."""
    servers: list[GatewayServer] = []

    def start(**overrides) -> GatewayServer:
        server = GatewayServer(gateway_settings(store_url, tmp_path_factory.mktemp("gw"),
                                                **overrides)).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="module")
def gateway(store_url, tmp_path_factory) -> Iterator[GatewayServer]:  # noqa: F811
    server = GatewayServer(gateway_settings(store_url, tmp_path_factory.mktemp("gw"))).start()
    yield server
    server.stop()
