"""Orders: what customers may see of them and the few changes they may make."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from crm_store.errors import InvalidInput, NotAllowed, NotFound
from crm_store.models import Customer, Order, OrderLine, OrderStatus, utcnow
from crm_store.normalise import normalise_email, normalise_order_number
from crm_store.services import audit

logger = logging.getLogger(__name__)

CANCELLABLE = frozenset({OrderStatus.PENDING, OrderStatus.PAID})


@dataclass(frozen=True)
class OrderItemView:
    sku: str
    name: str
    quantity: int
    unit_price: Decimal


@dataclass(frozen=True)
class OrderView:
    """What a verified customer may be told about one of their orders."""

    order_number: str
    status: OrderStatus
    total: Decimal
    currency: str
    created_at: datetime
    shipped_at: datetime | None
    delivered_at: datetime | None
    carrier: str | None
    tracking_number: str | None
    items: tuple[OrderItemView, ...]

    @property
    def cancellable(self) -> bool:
        return self.status in CANCELLABLE


def _with_lines():
    return selectinload(Order.lines).selectinload(OrderLine.product)


def get_by_number(session: Session, *, order_number: str) -> Order | None:
    stmt = (select(Order).where(Order.order_number == normalise_order_number(order_number))
            .options(_with_lines()))
    return session.scalar(stmt)


def owned_order(session: Session, order_number: str, email: str) -> Order | None:
    """The order only if `email` is its customer's; a wrong email looks like an unknown order."""
    try:
        email = normalise_email(email)
    except InvalidInput:
        return None
    stmt = (
        select(Order)
        .join(Customer, Customer.id == Order.customer_id)
        .where(Order.order_number == normalise_order_number(order_number),
               Customer.email == email)
        .options(_with_lines())
    )
    return session.scalar(stmt)


def view(order: Order) -> OrderView:
    return OrderView(
        order_number=order.order_number,
        status=order.status,
        total=order.total,
        currency=order.currency,
        created_at=order.created_at,
        shipped_at=order.shipped_at,
        delivered_at=order.delivered_at,
        carrier=order.carrier,
        tracking_number=order.tracking_number,
        items=tuple(OrderItemView(line.product.sku, line.product.name, line.quantity,
                                  line.unit_price) for line in order.lines),
    )


def status_for(session: Session, *, order_number: str, email: str) -> OrderView | None:
    """The order's status, or None unless `email` belongs to the order's customer (never leak)."""
    order = owned_order(session, order_number, email)
    return view(order) if order else None


def for_customer(session: Session, *, customer_id: int, limit: int | None = None) -> list[Order]:
    """Newest first, lines and products loaded."""
    stmt = (select(Order).where(Order.customer_id == customer_id)
            .order_by(Order.created_at.desc(), Order.id.desc()).options(_with_lines()))
    if limit:
        stmt = stmt.limit(limit)
    return list(session.scalars(stmt))


def purchased_product_ids(session: Session, *, customer_id: int) -> set[int]:
    """Products the customer has ordered (cancelled orders excluded)."""
    stmt = (
        select(OrderLine.product_id)
        .join(Order, Order.id == OrderLine.order_id)
        .where(Order.customer_id == customer_id, Order.status != OrderStatus.CANCELLED)
    )
    return set(session.scalars(stmt))


def cancel(session: Session, *, order_number: str, email: str, actor: str = "customer") -> Order:
    """Cancel an order that has not shipped. Raises NotFound (also for a wrong email) or NotAllowed."""
    order = owned_order(session, order_number, email)
    if order is None:
        raise NotFound(f"no order {normalise_order_number(order_number)} for that email")
    if order.status not in CANCELLABLE:
        raise NotAllowed(f"order {order.order_number} is {order.status.value} and can no longer "
                         "be cancelled")
    previous = order.status
    now = utcnow()
    order.status = OrderStatus.CANCELLED
    order.cancelled_at = now
    order.updated_at = now
    audit.record(session, actor=actor, action="order.cancel", entity="order", entity_id=order.id,
                 details={"from": previous.value})
    return order


def set_status(
    session: Session,
    *,
    order_number: str,
    status: OrderStatus | str,
    carrier: str | None = None,
    tracking_number: str | None = None,
    actor: str = "system",
) -> Order:
    """Staff or shop-system status changes; stamps shipped/delivered/cancelled times."""
    order = get_by_number(session, order_number=order_number)
    if order is None:
        raise NotFound(f"no order {normalise_order_number(order_number)}")
    try:
        status = OrderStatus(status)
    except ValueError as exc:
        raise InvalidInput(f"unknown order status {status!r}") from exc
    now = utcnow()
    previous = order.status
    order.status = status
    order.updated_at = now
    if carrier is not None:
        order.carrier = carrier
    if tracking_number is not None:
        order.tracking_number = tracking_number
    if status == OrderStatus.SHIPPED and order.shipped_at is None:
        order.shipped_at = now
    elif status == OrderStatus.DELIVERED and order.delivered_at is None:
        order.delivered_at = now
    elif status == OrderStatus.CANCELLED and order.cancelled_at is None:
        order.cancelled_at = now
    audit.record(session, actor=actor, action="order.status", entity="order", entity_id=order.id,
                 details={"from": previous.value, "to": status.value})
    return order
