"""How actions reach crm_store: who the sender is, and one short unit of work per call.

The action server is asynchronous (Sanic); SQLAlchemy sessions are blocking. `in_store` runs
each unit of work through crm_store's one helper (`crm_store.db.run_in_thread`): in a worker
thread with its own session, so a slow database never stalls other customers' actions, and no
session outlives the action that opened it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from rasa_sdk import Tracker
from sqlalchemy.orm import Session

from crm_store.db import run_in_thread
from kefu_config import senders

T = TypeVar("T")


def sender_identity(tracker: Tracker) -> tuple[str, str]:
    """(channel, external id) of the conversation's sender, as crm_store keys them."""
    parsed = senders.parse(tracker.sender_id)
    if parsed is not None:
        return parsed
    return tracker.get_latest_input_channel() or "rest", tracker.sender_id


async def in_store(work: Callable[[Session], T]) -> T:
    """`work(session)` as one unit of work, committed, off the action server's event loop."""
    return await run_in_thread(work)
