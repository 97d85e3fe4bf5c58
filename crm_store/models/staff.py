"""Staff accounts and the audit log of what people and processes changed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from crm_store.models.base import Base, str_enum, utcnow
from crm_store.models.enums import AgentStatus, StaffRole


class StaffUser(Base):
    __tablename__ = "staff_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str | None] = mapped_column(String(200))
    # argon2id hash; the password itself is never stored.
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[StaffRole] = mapped_column(str_enum(StaffRole, "staff_role"))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]


class AgentAvailability(Base):
    """Whether one member of service staff takes conversations now (migration 0014), and
    how many at once. No row: away, with the default capacity.

    Automatic assignment (crm_store.services.assignment) gives a waiting handoff to the online
    agent with the fewest open conversations below their capacity; `last_assigned_at` breaks
    ties (whoever has gone longest without a new conversation)."""

    __tablename__ = "agent_availability"

    staff_id: Mapped[int] = mapped_column(
        ForeignKey("staff_users.id", ondelete="CASCADE"), primary_key=True)
    status: Mapped[AgentStatus] = mapped_column(str_enum(AgentStatus, "agent_status"))
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Conversations at once for this agent; NULL: the setting KEFU_AGENT_CAPACITY.
    capacity: Mapped[int | None]
    last_assigned_at: Mapped[datetime | None]


class AuditEntry(Base):
    """Who changed what, when. Details hold ids and field names, never personal data."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    # "staff:3", "system", "import", "customer:12", "bot" ...
    actor: Mapped[str] = mapped_column(String(80))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    action: Mapped[str] = mapped_column(String(80))
    entity: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
