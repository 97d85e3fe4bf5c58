"""Outbound delivery: every message the gateway sends goes through here, in order, with retries.

Messages are stored PENDING first (crm_store), then delivered by one worker per conversation,
so a customer never sees answers out of order and a chat that is being rate-limited does not
hold up the others. Each attempt is recorded: delivered (or sent, when the web widget still has
to confirm it), retried later with backoff (a 429 waits exactly as long as Telegram asks), or
failed for good after `max_attempts`. A sweeper picks up what is due after a restart and what
other processes queued in the store (campaigns).

A web customer with no open chat is not an error: the message waits (deferred, no attempt
counted) and arrives with the history when they come back.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from bot import periodic, store
from bot.messages import ChatMessage
from bot.staff_bus import StaffBus
from bot.store import ConversationRef
from crm_store.models import utcnow

logger = logging.getLogger(__name__)

# How long one worker may hold a message before another may try it (a crashed attempt).
CLAIM_LEASE = timedelta(seconds=60)
# A message stored already claimed (a reply, `claim_until`) is sent without claiming it again
# while at least this much of its claim is left; otherwise it is claimed as usual.
CLAIM_MARGIN = timedelta(seconds=10)


def claim_until() -> datetime:
    """The end of a claim taken now: for replies stored already claimed (bot/store.py)."""
    return utcnow() + CLAIM_LEASE
MAX_BACKOFF = 60.0


@dataclass(frozen=True)
class Outcome:
    """What one delivery attempt achieved."""

    status: str  # delivered | sent | deferred | retry | failed
    error: str | None = None
    retry_after: float | None = None

    @classmethod
    def delivered(cls) -> Outcome:
        return cls("delivered")

    @classmethod
    def sent(cls) -> Outcome:
        return cls("sent")

    @classmethod
    def deferred(cls, reason: str) -> Outcome:
        return cls("deferred", reason)

    @classmethod
    def retry(cls, error: str, after: float | None = None) -> Outcome:
        return cls("retry", error, after)

    @classmethod
    def failed(cls, error: str) -> Outcome:
        return cls("failed", error)


class ChannelSender(Protocol):
    channel: str

    async def send(self, conversation: ConversationRef, message: ChatMessage) -> Outcome: ...


def backoff(attempt: int) -> float:
    """1, 2, 4, 8 ... seconds, capped at a minute."""
    return min(MAX_BACKOFF, 2.0 ** max(0, attempt - 1))


class Dispatcher:
    def __init__(self, bus: StaffBus, *, max_attempts: int = 8, sweep_interval: float = 5.0,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self._senders: dict[str, ChannelSender] = {}
        self._bus = bus
        self._max_attempts = max_attempts
        self._sweep_interval = sweep_interval
        self._sleep = sleep
        self._queues: dict[int, deque[tuple[ConversationRef, ChatMessage, datetime | None]]] = {}
        self._workers: dict[int, asyncio.Task[None]] = {}
        self._inflight: set[int] = set()
        self._sweeper: asyncio.Task[None] | None = None
        self._idle = asyncio.Event()
        self._idle.set()

    def register(self, sender: ChannelSender) -> None:
        self._senders[sender.channel] = sender

    def start(self) -> None:
        self._sweeper = asyncio.create_task(
            periodic.every(self._sweep_interval, self.sweep, "outbound sweep"),
            name="outbound-sweeper")

    async def stop(self) -> None:
        tasks = [t for t in [self._sweeper, *self._workers.values()] if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._workers.clear()
        self._queues.clear()
        self._inflight.clear()

    def enqueue(self, conversation: ConversationRef, message: ChatMessage,
                claimed_until: datetime | None = None) -> None:
        """Deliver `message` after the conversation's earlier ones (already stored PENDING;
        `claimed_until`: stored already claimed for this process until then)."""
        if message.id in self._inflight:
            return
        self._inflight.add(message.id)
        self._idle.clear()
        self._queues.setdefault(conversation.id, deque()).append(
            (conversation, message, claimed_until))
        if conversation.id not in self._workers:
            self._workers[conversation.id] = asyncio.create_task(
                self._work(conversation.id), name=f"outbound-{conversation.id}")

    async def wait_idle(self, timeout: float | None = None) -> None:
        """Until every queued message had its attempts (tests, shutdown)."""
        await asyncio.wait_for(self._idle.wait(), timeout)

    async def _work(self, conversation_id: int) -> None:
        queue = self._queues[conversation_id]
        try:
            while queue:
                conversation, message, claimed_until = queue.popleft()
                try:
                    await self._deliver(conversation, message, claimed_until)
                except asyncio.CancelledError:
                    raise
                except Exception:  # a bug in a sender must not stop the conversation's queue
                    logger.exception("delivering message %s failed unexpectedly", message.id)
                finally:
                    self._inflight.discard(message.id)
        finally:
            self._workers.pop(conversation_id, None)
            if not queue:
                self._queues.pop(conversation_id, None)
            if not self._workers:
                self._idle.set()

    async def _deliver(self, conversation: ConversationRef, message: ChatMessage,
                       claimed_until: datetime | None = None) -> None:
        sender = self._senders.get(conversation.channel)
        held = claimed_until is not None and utcnow() < claimed_until - CLAIM_MARGIN
        while True:
            # Bookkeeping waits out a short database outage: a message sent but not recorded
            # would be sent again once its claim lapses.
            if not held and not await store.run(store.claim(message.id, claim_until()),
                                                wait=store.OUTAGE_GRACE):
                return  # delivered meanwhile, or another worker has it
            held = False  # a retry claims again
            if sender is None:
                outcome = Outcome.retry(f"the {conversation.channel} channel is not running")
            else:
                try:
                    outcome = await sender.send(conversation, message)
                except Exception as exc:  # network trouble the sender did not classify
                    logger.warning("sending message %s on %s raised %r", message.id,
                                   conversation.channel, exc)
                    outcome = Outcome.retry(f"{type(exc).__name__}: {exc}")
            if outcome.status in ("delivered", "sent"):
                await store.run(store.record_attempt(message.id, outcome.status),
                                wait=store.OUTAGE_GRACE)
                return
            if outcome.status == "deferred":
                await store.run(store.defer(message.id, utcnow() + timedelta(days=1)),
                                wait=store.OUTAGE_GRACE)
                return
            final = outcome.status == "failed"
            attempts, gave_up, delay = await store.run(store.record_failure(
                message.id, outcome.error or "unknown error", final=final,
                retry_after=outcome.retry_after, max_attempts=self._max_attempts,
                backoff=backoff), wait=store.OUTAGE_GRACE)
            if gave_up:
                logger.warning("message %s failed for good after %s attempt(s): %s",
                               message.id, attempts, outcome.error)
                await self._bus.publish({"type": "delivery.failed",
                                         "conversation_id": message.conversation_id,
                                         "message_id": message.id, "error": outcome.error})
                return
            logger.info("message %s: attempt %s failed (%s); retrying in %.1f s", message.id,
                        attempts, outcome.error, delay)
            # Retried here, not by the sweeper, so the conversation's later messages wait.
            await self._sleep(delay)

    async def sweep(self) -> int:
        """Queue what is due in the store (after a restart, or queued by another process)."""
        due = await store.run(store.due(set(self._inflight)))
        for message, conversation in due:
            self.enqueue(conversation, message)
        return len(due)

