"""The committed demo shop imports cleanly, on both databases, and `kefu prepare` loads it once."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select

from crm_store.db import session_scope
from crm_store.models import Customer, Order, OrderStatus, Product
from kefu.demo import load_if_empty

KEFU = Path(sys.executable).parent / "kefu"
REPO = Path(__file__).resolve().parents[2]


def test_demo_shop_files_import_without_errors_or_warnings(store):
    first = load_if_empty()
    assert first.loaded
    products, people, orders = first.results
    assert [len(r.added) for r in first.results] == [products.rows, people.rows, orders.rows]
    assert products.rows >= 150 and people.rows == 50 and orders.rows == 200
    assert [r.warnings for r in first.results] == [[], [], []]
    with session_scope() as session:
        categories = session.scalar(select(func.count(func.distinct(Product.category))))
        statuses = Counter(session.scalars(select(Order.status)))
        customers = session.scalar(select(func.count(Customer.id)))
    assert categories >= 10
    assert set(statuses) == set(OrderStatus)
    assert customers == 50
    # A store with a catalog is never reloaded.
    assert not load_if_empty().loaded


def _kefu(*args: str, data_dir: Path, ok: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "KEFU_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1"}
    env.pop("KEFU_DATABASE_URL", None)
    # `kefu prepare` embeds the whole catalogue: about 2 minutes on two busy cores (4 under a
    # CPU hog), so the limit only catches a hang; the test's own timeout is above three of them.
    result = subprocess.run([str(KEFU), *args], cwd=REPO, env=env, capture_output=True,
                            text=True, timeout=600)
    assert (result.returncode == 0) == ok, result.stdout + result.stderr
    return result


@pytest.mark.timeout(1500)
def test_kefu_prepare_migrates_and_loads_the_demo_shop_once(tmp_path):
    first = _kefu("prepare", data_dir=tmp_path)
    assert "demo shop products:" in first.stdout and "demo shop orders: 200 rows" in first.stdout
    second = _kefu("prepare", data_dir=tmp_path)
    assert "catalog present; demo shop not loaded" in second.stdout
    export = _kefu("customer", "export", "emma.hughes@example.com", data_dir=tmp_path)
    assert '"email": "emma.hughes@example.com"' in export.stdout


def test_kefu_import_reports_bad_rows_and_exits_non_zero(tmp_path):
    _kefu("db", "upgrade", data_dir=tmp_path)
    bad = tmp_path / "bad.csv"
    bad.write_text("sku,name,category,price,description,stock,tags\n"
                   "X-1,Thing,Misc,-2,desc,1,\nX-2,Other,Misc,2,desc,-1,\n")
    result = _kefu("import", "products", str(bad), data_dir=tmp_path, ok=False)
    assert "bad.csv rejected (2 bad rows); nothing was written" in result.stderr
    assert "row 2: price -2 is negative" in result.stderr
    assert "row 3: stock -1 is below 0" in result.stderr
    good = tmp_path / "good.csv"
    good.write_text("sku,name,category,price,description,stock,tags\nX-1,Thing,Misc,2,d,1,\n")
    assert "1 added" in _kefu("import", "products", str(good), data_dir=tmp_path).stdout
    assert "0 added, 0 changed, 1 unchanged" in _kefu("import", "products", str(good),
                                                      data_dir=tmp_path).stdout


def test_kefu_import_refuses_an_unmigrated_store(tmp_path):
    good = tmp_path / "good.csv"
    good.write_text("sku,name,category,price,description,stock,tags\nX-1,Thing,Misc,2,d,1,\n")
    result = _kefu("import", "products", str(good), data_dir=tmp_path, ok=False)
    assert "run `kefu db upgrade`" in result.stderr
