"""New products announced to the consenting customers whose interests match them: one
triggered campaign per product, so the campaign report shows how each announcement did."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_store.errors import NotFound
from crm_store.models import Campaign, CampaignStatus, Customer, Product, utcnow
from crm_store.services import segments
from marketing.delivering import Recipient, SendResult, deliver
from marketing.matching import ProductMatch, match_product
from marketing.rules import SendPolicy

ANNOUNCEMENT = "New in: {product} — {product_reason}."


def notify_new_product(session: Session, *, sku: str, threshold: float,
                       encode: Callable[[list[str]], Any], now: datetime | None = None,
                       policy: SendPolicy | None = None) -> SendResult:
    """Tell consenting, reachable customers whose interests match a new product about it (the
    same cap and quiet hours as campaigns)."""
    now = now or utcnow()
    policy = policy or SendPolicy.from_shop()
    product = session.scalar(select(Product).where(Product.sku == sku))
    if product is None:
        raise NotFound(f"no product {sku!r}")
    if product.archived_at is not None or not product.in_stock:
        return SendResult()
    matches = match_product(session, sku=sku, threshold=threshold, encode=encode)
    if not any(segments.reachable(session, session.get(Customer, m.customer_id))
               for m in matches):
        # Nobody to tell (e.g. a shop's first catalog load): no empty campaign either.
        return SendResult()
    campaign = Campaign(name=f"New: {product.name}"[:200], kind="triggered", product_sku=sku,
                        message=ANNOUNCEMENT, status=CampaignStatus.DRAFT, created_at=now)
    session.add(campaign)
    session.flush()
    if policy.quiet(now):
        campaign.scheduled_at = policy.quiet_ends(now)
        return SendResult(deferred_until=campaign.scheduled_at)
    return send_triggered(session, campaign, threshold=threshold, encode=encode, now=now,
                          policy=policy, matches=matches)


def send_triggered(session: Session, campaign: Campaign, *, threshold: float,
                   encode: Callable[[list[str]], Any], now: datetime, policy: SendPolicy,
                   matches: list[ProductMatch] | None = None) -> SendResult:
    """Send a triggered campaign; one held back by the quiet hours matches again now."""
    product = session.scalar(select(Product).where(Product.sku == campaign.product_sku))
    if matches is None and product is not None:
        matches = match_product(session, sku=product.sku, threshold=threshold, encode=encode)
    return deliver(session, campaign, _recipients(session, product, matches or []), now=now,
                   policy=policy)


def _recipients(session: Session, product: Product | None,
                matches: list[ProductMatch]) -> Iterator[Recipient]:
    for match in matches:
        customer = session.get(Customer, match.customer_id)
        reach = segments.reachable(session, customer)
        if reach is None or product is None:
            continue
        card = {"sku": product.sku, "name": product.name, "price": str(product.price),
                "reason": f"because you're interested in {match.topic}"}
        yield Recipient(customer, reach, lambda card=card: card)
