"""The demo shop (demo_shop/*.csv) that `kefu prepare` loads into an empty store."""

from __future__ import annotations

import csv
import importlib.util
import logging
import sys
import tempfile
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import ModuleType

from crm_store.db import session_scope
from crm_store.importers import ImportResult, import_customers, import_orders, import_products
from crm_store.models.base import utcnow
from crm_store.services import products

logger = logging.getLogger(__name__)

DEMO_DIR = Path(__file__).resolve().parent.parent / "demo_shop"
# The moment the demo shop's files were written for (demo_shop/generate.py's NOW): the last
# order is a little before it, the demo activity ends the midnight before. Loading moves every
# date by whole days so that this day becomes the day before the demo is loaded (so nothing
# lies in the future): the dashboard's "last 30 days" are full whenever `kefu prepare` runs,
# and the same (UTC) day always gives the same demo.
DEMO_NOW = datetime(2026, 11, 20, 18, 0, tzinfo=UTC)
DEMO_ACTIVITY_UNTIL = datetime(2026, 11, 20, tzinfo=UTC)
# The CSV columns that hold dates, per file.
_DATE_COLUMNS = {"customers.csv": ("created_at",), "orders.csv": ("created_at", "shipped_at")}


@dataclass(frozen=True)
class DemoLoad:
    loaded: bool
    results: tuple[ImportResult, ...] = ()
    # What demo_shop/activity.py wrote (conversations, handoffs, complaints ...), if it ran.
    activity: str | None = None


def activity_module() -> ModuleType:
    """demo_shop/activity.py, loaded from its file: demo_shop sits beside the installed
    packages, not among them, so `kefu` run from anywhere cannot import it by name."""
    name = "demo_shop_activity"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, DEMO_DIR / "activity.py")
        module = importlib.util.module_from_spec(spec)
        # Registered before running it: dataclasses look their module up while it executes.
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[name]
            raise
    return sys.modules[name]


def demo_shift(now: datetime | None = None) -> timedelta:
    """How far the demo's dates move: whole days, to end yesterday (by the product's clock)."""
    today = (now or utcnow()).astimezone(UTC).date()
    return timedelta(days=(today - DEMO_NOW.date()).days - 1)


def _shift_cell(value: str, shift: timedelta) -> str:
    if not value.strip():
        return value
    if "T" not in value and len(value.strip()) == 10:
        return (date.fromisoformat(value.strip()) + shift).isoformat()
    return (datetime.fromisoformat(value.strip()) + shift).isoformat()


def shifted_copy(directory: Path, target: Path, shift: timedelta) -> Path:
    """The demo CSVs with every date moved by `shift`, written into `target`."""
    for name in ("products.csv", "customers.csv", "orders.csv"):
        with (directory / name).open(encoding="utf-8", newline="") as fh:
            reader = csv.DictReader(fh)
            rows, fields = list(reader), reader.fieldnames
        for row in rows:
            for column in _DATE_COLUMNS.get(name, ()):
                row[column] = _shift_cell(row[column], shift)
        with (target / name).open("w", encoding="utf-8", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=fields)
            writer.writeheader()
            writer.writerows(rows)
    return target


def load_if_empty(directory: Path = DEMO_DIR) -> DemoLoad:
    """Load products, customers and orders in one transaction when the store has no products,
    then the demo activity (conversations, handoffs, complaints, a campaign) for them.

    The demo shop's own files are loaded with their dates moved to end today (demo_shift);
    any other directory is loaded as it is. A store with a catalog is the shop's own data and
    is never touched.
    """
    with session_scope() as session, tempfile.TemporaryDirectory() as scratch:
        if products.count(session, include_archived=True) > 0:
            return DemoLoad(False)
        shift = demo_shift()
        source = shifted_copy(directory, Path(scratch), shift) if directory == DEMO_DIR \
            else directory
        results = (
            import_products(source / "products.csv", session=session),
            import_customers(source / "customers.csv", session=session),
            import_orders(source / "orders.csv", session=session),
        )
        logger.info("loaded the demo shop: %s", "; ".join(r.summary() for r in results))
        # The activity is written for the demo shop's own customers and orders, in the same
        # transaction: a failure leaves an empty store that the next `kefu prepare` fills.
        activity = None
        if directory == DEMO_DIR:
            logger.info("writing the demo activity (conversations, handoffs, complaints) ...")
            activity = activity_module().load(session, until=DEMO_ACTIVITY_UNTIL + shift).summary()
            logger.info("loaded the demo activity: %s", activity)
    return DemoLoad(True, results, activity)
