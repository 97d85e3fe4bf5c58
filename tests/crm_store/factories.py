"""Small builders for service tests (tests may build rows directly; app code goes via services)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy.orm import Session

from crm_store.models import Customer, Order, OrderLine, OrderStatus, Product, utcnow


def product(session: Session, sku: str, *, price: str = "10.00", stock: int = 5,
            category: str = "Hiking & Outdoor", name: str | None = None) -> Product:
    item = Product(sku=sku, name=name or f"Product {sku}", category=category,
                   price=Decimal(price), description=f"About {sku}", stock=stock, tags=["test"])
    session.add(item)
    session.flush()
    return item


def customer(session: Session, email: str, *, name: str | None = None,
             opt_in: bool = False) -> Customer:
    person = Customer(email=email, name=name, tags=[], marketing_opt_in=opt_in,
                      marketing_consent_at=utcnow() if opt_in else None)
    session.add(person)
    session.flush()
    return person


def order(session: Session, number: str, owner: Customer, items: list[tuple[Product, int]], *,
          status: OrderStatus = OrderStatus.PAID, created_days_ago: int = 3,
          shipped_days_ago: int | None = None, delivered_days_ago: int | None = None) -> Order:
    now = utcnow()
    ago = lambda days: None if days is None else now - timedelta(days=days)  # noqa: E731
    total = sum((p.price * q for p, q in items), Decimal("0"))
    placed = Order(order_number=number, customer_id=owner.id, status=status, total=total,
                   created_at=ago(created_days_ago), shipped_at=ago(shipped_days_ago),
                   delivered_at=ago(delivered_days_ago), carrier="DHL" if shipped_days_ago
                   is not None else None, tracking_number="JD0001" if shipped_days_ago
                   is not None else None)
    placed.lines = [OrderLine(product_id=p.id, quantity=q, unit_price=p.price) for p, q in items]
    session.add(placed)
    session.flush()
    return placed


def at(days_ago: float) -> datetime:
    return utcnow() - timedelta(days=days_ago)
