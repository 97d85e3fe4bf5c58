"""The sweep that sends scheduled campaigns (and notices held back by the quiet hours) when
they are due. The gateway runs it (bot/routes/campaigns.py); every replica may: `send` refuses
a campaign that already went, and the first replica's unit of work wins."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.orm import Session

from crm_store.models import utcnow
from marketing.composing import recommendation_or_none
from marketing.sending import send_due

logger = logging.getLogger(__name__)

# Runs one unit of work off the event loop: the gateway's `store.run`.
UnitOfWork = Callable[[Callable[[Session], Any]], Awaitable[Any]]


async def sweep_forever(interval: float, run: UnitOfWork) -> None:
    while True:
        await asyncio.sleep(interval)
        now = utcnow()
        try:
            sent = await run(lambda s: send_due(s, now=now, recommender=recommendation_or_none))
        except Exception:  # noqa: BLE001 - keep sweeping; the next round tries again
            logger.exception("scheduled campaigns: sweep failed")
            continue
        for campaign_id, result in sent.items():
            logger.info("scheduled campaign %s: %s queued, %s over the cap", campaign_id,
                        result.queued, result.capped)
