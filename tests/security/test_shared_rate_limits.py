"""Rate limits shared by gateway replicas (issue 17): on the production profile the limits are
counted in Redis, so N replicas behind the balancer allow a caller the limit, not N times it.
Each "replica" here is a `Limiters` built from production settings, as every gateway process
builds its own; they share nothing but Redis (the local one, 127.0.0.1:6379).

Every test counts under a key prefix of its own and deletes only those keys afterwards.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest
import redis

from bot.limits import Limiters, hit_all
from kefu_config.settings import PRODUCTION_DEFAULTS, Settings, with_profile_defaults

REDIS_URL = PRODUCTION_DEFAULTS["redis_url"]


@pytest.fixture
def key_prefix(monkeypatch):
    # The profile's own Redis, whatever the environment running the tests says.
    monkeypatch.delenv("KEFU_REDIS_URL", raising=False)
    prefix = f"kefu:test-limits:{uuid.uuid4().hex}"
    yield prefix
    client = redis.Redis.from_url(REDIS_URL)
    try:
        keys = list(client.scan_iter(match=f"{prefix}:*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


def replicas(key_prefix: str, count: int = 2, **limits) -> list[Limiters]:
    settings = with_profile_defaults(Settings(profile="production", **limits))
    assert settings.rate_limit_storage_url == f"async+{REDIS_URL}"
    return [Limiters(settings, key_prefix=key_prefix) for _ in range(count)]


def test_two_replicas_allow_the_sign_in_limit_once_not_twice(key_prefix):
    async def scenario() -> None:
        a, b = replicas(key_prefix, login_ip_max_failures=4, login_ip_window_seconds=600)
        # The attacker's failures land on both replicas, as a balancer spreads them.
        for replica in (a, b, a, b):
            assert await replica.login_ip.check("203.0.113.7") == 0
            assert await replica.login_ip.hit("203.0.113.7") == 0
        # Four in all: both replicas now refuse that IP, and say the same wait.
        wait_a = await a.login_ip.check("203.0.113.7")
        wait_b = await b.login_ip.check("203.0.113.7")
        assert 0 < wait_a <= 600 and wait_b == pytest.approx(wait_a, abs=1)
        assert await b.login_ip.check("198.51.100.20") == 0  # another IP is not affected

    asyncio.run(scenario())


def test_two_replicas_share_the_rest_limits_per_sender_and_per_ip(key_prefix):
    async def scenario() -> None:
        a, b = replicas(key_prefix, rest_sender_max=3, rest_ip_max=5)

        async def message(replica: Limiters, sender: str) -> str | None:
            refused = await hit_all((replica.rest_ip, "203.0.113.40"),
                                    (replica.rest_sender, sender))
            return None if refused is None else refused[0].name

        assert [await message(r, "chatty") for r in (a, b, a)] == [None, None, None]
        assert [await message(r, "chatty") for r in (b, a)] == ["rest_sender", "rest_sender"]
        # The refused messages used none of the IP's five: two more senders fit, then no more.
        assert [await message(r, s) for r, s in ((b, "x"), (a, "y"), (b, "z"))] == \
            [None, None, "rest_ip"]

    asyncio.run(scenario())


def test_two_replicas_keep_one_pace_per_telegram_chat(key_prefix):
    async def scenario() -> float:
        a, b = replicas(key_prefix, telegram_chat_rate=1.0)
        loop = asyncio.get_running_loop()
        started = loop.time()
        for replica in (a, b, a):
            await replica.telegram_chat.wait_turn("5550001")
        return loop.time() - started

    assert asyncio.run(scenario()) >= 1.9  # one send a second to the chat, whichever replica


def test_the_default_profile_counts_in_each_process(key_prefix):
    # Memory storage: one process's count, which is all one machine needs.
    settings = Settings(profile="default", login_ip_max_failures=1)
    assert settings.rate_limit_storage_url == "async+memory://"

    async def scenario() -> None:
        a, b = Limiters(settings, key_prefix=key_prefix), Limiters(settings, key_prefix=key_prefix)
        assert await a.login_ip.hit("ip") == 0 and await a.login_ip.hit("ip") > 0
        assert await b.login_ip.hit("ip") == 0

    asyncio.run(scenario())
