"""The product catalog."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import JSON, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from crm_store.models.base import Base, utcnow


class Product(Base):
    """A product the shop sells. Archived products stay for old orders but are not offered."""

    __tablename__ = "products"

    id: Mapped[int] = mapped_column(primary_key=True)
    sku: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(300))
    category: Mapped[str] = mapped_column(String(120), index=True)
    price: Mapped[Decimal]
    description: Mapped[str] = mapped_column(Text, default="")
    stock: Mapped[int] = mapped_column(default=0)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    # The shop's own attribute names and texts ("material": "100% merino wool"), in its order.
    attributes: Mapped[dict[str, str]] = mapped_column(JSON, default=dict, server_default="{}")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    archived_at: Mapped[datetime | None]

    @property
    def in_stock(self) -> bool:
        return self.stock > 0

    def __repr__(self) -> str:
        return f"Product(sku={self.sku!r}, name={self.name!r})"
