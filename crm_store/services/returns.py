"""Returns and refunds: who may send what back, and where their money is."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_store.errors import InvalidInput, NotAllowed, NotFound
from crm_store.models import Order, OrderStatus, ReturnRequest, ReturnStatus, utcnow
from crm_store.normalise import normalise_order_number
from crm_store.services import audit
from crm_store.services.orders import owned_order

# The shop's return window, counted from delivery (or shipping when delivery was not recorded).
RETURN_WINDOW = timedelta(days=30)
OPEN_STATUSES = frozenset({ReturnStatus.REQUESTED, ReturnStatus.APPROVED, ReturnStatus.RECEIVED})


@dataclass(frozen=True)
class RefundView:
    order_number: str
    order_status: OrderStatus
    return_status: ReturnStatus | None
    refund_amount: Decimal | None
    refunded_at: datetime | None
    requested_at: datetime | None


def eligibility(order: Order, *, now: datetime | None = None) -> str | None:
    """None when the order can be returned now, else the reason it cannot."""
    now = now or utcnow()
    if order.status not in (OrderStatus.DELIVERED, OrderStatus.SHIPPED):
        return f"order {order.order_number} is {order.status.value}; only delivered orders can be returned"
    if any(r.status in OPEN_STATUSES for r in order.returns):
        return f"a return for order {order.order_number} is already in progress"
    since = order.delivered_at or order.shipped_at
    if since is not None and now - since > RETURN_WINDOW:
        return (f"order {order.order_number} arrived more than {RETURN_WINDOW.days} days ago, "
                "outside the return window")
    return None


def request(
    session: Session, *, order_number: str, email: str, reason: str, actor: str = "customer",
    conversation_id: int | None = None,
) -> ReturnRequest:
    """Open a return for a customer's own order; NotFound for a wrong email, NotAllowed if ineligible."""
    order = owned_order(session, order_number, email)
    if order is None:
        raise NotFound(f"no order {normalise_order_number(order_number)} for that email")
    problem = eligibility(order)
    if problem:
        raise NotAllowed(problem)
    now = utcnow()
    ret = ReturnRequest(order_id=order.id, status=ReturnStatus.REQUESTED, reason=reason.strip(),
                        conversation_id=conversation_id, created_at=now, updated_at=now)
    session.add(ret)
    session.flush()
    audit.record(session, actor=actor, action="return.request", entity="order", entity_id=order.id,
                 details={"return_id": ret.id})
    return ret


_NEXT = {
    ReturnStatus.REQUESTED: {ReturnStatus.APPROVED, ReturnStatus.REJECTED},
    ReturnStatus.APPROVED: {ReturnStatus.RECEIVED, ReturnStatus.REFUNDED, ReturnStatus.REJECTED},
    ReturnStatus.RECEIVED: {ReturnStatus.REFUNDED},
    ReturnStatus.REJECTED: set(),
    ReturnStatus.REFUNDED: set(),
}


def advance(
    session: Session,
    *,
    return_id: int,
    status: ReturnStatus | str,
    refund_amount: Decimal | None = None,
    actor: str = "system",
) -> ReturnRequest:
    """Move a return along (approved, received, refunded, rejected); the order follows."""
    ret = session.get(ReturnRequest, return_id)
    if ret is None:
        raise NotFound(f"no return {return_id}")
    try:
        status = ReturnStatus(status)
    except ValueError as exc:
        raise InvalidInput(f"unknown return status {status!r}") from exc
    if status not in _NEXT[ret.status]:
        raise NotAllowed(f"a {ret.status.value} return cannot become {status.value}")
    now = utcnow()
    ret.status = status
    ret.updated_at = now
    order = ret.order
    if status == ReturnStatus.RECEIVED:
        order.status = OrderStatus.RETURNED
        order.updated_at = now
    elif status == ReturnStatus.REFUNDED:
        amount = order.total if refund_amount is None else Decimal(refund_amount)
        if amount < 0 or amount > order.total:
            raise InvalidInput(f"refund must be between 0 and the order total {order.total}")
        ret.refund_amount = amount
        ret.refunded_at = now
        order.status = OrderStatus.REFUNDED
        order.updated_at = now
    audit.record(session, actor=actor, action=f"return.{status.value}", entity="order",
                 entity_id=order.id, details={"return_id": ret.id})
    return ret


def refund_status(session: Session, *, order_number: str, email: str) -> RefundView | None:
    """The latest return/refund of a customer's own order; None for a wrong email or no order."""
    order = owned_order(session, order_number, email)
    if order is None:
        return None
    latest = max(order.returns, key=lambda r: r.id, default=None)
    return RefundView(
        order_number=order.order_number,
        order_status=order.status,
        return_status=latest.status if latest else None,
        refund_amount=latest.refund_amount if latest else None,
        refunded_at=latest.refunded_at if latest else None,
        requested_at=latest.created_at if latest else None,
    )


def for_order(session: Session, *, order_id: int) -> list[ReturnRequest]:
    stmt = select(ReturnRequest).where(ReturnRequest.order_id == order_id).order_by(ReturnRequest.id)
    return list(session.scalars(stmt))
