"""What recommendations know about a customer, read from crm_store: one profile for chat,
campaigns and `kefu recommend` alike, so they recommend the same products to the same customer.

A profile is the customer's interests (strongest first) and what they bought, newest first;
a cancelled order is not a purchase (nothing "goes with" boots that never arrived). The shop's
best sellers, for customers without signals, count only orders that went through and are read
once per `POPULAR_TTL_SECONDS`.
"""

from __future__ import annotations

import threading
import time
from decimal import Decimal

from knowledge.recommend import CustomerProfile, Interest, Recommendation, recommend
from knowledge.service import KnowledgeService, get_service

# How long the "most ordered" list is reused; it changes slowly and costs a GROUP BY.
POPULAR_TTL_SECONDS = 300.0


class CustomerNotFound(LookupError):
    pass


def profile_for(session, customer_id: int) -> CustomerProfile:
    """Interests (strongest first, as crm_store ranks them) and SKUs bought, newest first,
    cancelled orders left out."""
    from crm_store.models import OrderStatus
    from crm_store.services import interests, orders

    profile_interests = tuple(
        Interest(topic=i.topic, source=str(i.source), weight=i.weight)
        for i in interests.for_customer(session, customer_id=customer_id)
    )
    bought: list[str] = []
    for order in orders.for_customer(session, customer_id=customer_id):
        if order.status == OrderStatus.CANCELLED:
            continue
        for line in order.lines:
            if line.product.sku not in bought:
                bought.append(line.product.sku)
    return CustomerProfile(interests=profile_interests, bought=tuple(bought))


_popular_lock = threading.Lock()
_popular_cache: dict[str, tuple[float, list[int]]] = {}


def popular_product_ids(session) -> list[int]:
    """Product ids, most units sold first (cancelled and unpaid orders not counted)."""
    from crm_store.db import database_url
    from crm_store.services import products

    key = database_url()
    now = time.monotonic()
    with _popular_lock:
        cached = _popular_cache.get(key)
        if cached and now - cached[0] < POPULAR_TTL_SECONDS:
            return cached[1]
    units = products.units_sold(session)
    ranked = sorted(units, key=lambda product_id: (-units[product_id], product_id))
    with _popular_lock:
        _popular_cache[key] = (now, ranked)
    return ranked


def clear_popular_cache() -> None:
    with _popular_lock:
        _popular_cache.clear()


def popular_skus(session, service: KnowledgeService | None = None) -> list[str]:
    """The most ordered products that are in the index, as SKUs (ties: the older product).

    Called inside the caller's unit of work, so the index is taken as loaded, not synced.
    """
    searcher = (service or get_service()).loaded_searcher()
    sku_of = {item.product_id: item.sku for item in searcher.index.items if item.product_id}
    return [sku_of[i] for i in popular_product_ids(session) if i in sku_of]


def recommend_for_customer(
    email: str | None = None,
    *,
    customer_id: int | None = None,
    k: int = 5,
    max_price: Decimal | None = None,
    min_price: Decimal | None = None,
    category: str | None = None,
    occasion: str | None = None,
    service: KnowledgeService | None = None,
) -> list[Recommendation]:
    """Recommendations for a known customer (by email or id), each with its reason: what chat
    and `kefu recommend` show, and what campaigns pick from the same profile.

    Raises CustomerNotFound for an unknown customer; for an anonymous visitor call
    `service.recommend(None, occasion=..., popular=popular_skus(session))` instead.
    """
    from crm_store.db import session_scope
    from crm_store.services import customers

    service = service or get_service()
    # Synced before the session opens: a catalog check inside it would wait on its lock.
    searcher = service.searcher()
    with session_scope() as session:
        if customer_id is not None:
            customer = customers.get(session, customer_id=customer_id)
        elif email:
            customer = customers.get_by_email(session, email=email)
        else:
            raise ValueError("give the customer's email or id")
        if customer is None:
            raise CustomerNotFound(f"no customer {email or customer_id!r} in the customer store")
        profile = profile_for(session, customer.id)
        popular = popular_skus(session, service)
    return recommend(
        searcher, profile, k=k, max_price=max_price, min_price=min_price, category=category,
        occasion=occasion, popular=popular,
    )
