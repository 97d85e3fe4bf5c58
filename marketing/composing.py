"""What one recipient reads: the message with its placeholders filled, a product picked for
them by the knowledge index, and the opt-out line every campaign message ends with."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy.orm import Session

from crm_store.errors import InvalidInput, NotFound
from crm_store.models import Customer
from crm_store.services.campaigns import OPT_OUT_BUTTON, OPT_OUT_TEXT, check_placeholders
from kefu_config.policy import ShopInfo, load_policy
from knowledge.profiles import popular_skus, profile_for
from knowledge.recommend import recommend
from knowledge.service import get_service

logger = logging.getLogger(__name__)

# (session, customer id) -> a recommended product {"sku", "name", "price", "reason"} or None.
Recommender = Callable[[Session, int], dict[str, Any] | None]


def knowledge_recommender(session: Session, customer_id: int,
                          service: Any = None) -> dict[str, Any] | None:
    """The knowledge index's top recommendation for this customer, with its reason: the same
    profile and best sellers chat recommends from (knowledge/profiles.py).

    Called inside the caller's unit of work, so it takes the index as loaded: checking the
    catalog for changes would open a second session, which waits for this one's write lock
    on SQLite."""
    service = service or get_service()
    picks = recommend(service.loaded_searcher(), profile_for(session, customer_id), k=1,
                      popular=popular_skus(session, service))
    return picks[0].to_dict() if picks else None


def recommendation_or_none(session: Session, customer_id: int) -> dict[str, Any] | None:
    """knowledge_recommender for the gateway's pages and sweep: a shop without a catalog (or an
    index that fails) has nothing to recommend, which the caller reports per recipient."""
    try:
        return knowledge_recommender(session, customer_id)
    except Exception:  # noqa: BLE001 - any failure of the index means "nothing to recommend"
        logger.exception("no recommendation for customer %s", customer_id)
        return None


@dataclass(frozen=True)
class Rendered:
    text: str
    product: dict[str, Any] | None
    payload: dict[str, Any]


# --- money, written the shop's way (policy: shop.currency, shop.locale) ----------------------

# Signs written before the amount in English, after it in the comma languages below; other
# currencies are written with their code ("CHF 1,299.50", "1.299,50 CHF").
CURRENCY_SIGNS = {"EUR": "€", "GBP": "£", "USD": "$", "JPY": "¥", "CNY": "¥", "INR": "₹",
                  "KRW": "₩"}
# Languages that write 1.299,50 € (a decimal comma, the sign after), with the character they
# group thousands with; every other language writes €1,299.50.
_COMMA_LANGUAGES = {"de": ".", "es": ".", "it": ".", "nl": ".", "pt": ".", "da": ".",
                    "tr": ".", "id": ".", "el": ".", "ro": ".", "hr": ".", "sl": ".",
                    "fr": "\u202f", "sv": "\u00a0", "nb": "\u00a0", "fi": "\u00a0",
                    "pl": "\u00a0", "cs": "\u00a0", "sk": "\u00a0", "ru": "\u00a0",
                    "uk": "\u00a0"}
_NO_DECIMALS = {"JPY", "KRW"}


def money(amount: Decimal | float | str, currency: str, locale: str) -> str:
    """An amount as the shop writes it: money(1299.5, "EUR", "en-GB") is "€1,299.50",
    money(1299.5, "EUR", "de-DE") is "1.299,50 €". Text that is not a number stays as it is."""
    try:
        value = Decimal(str(amount).strip())
    except InvalidOperation:
        return str(amount)
    digits = f"{value:,.{0 if currency in _NO_DECIMALS else 2}f}"
    sign = CURRENCY_SIGNS.get(currency)
    group = _COMMA_LANGUAGES.get(locale.split("-")[0].lower())
    if group is not None:
        whole, _, cents = digits.partition(".")
        digits = whole.replace(",", group) + ("," + cents if cents else "")
        return f"{digits}\u00a0{sign or currency}"
    return f"{sign}{digits}" if sign else f"{currency}\u00a0{digits}"


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
            recommender: Recommender = knowledge_recommender) -> Rendered:
    """What one (sample) customer would receive."""
    wants_product = needs_product(message)
    customer = session.get(Customer, customer_id)
    if customer is None or customer.erased_at is not None:
        raise NotFound(f"no customer {customer_id}")
    product = recommender(session, customer.id) if wants_product else None
    if wants_product and product is None:
        raise InvalidInput("no product to recommend to this customer")
    return render(message, customer, product=product)
