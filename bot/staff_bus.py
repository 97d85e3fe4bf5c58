"""Live events for staff (the agent console subscribes): customer messages, handoffs, modes.

Events are plain JSON-serialisable dicts with a "type" ("message", "handoff.requested",
"handoff.claimed", "handoff.released", "agents.changed", "conversation.mode",
"delivery.failed") and, for a conversation's events, its id, so that an implementation
over Redis pub/sub (several gateway replicas) can replace the in-process one without changing
publishers or subscribers: `publish(event)` and `async with bus.subscribe() as events:
async for event in events`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Protocol

logger = logging.getLogger(__name__)

Event = dict[str, Any]


class StaffBus(Protocol):
    async def publish(self, event: Event) -> None: ...

    def subscribe(self) -> Any:
        """An async context manager yielding an async iterator of events."""


class InProcessStaffBus:
    """Fan-out to subscribers in this process. A subscriber that falls behind by more than
    `max_backlog` events loses the oldest ones (logged): a stuck browser must not make the
    gateway hold customer messages in memory without bound — they are all in crm_store."""

    def __init__(self, max_backlog: int = 1000) -> None:
        self._subscribers: set[asyncio.Queue[Event]] = set()
        self._max_backlog = max_backlog

    async def publish(self, event: Event) -> None:
        for queue in list(self._subscribers):
            if queue.full():
                queue.get_nowait()
                logger.warning("staff subscriber is behind; dropped its oldest event")
            queue.put_nowait(event)

    @asynccontextmanager
    async def subscribe(self) -> AsyncIterator[AsyncIterator[Event]]:
        queue: asyncio.Queue[Event] = asyncio.Queue(self._max_backlog)
        self._subscribers.add(queue)

        async def events() -> AsyncIterator[Event]:
            while True:
                yield await queue.get()

        try:
            yield events()
        finally:
            self._subscribers.discard(queue)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)


class RedisStaffBus:
    """The same interface across gateway replicas: events go through Redis pub/sub
    (bot/fanout.py) and every replica hands them to its own subscribers, including the
    replica that published them, so every console sees one stream in one order.

    If Redis cannot be reached the event still reaches this replica's consoles (logged): the
    customer's message is stored either way, and a live view of part of the staff is better
    than an error for the customer."""

    CHANNEL = "staff"

    def __init__(self, fanout: Any, max_backlog: int = 1000) -> None:
        self._fanout = fanout
        self._local = InProcessStaffBus(max_backlog)

    async def start(self) -> None:
        await self._fanout.subscribe(self.CHANNEL, self._local.publish)

    async def publish(self, event: Event) -> None:
        try:
            await self._fanout.publish(self.CHANNEL, event)
        except Exception as exc:  # RedisError, or not connected
            logger.warning("staff event not shared with other replicas (%r); local only", exc)
            await self._local.publish(event)

    def subscribe(self) -> Any:
        return self._local.subscribe()

    @property
    def subscriber_count(self) -> int:
        return self._local.subscriber_count
