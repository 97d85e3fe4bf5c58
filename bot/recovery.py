"""Customer messages stored but never answered are found and answered, once.

The gateway stores every message before it answers. If its process dies in between (a deploy,
an OOM kill) or the store stays down past the outage grace, the message is left unfinished
(crm_store.services.unanswered). Each gateway looks for such messages when it starts and then
every `unanswered_sweep_interval` seconds:

- a message younger than `unanswered_window_minutes` is answered as if it had just arrived, in
  order within its conversation, by exactly one replica (a lease taken with a conditional
  UPDATE);
- an older one is not answered automatically (the customer may have moved on, and an answer
  about an order an hour later reads as a bug): the conversation goes to the agents' queue as
  "unanswered after an outage", so a person follows up;
- one the customer has since written again, and that was answered, is only marked finished.

A replica started again under the same name takes back at once the leases its earlier process
held (that process is gone), so the customer need not wait for the lease to run out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta
from itertools import groupby

from bot import periodic, store
from bot.gateway import Gateway
from bot.store import Unfinished

logger = logging.getLogger(__name__)

HANDOFF_REASON = "unanswered after an outage: a customer message got no reply"


class Recovery:
    def __init__(self, gateway: Gateway, *, window_minutes: float, interval: float) -> None:
        self.gateway = gateway
        self.window = timedelta(minutes=window_minutes)
        self.interval = interval
        self.sweeps = 0  # sweeps done by the loop (tests wait for the first)
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(periodic.every(
            self.interval, self._counted_sweep, "looking for unanswered messages"),
            name="kefu-unanswered-recovery")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _counted_sweep(self) -> None:
        try:
            await self.sweep()
        finally:
            self.sweeps += 1

    async def sweep(self) -> int:
        """Finish every unfinished message this replica can take; how many it finished."""
        found = await store.run(store.unfinished(self.gateway.replica, self.window,
                                                 self.gateway.own_before))
        finished = 0
        for _, messages in groupby(found, key=lambda item: item.conversation.id):
            for item in messages:
                if not await self._finish(item):
                    break  # another replica has this conversation: it keeps the order
                finished += 1
        if finished:
            logger.info("finished %d unanswered customer message(s)", finished)
        return finished

    async def _finish(self, item: Unfinished) -> bool:
        owner, until = self.gateway.lease()
        if not await store.run(store.claim_unfinished(item.message.id, owner, until,
                                                      self.gateway.own_before)):
            return False
        if item.superseded or item.conversation.human:
            # Asked again and answered since, or a person has the conversation now.
            await store.run(store.mark_handled(item.message.id))
        elif item.too_old:
            conversation, handoff_id = await store.run(store.hand_over_unanswered(
                item.conversation.id, item.message.id, HANDOFF_REASON))
            await self.gateway.publish_handoff(conversation, handoff_id, HANDOFF_REASON)
            logger.info("message %s too old to answer (%s): handed to staff", item.message.id,
                        item.message.created_at)
        else:
            await self.gateway.resume(item.conversation, item.message, item.rasa_text)
            logger.info("answered message %s, stored at %s and never answered",
                        item.message.id, item.message.created_at)
        return True
