"""Property tests (hypothesis) for the CSV imports, on the real PostgreSQL (it refuses what
SQLite lets through: NUL characters, numbers and text past their columns):

  - any file gives an ImportResult or an ImportRejected naming its rows, never another error;
  - a rejected file writes nothing (no partial import);
  - broken encodings (latin-1 bytes, NUL characters, UTF-16) are refused with the rows at
    fault; a byte-order mark is not a problem.
"""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, func, select, text

from crm_store import migrate
from crm_store.db import session_scope
from crm_store.importers.common import ImportRejected, ImportResult
from crm_store.importers.customers import COLUMNS as CUSTOMER_COLUMNS
from crm_store.importers.customers import import_customers
from crm_store.importers.orders import COLUMNS as ORDER_COLUMNS
from crm_store.importers.orders import import_orders
from crm_store.importers.products import COLUMNS as PRODUCT_COLUMNS
from crm_store.importers.products import import_products
from crm_store.models import Customer, Interest, Order, OrderLine, Product
from tests.crm_store.conftest import PostgresSchemas, _require_postgres

PROPERTY = settings(max_examples=100, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
CATALOG = ("PROP-1", "PROP-2")


@pytest.fixture(scope="module")
def import_url() -> Iterator[str]:
    """A store of its own (a schema on the test server) holding a two-product catalog.

    Only this module's imports use it, through `session_scope(url)`, so the directory's
    store (the gateways') is left alone."""
    schemas = PostgresSchemas(_require_postgres())
    url = schemas.new()
    migrate.upgrade(url=url)
    path = write_file(csv_bytes(PRODUCT_COLUMNS, [
        [sku, f"Product {sku}", "Test", "10.00", "", "5", ""] for sku in CATALOG]))
    run_import(import_products, url, path)
    yield url
    admin = create_engine(schemas.base_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        for name in schemas.created:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
    admin.dispose()


def csv_bytes(columns: tuple[str, ...], rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)  # "\r\n": cells holding \r or \n get quoted
    writer.writerow(columns)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8", errors="surrogatepass")


def write_file(data: bytes) -> Path:
    handle = tempfile.NamedTemporaryFile(suffix=".csv", delete=False)
    with handle:
        handle.write(data)
    return Path(handle.name)


def run_import(importer: Callable, url: str, path: Path) -> ImportResult:
    try:
        with session_scope(url) as session:
            return importer(path, session=session)
    finally:
        path.unlink(missing_ok=True)


def counts(url: str) -> dict[str, int]:
    with session_scope(url) as session:
        return {model.__tablename__: session.scalar(select(func.count()).select_from(model))
                for model in (Customer, Interest, Product, Order, OrderLine)}


def import_all_or_nothing(importer: Callable, url: str, data: bytes,
                          record_rows: int) -> ImportResult | ImportRejected:
    """Imports `data`; checks that a rejection names real rows and changed nothing."""
    before = counts(url)
    try:
        return run_import(importer, url, write_file(data))
    except ImportRejected as rejected:
        assert counts(url) == before, "a rejected file changed the store"
        assert "nothing was written" in str(rejected)
        assert rejected.errors
        for error in rejected.errors:
            assert error.row is None or 1 <= error.row <= record_rows + 1, error
            assert error.message
        return rejected


# Files: rows that are valid, and rows with one cell replaced by anything at all, so that
# both whole imports and rejections are exercised (`event` counts them).
printable = st.text(st.characters(exclude_categories=("Cs", "Cc")), min_size=1, max_size=60)
# Longer than the store's text columns (80 to 300 characters).
too_long = st.text(st.characters(exclude_categories=("Cs", "Cc")), min_size=310,
                   max_size=400)
anything = st.text(max_size=40) | too_long | st.sampled_from(
    ["", " ", "1e30", "-1", "99999999999", "yesterday", "\x00", "a,b", '"', "x\ny"])


def rows_of(valid: st.SearchStrategy, max_size: int = 5) -> st.SearchStrategy:
    def spoil(args) -> list[str]:
        row, column, value = args
        row = list(row)
        row[column % len(row)] = value
        return row

    spoilt = st.tuples(valid, st.integers(0, 20), anything).map(spoil)
    return st.lists(st.one_of(valid.map(list), spoilt), min_size=1,
                    max_size=max_size)


customer_rows = st.tuples(
    st.emails(domains=st.just("prop.example")), printable,
    st.sampled_from(["", "+44 20 7946 0958", "020 7946 0958"]),
    st.sampled_from(["", "hiking", "running; camping"]), st.sampled_from(["yes", "no", ""]),
    st.sampled_from(["2025-03-14", "2025-03-14T09:30:00", ""]))
product_rows = st.tuples(
    st.from_regex(r"PROP-[A-Z0-9]{1,6}", fullmatch=True), printable, printable,
    st.sampled_from(["10.00", "0", "12.5", "9999999999.99"]), st.text(max_size=80),
    st.sampled_from(["0", "1", "250"]), st.sampled_from(["", "a;b", "tents"]))
order_rows = st.tuples(
    st.from_regex(r"Z[0-9]{4}", fullmatch=True), st.emails(domains=st.just("prop.example")),
    st.sampled_from(["paid", "shipped", "delivered"]),
    st.sampled_from(["PROP-1:1", "PROP-2:2;PROP-1:1"]), st.sampled_from(["10.00", "30.00"]),
    st.just("2025-03-14"), st.sampled_from(["", "2025-03-15"]),
    st.sampled_from(["", "DHL"]), st.sampled_from(["", "1Z999"]))


@PROPERTY
@given(rows_of(customer_rows))
def test_customer_files_import_whole_or_not_at_all(import_url, rows):
    outcome = import_all_or_nothing(import_customers, import_url,
                                    csv_bytes(CUSTOMER_COLUMNS, rows), len(rows))
    event(type(outcome).__name__)
    if isinstance(outcome, ImportResult):
        with session_scope(import_url) as session:
            stored = set(session.scalars(select(Customer.email)))
        assert set(outcome.added) | set(outcome.changed) <= stored


@PROPERTY
@given(rows_of(product_rows))
def test_product_files_import_whole_or_not_at_all(import_url, rows):
    outcome = import_all_or_nothing(import_products, import_url,
                                    csv_bytes(PRODUCT_COLUMNS, rows), len(rows))
    event(type(outcome).__name__)


@PROPERTY
@given(rows_of(order_rows, max_size=4))
def test_order_files_import_whole_or_not_at_all(import_url, rows):
    outcome = import_all_or_nothing(import_orders, import_url,
                                    csv_bytes(ORDER_COLUMNS, rows), len(rows))
    event(type(outcome).__name__)


def valid_customer(n: int) -> list[str]:
    return [f"enc{n}@prop.example", f"Zoë {n}", "", "hiking", "yes", "2025-03-14"]


@PROPERTY
@given(st.integers(min_value=2, max_value=8), st.data())
def test_broken_encodings_are_refused_with_their_rows(import_url, size, data):
    bad = sorted(data.draw(st.sets(st.integers(0, size - 1), min_size=1, max_size=size)))
    breakage = data.draw(st.sampled_from([b"\xe9", b"caf\xe9 cr\xe8me", b"\x00", b"\xff\xfe",
                                          b"\xc3"]))
    lines = csv_bytes(CUSTOMER_COLUMNS, [valid_customer(n) for n in range(size)]).split(b"\r\n")
    for index in bad:
        # Into the name cell of record `index` (file line index + 2, header being line 1).
        lines[index + 1] = lines[index + 1].replace(b"Zo", b"Zo" + breakage, 1)
    rejected = import_all_or_nothing(import_customers, import_url, b"\r\n".join(lines), size)
    assert isinstance(rejected, ImportRejected)
    assert [e.row for e in rejected.errors] == [index + 2 for index in bad]
    reason = "NUL" if breakage == b"\x00" else "not UTF-8"
    assert all(reason in e.message and "cell 2" in e.message for e in rejected.errors)


def test_a_byte_order_mark_is_fine_and_utf16_is_refused_with_a_reason(import_url):
    body = csv_bytes(CUSTOMER_COLUMNS, [valid_customer(100), valid_customer(101)])
    result = run_import(import_customers, import_url, write_file(b"\xef\xbb\xbf" + body))
    assert sorted(result.added) == ["enc100@prop.example", "enc101@prop.example"]
    utf16 = body.decode().encode("utf-16")  # starts with its own byte-order mark
    rejected = import_all_or_nothing(import_customers, import_url, utf16, 2)
    assert isinstance(rejected, ImportRejected)
    assert "UTF-16" in str(rejected) and "nothing was written" in str(rejected)


def test_a_file_with_one_bad_row_among_many_writes_nothing(import_url):
    rows = [valid_customer(n) for n in range(200, 260)]
    rows[41][5] = "not a date"
    rejected = import_all_or_nothing(import_customers, import_url,
                                     csv_bytes(CUSTOMER_COLUMNS, rows), len(rows))
    assert isinstance(rejected, ImportRejected)
    assert [(e.row, "created_at" in e.message) for e in rejected.errors] == [(43, True)]
    with session_scope(import_url) as session:
        assert session.scalar(select(func.count()).select_from(Customer)
                              .where(Customer.email.like("enc2%"))) == 0


VALID = {
    "customers": (import_customers, CUSTOMER_COLUMNS,
                  ["big@prop.example", "Big", "", "hiking", "yes", "2025-03-14"]),
    "products": (import_products, PRODUCT_COLUMNS,
                 ["PROP-BIG", "Big", "Test", "10.00", "", "1", ""]),
    "orders": (import_orders, ORDER_COLUMNS,
               ["Z9999", "big@prop.example", "paid", "PROP-1:1", "10.00", "2025-03-14", "",
                "DHL", ""]),
}


@pytest.mark.parametrize("kind, column, value", [
    ("customers", "name", "n" * 201),
    ("customers", "phone", "1-" * 25),
    ("customers", "interests", "t" * 81),
    ("products", "name", "n" * 301),
    ("products", "category", "c" * 121),
    ("products", "price", "1e30"),
    ("products", "stock", "99999999999"),
    ("orders", "carrier", "c" * 61),
    ("orders", "tracking_number", "t" * 81),
    ("orders", "total", "12345678901.00"),
    ("orders", "items", "PROP-1:99999999999"),
])
def test_values_the_store_cannot_hold_are_refused_by_row(import_url, kind, column, value):
    importer, columns, valid = VALID[kind]
    bad = list(valid)
    bad[columns.index(column)] = value
    rejected = import_all_or_nothing(importer, import_url, csv_bytes(columns, [valid, bad]), 2)
    assert isinstance(rejected, ImportRejected), f"{kind}.{column} = {value[:20]}... accepted"
    assert [e.row for e in rejected.errors] == [3]
    assert "too l" in rejected.errors[0].message  # "too long", "too large"
