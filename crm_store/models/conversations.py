"""Conversations, their messages, and handoffs to a person."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm_store.models.base import Base, str_enum, utcnow
from crm_store.models.enums import (
    ConversationMode,
    DeliveryStatus,
    Direction,
    HandoffStatus,
    SenderKind,
    TicketPriority,
)


class Conversation(Base):
    """Everything said with one sender on one channel (a chat, not a session)."""

    __tablename__ = "conversations"
    __table_args__ = (
        UniqueConstraint("channel", "external_id"),
        CheckConstraint("satisfaction IS NULL OR satisfaction BETWEEN 1 AND 5",
                        name="satisfaction_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    channel: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(String(200))
    mode: Mapped[ConversationMode] = mapped_column(
        str_enum(ConversationMode, "conversation_mode"), default=ConversationMode.BOT
    )
    # Indexed for the dashboard, which picks conversations by start (migration 0006).
    started_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    last_message_at: Mapped[datetime | None]
    # The customer's 1-5 rating after a person resolved the conversation, and what they added.
    satisfaction: Mapped[int | None]
    satisfaction_comment: Mapped[str | None] = mapped_column(Text)
    rated_at: Mapped[datetime | None]

    messages: Mapped[list[Message]] = relationship(
        back_populates="conversation", cascade="all, delete-orphan", order_by="Message.id"
    )


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (
        # The dashboard (migration 0006): first replies per conversation, and the customer
        # messages of a period by intent and confidence without reading the rows.
        Index("ix_messages_conversation_sender_created", "conversation_id", "sender_kind",
              "created_at"),
        Index("ix_messages_sender_created_intent", "sender_kind", "created_at", "intent",
              "confidence"),
        # Customer messages the gateway has not finished with (migration 0010).
        Index("ix_messages_unanswered_since", "unanswered_since"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    direction: Mapped[Direction] = mapped_column(str_enum(Direction, "message_direction"))
    sender_kind: Mapped[SenderKind] = mapped_column(str_enum(SenderKind, "sender_kind"))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    text: Mapped[str] = mapped_column(Text)
    intent: Mapped[str | None] = mapped_column(String(80))
    confidence: Mapped[float | None]
    # Outbound messages only: the gateway retries until delivered or failed.
    delivery_status: Mapped[DeliveryStatus | None] = mapped_column(
        str_enum(DeliveryStatus, "message_delivery_status")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    # Added by the gateway (migration 0002). Inbound: the channel's own id for the message
    # ("telegram:<bot>:update:<id>", "web:<session>:<client id>") so a redelivered message is
    # processed once. Outbound: how often delivery was tried, why it last failed, when to try
    # again. Rich content (buttons, product cards, images) lives in payload, text stays plain.
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    # Inbound (migration 0010): set while the gateway has not finished with the message
    # (answered it, passed it to staff); cleared when it has. Only the gateway's live path
    # stores a message unfinished; anything else written to the log (imports, demo data,
    # outbound) is finished from the start.
    unanswered_since: Mapped[datetime | None]
    # The gateway replica answering an unfinished message, and until when its lease runs, so
    # that exactly one replica answers it (bot/recovery.py).
    claimed_by: Mapped[str | None] = mapped_column(String(120))
    claimed_until: Mapped[datetime | None]

    conversation: Mapped[Conversation] = relationship(back_populates="messages")


class Handoff(Base):
    """A request for a person to take over a conversation, and what became of it."""

    __tablename__ = "handoffs"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[HandoffStatus] = mapped_column(str_enum(HandoffStatus, "handoff_status"))
    reason: Mapped[str | None] = mapped_column(Text)
    # How urgent, decided by whoever hands over (an angry complaint: urgent); the queue also
    # raises it to the customer's most urgent open ticket (handoffs.urgency).
    priority: Mapped[TicketPriority] = mapped_column(
        str_enum(TicketPriority, "handoff_priority"), default=TicketPriority.NORMAL,
        server_default=TicketPriority.NORMAL.value)
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    claimed_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    resolution_note: Mapped[str | None] = mapped_column(Text)
    # Outside business hours the customer may leave an email address while they wait
    # (migration 0011): the agent who answers sends the answer there too. Normalised
    # (crm_store.normalise); only the latest one given counts. Personal data: exported and
    # blanked with the customer (crm_store.privacy).
    reply_email: Mapped[str | None] = mapped_column(String(320))
