"""Customer messages the gateway stored but never finished, and who answers them.

The gateway stores every inbound message before it answers (delivery.record_inbound with
a lease); `unanswered_since` stays set until it has answered, passed the message to staff or
handed the conversation over. A process that dies in between (a deploy, an OOM kill) or a
database that stays down past the gateway's grace leaves the message unfinished: this module
finds such messages and lets exactly one gateway replica take each one.

A replica works on a message under a lease (`claimed_by`, `claimed_until`): the live path takes
it when storing, a later sweep takes it with one conditional UPDATE once the lease has run out,
so two replicas never both win. A replica that starts again under the same name (host and
port) takes back at once the leases its earlier process took (`own_before`: every lease it
takes itself runs out later than that): that process is gone.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from crm_store.models import Direction, Message, utcnow


def _free(owner: str, now: datetime, own_before: datetime | None):
    free = or_(Message.claimed_until.is_(None), Message.claimed_until <= now)
    if own_before is not None:
        free = or_(free, and_(Message.claimed_by == owner, Message.claimed_until <= own_before))
    return free


def unfinished(session: Session, *, owner: str, now: datetime | None = None,
               own_before: datetime | None = None, limit: int = 200) -> list[Message]:
    """Unfinished customer messages whose lease has run out, or (`own_before`) that an earlier
    process of `owner` leased, oldest first: in order within each conversation."""
    return list(session.scalars(
        select(Message)
        .where(Message.direction == Direction.INBOUND, Message.unanswered_since.is_not(None),
               _free(owner, now or utcnow(), own_before))
        .order_by(Message.conversation_id, Message.created_at, Message.id)
        .limit(limit)))


def claim(session: Session, *, message_id: int, owner: str, until: datetime,
          own_before: datetime | None = None, now: datetime | None = None) -> bool:
    """Take an unfinished message until `until`; False if it is finished or another replica
    (or this replica's current process) holds it. One conditional UPDATE, so two replicas
    cannot both win."""
    result = session.execute(
        update(Message)
        .where(Message.id == message_id, Message.direction == Direction.INBOUND,
               Message.unanswered_since.is_not(None), _free(owner, now or utcnow(), own_before))
        .values(claimed_by=owner, claimed_until=until)
        .execution_options(synchronize_session=False))
    return result.rowcount == 1


def mark_handled(session: Session, *, message_id: int) -> None:
    session.execute(
        update(Message).where(Message.id == message_id, Message.unanswered_since.is_not(None))
        .values(unanswered_since=None, claimed_until=None)
        .execution_options(synchronize_session=False))


def is_handled(session: Session, *, message_id: int) -> bool:
    return session.scalar(select(Message.unanswered_since).where(Message.id == message_id)) \
        is None


def superseded(session: Session, message: Message) -> bool:
    """The customer wrote the same words again later and that message was answered: answering
    the first one now would only repeat the answer."""
    words = _normalised(message.text)
    later = session.scalars(select(Message.text).where(
        Message.conversation_id == message.conversation_id,
        Message.direction == Direction.INBOUND, Message.unanswered_since.is_(None),
        and_(Message.created_at >= message.created_at, Message.id > message.id)))
    return any(_normalised(text) == words for text in later)


def too_old(message: Message, *, window: timedelta, now: datetime | None = None) -> bool:
    return message.created_at < (now or utcnow()) - window


def _normalised(text: str) -> str:
    return " ".join((text or "").lower().split())
