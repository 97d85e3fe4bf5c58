"""What knowledge reads from crm_store to index: the catalog and a cheap probe of it.

Only crm_store's own services and models are used (no SQL of our own beyond one cheap
aggregate probe), each read in one short session.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func, select

from knowledge.catalog import CatalogItem


def catalog_from_store() -> list[CatalogItem]:
    """Every product on offer (archived ones are left out, so the index drops them)."""
    from crm_store.db import session_scope
    from crm_store.services import products

    with session_scope() as session:
        return [
            CatalogItem(
                sku=p.sku,
                name=p.name,
                category=p.category,
                price=Decimal(p.price),
                description=p.description or "",
                stock=p.stock,
                tags=tuple(p.tags or ()),
                product_id=p.id,
            )
            for p in products.list_products(session)
        ]


def catalog_state() -> dict:
    """A probe that moves whenever a product is added, changed, archived or restocked.

    Row counts and the newest `updated_at` catch imports and edits; the stock sum also
    catches a stock change made without touching `updated_at`.
    """
    from crm_store.db import session_scope
    from crm_store.models import Product

    with session_scope() as session:
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
