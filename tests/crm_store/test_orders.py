"""Orders: a customer sees and changes only their own, and only what the state allows."""

from __future__ import annotations

from decimal import Decimal

import pytest

from crm_store.db import session_scope
from crm_store.errors import NotAllowed, NotFound
from crm_store.models import OrderStatus
from crm_store.services import audit, orders
from tests.crm_store import factories


@pytest.fixture
def shop(store):
    with session_scope() as session:
        boots = factories.product(session, "HIK-001", price="149.90")
        socks = factories.product(session, "HIK-002", price="12.50")
        jane = factories.customer(session, "jane@example.com")
        john = factories.customer(session, "john@example.com")
        factories.order(session, "A1001", jane, [(boots, 1), (socks, 2)],
                        status=OrderStatus.SHIPPED, shipped_days_ago=1)
        factories.order(session, "A1002", jane, [(socks, 1)], status=OrderStatus.PAID)
        factories.order(session, "A1003", john, [(boots, 1)], status=OrderStatus.PENDING)
    return store


def test_status_for_the_owner(shop):
    with session_scope() as session:
        view = orders.status_for(session, order_number="a1001", email=" JANE@example.com ")
    assert view is not None
    assert view.status == OrderStatus.SHIPPED and view.carrier == "DHL"
    assert view.total == Decimal("174.90")
    assert [(i.sku, i.quantity) for i in view.items] == [("HIK-001", 1), ("HIK-002", 2)]
    assert not view.cancellable


def test_status_for_never_leaks_someone_elses_order(shop):
    with session_scope() as session:
        assert orders.status_for(session, order_number="A1003", email="jane@example.com") is None
        assert orders.status_for(session, order_number="A9999", email="jane@example.com") is None
        assert orders.status_for(session, order_number="A1001", email="garbage") is None


def test_cancel_a_paid_order(shop):
    with session_scope() as session:
        cancelled = orders.cancel(session, order_number="#A1002", email="jane@example.com")
        assert cancelled.status == OrderStatus.CANCELLED and cancelled.cancelled_at is not None
        [entry] = audit.for_entity(session, entity="order", entity_id=cancelled.id)
        assert entry.action == "order.cancel" and entry.details == {"from": "paid"}
    with session_scope() as session:
        assert orders.status_for(session, order_number="A1002",
                                 email="jane@example.com").status == OrderStatus.CANCELLED


def test_cannot_cancel_a_shipped_order_or_someone_elses(shop):
    with session_scope() as session:
        with pytest.raises(NotAllowed, match="shipped"):
            orders.cancel(session, order_number="A1001", email="jane@example.com")
        with pytest.raises(NotFound):
            orders.cancel(session, order_number="A1003", email="jane@example.com")
    with session_scope() as session:
        assert orders.get_by_number(session, order_number="A1003").status == OrderStatus.PENDING


def test_orders_for_customer_newest_first_and_purchases(shop):
    with session_scope() as session:
        jane = orders.get_by_number(session, order_number="A1001").customer
        listed = orders.for_customer(session, customer_id=jane.id)
        assert [o.order_number for o in listed] == ["A1002", "A1001"]
        bought = orders.purchased_product_ids(session, customer_id=jane.id)
        skus = {line.product.sku for o in listed for line in o.lines if line.product_id in bought}
        assert skus == {"HIK-001", "HIK-002"}


def test_staff_status_change_stamps_times(shop):
    with session_scope() as session:
        order = orders.set_status(session, order_number="A1003", status="shipped", carrier="UPS",
                                  tracking_number="1Z999", actor="staff:1")
        assert order.shipped_at is not None and order.carrier == "UPS"
        order = orders.set_status(session, order_number="A1003", status="delivered")
        assert order.delivered_at is not None
