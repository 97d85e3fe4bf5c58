"""How actions reach crm_store: one short unit of work per call, off the event loop.

The action server is asynchronous (Sanic); SQLAlchemy sessions are blocking. Each call runs
in a worker thread with its own session, so a slow database never stalls other customers'
actions, and no session outlives the action that opened it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

from rasa_sdk import Tracker
from sqlalchemy.orm import Session

from crm_store.db import session_scope
from kefu_config import senders

T = TypeVar("T")



def sender_identity(tracker: Tracker) -> tuple[str, str]:
    """(channel, external id) of the conversation's sender, as crm_store keys them."""
    parsed = senders.parse(tracker.sender_id)
    if parsed is not None:
        return parsed
    return tracker.get_latest_input_channel() or "rest", tracker.sender_id


async def in_store(work: Callable[[Session], T]) -> T:
    """Run `work(session)` as one unit of work in a thread; commits on success."""

    def unit() -> T:
        with session_scope() as session:
            return work(session)

    return await asyncio.to_thread(unit)
