"""`import orders`: upsert by order id against the catalog; all or nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from crm_store.db import session_scope
from crm_store.importers import ImportRejected, import_customers, import_orders, import_products
from crm_store.models import OrderStatus
from crm_store.services import customers, orders

PRODUCTS = """
    sku,name,category,price,description,stock,tags
    HIK-001,Rain Jacket,Hiking & Outdoor,129.00,Dry.,4,a
    HIK-002,Wool Socks,Hiking & Outdoor,15.50,Warm.,40,a
"""
CUSTOMERS = """
    email,name,phone,interests,marketing_opt_in,created_at
    jane@example.com,Jane,,hiking,true,2024-01-01
"""
ORDERS = """
    order_id,customer_email,status,items,total,created_at,shipped_at,carrier,tracking_number
    A1001,jane@example.com,delivered,HIK-001:1;HIK-002:2,160.00,2025-03-01T10:00:00,2025-03-02T09:00:00,DHL,JD014600003
    A1002,Jane@Example.com,pending,HIK-002:1,15.50,2025-04-01T08:00:00,,,
    a1003,guest@example.com,paid,hik-002:1,15.50,2025-04-02,,,
"""


@pytest.fixture
def catalog(store, write_csv):
    import_products(write_csv("products.csv", PRODUCTS))
    import_customers(write_csv("customers.csv", CUSTOMERS))
    return store


def _orders():
    with session_scope() as session:
        jane = customers.get_by_email(session, email="jane@example.com")
        guest = customers.get_by_email(session, email="guest@example.com")
        return [(o.order_number, o.status, o.total, o.updated_at,
                 [(line.product.sku, line.quantity) for line in o.lines])
                for person in (jane, guest) if person
                for o in orders.for_customer(session, customer_id=person.id)]


def test_good_file_loads(catalog, write_csv):
    result = import_orders(write_csv("orders.csv", ORDERS))
    assert sorted(result.added) == ["A1001", "A1002", "A1003"]
    assert result.warnings == ["1 customer(s) were not in the store and were created from "
                               "their order's email"]
    with session_scope() as session:
        view = orders.status_for(session, order_number="A1001", email="jane@example.com")
        assert view.status == OrderStatus.DELIVERED and view.total == Decimal("160.00")
        assert view.shipped_at == datetime(2025, 3, 2, 9, tzinfo=UTC)
        assert view.tracking_number == "JD014600003"
        assert [(i.sku, i.quantity, i.unit_price) for i in view.items] == [
            ("HIK-001", 1, Decimal("129.00")), ("HIK-002", 2, Decimal("15.50"))]
        assert orders.status_for(session, order_number="A1003", email="guest@example.com")


def test_reimport_is_a_no_op_and_changes_are_applied(catalog, write_csv):
    path = write_csv("orders.csv", ORDERS)
    import_orders(path)
    before = _orders()
    again = import_orders(path)
    assert (again.added, again.changed, again.unchanged) == ([], [], 3)
    assert _orders() == before
    changed = import_orders(write_csv("orders2.csv", """
        order_id,customer_email,status,items,total,created_at,shipped_at,carrier,tracking_number
        A1002,jane@example.com,shipped,HIK-002:3,46.50,2025-04-01T08:00:00,2025-04-02T08:00:00,UPS,1Z1
    """))
    assert changed.changed == ["A1002"]
    with session_scope() as session:
        view = orders.status_for(session, order_number="A1002", email="jane@example.com")
        assert view.status == OrderStatus.SHIPPED and [(i.sku, i.quantity) for i in view.items] \
            == [("HIK-002", 3)]


def test_bad_rows_reject_the_whole_file_with_reasons(catalog, write_csv):
    bad = write_csv("orders.csv", """
        order_id,customer_email,status,items,total,created_at,shipped_at,carrier,tracking_number
        A1001,jane@example.com,delivered,HIK-001:1,129.00,2025-03-01,2025-03-02,DHL,1
        A1002,jane@example.com,lost,HIK-001:1,129.00,2025-03-01,,,
        A1003,jane@example.com,paid,NOPE-1:1;HIK-001:0,129.00,2025-03-01,,,
        A1004,jane@,paid,HIK-001:1,-1,yesterday,,,
        A1005,jane@example.com,shipped,HIK-001,129.00,2025-03-05,2025-03-01,DHL,1
    """)
    with pytest.raises(ImportRejected) as caught:
        import_orders(bad)
    rows = {e.row: e.message for e in caught.value.errors}
    assert set(rows) == {3, 4, 5, 6}
    assert "unknown status 'lost'" in rows[3]
    assert "quantity of HIK-001 0 is below 1" in rows[4]
    assert "jane@" in rows[5] and "total -1 is negative" in rows[5] \
        and "created_at 'yesterday' is not an ISO date" in rows[5]
    assert "item 'HIK-001' is not SKU:quantity" in rows[6]
    assert _orders() == []


def test_unknown_sku_and_shipping_before_ordering_are_errors(catalog, write_csv):
    with pytest.raises(ImportRejected) as caught:
        import_orders(write_csv("orders.csv", """
            order_id,customer_email,status,items,total,created_at,shipped_at,carrier,tracking_number
            A1001,jane@example.com,paid,NOPE-1:1,10.00,2025-03-01,,,
            A1002,jane@example.com,shipped,HIK-002:1,15.50,2025-03-05,2025-03-01,DHL,1
        """))
    rows = {e.row: e.message for e in caught.value.errors}
    assert rows[2] == "unknown SKU NOPE-1"
    assert "shipped_at 2025-03-01 is before created_at 2025-03-05" in rows[3]


def test_total_that_differs_from_catalog_prices_is_kept_with_a_warning(catalog, write_csv):
    result = import_orders(write_csv("orders.csv", """
        order_id,customer_email,status,items,total,created_at,shipped_at,carrier,tracking_number
        A1001,jane@example.com,paid,HIK-001:1,99.00,2025-03-01,,,
    """))
    assert result.warnings == ["row 2: total 99.00 differs from the items at current catalog "
                               "prices (129.00); kept as given"]
    with session_scope() as session:
        assert orders.get_by_number(session, order_number="A1001").total == Decimal("99.00")
