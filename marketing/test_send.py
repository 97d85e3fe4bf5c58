"""A test send: a campaign's message, marked "[Test] ", sent to the marketer's own customer
account (the customer whose email is the staff member's), to read it where customers will.

It goes through the same outbound queue a real send uses, but it is no delivery of the
campaign: no delivery row (so nothing in the report or the frequency cap), the campaign's
status stays as it was, and neither the cap nor marketing consent holds it back (the marketer
asked for it). The audit log records it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_store.errors import InvalidInput, NotAllowed, NotFound
from crm_store.models import Campaign, Product
from crm_store.services import audit, customers, delivery, segments
from marketing import sending
from marketing.composing import (
    Recommender,
    campaign_topic,
    knowledge_recommender,
    needs_product,
    render,
)

logger = logging.getLogger(__name__)

TEST_PREFIX = "[Test] "


@dataclass(frozen=True)
class SentToSelf:
    campaign_id: int
    customer_id: int
    channel: str
    conversation_id: int
    message_id: int
    text: str


class NoOwnAccount(NotAllowed):
    """No customer account uses the staff member's email."""


class NoOwnChat(NotAllowed):
    """The staff member's customer account has no chat a message can go to."""


def send_test(session: Session, *, campaign_id: int, staff_id: int, staff_email: str,
              recommender: Recommender = knowledge_recommender) -> SentToSelf:
    """Queue the campaign's message, rendered for the staff member's own customer account and
    prefixed "[Test] ", on that account's chat (segments.own_reach)."""
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise NotFound(f"no campaign {campaign_id}")
    customer = customers.get_by_email(session, email=staff_email)
    if customer is None or customer.erased_at is not None:
        raise NoOwnAccount(
            f"No customer account uses your email {staff_email}; chat with the shop's "
            "assistant on Telegram or the website and verify an order with that email first")
    reach = segments.own_reach(session, customer)
    if reach is None:
        raise NoOwnChat(
            f"Your customer account ({staff_email}) has no chat to send the test to; chat with "
            "the shop's assistant on Telegram or the website and verify an order with that "
            "email there first")
    product = None
    if needs_product(campaign.message):
        product = _product(session, campaign, customer.id, recommender)
        if product is None:
            raise InvalidInput("no product to recommend to you for this campaign, so the "
                               "test cannot show one")
    rendered = render(campaign.message, customer, product=product)
    message = delivery.queue_outbound(session, conversation_id=reach.conversation_id,
                                      text=TEST_PREFIX + rendered.text,
                                      payload={**rendered.payload, "test": True},
                                      sender_kind="system")
    audit.record(session, actor=f"staff:{staff_id}", staff_id=staff_id,
                 action="campaign.test_send", entity="campaign", entity_id=campaign.id,
                 details={"customer_id": customer.id, "channel": reach.channel,
                          "message_id": message.id})
    logger.info("campaign %s: test send by staff %s on %s (message %s)", campaign.id, staff_id,
                reach.channel, message.id)
    return SentToSelf(campaign.id, customer.id, reach.channel, reach.conversation_id, message.id,
                    message.text)


def _product(session: Session, campaign: Campaign, customer_id: int,
             recommender: Recommender) -> dict | None:
    if campaign.product_sku:
        # A new-product notice shows its own product (marketing.triggered).
        product = session.scalar(select(Product).where(Product.sku == campaign.product_sku))
        if product is None:
            return None
        return {"sku": product.sku, "name": product.name, "price": str(product.price),
                "reason": f"because it's new in {product.category}"}
    rules = sending.segment_rules(session, campaign)
    return recommender(session, customer_id, campaign_topic(campaign.topic, rules))
