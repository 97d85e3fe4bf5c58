"""Conversations and messages: every inbound message is stored before it is processed."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crm_store.errors import InvalidInput, NotFound
from crm_store.models import (
    Conversation,
    ConversationMode,
    DeliveryStatus,
    Direction,
    Message,
    SenderKind,
    utcnow,
)
from crm_store.services import customers


def get(session: Session, *, conversation_id: int) -> Conversation | None:
    return session.get(Conversation, conversation_id)


def get_or_start(session: Session, *, channel: str, external_id: str) -> Conversation:
    """The conversation with this sender, started (with its customer) the first time."""
    conversation = session.scalar(select(Conversation).where(
        Conversation.channel == channel, Conversation.external_id == external_id))
    if conversation is None:
        customer = customers.find_or_create_by_identity(session, channel=channel,
                                                        external_id=external_id)
        try:
            # A savepoint, so a concurrent first message from the same sender cannot fail us.
            with session.begin_nested():
                conversation = Conversation(customer_id=customer.id, channel=channel,
                                            external_id=external_id, mode=ConversationMode.BOT)
                session.add(conversation)
                session.flush()
        except IntegrityError:
            conversation = session.scalar(select(Conversation).where(
                Conversation.channel == channel, Conversation.external_id == external_id))
            if conversation is None:
                raise
    elif conversation.customer_id is None:
        customer = customers.find_or_create_by_identity(session, channel=channel,
                                                        external_id=external_id)
        conversation.customer_id = customer.id
    return conversation


def append(
    session: Session,
    *,
    channel: str,
    external_id: str,
    direction: Direction | str,
    sender_kind: SenderKind | str,
    text: str,
    intent: str | None = None,
    confidence: float | None = None,
    staff_id: int | None = None,
    at: datetime | None = None,
) -> Message:
    """Add a message to the sender's conversation (starting it if needed)."""
    try:
        direction = Direction(direction)
        sender_kind = SenderKind(sender_kind)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from exc
    if confidence is not None and not 0.0 <= confidence <= 1.0:
        raise InvalidInput(f"confidence must be between 0 and 1, got {confidence}")
    conversation = get_or_start(session, channel=channel, external_id=external_id)
    at = at or utcnow()
    message = Message(
        conversation_id=conversation.id, direction=direction, sender_kind=sender_kind,
        staff_id=staff_id, text=text, intent=intent, confidence=confidence, created_at=at,
        delivery_status=DeliveryStatus.PENDING if direction == Direction.OUTBOUND else None,
    )
    session.add(message)
    conversation.last_message_at = at
    session.flush()
    return message


def set_delivery_status(session: Session, *, message_id: int,
                        status: DeliveryStatus | str) -> Message:
    message = session.get(Message, message_id)
    if message is None:
        raise NotFound(f"no message {message_id}")
    message.delivery_status = DeliveryStatus(status)
    return message


def undelivered(session: Session, *, limit: int = 100) -> list[Message]:
    """Outbound messages still waiting to go out, oldest first (the gateway's retry queue)."""
    stmt = (select(Message)
            .where(Message.direction == Direction.OUTBOUND,
                   Message.delivery_status == DeliveryStatus.PENDING)
            .order_by(Message.created_at, Message.id).limit(limit))
    return list(session.scalars(stmt))


def history(session: Session, *, conversation_id: int, limit: int = 50) -> list[Message]:
    """The last `limit` messages, oldest first."""
    stmt = (select(Message).where(Message.conversation_id == conversation_id)
            .order_by(Message.created_at.desc(), Message.id.desc()).limit(limit))
    return list(reversed(list(session.scalars(stmt))))


def for_customer(session: Session, *, customer_id: int) -> list[Conversation]:
    stmt = (select(Conversation).where(Conversation.customer_id == customer_id)
            .order_by(Conversation.last_message_at.desc().nulls_last(), Conversation.id))
    return list(session.scalars(stmt))


def set_mode(session: Session, *, conversation_id: int,
             mode: ConversationMode | str) -> Conversation:
    conversation = session.get(Conversation, conversation_id)
    if conversation is None:
        raise NotFound(f"no conversation {conversation_id}")
    conversation.mode = ConversationMode(mode)
    return conversation


def rate(session: Session, *, conversation_id: int, score: int) -> Conversation:
    """The customer's 1-5 rating of the help they got in this conversation."""
    conversation = session.get(Conversation, conversation_id)
    if conversation is None:
        raise NotFound(f"no conversation {conversation_id}")
    if not 1 <= int(score) <= 5:
        raise InvalidInput("a rating is a score from 1 to 5")
    conversation.satisfaction = int(score)
    conversation.rated_at = utcnow()
    return conversation


def comment_on_rating(session: Session, *, conversation_id: int, comment: str) -> Conversation:
    conversation = session.get(Conversation, conversation_id)
    if conversation is None:
        raise NotFound(f"no conversation {conversation_id}")
    conversation.satisfaction_comment = comment.strip()
    return conversation
