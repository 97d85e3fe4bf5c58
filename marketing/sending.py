"""Sending a campaign now, or when its scheduled time (or the end of the quiet hours) comes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_store.errors import NotAllowed, NotFound
from crm_store.models import Campaign, CampaignStatus, Customer, utcnow
from crm_store.services import segments
from crm_store.services.segments import Reach, SegmentRules
from kefu_config.policy import load_policy
from knowledge.service import get_service
from marketing.composing import Recommender, campaign_topic, knowledge_recommender, needs_product
from marketing.delivering import Recipient, SendResult, deliver
from marketing.rules import SendPolicy
from marketing.triggered import send_triggered


def audience_for(session: Session, campaign: Campaign, *,
                 now: datetime | None = None) -> list[tuple[Customer, Reach]]:
    """Consenting, reachable customers the campaign is for."""
    rules = segment_rules(session, campaign) or \
        SegmentRules(interests=[campaign.topic] if campaign.topic else [])
    return segments.audience(session, rules, now=now)


def segment_rules(session: Session, campaign: Campaign) -> SegmentRules | None:
    """The rules of the campaign's segment; None for a campaign without one."""
    if campaign.segment_id is None:
        return None
    return segments.parse_rules(segments.get(session, segment_id=campaign.segment_id).rules)


def send(session: Session, *, campaign_id: int, now: datetime | None = None,
         policy: SendPolicy | None = None,
         recommender: Recommender = knowledge_recommender) -> SendResult:
    """Queue the campaign for every consenting, reachable audience member not over the cap,
    through the gateway's outbound queue. In the quiet hours nothing is sent: the campaign is
    scheduled for when they end (`send_due` picks it up)."""
    now = now or utcnow()
    policy = policy or SendPolicy.from_shop()
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise NotFound(f"no campaign {campaign_id}")
    if campaign.status != CampaignStatus.DRAFT:
        raise NotAllowed(f"campaign {campaign.name!r} was already sent")
    if policy.quiet(now):
        campaign.scheduled_at = policy.quiet_ends(now)
        return SendResult(deferred_until=campaign.scheduled_at)
    if campaign.kind == "triggered":
        # A new-product notification held back by the quiet hours: match again now.
        return send_triggered(session, campaign,
                              threshold=load_policy().marketing.match_threshold,
                              encode=get_service().embedder.encode, now=now, policy=policy)
    return deliver(session, campaign, _recipients(session, campaign, recommender, now), now=now,
                   policy=policy)


def _recipients(session: Session, campaign: Campaign, recommender: Recommender,
                now: datetime) -> Iterator[Recipient]:
    wants_product = needs_product(campaign.message)
    topic = campaign_topic(campaign.topic, segment_rules(session, campaign))
    for customer, reach in audience_for(session, campaign, now=now):
        product = (lambda customer_id=customer.id: recommender(session, customer_id, topic)) \
            if wants_product else None
        yield Recipient(customer, reach, product)


def send_due(session: Session, *, now: datetime | None = None, policy: SendPolicy | None = None,
             recommender: Recommender = knowledge_recommender) -> dict[int, SendResult]:
    """Send every draft campaign whose scheduled time has come (run it every few minutes)."""
    now = now or utcnow()
    due = session.scalars(select(Campaign).where(
        Campaign.status == CampaignStatus.DRAFT, Campaign.scheduled_at.is_not(None),
        Campaign.scheduled_at <= now).order_by(Campaign.scheduled_at, Campaign.id))
    return {c.id: send(session, campaign_id=c.id, now=now, policy=policy,
                       recommender=recommender) for c in list(due)}
