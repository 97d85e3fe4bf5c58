"""bot/limits.py on its own: the sliding window and Retry-After arithmetic with a clock the
test moves, and the body limit on a bare ASGI app that reads its body in pieces."""

from __future__ import annotations

import asyncio

import pytest

from bot.limits import BodyLimit, RateLimiter, retry_after


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_window_slides_and_says_how_long_to_wait():
    clock = Clock()
    limiter = RateLimiter(3, 60.0, clock=clock)
    assert [limiter.hit("ip") for _ in range(3)] == [0, 0, 0]
    clock.now += 20
    assert limiter.hit("ip") == pytest.approx(40.0)  # the first hit leaves the window at 60 s
    assert limiter.check("other") == 0  # keys are separate
    clock.now += 40
    # All three left the window; the refused hit was never counted.
    assert [limiter.hit("ip") for _ in range(3)] == [0, 0, 0]
    clock.now += 15
    assert limiter.check("ip") == pytest.approx(45.0)
    assert retry_after(0.2) == "1" and retry_after(40.0) == "40" and retry_after(40.1) == "41"


def test_forgotten_keys_do_not_pile_up():
    clock = Clock()
    limiter = RateLimiter(1, 1.0, clock=clock)
    limiter.SWEEP_AT = 100
    for n in range(100):
        limiter.hit(f"caller-{n}")
    clock.now += 5
    limiter.hit("new")
    assert len(limiter._events) == 1


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
