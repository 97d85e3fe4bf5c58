"""Campaigns in the store: creating them, their audience, delivery rows and the report.

Sending (rendering, the cap and quiet hours, recommendations, new-product notices, the
scheduler) is marketing's (marketing/), above the product index.
"""

from __future__ import annotations

import logging
import string
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from crm_store.errors import InvalidInput, NotAllowed, NotFound
from crm_store.models import (
    Campaign,
    CampaignDelivery,
    CampaignStatus,
    Customer,
    DeliveryStatus,
    Direction,
    Message,
    Order,
    OrderStatus,
)
from crm_store.normalise import normalise_topic
from crm_store.services import audit, interests, segments

logger = logging.getLogger(__name__)


def create(session: Session, *, name: str, message: str, topic: str | None = None,
           segment_id: int | None = None, scheduled_at: datetime | None = None,
           created_by_id: int | None = None) -> Campaign:
    """A draft campaign to a topic's or a saved segment's audience (send now or schedule)."""
    if not name.strip() or not message.strip():
        raise InvalidInput("a campaign needs a name and a message")
    check_placeholders(message)
    if segment_id is not None:
        segments.get(session, segment_id=segment_id)
        topic = None
    else:
        topic = normalise_topic(topic or "")
        if not topic:
            raise InvalidInput("a campaign needs a segment or an interest topic")
    campaign = Campaign(name=name.strip(), topic=topic, segment_id=segment_id,
                        message=message.strip(), status=CampaignStatus.DRAFT,
                        scheduled_at=scheduled_at, created_by_id=created_by_id)
    session.add(campaign)
    session.flush()
    audit.record(session, actor=f"staff:{created_by_id}" if created_by_id else "system",
                 staff_id=created_by_id, action="campaign.create", entity="campaign",
                 entity_id=campaign.id)
    return campaign


# `update(..., scheduled_at=KEEP)`: leave the schedule as it is (None clears it).
KEEP: Any = object()


def _draft(session: Session, campaign_id: int, doing: str) -> Campaign:
    """The campaign, if it is still a draft: one that went out stays as it was, for its
    report."""
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise NotFound(f"no campaign {campaign_id}")
    if campaign.status != CampaignStatus.DRAFT or campaign.deliveries:
        raise NotAllowed(f"campaign {campaign.name!r} was already sent, so it cannot be {doing}; "
                         "a sent campaign stays as it went out, for its report")
    return campaign


def update(session: Session, *, campaign_id: int, name: str | None = None,
           message: str | None = None, topic: str | None = None, segment_id: int | None = None,
           scheduled_at: datetime | None = KEEP, staff_id: int | None = None) -> Campaign:
    """Change a draft: what is given replaces what it had (a segment or a topic replaces
    the audience; `scheduled_at=None` takes it off the schedule)."""
    campaign = _draft(session, campaign_id, "edited")
    if campaign.kind != "campaign":
        raise NotAllowed(f"{campaign.name!r} is a new-product notice, written by Kefu: "
                         "it can be sent, taken off the schedule or deleted, not edited")
    changed: dict[str, Any] = {}
    if name is not None:
        if not name.strip():
            raise InvalidInput("a campaign needs a name")
        changed["name"] = name.strip()
    if message is not None:
        if not message.strip():
            raise InvalidInput("a campaign needs a message")
        check_placeholders(message)
        changed["message"] = message.strip()
    if segment_id is not None:
        segments.get(session, segment_id=segment_id)
        changed.update(segment_id=segment_id, topic=None)
    elif topic is not None:
        topic = normalise_topic(topic)
        if not topic:
            raise InvalidInput("a campaign needs a segment or an interest topic")
        changed.update(topic=topic, segment_id=None)
    if scheduled_at is not KEEP:
        changed["scheduled_at"] = scheduled_at
    changed = {key: value for key, value in changed.items() if getattr(campaign, key) != value}
    for key, value in changed.items():
        setattr(campaign, key, value)
    session.flush()
    audit.record(session, actor=f"staff:{staff_id}" if staff_id else "system",
                 staff_id=staff_id, action="campaign.update", entity="campaign",
                 entity_id=campaign.id, details={"fields": sorted(changed)})
    return campaign


def unschedule(session: Session, *, campaign_id: int, staff_id: int | None = None) -> Campaign:
    """Cancel a scheduled send (or one waiting for the quiet hours to end): back to a draft
    that goes out only when someone sends it."""
    campaign = _draft(session, campaign_id, "taken off the schedule")
    if campaign.scheduled_at is None:
        raise NotAllowed(f"campaign {campaign.name!r} is not scheduled")
    campaign.scheduled_at = None
    session.flush()
    audit.record(session, actor=f"staff:{staff_id}" if staff_id else "system",
                 staff_id=staff_id, action="campaign.unschedule", entity="campaign",
                 entity_id=campaign.id)
    return campaign


def delete(session: Session, *, campaign_id: int, staff_id: int | None = None) -> None:
    """Delete a draft (scheduled or not). A campaign that went out cannot be deleted."""
    campaign = _draft(session, campaign_id, "deleted")
    name = campaign.name
    session.delete(campaign)
    session.flush()
    audit.record(session, actor=f"staff:{staff_id}" if staff_id else "system",
                 staff_id=staff_id, action="campaign.delete", entity="campaign",
                 entity_id=campaign_id, details={"name": name})


def audience(session: Session, *, topic: str, min_weight: float = 0.0) -> list[Customer]:
    """Customers who opted in to marketing and hold the topic. Consent is never assumed."""
    return interests.customers_interested_in(session, topic=topic, opted_in_only=True,
                                             min_weight=min_weight)


# --- composing ----------------------------------------------------------------------------

# What a message may say about its recipient; anything else in braces is refused at creation.
PLACEHOLDERS = ("first_name", "product", "product_reason", "product_price")
# Every campaign message ends with this; the button sends "/stop", which the gateway handles
# itself (no dialogue needed) on every channel: consent is withdrawn before the reply.
OPT_OUT_TEXT = "Reply /stop to get no more of these."
OPT_OUT_BUTTON = {"title": "/stop — no more offers", "payload": "/stop"}
# Replies and orders within this many days of a message count for its campaign.
ATTRIBUTION_DAYS = 7

def check_placeholders(message: str) -> list[str]:
    try:
        names = [name for _, name, _, _ in string.Formatter().parse(message) if name is not None]
    except ValueError as exc:
        raise InvalidInput(f"the message has an unbalanced brace: {exc}") from exc
    unknown = [n for n in names if n not in PLACEHOLDERS]
    if unknown:
        raise InvalidInput(f"unknown placeholder {{{unknown[0]}}}; use "
                           + ", ".join(f"{{{p}}}" for p in PLACEHOLDERS))
    return names


# --- status and report --------------------------------------------------------------------

def delivery_state():
    """A delivery's state: its gateway message's (queued, sent, delivered, failed). Rows with
    no message (deliveries recorded before the gateway carried campaigns) keep their own."""
    return func.coalesce(Message.delivery_status, CampaignDelivery.status)


def with_message(stmt):
    """`stmt` over campaign_deliveries, joined to the message carrying each delivery."""
    return stmt.outerjoin(Message, Message.id == CampaignDelivery.message_id)


def status_of(session: Session, campaign: Campaign) -> CampaignStatus:
    """A sending campaign is sent once none of its messages is pending (read, not stored)."""
    if campaign.status != CampaignStatus.SENDING:
        return campaign.status
    pending = session.scalar(with_message(select(CampaignDelivery.id)).where(
        CampaignDelivery.campaign_id == campaign.id,
        delivery_state() == DeliveryStatus.PENDING).limit(1))
    return CampaignStatus.SENDING if pending is not None else CampaignStatus.SENT


def recipient_status(session: Session, row: CampaignDelivery, state: DeliveryStatus) -> str:
    """queued | sent | failed | opted_out (withdrew consent after this message was queued)."""
    customer = session.get(Customer, row.customer_id)
    if (customer is not None and not customer.marketing_opt_in
            and customer.marketing_consent_at is not None
            and _aware(customer.marketing_consent_at) >= _aware(row.created_at)):
        return "opted_out"
    return {DeliveryStatus.PENDING: "queued", DeliveryStatus.SENT: "sent",
            DeliveryStatus.DELIVERED: "sent", DeliveryStatus.FAILED: "failed"}[state]


def _aware(value: datetime | str) -> datetime:
    """coalesce() loses the column type on SQLite, so a timestamp may come back as text."""
    from datetime import UTC

    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


# Delivery statuses that mean the message reached the customer: the base of conversion.
REACHED = (DeliveryStatus.SENT, DeliveryStatus.DELIVERED)


@dataclass(frozen=True)
class Conversion:
    """One campaign's conversion: of the recipients the message reached, those who ordered."""

    reached: int
    converted: int
    # Per delivery id: whether the customer ordered within the window (reached or not).
    ordered: dict[int, bool] = field(default_factory=dict)
    converted_ids: frozenset[int] = frozenset()

    @property
    def rate(self) -> float | None:
        return self.converted / self.reached if self.reached else None


def conversions(session: Session, *, campaign_id: int | None = None,
                start: datetime | None = None, end: datetime | None = None,
                channel: str | None = None,
                days: int = ATTRIBUTION_DAYS) -> dict[int, Conversion]:
    """Campaign conversion, the one definition the campaign report and the dashboard share.

    Per campaign: among the recipients the message reached (sent or delivered; not queued,
    not failed), those who placed an order that was not cancelled within `days` after the
    message went out (its send time, else the time it was queued). Optionally one campaign,
    deliveries that went out in [start, end), on one channel. Campaigns with no deliveries
    selected are absent."""
    went_out = func.coalesce(CampaignDelivery.sent_at, CampaignDelivery.created_at)
    deliveries = with_message(select(CampaignDelivery.id.label("id"),
                                     CampaignDelivery.campaign_id.label("campaign_id"),
                                     CampaignDelivery.customer_id.label("customer_id"),
                                     delivery_state().label("status"),
                                     went_out.label("went_out")))
    if campaign_id is not None:
        deliveries = deliveries.where(CampaignDelivery.campaign_id == campaign_id)
    if start is not None:
        deliveries = deliveries.where(went_out >= start)
    if end is not None:
        deliveries = deliveries.where(went_out < end)
    if channel:
        deliveries = deliveries.where(CampaignDelivery.channel == channel)
    deliveries = deliveries.subquery()
    # Adding days to a timestamp differs per dialect, so SQL finds each recipient's first order
    # after the message and the window test runs here (one row per delivery).
    rows = session.execute(
        select(deliveries.c.id, deliveries.c.campaign_id, deliveries.c.status,
               deliveries.c.went_out, func.min(Order.created_at))
        .outerjoin(Order, and_(Order.customer_id == deliveries.c.customer_id,
                               Order.status != OrderStatus.CANCELLED,
                               Order.created_at >= deliveries.c.went_out))
        .group_by(deliveries.c.id, deliveries.c.campaign_id, deliveries.c.status,
                  deliveries.c.went_out)).all()
    window = timedelta(days=days)
    found: dict[int, dict[str, Any]] = {}
    for delivery_id, campaign, status, sent, first_order in rows:
        parts = found.setdefault(campaign, {"reached": 0, "ordered": {}, "converted": set()})
        ordered = (first_order is not None
                   and _aware(first_order) - _aware(sent) <= window)
        parts["ordered"][delivery_id] = ordered
        if DeliveryStatus(status) in REACHED:
            parts["reached"] += 1
            if ordered:
                parts["converted"].add(delivery_id)
    return {campaign: Conversion(reached=p["reached"], converted=len(p["converted"]),
                                 ordered=p["ordered"], converted_ids=frozenset(p["converted"]))
            for campaign, p in found.items()}


def report(session: Session, *, campaign_id: int) -> dict[str, Any]:
    """Reached, failed, opted out, replies, and orders within 7 days of the message from the
    customers it reached (conversion, as the dashboard counts it: `conversions`). Each
    recipient's state is read from the message carrying it; opening the report writes nothing."""
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise NotFound(f"no campaign {campaign_id}")
    conversion = conversions(session, campaign_id=campaign_id).get(campaign_id, Conversion(0, 0))
    statuses = Counter()
    replies = 0
    recipients = []
    rows = session.execute(with_message(
        select(CampaignDelivery, delivery_state(),
               func.coalesce(Message.attempts, 0), Message.last_error))
        .where(CampaignDelivery.campaign_id == campaign_id).order_by(CampaignDelivery.id)).all()
    for row, state, attempts, error in rows:
        status = recipient_status(session, row, DeliveryStatus(state))
        statuses[status] += 1
        start = _aware(row.created_at)
        end = start + timedelta(days=ATTRIBUTION_DAYS)
        replied = False
        if row.conversation_id is not None:
            replied = session.scalar(select(func.count(Message.id)).where(
                Message.conversation_id == row.conversation_id,
                Message.direction == Direction.INBOUND,
                Message.created_at > start, Message.created_at <= end)) > 0
        replies += replied
        recipients.append({"customer_id": row.customer_id, "channel": row.channel,
                           "status": status, "attempts": attempts,
                           "error": error, "replied": replied,
                           "ordered": conversion.ordered.get(row.id, False),
                           "converted": row.id in conversion.converted_ids})
    audience_size = len(rows)
    reached = conversion.reached
    orders = conversion.converted
    return {
        "campaign_id": campaign.id, "name": campaign.name, "kind": campaign.kind,
        "status": status_of(session, campaign).value,
        "sent_at": campaign.sent_at.isoformat() if campaign.sent_at else None,
        "recipients": audience_size, "queued": statuses["queued"], "reached": reached,
        "failed": statuses["failed"], "opted_out": statuses["opted_out"],
        "replies": replies, "orders": orders,
        "conversion": round(conversion.rate, 4) if reached else 0.0,
        "per_recipient": recipients,
    }
