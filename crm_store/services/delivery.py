"""The gateway's message log: inbound once, outbound until delivered or failed.

Inbound messages carry the channel's own id for them (`dedupe_key`): a redelivered Telegram
update or a web message resent after a reconnect finds its first copy and is not processed
again. Outbound messages start PENDING; the gateway records every attempt, schedules the next
one, and ends each message DELIVERED or FAILED. Other processes (campaigns, the CLI) can queue
an outbound message with `queue_outbound`; the gateway picks up what is due.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crm_store.errors import InvalidInput, NotFound
from crm_store.models import (
    ChannelIdentity,
    Conversation,
    ConversationMode,
    DeliveryStatus,
    Direction,
    Message,
    SenderKind,
    utcnow,
)
from crm_store.services import conversations, customers


@dataclass(frozen=True)
class Inbound:
    """What `record_inbound` stored, with what the gateway needs to route the message."""

    message: Message | None  # None: a duplicate of an earlier message
    conversation: Conversation
    customer_id: int | None
    verified: bool
    # For a duplicate: the first copy (the gateway answers a resend whose first copy it never
    # finished; crm_store.services.unanswered).
    duplicate_of: Message | None = None

    @property
    def duplicate(self) -> bool:
        return self.message is None


def record_inbound(
    session: Session,
    *,
    channel: str,
    external_id: str,
    text: str,
    dedupe_key: str | None = None,
    payload: dict[str, Any] | None = None,
    lease: tuple[str, datetime] | None = None,
) -> Inbound:
    """Store a customer's message before anything else happens to it; refresh last-seen.

    `lease` (owner, until): the gateway is about to answer it. The message is stored
    unfinished, under that replica's lease, until the gateway marks it handled
    (crm_store.services.unanswered); without a lease it is stored as finished."""
    conversation = conversations.get_or_start(session, channel=channel, external_id=external_id)
    # Marks the identity and the customer as seen now.
    customer = customers.find_or_create_by_identity(session, channel=channel,
                                                    external_id=external_id)
    identity = session.scalar(select(ChannelIdentity).where(
        ChannelIdentity.channel == channel, ChannelIdentity.external_id == external_id))
    verified = bool(identity and identity.verified)
    if dedupe_key is not None and (first := _first(session, dedupe_key)) is not None:
        return Inbound(None, conversation, customer.id, verified, first)
    if conversation.mode == ConversationMode.HUMAN:
        lease = None  # a person has the conversation: the message reaches staff as it is stored
    now = utcnow()
    message = Message(conversation_id=conversation.id, direction=Direction.INBOUND,
                      sender_kind=SenderKind.CUSTOMER, text=text, created_at=now,
                      dedupe_key=dedupe_key, payload=payload,
                      unanswered_since=now if lease else None,
                      claimed_by=lease[0] if lease else None,
                      claimed_until=lease[1] if lease else None)
    try:
        # A savepoint: a second gateway replica inserting the same key at the same moment
        # loses only this insert, not the caller's unit of work.
        with session.begin_nested():
            session.add(message)
            session.flush()
    except IntegrityError:
        if dedupe_key is not None and (first := _first(session, dedupe_key)) is not None:
            return Inbound(None, conversation, customer.id, verified, first)
        raise
    conversation.last_message_at = now
    return Inbound(message, conversation, customer.id, verified)


def _first(session: Session, dedupe_key: str) -> Message | None:
    return session.scalar(select(Message).where(Message.dedupe_key == dedupe_key))


def set_understanding(session: Session, *, message_id: int, intent: str | None,
                      confidence: float | None) -> Message:
    """What the NLU made of an inbound message (filled in after Rasa answered)."""
    message = _require(session, message_id)
    if confidence is not None and not 0.0 <= confidence <= 1.0:
        raise InvalidInput(f"confidence must be between 0 and 1, got {confidence}")
    message.intent = intent[:80] if intent else None
    message.confidence = confidence
    return message


def set_answered_from(session: Session, *, message_id: int, article: str) -> Message:
    """The help article an inbound message was answered from: such a message was not
    understood by the NLU, but it is answered, so it leaves the not-understood inbox."""
    message = _require(session, message_id)
    # A new dict, not an in-place change: SQLAlchemy's JSON type does not see mutations.
    message.payload = {**(message.payload or {}), "answered_from": article[:200]}
    return message


def queue_outbound(
    session: Session,
    *,
    conversation_id: int,
    text: str,
    sender_kind: SenderKind | str = SenderKind.BOT,
    payload: dict[str, Any] | None = None,
    staff_id: int | None = None,
    claimed_until: datetime | None = None,
) -> Message:
    """An outbound message, PENDING until the gateway delivers it. `claimed_until`: the
    gateway that stores it delivers it at once and holds it until then, as `claim` would (one
    unit of work fewer per reply; nobody else can take it meanwhile)."""
    conversation = session.get(Conversation, conversation_id)
    if conversation is None:
        raise NotFound(f"no conversation {conversation_id}")
    try:
        sender_kind = SenderKind(sender_kind)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from exc
    if sender_kind == SenderKind.CUSTOMER:
        raise InvalidInput("an outbound message cannot come from the customer")
    if not text.strip() and not payload:
        raise InvalidInput("an outbound message needs text or content")
    now = utcnow()
    message = Message(conversation_id=conversation_id, direction=Direction.OUTBOUND,
                      sender_kind=sender_kind, staff_id=staff_id, text=text, payload=payload,
                      delivery_status=DeliveryStatus.PENDING, created_at=now, attempts=0,
                      next_attempt_at=claimed_until)
    session.add(message)
    conversation.last_message_at = now
    session.flush()
    return message


def due(session: Session, *, now: datetime | None = None, limit: int = 200,
        exclude: set[int] | None = None) -> list[tuple[Message, Conversation]]:
    """Pending outbound messages whose next attempt is due, oldest first, with their chat."""
    now = now or utcnow()
    stmt = (select(Message, Conversation)
            .join(Conversation, Conversation.id == Message.conversation_id)
            .where(Message.direction == Direction.OUTBOUND,
                   Message.delivery_status == DeliveryStatus.PENDING,
                   or_(Message.next_attempt_at.is_(None), Message.next_attempt_at <= now))
            .order_by(Message.created_at, Message.id)
            .limit(limit))
    if exclude:
        stmt = stmt.where(Message.id.not_in(exclude))
    return [(m, c) for m, c in session.execute(stmt)]


def claim(session: Session, *, message_id: int, until: datetime) -> bool:
    """Take a pending message for one delivery attempt (until `until`); False if it is not
    pending or another worker holds it. One conditional UPDATE, so two cannot both win."""
    now = utcnow()
    result = session.execute(
        update(Message)
        .where(Message.id == message_id, Message.delivery_status == DeliveryStatus.PENDING,
               or_(Message.next_attempt_at.is_(None), Message.next_attempt_at <= now))
        .values(next_attempt_at=until)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def defer(session: Session, *, message_id: int, until: datetime | None) -> Message:
    """The customer is not reachable right now (no open web chat): keep the message pending
    without counting an attempt; it goes out when they come back (or at `until`)."""
    message = _require(session, message_id)
    message.next_attempt_at = until
    return message


def record_attempt(
    session: Session,
    *,
    message_id: int,
    status: DeliveryStatus | str,
    error: str | None = None,
    retry_at: datetime | None = None,
) -> Message:
    """One delivery attempt: SENT/DELIVERED, FAILED for good, or PENDING again at `retry_at`."""
    message = _require(session, message_id)
    status = DeliveryStatus(status)
    message.attempts = (message.attempts or 0) + 1
    message.delivery_status = status
    message.last_error = error[:2000] if error else None
    message.next_attempt_at = retry_at if status == DeliveryStatus.PENDING else None
    if status == DeliveryStatus.DELIVERED:
        message.delivered_at = utcnow()
    return message


def mark_delivered(session: Session, *, conversation_id: int, message_ids: list[int]) -> int:
    """The customer's device confirmed these messages (only this conversation's count)."""
    if not message_ids:
        return 0
    now = utcnow()
    messages = session.scalars(select(Message).where(
        Message.id.in_(message_ids), Message.conversation_id == conversation_id,
        Message.direction == Direction.OUTBOUND,
        Message.delivery_status != DeliveryStatus.DELIVERED))
    count = 0
    for message in messages:
        message.delivery_status = DeliveryStatus.DELIVERED
        message.delivered_at = now
        message.next_attempt_at = None
        count += 1
    return count


def pending_for(session: Session, *, conversation_id: int) -> list[Message]:
    """Outbound messages of one conversation not yet confirmed, oldest first."""
    stmt = (select(Message)
            .where(Message.conversation_id == conversation_id,
                   Message.direction == Direction.OUTBOUND,
                   Message.delivery_status.in_((DeliveryStatus.PENDING, DeliveryStatus.SENT)))
            .order_by(Message.created_at, Message.id))
    return list(session.scalars(stmt))


def get_message(session: Session, *, message_id: int) -> Message | None:
    return session.get(Message, message_id)


def _require(session: Session, message_id: int) -> Message:
    message = session.get(Message, message_id)
    if message is None:
        raise NotFound(f"no message {message_id}")
    return message
