"""Consumes Rasa's event broker (RabbitMQ) into crm_store, so analytics stay current.

In the production profile every Rasa replica publishes each tracker event to the fanout
exchange "rasa-exchange" and the durable queue KEFU_RASA_EVENTS_QUEUE
(endpoints.production.yml). Every gateway replica consumes that one queue, so each event is
handled by one of them; it is acknowledged only after crm_store kept it, and a redelivered
event is recognised by its key (crm_store/services/dialogue_events.py).
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import aio_pika
from aio_pika.abc import AbstractIncomingMessage, AbstractRobustConnection
from sqlalchemy.exc import SQLAlchemyError

from bot import store
from crm_store.services import dialogue_events

logger = logging.getLogger(__name__)

# Rasa's pika broker publishes here (rasa.core.brokers.pika.RABBITMQ_EXCHANGE).
RASA_EXCHANGE = "rasa-exchange"
# A failed write is retried after this long, so a database outage does not spin the CPU.
RETRY_DELAY = 1.0


class RasaEventConsumer:
    def __init__(self, url: str, queue: str, prefetch: int = 32) -> None:
        self._url = url
        self._queue_name = queue
        self._prefetch = prefetch
        self._connection: AbstractRobustConnection | None = None
        # Messages settled since start (kept, skipped or dropped as malformed; not those put
        # back for a retry): how tests and operators see the consumer keeping up.
        self.handled = 0

    async def start(self) -> None:
        self._connection = await aio_pika.connect_robust(self._url)
        channel = await self._connection.channel()
        await channel.set_qos(prefetch_count=self._prefetch)
        # Declared exactly as Rasa declares them, so whichever starts first, the queue exists
        # and is bound: no event published before the gateway came up is lost.
        exchange = await channel.declare_exchange(RASA_EXCHANGE, aio_pika.ExchangeType.FANOUT)
        queue = await channel.declare_queue(self._queue_name, durable=True)
        await queue.bind(exchange, "")
        await queue.consume(self._on_message)
        logger.info("consuming Rasa's events from queue %s", self._queue_name)

    async def stop(self) -> None:
        if self._connection is not None:
            await self._connection.close()
            self._connection = None

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        try:
            event: Any = json.loads(message.body)
            if not isinstance(event, dict):
                raise ValueError("not a JSON object")
            await store.run(lambda session: dialogue_events.record(session, event))
        except (ValueError, TypeError, AttributeError) as exc:
            # Retrying cannot fix it; keeping it would block nothing but fill the queue.
            logger.warning("dropped a malformed Rasa event: %s", exc)
            await message.reject(requeue=False)
            self.handled += 1
            return
        except SQLAlchemyError:
            logger.exception("could not keep a Rasa event; it stays queued")
            await asyncio.sleep(RETRY_DELAY)
            await message.nack(requeue=True)
            return
        await message.ack()
        self.handled += 1
