"""The catalog as the rest of Kefu reads it."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm_store.models import Order, OrderLine, OrderStatus, Product


def list_products(
    session: Session,
    *,
    in_stock_only: bool = False,
    category: str | None = None,
    include_archived: bool = False,
) -> list[Product]:
    stmt = select(Product).order_by(Product.sku)
    if not include_archived:
        stmt = stmt.where(Product.archived_at.is_(None))
    if in_stock_only:
        stmt = stmt.where(Product.stock > 0)
    if category:
        stmt = stmt.where(func.lower(Product.category) == category.strip().lower())
    return list(session.scalars(stmt))


def get_by_sku(session: Session, *, sku: str) -> Product | None:
    return session.scalar(select(Product).where(Product.sku == sku.strip().upper()))


def get_many_by_sku(session: Session, *, skus: Iterable[str]) -> dict[str, Product]:
    wanted = {s.strip().upper() for s in skus}
    if not wanted:
        return {}
    return {p.sku: p for p in session.scalars(select(Product).where(Product.sku.in_(wanted)))}


def categories(session: Session) -> list[str]:
    stmt = (select(Product.category).where(Product.archived_at.is_(None))
            .distinct().order_by(Product.category))
    return list(session.scalars(stmt))


def count(session: Session, *, include_archived: bool = False) -> int:
    stmt = select(func.count(Product.id))
    if not include_archived:
        stmt = stmt.where(Product.archived_at.is_(None))
    return session.scalar(stmt) or 0


def units_sold(session: Session) -> dict[int, int]:
    """Units per product id over orders that went through (for "popular" lists)."""
    stmt = (
        select(OrderLine.product_id, func.sum(OrderLine.quantity))
        .join(Order, Order.id == OrderLine.order_id)
        .where(Order.status.not_in([OrderStatus.CANCELLED, OrderStatus.PENDING]))
        .group_by(OrderLine.product_id)
    )
    return {product_id: int(units) for product_id, units in session.execute(stmt)}
