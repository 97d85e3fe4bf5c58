"""The one loop that sends a campaign: each recipient under the frequency cap gets their
rendered message queued on the gateway's outbound queue, with a delivery row for the report."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from crm_store.models import Campaign, CampaignDelivery, CampaignStatus, Customer, DeliveryStatus
from crm_store.services import delivery
from crm_store.services.segments import Reach
from marketing.composing import render
from marketing.rules import SendPolicy, capped

logger = logging.getLogger(__name__)


@dataclass
class SendResult:
    queued: int = 0
    capped: int = 0
    no_product: int = 0
    # Set when the send fell in the quiet hours: nothing went, the campaign waits until then.
    deferred_until: datetime | None = None
    customer_ids: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class Recipient:
    customer: Customer
    reach: Reach
    # The product card their message shows, asked only once the cap lets them through (a
    # recommendation costs an index search); None when the message shows no product.
    product: Callable[[], dict[str, Any] | None] | None = None


def deliver(session: Session, campaign: Campaign, recipients: Iterable[Recipient], *,
            now: datetime, policy: SendPolicy) -> SendResult:
    """Queue the campaign's message for each recipient not over the cap and with a product
    when the message needs one; the campaign is SENDING until the gateway reports back."""
    result = SendResult()
    for recipient in recipients:
        if capped(session, customer_id=recipient.customer.id, now=now,
                  cap_days=policy.cap_days):
            result.capped += 1
            continue
        product = recipient.product() if recipient.product is not None else None
        if recipient.product is not None and product is None:
            result.no_product += 1
            continue
        _queue(session, campaign, recipient,
               render(campaign.message, recipient.customer, product=product), now)
        result.queued += 1
        result.customer_ids.append(recipient.customer.id)
    campaign.status = CampaignStatus.SENT if result.queued == 0 else CampaignStatus.SENDING
    campaign.sent_at = now
    session.flush()
    logger.info("campaign %s (%s): %s queued, %s over the cap, %s without a product",
                campaign.id, campaign.kind, result.queued, result.capped, result.no_product)
    return result


def _queue(session: Session, campaign: Campaign, recipient: Recipient, rendered: Any,
           now: datetime) -> CampaignDelivery:
    message = delivery.queue_outbound(session, conversation_id=recipient.reach.conversation_id,
                                      text=rendered.text, payload=rendered.payload,
                                      sender_kind="system")
    row = CampaignDelivery(campaign_id=campaign.id, customer_id=recipient.customer.id,
                           channel=recipient.reach.channel, status=DeliveryStatus.PENDING,
                           message_id=message.id, conversation_id=recipient.reach.conversation_id,
                           created_at=now)
    session.add(row)
    session.flush()
    return row
