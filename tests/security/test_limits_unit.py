"""bot/limits.py on its own: the moving window and Retry-After arithmetic with a clock the
test moves (memory storage, as on the default profile), and the body limit on a bare ASGI
app that reads its body in pieces. The same limits on Redis: test_shared_rate_limits.py."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest
from limits.aio.storage import memory

from bot import limits
from bot.limits import BodyLimit, Limiters, hit_all, per_second, rate, retry_after
from kefu_config.settings import Settings


@pytest.fixture
def clock(monkeypatch):
    """The time `limits` counts with (and bot/limits.py computes waits from), moved by hand."""
    now = SimpleNamespace(value=1000.0)
    fake = SimpleNamespace(time=lambda: now.value)
    monkeypatch.setattr(memory, "time", fake)
    monkeypatch.setattr(limits, "time", fake)
    return now


def test_the_window_slides_and_says_how_long_to_wait(clock):
    async def scenario() -> None:
        limit = Limiters(Settings()).limit("unit", rate(3, 60.0))
        assert [await limit.hit("ip") for _ in range(3)] == [0, 0, 0]
        clock.value += 20
        assert await limit.hit("ip") == pytest.approx(40.0)  # the first leaves the window at 60 s
        assert await limit.check("other") == 0  # keys are separate
        # All three left the window (`limits` counts an event exactly 60 s old as inside
        # it); the refused hit was never counted.
        clock.value += 40.5
        assert [await limit.hit("ip") for _ in range(3)] == [0, 0, 0]
        clock.value += 15
        assert await limit.check("ip") == pytest.approx(45.0)

    asyncio.run(scenario())
    assert retry_after(0.2) == "1" and retry_after(40.0) == "40" and retry_after(40.1) == "41"


def test_limits_with_the_same_numbers_count_apart(clock):
    async def scenario() -> None:
        limiters = Limiters(Settings(rest_ip_max=2, web_ip_max=2, rest_ip_window_seconds=60,
                                     web_ip_window_seconds=60))
        assert [await limiters.rest_ip.hit("203.0.113.9") for _ in range(3)][2] > 0
        assert await limiters.web_ip.hit("203.0.113.9") == 0

    asyncio.run(scenario())


def test_a_refused_event_uses_up_none_of_the_limits(clock):
    async def scenario() -> None:
        limiters = Limiters(Settings())
        small, large = limiters.limit("small", rate(1, 60)), limiters.limit("large", rate(3, 60))
        assert await hit_all((large, "ip"), (small, "sender")) is None
        refused = await hit_all((large, "ip"), (small, "sender"))
        assert refused is not None and refused[0] is small and refused[1] == pytest.approx(60)
        # The large limit counted only the message that went through: two more fit.
        assert await hit_all((large, "ip"), (small, "other")) is None
        assert await large.hit("ip") == 0 and await large.hit("ip") > 0

    asyncio.run(scenario())


def test_windows_are_whole_seconds_and_paces_become_limits():
    assert rate(20, 10.0).get_expiry() == 10 and rate(5, 0.2).get_expiry() == 1
    assert (per_second(1.0).amount, per_second(1.0).get_expiry()) == (1, 1)
    assert (per_second(0.5).amount, per_second(0.5).get_expiry()) == (1, 2)
    with pytest.raises(ValueError):
        rate(0, 60)


def test_a_pace_waits_for_its_turn_instead_of_refusing():
    async def scenario() -> float:
        pace = Limiters(Settings()).limit("pace", rate(1, 1))
        loop = asyncio.get_running_loop()
        started = loop.time()
        for _ in range(3):
            await pace.wait_turn("chat")
        return loop.time() - started

    assert asyncio.run(scenario()) >= 1.9  # the second and third each waited about a second


def test_a_limit_that_cannot_be_counted_lets_the_caller_through(caplog):
    # Redis away on the production profile (nothing listens on this port).
    settings = Settings(profile="production", redis_url="redis://127.0.0.1:9/0",
                        login_ip_max_failures=1)
    login_ip = Limiters(settings).login_ip
    assert asyncio.run(login_ip.hit("ip")) == 0 and asyncio.run(login_ip.hit("ip")) == 0
    assert "rate limit login_ip not counted" in caplog.text


def run_asgi(app, chunks: list[bytes], headers: list[tuple[bytes, bytes]]) -> tuple[int, bytes]:
    messages = [{"type": "http.request", "body": c, "more_body": i < len(chunks) - 1}
                for i, c in enumerate(chunks)]
    sent: list[dict] = []

    async def receive():
        return messages.pop(0)

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/", "headers": headers}
    asyncio.run(app(scope, receive, send))
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, body


async def reads_everything(scope, receive, send):
    size = 0
    while True:
        message = await receive()
        size += len(message.get("body", b""))
        if not message.get("more_body"):
            break
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": str(size).encode()})


async def swallows_errors(scope, receive, send):
    try:
        await reads_everything(scope, receive, send)
    except Exception:  # noqa: BLE001 - an app that hides the error must not get the body
        pass


@pytest.mark.parametrize("app", [reads_everything, swallows_errors])
def test_a_streamed_body_over_the_limit_is_refused_with_413(app):
    limited = BodyLimit(app, max_bytes=100)
    assert run_asgi(limited, [b"a" * 60, b"a" * 40], []) == (200, b"100")
    status, body = run_asgi(limited, [b"a" * 60, b"a" * 60, b"a" * 60], [])
    assert status == 413 and b"request body over 100 bytes" in body


def test_a_declared_length_over_the_limit_is_refused_before_reading():
    limited = BodyLimit(reads_everything, max_bytes=100)
    status, _ = run_asgi(limited, [b""], [(b"content-length", b"5000")])
    assert status == 413
    status, body = run_asgi(limited, [b""], [(b"content-length", b"12abc")])
    assert status == 400 and b"Content-Length" in body
