"""One real stack for every fault test, built so that a test can break one part of it.

The action server, Rasa (with the trained model) and the gateway run as separate processes
(`kefu.supervisor`, the same specs `kefu run` uses), so a test can kill or restart one of them.
The customer store is the real PostgreSQL, in a throw-away schema, reached by every process
through a TCP proxy the test can cut (tests/support/tcp_proxy.py). Telegram is the local
Bot API server (tests/support/fake_bot_api.py); the gateway long-polls it.

Rasa loads for a minute or more, so the stack is shared by the whole package; each test uses
its own sender ids and chat ids. The tests read the store directly (not through the proxy).
"""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import quote

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from crm_store.models import Direction, Message
from kefu.stack import action_server_spec, gateway_spec, rasa_spec
from kefu.supervisor import Child, ChildSpec, Supervisor
from kefu_config.settings import REPO_ROOT, Settings
from tests.conftest import free_port
from tests.crm_store.conftest import _require_postgres
from tests.support import conversation_log
from tests.support.fake_bot_api import FakeBotApi
from tests.support.tcp_proxy import TcpProxy

chats = itertools.count(8_810_001)
senders = itertools.count(1)


@dataclass
class Store:
    """The test's own view of the customer store: straight to PostgreSQL, not via the proxy."""

    url: str  # direct
    proxied_url: str  # what the Kefu processes use
    proxy: TcpProxy

    def messages(self, channel: str, external_id: str) -> list[Message]:
        return conversation_log.messages(channel, external_id, self.url)

    def inbound_texts(self, channel: str, external_id: str) -> list[str]:
        return conversation_log.inbound_texts(channel, external_id, self.url)

    def outbound_texts(self, channel: str, external_id: str) -> list[str]:
        return [m.text for m in self.messages(channel, external_id)
                if m.direction == Direction.OUTBOUND]


@dataclass
class FaultStack:
    settings: Settings
    supervisor: Supervisor
    specs: dict[str, ChildSpec]
    store: Store
    proxy: TcpProxy
    bot_api: FakeBotApi
    # Between the gateway and Rasa: hold() it and a customer message is stored but never
    # answered, as when the gateway dies mid-turn.
    rasa_proxy: TcpProxy
    children: dict[str, Child] = field(default_factory=dict)

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.gateway_port}"

    def start(self, name: str) -> float:
        """Start (again) one process and wait until it is healthy; the seconds it took."""
        child = self.children[name] = self.supervisor.start(self.specs[name])
        return self.supervisor.wait_healthy(child)

    def kill(self, name: str) -> None:
        """SIGKILL: the process dies mid-whatever, as in a crash or an OOM kill."""
        process = self.children[name].process
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(30)

    def stop(self, name: str) -> None:
        """SIGTERM and wait, as a deployment restarting it does."""
        process = self.children[name].process
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(30)

    def log(self, name: str) -> str:
        return self.children[name].log_path.read_text(errors="replace")

    def rest(self, sender: str, message: str, message_id: str | None = None,
             timeout: float = 90.0) -> httpx.Response:
        body = {"sender": sender, "message": message}
        if message_id is not None:
            body["message_id"] = message_id
        return httpx.post(f"{self.gateway_url}/webhooks/rest/webhook", json=body,
                          timeout=timeout)

    def says(self, sender: str, message: str, message_id: str | None = None) -> str:
        """What a REST customer reads in reply, as one text (asserting a 200)."""
        response = self.rest(sender, message, message_id)
        assert response.status_code == 200, response.text
        return "\n".join(m.get("text") or "" for m in response.json())


def wait_for(predicate, timeout: float = 30.0, what: str = "condition", interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def new_sender(prefix: str) -> str:
    return f"fault-{prefix}-{next(senders)}-{uuid.uuid4().hex[:6]}"


def _schema_url(base: str, schema: str, host: str, port: int) -> str:
    url = make_url(base).set(host=host, port=port)
    rendered = url.render_as_string(hide_password=False)
    separator = "&" if "?" in rendered else "?"
    return f"{rendered}{separator}options={quote(f'-csearch_path={schema}')}"


@pytest.fixture(scope="package")
def store() -> Iterator[Store]:
    """A fresh schema on the real PostgreSQL with the demo shop, and the proxy in front."""
    base = _require_postgres()
    parsed = make_url(base)
    schema = f"kefu_faults_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    direct = _schema_url(base, schema, parsed.host or "127.0.0.1", parsed.port or 5432)
    proxy = TcpProxy((parsed.host or "127.0.0.1", parsed.port or 5432)).start()
    proxied = _schema_url(base, schema, "127.0.0.1", proxy.port)
    # Migrate and load the demo shop in a child process: the store's engine is global, and
    # this package must not repoint it under other tests.
    prepared = subprocess.run(
        [sys.executable, "-c", "from crm_store import migrate; from kefu import demo; migrate.upgrade(); "
                               "demo.load_if_empty()"],
        cwd=REPO_ROOT, env={**os.environ, "KEFU_DATABASE_URL": direct},
        capture_output=True, text=True, timeout=300)
    assert prepared.returncode == 0, prepared.stdout + prepared.stderr
    yield Store(direct, proxied, proxy)
    proxy.close()
    from crm_store import db

    engine = db.get_engine(direct)
    engine.dispose()
    with admin.connect() as connection:
        connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(scope="package")
def bot_api() -> Iterator[FakeBotApi]:
    with FakeBotApi() as api:
        yield api


@pytest.fixture(scope="package")
def stack(store, bot_api, tmp_path_factory) -> Iterator[FaultStack]:
    if not any((REPO_ROOT / "models").glob("*.tar.gz")):
        pytest.fail("no trained Rasa model in models/ (run `make train`)")
    data_dir = tmp_path_factory.mktemp("kefu-faults")
    settings = Settings(data_dir=data_dir, database_url=store.proxied_url,
                        gateway_port=free_port(), rasa_port=free_port(),
                        action_port=free_port())
    common = {"HF_HUB_OFFLINE": "1", "KEFU_DATABASE_URL": store.proxied_url,
              "KEFU_DATA_DIR": str(data_dir)}
    specs = {"actions": action_server_spec(settings), "rasa": rasa_spec(settings),
             "gateway": gateway_spec(settings)}
    for spec in specs.values():
        spec.env.update(common)
    specs["gateway"].env.update({
        "KEFU_TELEGRAM_TOKEN": bot_api.token, "KEFU_TELEGRAM_API_URL": bot_api.url,
        "KEFU_OUTBOUND_SWEEP_INTERVAL": "0.5", "KEFU_OUTBOUND_MAX_ATTEMPTS": "3",
        "KEFU_RASA_TIMEOUT": "60",
    })
    rasa_proxy = TcpProxy(("127.0.0.1", settings.rasa_port)).start()
    specs["gateway"].env.update({"KEFU_RASA_PORT": str(rasa_proxy.port),
                                 "KEFU_UNANSWERED_SWEEP_INTERVAL": "1"})
    supervisor = Supervisor(data_dir / "logs", cwd=REPO_ROOT)
    running = FaultStack(settings, supervisor, specs, store, store.proxy, bot_api, rasa_proxy)
    try:
        for name in ("actions", "rasa", "gateway"):
            running.start(name)
        bot_api.wait_for(lambda: bot_api.sent("getUpdates"), what="the bot to start polling")
        yield running
    finally:
        supervisor.stop_all()
        rasa_proxy.close()
