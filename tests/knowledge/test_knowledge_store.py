"""knowledge on top of the real customer store: sync, staleness, recommendations, the CLI.

Every test runs on a fresh SQLite database and on a throw-away PostgreSQL schema, migrated
with crm_store's own migrations and filled through crm_store's own CSV importers.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote

import pytest
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from crm_store import db, migrate
from crm_store.importers import import_customers, import_orders, import_products
from knowledge.catalog import CatalogItem
from knowledge.index_store import read_meta
from knowledge.profiles import (
    CustomerNotFound,
    clear_popular_cache,
    popular_skus,
    recommend_for_customer,
)
from knowledge.search import SearchFilters
from knowledge.service import KnowledgeService
from knowledge.sources import StoreSource

PG_URL = os.environ.get("KEFU_TEST_POSTGRES_URL") or "postgresql://postgres@127.0.0.1:5432/test"


def _postgres_schema_url() -> Iterator[str]:
    base = db.normalise_url(PG_URL)
    try:
        admin = create_engine(base, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text("select 1"))
    except Exception as exc:  # noqa: BLE001 - any failure means "no server here"
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL not reachable at {base}: {exc}")
        pytest.skip(f"PostgreSQL not reachable at {base}: {exc}")
    schema = f"kefu_knowledge_{uuid.uuid4().hex[:10]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{base}?options={quote(f'-csearch_path={schema}')}"
    finally:
        db.reset_engine()
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path) -> Iterator[str]:
    """crm_store pointed at a migrated, empty database of the backend named by the param."""
    if request.param == "sqlite":
        urls = iter([f"sqlite:///{tmp_path / 'kefu.db'}"])
    else:
        urls = _postgres_schema_url()
    url = next(urls)
    migrate.upgrade(url=url)
    db.reset_engine()
    db.configure(url)
    clear_popular_cache()
    yield url
    db.reset_engine()
    clear_popular_cache()
    next(urls, None)  # drop the PostgreSQL schema


def products_csv(path: Path, catalog, *, drop=(), extra=(), stock=None) -> Path:
    import csv

    stock = stock or {}
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["sku", "name", "category", "price", "description", "stock", "tags"])
        for item in [*catalog, *extra]:
            if item.sku in drop:
                continue
            writer.writerow([item.sku, item.name, item.category, item.price, item.description,
                             stock.get(item.sku, item.stock), ";".join(item.tags)])
    return path


CUSTOMERS = """email,name,phone,interests,marketing_opt_in,created_at
hana@example.com,Hana Berg,,hiking,true,2025-01-01
olu@example.com,Olu Ade,,,false,2025-01-02
pat@example.com,Pat Kim,,coffee,false,2025-01-03
"""

ORDERS = """order_id,customer_email,status,items,total,created_at,shipped_at,carrier,tracking_number
A1001,hana@example.com,delivered,HIK-001:1;HIK-004:1,148.00,2025-02-01T10:00:00,2025-02-02T10:00:00,DHL,1
A1002,pat@example.com,delivered,ELE-002:1,45.00,2025-02-03T10:00:00,2025-02-04T10:00:00,DHL,2
A1003,pat@example.com,paid,KIT-003:1,89.00,2025-02-05T10:00:00,,,
A1004,olu@example.com,cancelled,PET-001:1,69.00,2025-02-06T10:00:00,,,
A1005,hana@example.com,delivered,ELE-002:1,45.00,2025-02-07T10:00:00,2025-02-08T10:00:00,DHL,3
"""


@pytest.fixture
def shop(store, tmp_path, catalog) -> Path:
    """The test catalog, three customers and their orders, imported through crm_store."""
    import_products(products_csv(tmp_path / "products.csv", catalog))
    (tmp_path / "customers.csv").write_text(CUSTOMERS)
    import_customers(tmp_path / "customers.csv")
    (tmp_path / "orders.csv").write_text(ORDERS)
    import_orders(tmp_path / "orders.csv")
    return tmp_path


@pytest.fixture
def store_service(shop, tmp_path, embedder) -> KnowledgeService:
    service = KnowledgeService(tmp_path / "knowledge", check_interval=0.0, default_source=StoreSource())
    report = service.sync_from_source(StoreSource())
    assert report.rebuilt and report.total == 20
    return service


def test_store_catalog_is_searchable_with_product_ids(store_service):
    hit = store_service.search("a torch I can wear on my head", k=1)[0]
    assert hit.item.sku == "HIK-005" and hit.item.product_id is not None
    assert read_meta(store_service.directory)["source"] == "store"


BOARD = CatalogItem("WAT-001", "Inflatable Stand-Up Paddle Board", "Water Sports", Decimal("349"),
                    "A 10-foot iSUP with pump, paddle and leash for lakes.", 6,
                    ("paddle board", "sup", "lake"))


def test_running_service_follows_an_import_without_being_told(store_service, shop, catalog, caplog):
    assert store_service.search("robot coding kit", k=1)[0].item.sku == "TOY-002"
    # A second import of the whole catalog: one new product, one restocked, one gone
    # (archived by --prune). Nobody calls sync; the next search notices.
    new_csv = products_csv(shop / "products-2.csv", catalog, drop={"TOY-002"}, extra=[BOARD],
                           stock={"HIK-003": 5})
    import_products(new_csv, prune=True)
    with caplog.at_level("INFO", logger="knowledge"):
        hit = store_service.search("paddle board for the lake", k=1)[0]
    assert hit.item.sku == "WAT-001"
    assert "+1 new, 0 changed, -1 removed, 1 price/stock updates" in caplog.text
    assert "embedded 1 in" in caplog.text
    assert "TOY-002" not in {h.item.sku for h in store_service.search("robot coding kit", k=20)}
    in_stock = store_service.search("daypack for day hikes", k=3, filters=SearchFilters(in_stock=True))
    assert in_stock[0].item.sku == "HIK-003"


def test_empty_store_builds_nothing_and_says_so(store, tmp_path, embedder):
    service = KnowledgeService(tmp_path / "knowledge", check_interval=0.0, default_source=StoreSource())
    with pytest.raises(Exception, match="no product index"):
        service.search("tent")


def test_recommendations_for_a_known_customer(store_service):
    recs = recommend_for_customer("HANA@example.com ", k=5, service=store_service)
    skus = [r.item.sku for r in recs]
    assert not {"HIK-001", "HIK-004", "ELE-002"} & set(skus)  # bought
    assert "HIK-003" not in skus  # out of stock
    assert recs[0].reason == "because you're interested in hiking"
    assert recs[0].item.category == "Hiking"


def test_purchases_count_even_without_interests(store_service):
    recs = recommend_for_customer("pat@example.com", k=3, service=store_service)
    assert not {"ELE-002", "KIT-003"} & {r.item.sku for r in recs}


def test_new_customer_gets_most_ordered_products(store_service):
    # Olu's only order was cancelled: no purchases, no interests. ELE-002 sold twice; the
    # cancelled PET-001 does not count as sold.
    recs = recommend_for_customer("olu@example.com", k=3, service=store_service)
    assert recs[0].item.sku == "ELE-002"
    assert recs[0].reason == "popular with other customers"
    assert "PET-001" not in [r.item.sku for r in recs if r.reason == "popular with other customers"]


def test_unknown_customer_is_reported(store_service):
    with pytest.raises(CustomerNotFound, match="nobody@example.com"):
        recommend_for_customer("nobody@example.com", service=store_service)


@pytest.fixture
def cli_env(store, tmp_path, monkeypatch):
    """`kefu` run in-process against this store and a data directory of its own."""
    from kefu_config.settings import get_settings
    from knowledge import service

    monkeypatch.setenv("KEFU_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("KEFU_DATABASE_URL", store)
    get_settings.cache_clear()
    service._services.clear()
    yield CliRunner()
    get_settings.cache_clear()
    service._services.clear()


def test_cli_build_search_and_recommend(shop, cli_env, tmp_path):
    from kefu.cli import app

    result = cli_env.invoke(app, ["knowledge", "build"])
    assert result.exit_code == 0, result.output
    assert "built flat index of 20 products" in result.stdout

    result = cli_env.invoke(app, ["knowledge", "search", "a torch I can wear on my head", "-k", "2"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0].split()[1] == "HIK-005"

    queries = tmp_path / "queries.txt"
    queries.write_text("HIK-004\n\nkeep my tea hot on the commute\n")
    result = cli_env.invoke(app, ["knowledge", "search", "--queries", str(queries), "-k", "2",
                                  "--max-price", "40"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["query"] for line in lines] == ["HIK-004", "keep my tea hot on the commute"]
    assert [line["results"][0]["sku"] for line in lines] == ["HIK-004", "KIT-002"]
    assert all(len(line["results"]) == 2 for line in lines)
    assert all(float(r["price"]) <= 40 for line in lines for r in line["results"])
    assert set(lines[0]["results"][0]) >= {"sku", "name", "score"}

    result = cli_env.invoke(app, ["recommend", "--customer", "hana@example.com", "-k", "3", "--json"])
    assert result.exit_code == 0, result.output
    recs = json.loads(result.stdout)["results"]
    assert len(recs) == 3 and recs[0]["reason"] == "because you're interested in hiking"
    assert not {"HIK-001", "HIK-004"} & {r["sku"] for r in recs}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["knowledge", "search", "tent", "--category", "Boats"], "no category 'Boats'"),
        (["knowledge", "search", "tent", "--min-price", "cheap"], "--min-price 'cheap' is not a number"),
        (["knowledge", "search", "tent", "--min-price", "50", "--max-price", "10"],
         "minimum price 50 is above maximum price 10"),
        (["knowledge", "search"], "give either a QUERY or --queries FILE"),
        (["recommend", "--customer", "nobody@example.com"], "no customer 'nobody@example.com'"),
    ],
)
def test_cli_bad_input_gets_a_clear_message(shop, cli_env, args, message):
    from kefu.cli import app

    assert cli_env.invoke(app, ["knowledge", "build"]).exit_code == 0
    result = cli_env.invoke(app, args)
    assert result.exit_code == 1
    assert message in result.output


def test_cli_search_before_any_index_says_what_to_do(store, cli_env):
    from kefu.cli import app

    result = cli_env.invoke(app, ["knowledge", "search", "tent"])
    assert result.exit_code == 1
    assert "run `kefu knowledge build`" in result.output


def test_kefu_import_products_updates_the_index(shop, cli_env, catalog):
    from kefu.cli import app

    assert cli_env.invoke(app, ["knowledge", "build"]).exit_code == 0
    new_csv = products_csv(shop / "products-2.csv", catalog, extra=[BOARD])
    result = cli_env.invoke(app, ["import", "products", str(new_csv)])
    assert result.exit_code == 0, result.output
    assert "product index: updated flat index: +1 new, 0 changed, -1 removed" not in result.stdout
    assert "product index: updated flat index: +1 new, 0 changed, -0 removed" in result.stdout
    assert "embedded 1 in" in result.stdout
    result = cli_env.invoke(app, ["knowledge", "search", "paddle board for the lake", "--json", "-k", "1"])
    assert json.loads(result.stdout)["results"][0]["sku"] == "WAT-001"


def test_cli_build_from_an_unmigrated_store_says_what_to_run(tmp_path, monkeypatch):
    from kefu.cli import app
    from kefu_config.settings import get_settings
    from knowledge import service

    monkeypatch.setenv("KEFU_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("KEFU_DATABASE_URL", f"sqlite:///{tmp_path / 'never-migrated.db'}")
    get_settings.cache_clear()
    service._services.clear()
    db.reset_engine()
    try:
        result = CliRunner().invoke(app, ["knowledge", "build"])
    finally:
        get_settings.cache_clear()
        service._services.clear()
        db.reset_engine()
    assert result.exit_code == 1
    assert "cannot read the products in the customer store" in result.output
    assert "run `kefu prepare`" in result.output
    assert not (tmp_path / "data" / "knowledge" / "meta.json").exists()


def test_best_sellers_inside_a_unit_of_work_do_not_wait_on_a_catalog_check(store_service, store):
    # The caller's session holds SQLite's write lock; a catalog check would open a second
    # session and wait for it (busy_timeout, 10 s) before giving up.
    import time

    from crm_store.db import session_scope
    from crm_store.services import customers

    started = time.monotonic()
    with session_scope() as session:
        assert customers.get_by_email(session, email="olu@example.com") is not None
        popular = popular_skus(session, store_service)
    assert time.monotonic() - started < 5
    assert popular[0] == "ELE-002"
