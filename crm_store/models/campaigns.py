"""Marketing campaigns and their per-customer deliveries."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm_store.models.base import Base, str_enum, utcnow
from crm_store.models.enums import CampaignStatus, DeliveryStatus


class Campaign(Base):
    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    # The interest topic the audience is chosen by (e.g. "hiking").
    # Topic campaigns (the first kind) pick their audience by one interest; segment campaigns
    # by a saved segment; triggered ones are a new product's notification (product_sku).
    topic: Mapped[str | None] = mapped_column(String(80))
    segment_id: Mapped[int | None] = mapped_column(ForeignKey("segments.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(16), default="campaign", server_default="campaign")
    product_sku: Mapped[str | None] = mapped_column(String(64))
    scheduled_at: Mapped[datetime | None]
    message: Mapped[str] = mapped_column(Text)
    # Stored: draft, sending (or sent when nothing was queued). A sending campaign is sent once
    # none of its messages is pending: read from them (campaigns.status_of), not stored.
    status: Mapped[CampaignStatus] = mapped_column(str_enum(CampaignStatus, "campaign_status"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]

    deliveries: Mapped[list[CampaignDelivery]] = relationship(
        back_populates="campaign", cascade="all, delete-orphan", order_by="CampaignDelivery.id"
    )


class CampaignDelivery(Base):
    __tablename__ = "campaign_deliveries"
    __table_args__ = (UniqueConstraint("campaign_id", "customer_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), index=True
    )
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    channel: Mapped[str] = mapped_column(String(32))
    # A delivery with a message (message_id) is in its message's state: queued, sent,
    # delivered or failed, its attempts and last error (campaigns.delivery_state). `status` and
    # `sent_at` are the record only of deliveries that have none (recorded before the gateway
    # carried campaigns); migration 0009 dropped the rest of the old copy.
    status: Mapped[DeliveryStatus] = mapped_column(
        str_enum(DeliveryStatus, "campaign_delivery_status")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
    # The gateway's outbound message carrying it.
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"))
    conversation_id: Mapped[int | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="SET NULL"))

    campaign: Mapped[Campaign] = relationship(back_populates="deliveries")
