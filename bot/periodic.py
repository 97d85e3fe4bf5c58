"""Background sweeps of the gateway (outbound delivery, unanswered messages): one round now,
then one every `interval` seconds, until cancelled. A round that fails is logged and the next
one tries again; a sweep must never stop because the store was down for a moment."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from bot import store

logger = logging.getLogger(__name__)


async def every(interval: float, sweep: Callable[[], Awaitable[object]], what: str) -> None:
    while True:
        try:
            await sweep()
        except asyncio.CancelledError:
            raise
        except store.StoreUnavailable as exc:
            logger.warning("%s: %s; trying again later", what, exc.detail)
        except Exception:
            logger.exception("%s failed; trying again later", what)
        await asyncio.sleep(interval)
