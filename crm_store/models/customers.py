"""Customers, the channel identities that point at them, and their interests."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm_store.models.base import Base, str_enum, utcnow
from crm_store.models.enums import InterestSource

if TYPE_CHECKING:
    from crm_store.models.orders import Order


class Customer(Base):
    """One person, whatever channel they write from.

    A customer first seen on an anonymous channel has no email until they give one; a customer
    who asked to be forgotten keeps only the row (so orders stay countable) with `erased_at` set.
    """

    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str | None] = mapped_column(String(320), unique=True)
    name: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(40))
    language: Mapped[str | None] = mapped_column(String(16))
    segment: Mapped[str | None] = mapped_column(String(40))
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime | None]
    marketing_opt_in: Mapped[bool] = mapped_column(default=False)
    # When and where consent was last given or withdrawn (e.g. "telegram", "import:customers.csv").
    marketing_consent_at: Mapped[datetime | None]
    marketing_consent_source: Mapped[str | None] = mapped_column(String(80))
    erased_at: Mapped[datetime | None]

    identities: Mapped[list[ChannelIdentity]] = relationship(
        back_populates="customer", cascade="all, delete-orphan"
    )
    interests: Mapped[list[Interest]] = relationship(
        back_populates="customer", cascade="all, delete-orphan"
    )
    orders: Mapped[list[Order]] = relationship(back_populates="customer")

    def __repr__(self) -> str:
        return f"Customer(id={self.id!r}, email={self.email!r})"


class ChannelIdentity(Base):
    """Who someone is on one channel (web session id, Telegram chat id, REST sender id)."""

    __tablename__ = "channel_identities"
    __table_args__ = (UniqueConstraint("channel", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    channel: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(String(200))
    # Verified: the customer proved they own the customer record (e.g. order number + email).
    verified: Mapped[bool] = mapped_column(default=False)
    verified_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime | None]

    customer: Mapped[Customer] = relationship(back_populates="identities")


class Interest(Base):
    """A topic a customer cares about, with where we learnt it and how strongly (0..1)."""

    __tablename__ = "interests"
    __table_args__ = (UniqueConstraint("customer_id", "topic", "source"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    topic: Mapped[str] = mapped_column(String(80), index=True)
    source: Mapped[InterestSource] = mapped_column(str_enum(InterestSource, "interest_source"))
    weight: Mapped[float] = mapped_column(default=1.0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    customer: Mapped[Customer] = relationship(back_populates="interests")
