"""Guessing link codes is limited per chat across gateway replicas: the count lives in the
shared store, so a guesser who reconnects to another replica has no fresh tries.

Two real gateways (uvicorn, in this process) on one store; link codes are answered by the
gateway itself, so no Rasa is needed."""

from __future__ import annotations

import pytest

from crm_store import db, migrate
from crm_store.services.link_codes import MAX_FAILED_GUESSES
from kefu_config.settings import Settings
from tests.channels.test_web import Chat, bot_reply
from tests.conftest import free_port
from tests.support.gateway_server import GatewayServer


@pytest.fixture
def two_gateways(tmp_path):
    url = f"sqlite:///{tmp_path / 'kefu.db'}"
    db.configure(url)
    migrate.upgrade(url=url)
    servers = [GatewayServer(Settings(data_dir=tmp_path / f"gw{i}", database_url=url,
                                      gateway_port=free_port(), rasa_port=free_port(),
                                      action_port=free_port(), outbound_sweep_interval=0.5)
                             ).start() for i in (1, 2)]
    yield servers
    for server in servers:
        server.stop()
    db.reset_engine()


def _try(chat: Chat, code: str) -> str:
    chat.say(f"link {code}")
    return next(f for f in chat.until(bot_reply, timeout=20) if bot_reply(f))["text"]


def test_a_guesser_switching_replicas_gets_no_fresh_tries(two_gateways):
    first, second = two_gateways
    chat = Chat(first)
    for attempt in range(MAX_FAILED_GUESSES):
        assert "didn't work" in _try(chat, f"ZZZZZ{attempt}")
    chat.close()
    again = Chat(second, session=chat.session)  # the same chat, now on the other replica
    assert _try(again, "ZZZZZ9").startswith("Too many wrong codes")
    again.close()
    # Another chat is not affected.
    other = Chat(second)
    assert "didn't work" in _try(other, "ZZZZZ8")
    other.close()
