"""Which consenting customers a product matches: the cosine of the product's text and each
interest topic, both embedded by the knowledge index's embedder."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_store.errors import NotFound
from crm_store.models import Customer, Interest, Product


@dataclass(frozen=True)
class ProductMatch:
    customer_id: int
    topic: str
    similarity: float


def product_text(product: Product) -> str:
    """What the product is about, as one text to embed."""
    parts = [product.name, product.category, ", ".join(product.tags or []), product.description]
    return ". ".join(p.strip() for p in parts if p and p.strip())


def match_product(session: Session, *, sku: str, threshold: float,
                  encode: Callable[[list[str]], Any]) -> list[ProductMatch]:
    """Consenting customers whose strongest interest is at least `threshold` similar (cosine
    of unit embeddings) to the product's text, best first. `encode` is the knowledge
    embedder's `encode` (texts -> unit vectors)."""
    product = session.scalar(select(Product).where(Product.sku == sku))
    if product is None:
        raise NotFound(f"no product {sku!r}")
    product_vector = encode([product_text(product)])[0]
    rows = session.execute(
        select(Interest.customer_id, Interest.topic)
        .join(Customer, Customer.id == Interest.customer_id)
        .where(Customer.marketing_opt_in.is_(True), Customer.erased_at.is_(None))).all()
    topics = sorted({topic for _, topic in rows})
    if not topics:
        return []
    similarity = dict(zip(topics, (encode(topics) @ product_vector).tolist(), strict=True))
    best: dict[int, ProductMatch] = {}
    for customer_id, topic in rows:
        score = similarity[topic]
        if score >= threshold and (customer_id not in best or score > best[customer_id].similarity):
            best[customer_id] = ProductMatch(customer_id, topic, score)
    return sorted(best.values(), key=lambda m: -m.similarity)
