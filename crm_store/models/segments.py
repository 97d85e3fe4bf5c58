"""Saved marketing segments and each customer's RFM tier (recency, frequency, monetary)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, ForeignKey, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from crm_store.models.base import Base, utcnow


class Segment(Base):
    """A named audience: rules over interests, purchases, RFM tier, channel, language, tags.

    The rules are kept as JSON (crm_store.services.segments.SegmentRules checks them), so a new
    rule needs no migration; the audience is evaluated live, never stored.
    """

    __tablename__ = "segments"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    rules: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CustomerRfm(Base):
    """One customer's RFM figures and tier, recomputed by `kefu segments refresh`.

    A table of its own rather than columns on customers: it is derived data, rebuilt wholesale,
    and erasing or merging a customer simply drops or recomputes the row.
    """

    __tablename__ = "customer_rfm"

    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True)
    recency_days: Mapped[int | None]
    frequency: Mapped[int] = mapped_column(default=0)
    monetary: Mapped[Decimal] = mapped_column(Numeric(12, 2), default=Decimal("0"))
    score: Mapped[str] = mapped_column(String(3))  # e.g. "545": R, F, M each 1..5
    tier: Mapped[str] = mapped_column(String(16), index=True)
    computed_at: Mapped[datetime] = mapped_column(default=utcnow)
