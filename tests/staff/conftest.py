"""Shared by the staff tests: one store with the demo shop and four staff accounts, one real
Rasa with its action server (started once, only for the tests that need the dialogue), and
gateways run in-process on top.

Rasa loads the trained model in models/ (KEFU_MODEL_DIR points elsewhere); loading takes about
a minute on a small machine, so it starts once per session.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import select

from crm_store import db
from crm_store.models import AgentAvailability, Handoff, HandoffStatus
from crm_store.services import handoffs
from kefu_config.settings import Settings
from tests.conftest import free_port
from tests.support.demo_store import open_demo_store
from tests.support.fake_bot_api import FakeBotApi
from tests.support.gateway_server import GatewayServer
from tests.support.rasa_stack import running_rasa
from tests.support.shop_policy import ALWAYS_OPEN, policy_file

# Child processes must not download anything (sentence-transformers, Hugging Face).
os.environ.setdefault("HF_HUB_OFFLINE", "1")

PASSWORD = "correct horse battery staple"


@dataclass(frozen=True)
class Account:
    email: str
    role: str
    name: str
    password: str = PASSWORD


ANNA = Account("anna@shop.example", "agent", "Anna")
BEN = Account("ben@shop.example", "agent", "Ben")
MIA = Account("mia@shop.example", "marketer", "Mia")
ADA = Account("ada@shop.example", "admin", "Ada")
ACCOUNTS = (ANNA, BEN, MIA, ADA)
# What a customer is told at a handoff while staff are at work (kefu_config/handoff.py).
OPEN_NEXT_STEPS = "connecting you with a member of our team"


@pytest.fixture(scope="session")
def store_url(tmp_path_factory) -> str:
    data_dir = tmp_path_factory.mktemp("kefu-staff")
    yield open_demo_store(f"sqlite:///{data_dir / 'kefu.db'}", ACCOUNTS)
    db.reset_engine()


@pytest.fixture(scope="session")
def rasa_settings(store_url, tmp_path_factory) -> Settings:
    """The real Rasa server with the trained model, and the real action server on the same
    store (the handoff and the rating are custom actions). Staff are always at work here, so
    a handoff says "connecting you with a member of our team" at any hour the tests run."""
    data_dir = tmp_path_factory.mktemp("kefu-staff-rasa")
    policy = policy_file(data_dir, hours=ALWAYS_OPEN)
    with running_rasa(store_url, data_dir, {"KEFU_POLICY_FILE": str(policy)}) as settings:
        yield settings


def gateway_settings(store_url: str, data_dir, rasa: Settings | None = None,
                     **overrides) -> Settings:
    """Settings for an in-process gateway; without `rasa`, Rasa's port has nobody on it."""
    values = dict(data_dir=data_dir, database_url=store_url, gateway_port=free_port(),
                  rasa_port=rasa.rasa_port if rasa else free_port(),
                  action_port=rasa.action_port if rasa else free_port(),
                  outbound_sweep_interval=0.5, rasa_timeout=90.0)
    values.update(overrides)
    return Settings(**values)


@pytest.fixture(scope="module")
def api_gateway(store_url, tmp_path_factory):
    """A gateway for API tests that need no dialogue."""
    server = GatewayServer(gateway_settings(store_url, tmp_path_factory.mktemp("gw"))).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def gateway(store_url, rasa_settings, tmp_path_factory):
    """A gateway talking to the real Rasa."""
    server = GatewayServer(gateway_settings(store_url, tmp_path_factory.mktemp("gw"),
                                            rasa_settings)).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def bot_api():
    """The local Bot API server, one per test module."""
    with FakeBotApi() as api:
        yield api


@pytest.fixture(scope="module")
def telegram_gateway(store_url, rasa_settings, bot_api, tmp_path_factory):
    """A gateway with Telegram (python-telegram-bot against `bot_api`) and the real Rasa."""
    settings = gateway_settings(store_url, tmp_path_factory.mktemp("gw-tg"), rasa_settings,
                                telegram_token=bot_api.token, telegram_api_url=bot_api.url)
    server = GatewayServer(settings).start()
    bot_api.wait_for(lambda: bot_api.sent("getUpdates"), what="the bot to start polling")
    yield server
    server.stop()


def everyone_away_and_nothing_waiting() -> None:
    """The staff tests share one store: a test that puts agents online or leaves handoffs
    open resets both, so no later test finds an agent online or a queue it did not make."""
    with db.session_scope() as session:
        for row in session.scalars(select(AgentAvailability)):
            session.delete(row)
        for handoff in session.scalars(select(Handoff).where(
                Handoff.status != HandoffStatus.RESOLVED)):
            handoffs.resolve(session, handoff_id=handoff.id, staff_id=None)


def token_for(server: GatewayServer, account: Account) -> str:
    response = httpx.post(f"{server.url}/api/auth/login",
                          json={"email": account.email, "password": account.password})
    assert response.status_code == 200, response.text
    return response.json()["token"]


class StaffClient:
    """An API client signed in as one staff member (bearer token)."""

    def __init__(self, server: GatewayServer, account: Account) -> None:
        self.server = server
        self.account = account
        self.token = token_for(server, account)
        self.http = httpx.Client(base_url=server.url, timeout=120,
                                 headers={"Authorization": f"Bearer {self.token}"})

    def get(self, path: str, **kwargs) -> httpx.Response:
        return self.http.get(path, **kwargs)

    def post(self, path: str, **kwargs) -> httpx.Response:
        return self.http.post(path, **kwargs)

    def patch(self, path: str, **kwargs) -> httpx.Response:
        return self.http.patch(path, **kwargs)

    def ok(self, method: str, path: str, **kwargs):
        response = self.http.request(method, path, **kwargs)
        assert response.is_success, f"{method} {path}: {response.status_code} {response.text}"
        return response.json() if response.content else None

    def close(self) -> None:
        self.http.close()


@pytest.fixture
def as_staff():
    """`as_staff(server, ANNA)` -> a StaffClient, closed after the test."""
    clients: list[StaffClient] = []

    def make(server: GatewayServer, account: Account) -> StaffClient:
        client = StaffClient(server, account)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()
