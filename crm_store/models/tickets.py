"""Complaints and service requests, with their service-level deadline."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from crm_store.models.base import Base, str_enum, utcnow
from crm_store.models.enums import TicketCategory, TicketKind, TicketPriority, TicketStatus


class Ticket(Base):
    __tablename__ = "tickets"
    __table_args__ = (
        CheckConstraint("satisfaction IS NULL OR satisfaction BETWEEN 1 AND 5",
                        name="satisfaction_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # What customers quote, e.g. "T-1042" (set right after insert from the id).
    reference: Mapped[str | None] = mapped_column(String(20), unique=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    conversation_id: Mapped[int | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="SET NULL"), index=True
    )
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="SET NULL"))
    kind: Mapped[TicketKind] = mapped_column(
        str_enum(TicketKind, "ticket_kind"), default=TicketKind.SERVICE_REQUEST,
        server_default=TicketKind.SERVICE_REQUEST.value,
    )
    category: Mapped[TicketCategory] = mapped_column(str_enum(TicketCategory, "ticket_category"))
    priority: Mapped[TicketPriority] = mapped_column(str_enum(TicketPriority, "ticket_priority"))
    status: Mapped[TicketStatus] = mapped_column(str_enum(TicketStatus, "ticket_status"))
    subject: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    channel: Mapped[str | None] = mapped_column(String(32))
    sla_due_at: Mapped[datetime]
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"), index=True)
    resolution: Mapped[str | None] = mapped_column(Text)
    satisfaction: Mapped[int | None]
    satisfaction_comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None]
