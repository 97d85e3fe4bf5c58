"""One-time codes that link a second channel to a verified customer (added by the gateway)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from crm_store.models.base import Base, utcnow


class LinkCode(Base):
    """Issued on a channel whose customer is verified; typed on another channel to join it.

    Codes are short enough to type on a phone, so they expire quickly and work once.
    """

    __tablename__ = "link_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    # Where it was issued (the verified identity) and where it was redeemed.
    issued_channel: Mapped[str] = mapped_column(String(32))
    issued_external_id: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    used_channel: Mapped[str | None] = mapped_column(String(32))
    used_external_id: Mapped[str | None] = mapped_column(String(200))
