"""`kefu import orders FILE.csv`: upsert orders by order number.

Every SKU must already be in the catalog (import products first). A customer email the store
does not know yet gets a customer record (a guest checkout is still a customer). Line prices are
the catalog's current prices; a total that differs from them is kept as given, with a warning.
Order numbers are stored as crm_store.normalise.normalise_order_number spells them ('#1001' ->
'1001', 'so-88412' -> 'SO88412'), which is what a customer's typed number normalises to in chat.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from crm_store.db import session_scope
from crm_store.errors import InvalidInput
from crm_store.importers.common import (
    ImportResult,
    Progress,
    RowProblem,
    check_length,
    parse_all,
    parse_datetime,
    parse_decimal,
    parse_int,
    read_rows,
    report_progress,
)
from crm_store.models import Customer, Order, OrderLine, OrderStatus, Product, utcnow
from crm_store.normalise import ORDER_NUMBER_SHAPE, normalise_email, normalise_order_number
from crm_store.services import audit

logger = logging.getLogger(__name__)

COLUMNS = ("order_id", "customer_email", "status", "items", "total", "created_at", "shipped_at",
           "carrier", "tracking_number")
SHIPPED_STATES = frozenset({OrderStatus.SHIPPED, OrderStatus.DELIVERED, OrderStatus.RETURNED,
                            OrderStatus.REFUNDED})


@dataclass(frozen=True)
class OrderRow:
    row: int
    order_number: str
    email: str
    status: OrderStatus
    items: tuple[tuple[str, int], ...]
    total: Decimal
    created_at: datetime
    shipped_at: datetime | None
    carrier: str | None
    tracking_number: str | None


def parse_items(value: str) -> tuple[tuple[str, int], ...]:
    if not value:
        raise RowProblem("items is empty")
    items: dict[str, int] = {}
    for part in value.split(";"):
        part = part.strip()
        if not part:
            continue
        sku, sep, qty = part.rpartition(":")
        if not sep or not sku.strip():
            raise RowProblem(f"item {part!r} is not SKU:quantity")
        quantity = parse_int(qty.strip(), f"quantity of {sku.strip()}", minimum=1)
        sku = sku.strip().upper()
        # The same SKU twice on one order is one line with the quantities added.
        items[sku] = items.get(sku, 0) + quantity
    if not items:
        raise RowProblem("items is empty")
    return tuple(items.items())


def parse_row(number: int, cells: dict[str, str], catalog: dict[str, Product]) -> OrderRow:
    problems = []

    def attempt(fn):
        try:
            return fn()
        except (RowProblem, InvalidInput) as exc:
            problems.append(str(exc))
            return None

    order_number = normalise_order_number(cells["order_id"])
    if not order_number:
        problems.append("order_id is empty")
    elif not ORDER_NUMBER_SHAPE.match(order_number):
        problems.append(f"order_id {cells['order_id']!r} may hold only letters, digits and -")
    email = attempt(lambda: normalise_email(cells["customer_email"]))
    status = None
    try:
        status = OrderStatus(cells["status"].lower())
    except ValueError:
        problems.append(f"unknown status {cells['status']!r} (one of: "
                        + ", ".join(s.value for s in OrderStatus) + ")")
    items = attempt(lambda: parse_items(cells["items"]))
    for sku, _qty in items or ():
        if sku not in catalog:
            problems.append(f"unknown SKU {sku}")
    total = attempt(lambda: parse_decimal(cells["total"], "total"))
    created_at = attempt(lambda: parse_datetime(cells["created_at"], "created_at"))
    if created_at is None and cells["created_at"] == "":
        problems.append("created_at is empty")
    shipped_at = attempt(lambda: parse_datetime(cells["shipped_at"], "shipped_at"))
    if shipped_at and created_at and shipped_at < created_at:
        problems.append(f"shipped_at {cells['shipped_at']} is before created_at "
                        f"{cells['created_at']}")
    check_length(cells["carrier"], "carrier", 60, problems)
    check_length(cells["tracking_number"], "tracking_number", 80, problems)
    if problems:
        raise RowProblem("; ".join(problems))
    return OrderRow(number, order_number, email, status, items, total, created_at, shipped_at,
                    cells["carrier"] or None, cells["tracking_number"] or None)


def import_orders(
    path: Path,
    *,
    progress: Progress | None = None,
    session: Session | None = None,
) -> ImportResult:
    """Validate the whole file against the catalog, then write it in one transaction (or not)."""
    path = Path(path)
    if session is None:
        with session_scope() as own:
            return _import(own, path, progress)
    return _import(session, path, progress)


def _doubts(row: OrderRow, catalog: dict[str, Product]) -> list[str]:
    """What looks wrong in a valid row but is kept as given (the shop's books are the truth)."""
    doubts = []
    expected = sum((catalog[sku].price * qty for sku, qty in row.items), Decimal("0"))
    if expected != row.total:
        doubts.append(f"row {row.row}: total {row.total} differs from the items at current "
                      f"catalog prices ({expected}); kept as given")
    if row.shipped_at and row.status not in SHIPPED_STATES:
        doubts.append(f"row {row.row}: shipped_at given for a {row.status.value} order")
    return doubts


def _later_wins(earlier: OrderRow, later: OrderRow, number: int) -> tuple[OrderRow, str]:
    return later, (f"row {number}: order {later.order_number} repeats row {earlier.row}; "
                   "the later row is used")


def _import(session: Session, path: Path, progress: Progress | None) -> ImportResult:
    result = ImportResult(kind="orders", path=path)
    catalog = {p.sku: p for p in session.scalars(select(Product))}

    def parse(number: int, cells: dict[str, str]) -> OrderRow:
        row = parse_row(number, cells, catalog)
        result.warnings.extend(_doubts(row, catalog))
        return row

    parsed = parse_all(path, read_rows(path, columns=COLUMNS, result=result), parse=parse,
                       key=lambda row: row.order_number, repeated=_later_wins, result=result)
    _write(session, parsed, catalog, result, progress)
    logger.info("%s", result.summary())
    return result


def _write(session: Session, parsed: dict[str, OrderRow], catalog: dict[str, Product],
           result: ImportResult, progress: Progress | None) -> None:
    emails = sorted({row.email for row in parsed.values()})
    customers = {c.email: c for c in
                 session.scalars(select(Customer).where(Customer.email.in_(emails)))} \
        if emails else {}
    created_customers = 0
    for email in emails:
        if email not in customers:
            customers[email] = Customer(email=email, tags=[])
            session.add(customers[email])
            created_customers += 1
    session.flush()
    existing = {
        o.order_number: o
        for o in session.scalars(select(Order).where(Order.order_number.in_(list(parsed)))
                                 .options(selectinload(Order.lines)))
    } if parsed else {}
    by_id = {p.id: p for p in catalog.values()}
    now = utcnow()
    for done, row in enumerate(parsed.values(), start=1):
        order = existing.get(row.order_number)
        customer_id = customers[row.email].id
        fields = dict(customer_id=customer_id, status=row.status, total=row.total,
                      created_at=row.created_at, shipped_at=row.shipped_at, carrier=row.carrier,
                      tracking_number=row.tracking_number)
        if order is None:
            order = Order(order_number=row.order_number, updated_at=now, **fields)
            order.lines = _lines(row, catalog)
            session.add(order)
            result.added.append(row.order_number)
            report_progress(progress, done, len(parsed))
            continue
        current_items = tuple((by_id[line.product_id].sku, line.quantity) for line in order.lines)
        differs = any(getattr(order, k) != v for k, v in fields.items())
        if sorted(current_items) != sorted(row.items):
            order.lines = _lines(row, catalog)
            differs = True
        if differs:
            for key, value in fields.items():
                setattr(order, key, value)
            order.updated_at = now
            result.changed.append(row.order_number)
        else:
            result.unchanged += 1
        report_progress(progress, done, len(parsed))
    if created_customers:
        result.warnings.append(f"{created_customers} customer(s) were not in the store and were "
                               "created from their order's email")
    session.flush()
    if result.touched:
        audit.record(session, actor="import", action="orders.import", entity="order",
                     details={"file": result.path.name, "added": len(result.added),
                              "changed": len(result.changed)})


def _lines(row: OrderRow, catalog: dict[str, Product]) -> list[OrderLine]:
    return [OrderLine(product_id=catalog[sku].id, quantity=qty, unit_price=catalog[sku].price)
            for sku, qty in row.items]
