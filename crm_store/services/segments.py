"""Marketing segments: rules over what customers like, buy and do, and who may be messaged.

A segment's rules (all optional, all must hold; a list means "any of"):
  interests        topics, any source (stated, imported, inferred, purchase)
  interest_sources restrict `interests` to these sources
  categories       bought at least once in one of these product categories
  rfm_tiers        the customer's RFM tier (see `refresh_rfm`)
  min_orders, min_spent, ordered_within_days   order frequency, monetary value, recency
  channels         has an identity on one of these channels
  languages, tags  profile fields
  active_within_days  seen on any channel within this many days

Consent: the audience counts only customers who may be messaged, and `reachable` says where.
Consent is one decision per customer (Customer.marketing_opt_in) with the channel it was given
on (marketing_consent_source). "The channels they consented to" means:
  - consent given in a chat ("web", "telegram", "rest"): that channel only — the customer said
    yes there, and has not necessarily ever seen our other channels;
  - consent given to the shop itself (an import, "import:customers.csv", or staff): the chat
    channels where the customer proved who they are (a verified identity), because only there
    do we know the person reading is the one who agreed.
Withdrawing consent (/stop, "unsubscribe", the button in every campaign) is per customer and so
stops every channel at once. This keeps the existing fields meaningful without a per-channel
consent table.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crm_store.errors import InvalidInput, NotFound
from crm_store.models import (
    ChannelIdentity,
    Conversation,
    Customer,
    CustomerRfm,
    Interest,
    InterestSource,
    Order,
    OrderLine,
    OrderStatus,
    Product,
    Segment,
    utcnow,
)
from crm_store.normalise import normalise_topic
from crm_store.services import audit

logger = logging.getLogger(__name__)

# Channels a campaign can be delivered on (the gateway's names).
CHAT_CHANNELS = ("web", "telegram", "rest")
RFM_TIERS = ("champion", "loyal", "new", "at_risk", "lost", "regular", "none")
# Orders that count as purchases for RFM and "bought in category".
_COUNTED = (OrderStatus.PENDING, OrderStatus.PAID, OrderStatus.SHIPPED, OrderStatus.DELIVERED)


class SegmentRules(BaseModel):
    model_config = ConfigDict(extra="forbid")

    interests: list[str] = Field(default_factory=list)
    interest_sources: list[InterestSource] = Field(default_factory=list)
    categories: list[str] = Field(default_factory=list)
    rfm_tiers: list[str] = Field(default_factory=list)
    min_orders: int | None = Field(default=None, ge=0)
    min_spent: Decimal | None = Field(default=None, ge=0)
    ordered_within_days: int | None = Field(default=None, ge=1)
    channels: list[str] = Field(default_factory=list)
    languages: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    active_within_days: int | None = Field(default=None, ge=1)

    @field_validator("interests")
    @classmethod
    def _topics(cls, value: list[str]) -> list[str]:
        return [t for t in (normalise_topic(v) for v in value) if t]

    @field_validator("rfm_tiers")
    @classmethod
    def _tiers(cls, value: list[str]) -> list[str]:
        unknown = [v for v in value if v not in RFM_TIERS]
        if unknown:
            raise ValueError(f"unknown RFM tier {unknown[0]!r}; one of {', '.join(RFM_TIERS)}")
        return value

    @field_validator("channels")
    @classmethod
    def _channels(cls, value: list[str]) -> list[str]:
        unknown = [v for v in value if v not in CHAT_CHANNELS]
        if unknown:
            raise ValueError(f"unknown channel {unknown[0]!r}; one of {', '.join(CHAT_CHANNELS)}")
        return value


def parse_rules(raw: dict[str, Any] | None) -> SegmentRules:
    try:
        return SegmentRules.model_validate(raw or {})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "rules"
        raise InvalidInput(f"segment rule {where}: {first['msg']}") from exc


# --- saved segments -----------------------------------------------------------------------

def create(session: Session, *, name: str, rules: dict[str, Any],
           created_by_id: int | None = None) -> Segment:
    name = name.strip()
    if not name:
        raise InvalidInput("a segment needs a name")
    parsed = parse_rules(rules)
    if session.scalar(select(Segment.id).where(Segment.name == name)) is not None:
        raise InvalidInput(f"a segment called {name!r} already exists")
    segment = Segment(name=name, rules=parsed.model_dump(mode="json", exclude_defaults=True),
                      created_by_id=created_by_id)
    session.add(segment)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as exc:
        raise InvalidInput(f"a segment called {name!r} already exists") from exc
    audit.record(session, actor=f"staff:{created_by_id}" if created_by_id else "system",
                 staff_id=created_by_id, action="segment.create", entity="segment",
                 entity_id=segment.id)
    return segment


def get(session: Session, *, segment_id: int) -> Segment:
    segment = session.get(Segment, segment_id)
    if segment is None:
        raise NotFound(f"no segment {segment_id}")
    return segment


def list_segments(session: Session) -> list[Segment]:
    return list(session.scalars(select(Segment).order_by(Segment.name)))


# --- who matches --------------------------------------------------------------------------

def members(session: Session, rules: SegmentRules | dict[str, Any], *,
            now: datetime | None = None) -> list[Customer]:
    """Every customer the rules select, consent or not (erased customers never)."""
    rules = rules if isinstance(rules, SegmentRules) else parse_rules(rules)
    now = now or utcnow()
    stmt = select(Customer).where(Customer.erased_at.is_(None)).order_by(Customer.id)
    if rules.interests:
        held = select(Interest.customer_id).where(Interest.topic.in_(rules.interests))
        if rules.interest_sources:
            held = held.where(Interest.source.in_(rules.interest_sources))
        stmt = stmt.where(Customer.id.in_(held))
    if rules.categories:
        wanted = [c.casefold() for c in rules.categories]
        bought = (select(Order.customer_id).join(OrderLine, OrderLine.order_id == Order.id)
                  .join(Product, Product.id == OrderLine.product_id)
                  .where(func.lower(Product.category).in_(wanted), Order.status.in_(_COUNTED)))
        stmt = stmt.where(Customer.id.in_(bought))
    if rules.rfm_tiers:
        tiered = select(CustomerRfm.customer_id).where(CustomerRfm.tier.in_(rules.rfm_tiers))
        if "none" in rules.rfm_tiers:
            # Customers never scored have no orders: the same as the "none" tier.
            scored = select(CustomerRfm.customer_id)
            stmt = stmt.where(Customer.id.in_(tiered) | Customer.id.not_in(scored))
        else:
            stmt = stmt.where(Customer.id.in_(tiered))
    if rules.min_orders is not None or rules.min_spent is not None:
        totals = (select(Order.customer_id).where(Order.status.in_(_COUNTED))
                  .group_by(Order.customer_id))
        if rules.min_orders is not None:
            totals = totals.having(func.count(Order.id) >= rules.min_orders)
        if rules.min_spent is not None:
            totals = totals.having(func.sum(Order.total) >= rules.min_spent)
        stmt = stmt.where(Customer.id.in_(totals))
    if rules.ordered_within_days is not None:
        recent = select(Order.customer_id).where(
            Order.status.in_(_COUNTED),
            Order.created_at >= now - timedelta(days=rules.ordered_within_days))
        stmt = stmt.where(Customer.id.in_(recent))
    if rules.channels:
        on = select(ChannelIdentity.customer_id).where(ChannelIdentity.channel.in_(rules.channels))
        stmt = stmt.where(Customer.id.in_(on))
    if rules.languages:
        stmt = stmt.where(Customer.language.in_(rules.languages))
    if rules.active_within_days is not None:
        stmt = stmt.where(Customer.last_seen_at >= now - timedelta(days=rules.active_within_days))
    found = list(session.scalars(stmt))
    if rules.tags:
        # Tags are a JSON list: filtered here, the same on SQLite and PostgreSQL.
        wanted_tags = {t.casefold() for t in rules.tags}
        found = [c for c in found if wanted_tags & {t.casefold() for t in (c.tags or [])}]
    return found


@dataclass(frozen=True)
class Reach:
    channel: str
    conversation_id: int


def consented_channels(session: Session, customer: Customer) -> set[str]:
    """The chat channels this customer agreed to be messaged on (see the module docstring)."""
    if not customer.marketing_opt_in or customer.erased_at is not None:
        return set()
    source = (customer.marketing_consent_source or "").strip().lower()
    if source in CHAT_CHANNELS:
        return {source}
    verified = session.scalars(select(ChannelIdentity.channel).where(
        ChannelIdentity.customer_id == customer.id, ChannelIdentity.verified.is_(True)))
    return {c for c in verified if c in CHAT_CHANNELS}


def reachable(session: Session, customer: Customer) -> Reach | None:
    """Where a campaign may reach this customer now: their most recent conversation on a
    channel they consented to, or None (no consent, or no conversation there)."""
    allowed = consented_channels(session, customer)
    if not allowed:
        return None
    identities = select(ChannelIdentity.channel, ChannelIdentity.external_id).where(
        ChannelIdentity.customer_id == customer.id, ChannelIdentity.channel.in_(allowed))
    pairs = {(c, e) for c, e in session.execute(identities)}
    if not pairs:
        return None
    stmt = (select(Conversation).where(Conversation.channel.in_(allowed),
                                       Conversation.external_id.in_([e for _, e in pairs]))
            .order_by(Conversation.last_message_at.desc().nulls_last(), Conversation.id.desc()))
    for conversation in session.scalars(stmt):
        if (conversation.channel, conversation.external_id) in pairs:
            return Reach(conversation.channel, conversation.id)
    return None


def own_reach(session: Session, customer: Customer) -> Reach | None:
    """Where a message the customer asked for themselves may reach them, consent or not (a
    marketer's test send to their own customer account): where a campaign would reach them,
    else their most recent conversation on a chat channel they proved is theirs (a verified
    identity). None when there is neither."""
    if customer.erased_at is not None:
        return None
    reach = reachable(session, customer)
    if reach is not None:
        return reach
    pairs = {(c, e) for c, e in session.execute(
        select(ChannelIdentity.channel, ChannelIdentity.external_id).where(
            ChannelIdentity.customer_id == customer.id, ChannelIdentity.verified.is_(True),
            ChannelIdentity.channel.in_(CHAT_CHANNELS)))}
    if not pairs:
        return None
    stmt = (select(Conversation).where(Conversation.external_id.in_([e for _, e in pairs]))
            .order_by(Conversation.last_message_at.desc().nulls_last(), Conversation.id.desc()))
    for conversation in session.scalars(stmt):
        if (conversation.channel, conversation.external_id) in pairs:
            return Reach(conversation.channel, conversation.id)
    return None


def audience(session: Session, rules: SegmentRules | dict[str, Any], *,
             now: datetime | None = None) -> list[tuple[Customer, Reach]]:
    """Members who consented on a channel we can reach them on, with where."""
    result = []
    for customer in members(session, rules, now=now):
        reach = reachable(session, customer)
        if reach is not None:
            result.append((customer, reach))
    return result


def audience_count(session: Session, rules: SegmentRules | dict[str, Any], *,
                   now: datetime | None = None) -> int:
    return len(audience(session, rules, now=now))


# --- what the rules can name --------------------------------------------------------------

KNOWN_LIMIT = 500


def known_values(session: Session) -> dict[str, list[str]]:
    """The values a segment rule can name that the store holds now, for the rule builder:
    interests and languages of customers not erased, categories of products on sale, tags on
    customers; and the fixed RFM tiers, channels and interest sources. Sorted, at most
    KNOWN_LIMIT of each."""
    alive = Customer.erased_at.is_(None)
    interests = session.scalars(
        select(Interest.topic).join(Customer, Customer.id == Interest.customer_id).where(alive)
        .distinct().order_by(Interest.topic).limit(KNOWN_LIMIT))
    categories = session.scalars(
        select(Product.category).where(Product.archived_at.is_(None), Product.category != "")
        .distinct().order_by(Product.category).limit(KNOWN_LIMIT))
    languages = session.scalars(
        select(Customer.language).where(alive, Customer.language.is_not(None))
        .distinct().order_by(Customer.language).limit(KNOWN_LIMIT))
    # Tags are a JSON list: gathered here, the same on SQLite and PostgreSQL.
    tags: dict[str, str] = {}
    for row in session.scalars(select(Customer.tags).where(alive)):
        for tag in row or []:
            if isinstance(tag, str) and tag.strip():
                tags.setdefault(tag.strip().casefold(), tag.strip())
    return {"interests": list(interests), "categories": list(categories),
            "tags": sorted(tags.values(), key=str.casefold)[:KNOWN_LIMIT],
            "languages": [v for v in languages if v],
            "rfm_tiers": list(RFM_TIERS), "channels": list(CHAT_CHANNELS),
            "interest_sources": [s.value for s in InterestSource]}


# --- RFM ----------------------------------------------------------------------------------

def _quintile(value: float, ordered: list[float]) -> int:
    """1..5: where `value` falls among all customers' values (higher is better), by its
    percentile rank, so the best customer scores 5 and the worst 1 however few there are."""
    if len(ordered) <= 1:
        return 3
    below = sum(1 for v in ordered if v < value)
    return 1 + round(4 * below / (len(ordered) - 1))


def _tier(r: int, f: int, m: int) -> str:
    if r >= 4 and f >= 4:
        return "champion"
    if f >= 4 or (m >= 4 and r >= 3):
        return "loyal"
    if r >= 4 and f <= 2:
        return "new"
    if r <= 2 and f >= 3:
        return "at_risk"
    if r <= 1:
        return "lost"
    return "regular"


def refresh_rfm(session: Session, *, now: datetime | None = None) -> dict[str, int]:
    """Recompute every customer's RFM figures, scores (quintiles) and tier; returns customers
    per tier. Customers without counted orders get tier "none"."""
    now = now or utcnow()
    rows = session.execute(
        select(Order.customer_id, func.max(Order.created_at), func.count(Order.id),
               func.sum(Order.total))
        .where(Order.status.in_(_COUNTED)).group_by(Order.customer_id)).all()
    figures = {}
    for customer_id, last, count, total in rows:
        last = last if last.tzinfo else last.replace(tzinfo=now.tzinfo)
        figures[customer_id] = (max(0, (now - last).days), int(count), Decimal(total or 0))
    # Recency: fewer days is better, so rank the negated value.
    recency = sorted(-v[0] for v in figures.values())
    frequency = sorted(float(v[1]) for v in figures.values())
    monetary = sorted(float(v[2]) for v in figures.values())
    existing = {r.customer_id: r for r in session.scalars(select(CustomerRfm))}
    # Erased customers keep their row in customers (orders stay countable) but lose the tier.
    for customer_id in session.scalars(select(Customer.id).where(Customer.erased_at.is_not(None))):
        if customer_id in existing:
            session.delete(existing.pop(customer_id))
    counts: dict[str, int] = {t: 0 for t in RFM_TIERS}
    for customer_id in session.scalars(select(Customer.id).where(Customer.erased_at.is_(None))):
        if customer_id in figures:
            days, count, total = figures[customer_id]
            r = _quintile(-days, recency)
            f = _quintile(float(count), frequency)
            m = _quintile(float(total), monetary)
            tier, score = _tier(r, f, m), f"{r}{f}{m}"
        else:
            days, count, total, tier, score = None, 0, Decimal("0"), "none", "000"
        row = existing.get(customer_id) or CustomerRfm(customer_id=customer_id)
        row.recency_days, row.frequency, row.monetary = days, count, total
        row.score, row.tier, row.computed_at = score, tier, now
        session.add(row)
        counts[tier] += 1
    session.flush()
    logger.info("RFM tiers recomputed: %s", counts)
    return counts


def rfm_for(session: Session, *, customer_id: int) -> CustomerRfm | None:
    return session.get(CustomerRfm, customer_id)
