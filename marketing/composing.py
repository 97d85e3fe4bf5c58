"""What one recipient reads: the message with its placeholders filled, a product picked for
them by the knowledge index, and the opt-out line every campaign message ends with."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from crm_store.errors import InvalidInput, NotFound
from crm_store.models import Customer
from crm_store.services.campaigns import OPT_OUT_BUTTON, OPT_OUT_TEXT, check_placeholders
from crm_store.services.segments import SegmentRules
from kefu_config.money import money
from kefu_config.policy import ShopInfo, load_policy
from knowledge.profiles import popular_skus, profile_for
from knowledge.recommend import recommend
from knowledge.service import get_service

logger = logging.getLogger(__name__)

# (session, customer id, the campaign's topic or None) -> a recommended product {"sku",
# "name", "price", "reason"} or None.
Recommender = Callable[[Session, int, str | None], dict[str, Any] | None]


def campaign_topic(topic: str | None, rules: SegmentRules | None = None) -> str | None:
    """What a campaign is about: its own topic, else its segment's interests or categories."""
    if topic and topic.strip():
        return topic.strip()
    if rules is not None:
        return ", ".join(rules.interests or rules.categories) or None
    return None


def knowledge_recommender(session: Session, customer_id: int, topic: str | None = None,
                          service: Any = None) -> dict[str, Any] | None:
    """The knowledge index's top recommendation for this customer, with its reason: the same
    profile and best sellers chat recommends from (knowledge/profiles.py). With a `topic`, the
    product must fit it (a running campaign never offers a photography book because the
    customer once bought a camera); the customer's profile then picks among those.

    Called inside the caller's unit of work, so it takes the index as loaded: checking the
    catalog for changes would open a second session, which waits for this one's write lock
    on SQLite."""
    service = service or get_service()
    picks = recommend(service.loaded_searcher(), profile_for(session, customer_id), k=1,
                      popular=popular_skus(session, service), occasion=topic)
    return picks[0].to_dict() if picks else None


def recommendation_or_none(session: Session, customer_id: int,
                           topic: str | None = None) -> dict[str, Any] | None:
    """knowledge_recommender for the gateway's pages and sweep: a shop without a catalog (or an
    index that fails) has nothing to recommend, which the caller reports per recipient."""
    try:
        return knowledge_recommender(session, customer_id, topic)
    except Exception:  # noqa: BLE001 - any failure of the index means "nothing to recommend"
        logger.exception("no recommendation for customer %s", customer_id)
        return None


@dataclass(frozen=True)
class Rendered:
    text: str
    product: dict[str, Any] | None
    payload: dict[str, Any]


# --- money, written the shop's way (policy: shop.currency, shop.locale) ----------------------

def render(message: str, customer: Customer, *, product: dict[str, Any] | None = None,
           shop: ShopInfo | None = None) -> Rendered:
    """The message as this customer reads it, with the opt-out line and button; the product's
    price in the shop's currency, written in its locale."""
    first = (customer.name or "").split()[0] if (customer.name or "").strip() else "there"
    values = {"first_name": first, "product": "", "product_reason": "", "product_price": ""}
    if product:
        shop = shop or load_policy().shop
        price = product.get("price")
        values.update(product=product["name"], product_reason=product.get("reason", ""),
                      product_price="" if price in (None, "") else
                      money(price, shop.currency, shop.locale_tag))
    text = message.format(**values).strip()
    payload: dict[str, Any] = {"buttons": [OPT_OUT_BUTTON], "campaign": True}
    if product:
        payload["products"] = [{k: product[k] for k in ("sku", "name", "price", "reason")
                                if k in product}]
    return Rendered(f"{text}\n\n{OPT_OUT_TEXT}", product, payload)


def needs_product(message: str) -> bool:
    """Does the message name the recommended product ({product}, {product_reason} …)?"""
    return any(name.startswith("product") for name in check_placeholders(message))


def preview(session: Session, *, message: str, customer_id: int,
            recommender: Recommender = knowledge_recommender,
            topic: str | None = None) -> Rendered:
    """What one (sample) customer would receive from a campaign about `topic`."""
    wants_product = needs_product(message)
    customer = session.get(Customer, customer_id)
    if customer is None or customer.erased_at is not None:
        raise NotFound(f"no customer {customer_id}")
    product = recommender(session, customer.id, topic) if wants_product else None
    if wants_product and product is None:
        raise InvalidInput("no product to recommend to this customer")
    return render(message, customer, product=product)
