"""Request limits for the gateway: body size, customer message text, and rate limits.

One place for the rules the channels and APIs apply, so that every channel refuses the same
customer messages for the same reasons (the REST channel uses `message_problem`; the web
widget's own limit, bot/channels/web.py MAX_TEXT_CHARS, is the same 2,000 characters):

  - `BodyLimit`: pure ASGI middleware that counts body bytes as they stream in, so a chunked
    request without Content-Length is refused (413) as soon as it passes the limit, not after
    it has been read whole;
  - `message_problem(text)`: why a customer's message cannot be taken (empty, over
    `max_message_chars`, or holding characters no store can keep), or None;
  - `Limit`: at most so many events per key (a client IP, a REST sender, a Telegram chat) in
    any window, answering how long the caller must wait; `Limiters` holds the gateway's
    (failed sign-ins per IP, REST messages per sender and per IP, web messages per IP and per
    connection, sends per Telegram chat).

The numbers are `kefu_config.settings.Settings` fields (`KEFU_MAX_BODY_BYTES`,
`KEFU_MAX_MESSAGE_CHARS`, `KEFU_LOGIN_IP_MAX_FAILURES`, ...). Rate limits are counted by the
`limits` library (a moving window) in `Settings.rate_limit_storage_url`: this process's memory
on the default profile, Redis on the production profile, so N gateway replicas behind the
balancer allow the limit once, not N times.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import re
import time

from limits import RateLimitItem, RateLimitItemPerSecond
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError
from limits.storage import storage_from_string
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kefu_config.settings import Settings, get_settings

logger = logging.getLogger(__name__)

# Every rate-limit key in a shared Redis starts with this (bot/fanout.py's channels: "kefu:").
KEY_PREFIX = "kefu:limits"


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
    limit = max_chars if max_chars is not None else get_settings().max_message_chars
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

    def __init__(self, app: ASGIApp, max_bytes: int | None = None,
                 larger: dict[str, int] | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes if max_bytes is not None else get_settings().max_body_bytes
        # Paths that take more (the chat's file upload), exactly as written.
        self.larger = dict(larger or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.larger.get(scope.get("path", ""), self.max_bytes)
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

class Limit:
    """At most `item.amount` events per key in any `item.get_expiry()` seconds (a moving
    window counted by `limits`; windows are whole seconds, rounded up).

    `hit(key)` counts one event and returns 0 when it is within the limit, else the seconds
    until the oldest counted event leaves the window (what Retry-After says); a refused event
    is not counted, so a caller that waits as told gets through. `check(key)` answers the
    same without counting (for limits on failures: count only when the attempt failed).

    A limit that cannot be counted (Redis away) lets the event through, with a warning: a
    shop that answers nobody because its counter is down is worse off than one flooded for
    as long as Redis is away (sign-ins still have the per-address lockout in the store).
    """

    def __init__(self, strategy: MovingWindowRateLimiter, name: str, item: RateLimitItem) -> None:
        self._strategy = strategy
        self.name = name
        self.item = item

    async def check(self, key: str) -> float:
        return await self._answer(key, count=False)

    async def hit(self, key: str) -> float:
        return await self._answer(key, count=True)

    async def wait_turn(self, key: str) -> None:
        """Wait until `key` may have another event, then count it: pacing, not refusing."""
        while wait := await self.hit(key):
            await asyncio.sleep(wait)

    async def _answer(self, key: str, *, count: bool) -> float:
        try:
            if count:
                allowed = await self._strategy.hit(self.item, self.name, key)
            else:
                allowed = await self._strategy.test(self.item, self.name, key)
            if allowed:
                return 0.0
            stats = await self._strategy.get_window_stats(self.item, self.name, key)
        except StorageError as exc:
            logger.warning("rate limit %s not counted (%r); letting it through", self.name,
                           exc.storage_error)
            return 0.0
        return max(0.001, stats.reset_time - time.time())


def rate(max_events: int, window_seconds: float) -> RateLimitItem:
    """`max_events` per `window_seconds` (rounded up to whole seconds, as `limits` counts)."""
    if max_events < 1 or window_seconds <= 0:
        raise ValueError("a rate limit needs max_events >= 1 and window > 0")
    return RateLimitItemPerSecond(max_events, max(1, math.ceil(window_seconds)))


def per_second(events: float) -> RateLimitItem:
    """A pace of `events` a second: 1.0 is one per second, 0.5 one per two seconds."""
    if events >= 1:
        return rate(round(events), 1)
    return rate(1, 1 / events)


async def hit_all(*pairs: tuple[Limit, str]) -> tuple[Limit, float] | None:
    """Count one event on each (limit, key), or on none: the first limit that is full and
    its wait. All are checked before any counts, so a refused event uses up no limit."""
    for limit, key in pairs:
        if wait := await limit.check(key):
            return limit, wait
    for limit, key in pairs:
        # Another request (or replica) may have taken the last place since the check.
        if wait := await limit.hit(key):
            return limit, wait
    return None


class Limiters:
    """The gateway's rate limits, one set per app (`limiters_for(app)`), all counted in the
    storage `settings` name; `key_prefix` keeps their keys apart from others in a Redis."""

    def __init__(self, settings: Settings | None = None, *, key_prefix: str = KEY_PREFIX) -> None:
        settings = settings or get_settings()
        self.settings = settings
        # Memory storage ignores the Redis options. Short timeouts: a Redis that is away must
        # not hold up a customer's message (see `Limit`).
        self.storage = storage_from_string(
            settings.rate_limit_storage_url, wrap_exceptions=True, implementation="redispy",
            key_prefix=key_prefix, socket_connect_timeout=2.0, socket_timeout=2.0)
        self._strategy = MovingWindowRateLimiter(self.storage)
        self.login_ip = self.limit("login_ip", rate(settings.login_ip_max_failures,
                                                    settings.login_ip_window_seconds))
        self.rest_sender = self.limit("rest_sender", rate(settings.rest_sender_max,
                                                          settings.rest_sender_window_seconds))
        self.rest_ip = self.limit("rest_ip", rate(settings.rest_ip_max,
                                                  settings.rest_ip_window_seconds))
        self.web_ip = self.limit("web_ip", rate(settings.web_ip_max,
                                                settings.web_ip_window_seconds))
        # Customers' photos and files, per chat and per customer (bot/attachments.py).
        self.attachments = self.limit("attachments",
                                      rate(settings.attachment_customer_max,
                                           settings.attachment_customer_window_seconds))
        # Telegram's own limit for one chat; sends wait for their turn (bot/channels/telegram.py).
        self.telegram_chat = self.limit("telegram_chat", per_second(settings.telegram_chat_rate))

    def limit(self, name: str, item: RateLimitItem) -> Limit:
        """A limit counted in this storage; `name` keeps its keys apart from the others'."""
        return Limit(self._strategy, name, item)


def limiters_for(app: Starlette) -> Limiters:
    """The app's limiters, made on first use from the app's settings (a test may put its own
    on `app.state`)."""
    limiters = getattr(app.state, "limiters", None)
    if limiters is None:
        limiters = app.state.limiters = Limiters(getattr(app.state, "settings", None))
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
