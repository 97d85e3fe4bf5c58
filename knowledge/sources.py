"""Where a catalog comes from: a CSV file, or crm_store (the shop's single source of truth).

An index records its source (`meta.json` "source": `store` or `csv:<path>`) so a long-running
process syncs it from the same place it was built from, and an empty database never wipes an
index that was built from a file.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Protocol

from sqlalchemy import func, select

from knowledge.catalog import CatalogError, CatalogItem, load_csv

logger = logging.getLogger(__name__)

STORE = "store"


class CatalogSource(Protocol):
    name: str

    def items(self) -> list[CatalogItem]: ...

    def state(self) -> dict | None:
        """A cheap probe that changes whenever the catalog may have (None: no cheap probe)."""
        ...


class CsvSource:
    def __init__(self, path: Path) -> None:
        self.path = Path(path).resolve()
        self.name = f"csv:{self.path}"

    def items(self) -> list[CatalogItem]:
        return load_csv(self.path)

    def state(self) -> dict | None:
        stat = self.path.stat()
        return {"mtime_ns": stat.st_mtime_ns, "size": stat.st_size}


class StoreSource:
    """Products from crm_store, each read in one short session through crm_store's own
    services and models (no SQL of our own beyond one cheap aggregate probe)."""

    name = STORE

    def items(self) -> list[CatalogItem]:
        """Every product on offer (archived ones are left out, so the index drops them)."""
        from crm_store.db import session_scope
        from crm_store.services import products

        with _store_errors(), session_scope() as session:
            return [
                CatalogItem(
                    sku=p.sku,
                    name=p.name,
                    category=p.category,
                    price=Decimal(p.price),
                    description=p.description or "",
                    stock=p.stock,
                    tags=tuple(p.tags or ()),
                    attributes=tuple((p.attributes or {}).items()),
                    product_id=p.id,
                )
                for p in products.list_products(session)
            ]

    def state(self) -> dict | None:
        """Moves whenever a product is added, changed, archived or restocked.

        Row counts and the newest `updated_at` catch imports and edits; the stock sum also
        catches a stock change made without touching `updated_at`.
        """
        from crm_store.db import session_scope
        from crm_store.models import Product

        with _store_errors(), session_scope() as session:
            count, offered, newest, stock = session.execute(
                select(
                    func.count(Product.id),
                    func.count(Product.id).filter(Product.archived_at.is_(None)),
                    func.max(Product.updated_at),
                    func.coalesce(func.sum(Product.stock), 0),
                )
            ).one()
        return {
            "products": int(count),
            "offered": int(offered),
            "updated": newest.isoformat() if newest else None,
            "stock": int(stock),
        }


@contextmanager
def _store_errors() -> Iterator[None]:
    """A store that cannot be read (not migrated, server down) is a catalog problem to report."""
    from sqlalchemy.exc import SQLAlchemyError

    try:
        yield
    except SQLAlchemyError as exc:
        from sqlalchemy.engine import make_url

        from crm_store.db import database_url

        url = make_url(database_url()).render_as_string(hide_password=True)
        reason = getattr(exc, "orig", None) or exc
        raise CatalogError(
            f"cannot read the products in the customer store at {url}: {reason}; "
            "run `kefu prepare` (or `kefu db upgrade` and `kefu import products FILE`)"
        ) from exc


def source_named(name: str | None) -> CatalogSource | None:
    if name == STORE:
        return StoreSource()
    if name and name.startswith("csv:"):
        return CsvSource(Path(name[4:]))
    return None
