"""Messages between gateway replicas over Redis pub/sub (KEFU_REDIS_URL).

Two things cross replicas: staff events (an agent console connected to replica A must see a
customer message that arrived at replica B; bot/staff_bus.py `RedisStaffBus`) and web-widget
deliveries (a reply for a session whose websocket is open on another replica;
bot/channels/web.py). Each process holds one publishing connection and one subscribing
connection; handlers run in the process that subscribed.

Pub/sub is fire-and-forget: nothing is kept for a replica that is not listening. That is
enough here because everything is stored in crm_store first; live delivery is a convenience
on top (a widget gets what it missed with its history, the console reloads from the store).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, wait_fixed

logger = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any]], Awaitable[None]]

# All of Kefu's channels start with this, so that one Redis can serve several things.
PREFIX = "kefu:"
# The subscription the listener always holds (redis-py stops reading with none).
CONTROL_CHANNEL = PREFIX + "control"
# How long `subscribe` waits for Redis to confirm the subscription.
SUBSCRIBE_TIMEOUT = 5.0


def _log_failed_read(state: RetryCallState) -> None:
    error = state.outcome.exception() if state.outcome else None
    logger.warning("Redis pub/sub read failed (%r); retrying", error)


class RedisFanout:
    def __init__(self, url: str) -> None:
        # Connects on first use; a Redis that is away fails fast instead of holding up a reply.
        self._redis = Redis.from_url(url, socket_connect_timeout=2.0)
        self._pubsub: Any = None
        self._handlers: dict[str, Handler] = {}
        # Subscriptions sent but not yet confirmed by Redis (the listener reads the answers).
        self._confirmations: dict[str, asyncio.Event] = {}
        self._listener: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._redis.ping()  # fail at start, not at the first customer message
        self._pubsub = self._redis.pubsub()
        await self._pubsub.subscribe(CONTROL_CHANNEL)
        self._listener = asyncio.create_task(self._listen(), name="redis-fanout")

    async def stop(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            await asyncio.gather(self._listener, return_exceptions=True)
            self._listener = None
        if self._pubsub is not None:
            await self._pubsub.aclose()
        await self._redis.aclose()

    async def publish(self, channel: str, data: dict[str, Any]) -> int:
        """Send `data` to every process subscribed to `channel`; returns how many there are
        (Redis counts subscribed connections, and each process has one). Raises RedisError."""
        return int(await self._redis.publish(PREFIX + channel, json.dumps(data, default=str)))

    async def subscribe(self, channel: str, handler: Handler) -> None:
        name = PREFIX + channel
        self._handlers[name] = handler
        confirmed = self._confirmations[name] = asyncio.Event()
        await self._pubsub.subscribe(name)
        # SUBSCRIBE returns before Redis has registered it, and a publish in between reaches
        # nobody: a reply for a widget that has just connected would be held back until its
        # next visit. So wait for Redis's confirmation.
        try:
            await asyncio.wait_for(confirmed.wait(), SUBSCRIBE_TIMEOUT)
        except TimeoutError:
            logger.warning("Redis did not confirm the subscription to %s in %s s",
                           name, SUBSCRIBE_TIMEOUT)
        finally:
            if self._confirmations.get(name) is confirmed:
                del self._confirmations[name]

    async def unsubscribe(self, channel: str) -> None:
        self._handlers.pop(PREFIX + channel, None)
        await self._pubsub.unsubscribe(PREFIX + channel)

    async def _listen(self) -> None:
        # A failed read is tried again a second later: redis-py reconnects and subscribes
        # again on the next read.
        read = AsyncRetrying(retry=retry_if_exception_type((RedisError, OSError)),
                             wait=wait_fixed(1.0), before_sleep=_log_failed_read)
        while True:
            message = await read(self._pubsub.get_message, timeout=1.0)
            if message is None:
                continue
            channel = message["channel"]
            channel = channel.decode() if isinstance(channel, bytes) else channel
            if message.get("type") == "subscribe":
                confirmed = self._confirmations.get(channel)
                if confirmed is not None:
                    confirmed.set()
                continue
            if message.get("type") != "message":
                continue
            handler = self._handlers.get(channel)
            if handler is None:
                continue
            try:
                await handler(json.loads(message["data"]))
            except asyncio.CancelledError:
                raise
            except Exception:  # one bad message or handler must not stop the listener
                logger.exception("handling a message on %s failed", channel)
