"""Order numbers and ticket references in any shop's format (issue 14): one spelling in the store,
the same whether it came from `kefu import orders` or from what a customer typed in chat."""

from __future__ import annotations

import pytest

from crm_store.db import session_scope
from crm_store.importers import ImportRejected, import_orders, import_products
from crm_store.normalise import (
    looks_like_order_number,
    normalise_order_number,
    normalise_ticket_reference,
)
from crm_store.services import orders


@pytest.mark.parametrize("typed, stored", [
    # The demo shop's letter + digits, as before.
    ("a1001", "A1001"), ("#A1001", "A1001"), ("A-1001", "A1001"), (" A 1001 ", "A1001"),
    # Letters, a dash and digits (an ERP's sales orders).
    ("SO-88412", "SO88412"), ("so-88412", "SO88412"), ("#SO 88412", "SO88412"),
    # Plain digits: a '#' is dropped, leading zeros are kept.
    ("90001", "90001"), ("#1001", "1001"), ("# 1001", "1001"), ("00123", "00123"),
    # Marketplace ids keep the dashes between the digit groups.
    ("123-4567890-1234567", "123-4567890-1234567"),
    ("123 4567890 1234567", "123-4567890-1234567"),
    ("#123-4567890-1234567", "123-4567890-1234567"),
])
def test_order_numbers_normalise_to_one_spelling(typed, stored):
    assert normalise_order_number(typed) == stored
    assert normalise_order_number(stored) == stored  # idempotent: the stored value is canonical


@pytest.mark.parametrize("value, plausible", [
    ("90001", True), ("A1001", True), ("123-4567890-1234567", True), ("SO88412", True),
    ("", False), ("NONE", False), ("ORD/2024/55", False), ("I DON'T KNOW", False),
    ("1" * 33, False),
])
def test_what_could_be_an_order_number(value, plausible):
    assert looks_like_order_number(value) is plausible


@pytest.mark.parametrize("typed", ["T-1042", "t-1042", "T1042", "#T 1042", "#1042", "1042",
                                   "T-01042"])
def test_ticket_references_normalise_to_kefus_own(typed):
    assert normalise_ticket_reference(typed) == "T-1042"


PRODUCTS = """
    sku,name,category,price,description,stock,tags
    HIK-001,Rain Jacket,Hiking & Outdoor,129.00,Dry.,4,a
"""
NUMERIC_ORDERS = """
    order_id,customer_email,status,items,total,created_at,shipped_at,carrier,tracking_number
    90001,noor@example.com,shipped,HIK-001:1,129.00,2025-03-01T10:00:00,2025-03-02T09:00:00,DHL,JD9
    #1002,noor@example.com,paid,HIK-001:1,129.00,2025-04-01T08:00:00,,,
    123-4567890-1234567,noor@example.com,paid,HIK-001:1,129.00,2025-04-02,,,
    so-88412,noor@example.com,pending,HIK-001:1,129.00,2025-04-03,,,
"""


def test_imported_numbers_are_found_by_what_customers_type(store, write_csv):
    import_products(write_csv("products.csv", PRODUCTS))
    result = import_orders(write_csv("orders.csv", NUMERIC_ORDERS))
    assert sorted(result.added) == ["1002", "123-4567890-1234567", "90001", "SO88412"]
    typed = ["90001", "#90001", "1002", "#1002", "123 4567890 1234567", "SO-88412", "so88412"]
    with session_scope() as session:
        for number in typed:
            view = orders.status_for(session, order_number=number, email="noor@example.com")
            assert view is not None, number
            assert view.order_number == normalise_order_number(number)


def test_an_order_number_with_other_characters_is_rejected_with_its_row(store, write_csv):
    import_products(write_csv("products.csv", PRODUCTS))
    bad = NUMERIC_ORDERS.replace("so-88412", "SO/88412")
    with pytest.raises(ImportRejected) as rejected:
        import_orders(write_csv("orders.csv", bad))
    assert "row 5" in str(rejected.value) and "may hold only letters, digits and -" in str(
        rejected.value)
