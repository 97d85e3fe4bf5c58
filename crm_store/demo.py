"""The demo shop (demo_shop/*.csv) that `kefu prepare` loads into an empty store."""

from __future__ import annotations

import importlib.util
import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from crm_store.db import session_scope
from crm_store.importers import ImportResult, import_customers, import_orders, import_products
from crm_store.services import products

logger = logging.getLogger(__name__)

DEMO_DIR = Path(__file__).resolve().parent.parent / "demo_shop"


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


def load_if_empty(directory: Path = DEMO_DIR) -> DemoLoad:
    """Load products, customers and orders in one transaction when the store has no products,
    then the demo activity (conversations, handoffs, complaints, a campaign) for them.

    A store with a catalog is the shop's own data and is never touched.
    """
    with session_scope() as session:
        if products.count(session, include_archived=True) > 0:
            return DemoLoad(False)
        results = (
            import_products(directory / "products.csv", session=session),
            import_customers(directory / "customers.csv", session=session),
            import_orders(directory / "orders.csv", session=session),
        )
        logger.info("loaded the demo shop: %s", "; ".join(r.summary() for r in results))
        # The activity is written for the demo shop's own customers and orders, in the same
        # transaction: a failure leaves an empty store that the next `kefu prepare` fills.
        activity = None
        if directory == DEMO_DIR:
            logger.info("writing the demo activity (conversations, handoffs, complaints) ...")
            activity = activity_module().load(session).summary()
            logger.info("loaded the demo activity: %s", activity)
    return DemoLoad(True, results, activity)
