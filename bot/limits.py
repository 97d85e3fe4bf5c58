"""Request limits for the gateway: body size, customer message text, and rate limits.

One place for the rules the channels and APIs apply, so that every channel refuses the same
customer messages for the same reasons (the REST channel uses `message_problem`; the web
widget's own limit, bot/channels/web.py MAX_TEXT_CHARS, is the same 2,000 characters):

  - `BodyLimit`: pure ASGI middleware that counts body bytes as they stream in, so a chunked
    request without Content-Length is refused (413) as soon as it passes the limit, not after
    it has been read whole;
  - `message_problem(text)`: why a customer's message cannot be taken (empty, over
    `MAX_MESSAGE_CHARS`, or holding characters no store can keep), or None;
  - `RateLimiter`: a sliding window per key (a client IP, a REST sender) answering how long
    the caller must wait; `Limiters` holds the gateway's (failed sign-ins per IP, REST
    messages per sender and per IP).

Defaults are constants here; each can be changed with an environment variable
(`KEFU_MAX_BODY_BYTES`, `KEFU_MAX_MESSAGE_CHARS`, `KEFU_LOGIN_IP_MAX_FAILURES`, ...) read by
`LimitSettings`. Rate limits are counted per gateway process: with N replicas behind a load
balancer a caller gets at most N times the limit, which still stops guessing and flooding.
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from functools import lru_cache

from pydantic_settings import BaseSettings, SettingsConfigDict
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Webhooks and APIs take small JSON documents; a megabyte is far beyond any honest one.
MAX_BODY_BYTES = 1_000_000
# What a customer may write in one message, on every channel. The web widget has always
# stopped at 2,000; Telegram allows 4,096. Longer texts are pastes (logs, whole e-mails) that
# the dialogue cannot understand anyway; the customer is asked to shorten them.
MAX_MESSAGE_CHARS = 2_000

# Staff sign-in: failed attempts from one client IP (any addresses) before it must wait. The
# per-address lockout (KEFU_LOGIN_MAX_FAILURES, crm_store) stops guessing one password; this
# stops one machine trying one password on many addresses.
LOGIN_IP_MAX_FAILURES = 20
LOGIN_IP_WINDOW_SECONDS = 900.0
# The public REST channel: messages per sender and per client IP.
REST_SENDER_MAX = 30
REST_SENDER_WINDOW_SECONDS = 60.0
REST_IP_MAX = 120
REST_IP_WINDOW_SECONDS = 60.0
# Web widget messages per client IP: a script opening fresh websockets gets no fresh budget.
WEB_IP_MAX = 120
WEB_IP_WINDOW_SECONDS = 60.0


class LimitSettings(BaseSettings):
    """The limits above, each overridable from the environment (KEFU_ prefix)."""

    model_config = SettingsConfigDict(env_prefix="KEFU_", extra="ignore")

    max_body_bytes: int = MAX_BODY_BYTES
    max_message_chars: int = MAX_MESSAGE_CHARS
    login_ip_max_failures: int = LOGIN_IP_MAX_FAILURES
    login_ip_window_seconds: float = LOGIN_IP_WINDOW_SECONDS
    rest_sender_max: int = REST_SENDER_MAX
    rest_sender_window_seconds: float = REST_SENDER_WINDOW_SECONDS
    rest_ip_max: int = REST_IP_MAX
    rest_ip_window_seconds: float = REST_IP_WINDOW_SECONDS
    web_ip_max: int = WEB_IP_MAX
    web_ip_window_seconds: float = WEB_IP_WINDOW_SECONDS


@lru_cache(maxsize=1)
def get_limits() -> LimitSettings:
    return LimitSettings()


# --- customer messages ---------------------------------------------------------------------------

# Lone UTF-16 surrogates are not text: they cannot be encoded as UTF-8, so neither PostgreSQL
# nor Rasa could take them. NUL cannot be stored in a PostgreSQL text column.
_NOT_TEXT = re.compile("[\x00\ud800-\udfff]")


_CONTROL = re.compile("[\x00-\x1f\x7f\ud800-\udfff]")


def has_control_characters(value: str) -> bool:
    """For identifiers (senders, ids): control characters or broken UTF-16 anywhere."""
    return _CONTROL.search(value) is not None


def message_problem(text: str, max_chars: int | None = None) -> str | None:
    """Why this customer message is refused, in words for the customer; None if it is fine.

    Everything else — emoji, right-to-left scripts, other control characters, quotes and
    markup — is a message like any other, stored exactly as sent.
    """
    limit = max_chars if max_chars is not None else get_limits().max_message_chars
    if not text.strip():
        return "the message is empty"
    if len(text) > limit:
        return (f"the message is too long ({len(text):,} characters); please keep it to "
                f"{limit:,} characters or fewer")
    if _NOT_TEXT.search(text):
        return "the message contains characters that are not text (NUL or broken UTF-16)"
    return None


# --- body size -----------------------------------------------------------------------------------

class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body over {limit:,} bytes")


class BodyLimit:
    """Refuses HTTP requests whose body is over `max_bytes`, counting as it streams.

    A declared Content-Length over the limit is refused before anything is read. Otherwise
    the bytes are counted as the app reads them; past the limit the read raises
    `BodyTooLarge`, which FastAPI answers as a 413; if it reaches this middleware, or the app
    swallowed it and answered nothing, this middleware answers the 413 itself.
    """

    def __init__(self, app: ASGIApp, max_bytes: int | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes if max_bytes is not None else get_limits().max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_bytes
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                if not value.isdigit():
                    await _refuse(send, "bad Content-Length header", 400)
                    return
                if int(value) > limit:
                    await _refuse(send, BodyTooLarge(limit).detail, 413)
                    return
        received = 0
        started = refused = False

        async def counting_receive() -> Message:
            nonlocal received, refused
            if refused:
                raise BodyTooLarge(limit)
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    refused = True
                    raise BodyTooLarge(limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge as exc:
            if started:
                raise
            await _refuse(send, exc.detail, 413)
            return
        if refused and not started:
            # The app caught the error and answered nothing: the caller still gets the 413.
            await _refuse(send, BodyTooLarge(limit).detail, 413)


async def _refuse(send: Send, reason: str, status: int) -> None:
    body = json.dumps({"detail": reason}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


# --- rate limits ---------------------------------------------------------------------------------

class RateLimiter:
    """At most `max_events` per key in any `window` seconds (a sliding window, in memory).

    `hit(key)` counts one event and returns 0 when it is within the limit, else the seconds
    until the oldest counted event leaves the window (what Retry-After says); a refused event
    is not counted, so a caller that waits as told gets through. `check(key)` answers the
    same without counting (for limits on failures: count only when the attempt failed).
    Thread-safe: sign-in checks run in worker threads as well as on the event loop.
    """

    # Keys seen are forgotten once their window is empty; this many keys trigger a sweep.
    SWEEP_AT = 10_000

    def __init__(self, max_events: int, window: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if max_events < 1 or window <= 0:
            raise ValueError("a rate limit needs max_events >= 1 and window > 0")
        self.max_events = max_events
        self.window = window
        self._clock = clock
        self._events: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        events = self._events.get(key)
        if events is None:
            if len(self._events) >= self.SWEEP_AT:
                self._sweep(now)
            events = self._events[key] = deque()
        while events and now - events[0] >= self.window:
            events.popleft()
        return events

    def _sweep(self, now: float) -> None:
        for key in [k for k, v in self._events.items() if not v or now - v[-1] >= self.window]:
            del self._events[key]

    def _wait(self, events: deque[float], now: float) -> float:
        if len(events) < self.max_events:
            return 0.0
        return max(0.001, events[len(events) - self.max_events] + self.window - now)

    def check(self, key: str) -> float:
        with self._lock:
            now = self._clock()
            return self._wait(self._recent(key, now), now)

    def hit(self, key: str) -> float:
        with self._lock:
            now = self._clock()
            events = self._recent(key, now)
            wait = self._wait(events, now)
            if not wait:
                events.append(now)
            return wait


class Limiters:
    """The gateway's rate limiters, one set per app (`limiters_for(app)`)."""

    def __init__(self, limits: LimitSettings | None = None) -> None:
        limits = limits or get_limits()
        self.limits = limits
        self.login_ip = RateLimiter(limits.login_ip_max_failures, limits.login_ip_window_seconds)
        self.rest_sender = RateLimiter(limits.rest_sender_max, limits.rest_sender_window_seconds)
        self.rest_ip = RateLimiter(limits.rest_ip_max, limits.rest_ip_window_seconds)
        self.web_ip = RateLimiter(limits.web_ip_max, limits.web_ip_window_seconds)


def limiters_for(app: Starlette) -> Limiters:
    """The app's limiters, made on first use (a test may put its own on `app.state`)."""
    limiters = getattr(app.state, "limiters", None)
    if limiters is None:
        limiters = app.state.limiters = Limiters()
    return limiters


def retry_after(seconds: float) -> str:
    """Retry-After is whole seconds; never 0, or a client would retry at once."""
    return str(max(1, math.ceil(seconds)))


def too_many(reason: str, seconds: float) -> HTTPException:
    """A 429 with the reason and when to come back."""
    wait = retry_after(seconds)
    return HTTPException(429, f"{reason}; try again in {wait} s",
                         headers={"Retry-After": wait})


def client_ip(request: HTTPConnection) -> str:
    """The caller's address as the server saw it (uvicorn applies X-Forwarded-For only from
    the proxies in --forwarded-allow-ips, so a client cannot choose its own)."""
    return request.client.host if request.client else "unknown"
