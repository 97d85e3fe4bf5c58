"""Customers: lookup by email or channel identity, profile updates, consent, merging."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crm_store.errors import InvalidInput, NotFound
from crm_store.models import (
    CampaignDelivery,
    ChannelIdentity,
    Conversation,
    Customer,
    Interest,
    Order,
    Ticket,
    utcnow,
)
from crm_store.normalise import normalise_email
from crm_store.services import audit

logger = logging.getLogger(__name__)


def get(session: Session, *, customer_id: int) -> Customer | None:
    return session.get(Customer, customer_id)


def get_by_email(session: Session, *, email: str) -> Customer | None:
    """The customer with this email (any case or surrounding spaces); None if unknown or invalid."""
    try:
        normalised = normalise_email(email)
    except InvalidInput:
        return None
    return session.scalar(select(Customer).where(Customer.email == normalised))


def get_or_create_by_email(session: Session, *, email: str, name: str | None = None) -> Customer:
    normalised = normalise_email(email)
    customer = session.scalar(select(Customer).where(Customer.email == normalised))
    if customer is None:
        customer = Customer(email=normalised, name=name, tags=[])
        session.add(customer)
        session.flush()
        audit.record(session, actor="system", action="customer.create", entity="customer",
                     entity_id=customer.id)
    elif name and not customer.name:
        customer.name = name
    return customer


def find_or_create_by_identity(session: Session, *, channel: str, external_id: str) -> Customer:
    """The customer behind a channel sender, creating an anonymous one the first time we see it."""
    identity = session.scalar(
        select(ChannelIdentity).where(
            ChannelIdentity.channel == channel, ChannelIdentity.external_id == external_id
        )
    )
    now = utcnow()
    if identity is None:
        try:
            # A savepoint: when two first messages from one sender race (gateway replicas),
            # the loser's insert fails here and it reads the winner's row instead.
            with session.begin_nested():
                customer = Customer(tags=[], last_seen_at=now)
                session.add(customer)
                session.flush()
                session.add(ChannelIdentity(customer_id=customer.id, channel=channel,
                                            external_id=external_id, last_seen_at=now))
                session.flush()
            logger.debug("new customer %s for %s sender", customer.id, channel)
            return customer
        except IntegrityError:
            identity = session.scalar(
                select(ChannelIdentity).where(
                    ChannelIdentity.channel == channel, ChannelIdentity.external_id == external_id
                )
            )
            if identity is None:
                raise
    identity.last_seen_at = now
    identity.customer.last_seen_at = now
    return identity.customer


def update_profile(
    session: Session,
    *,
    customer_id: int,
    name: str | None = None,
    phone: str | None = None,
    language: str | None = None,
    segment: str | None = None,
    tags: list[str] | None = None,
    actor: str = "system",
) -> Customer:
    """Set the given fields (None leaves a field as it is)."""
    customer = _require(session, customer_id)
    changed = []
    for field, value in (("name", name), ("phone", phone), ("language", language),
                         ("segment", segment), ("tags", tags)):
        if value is not None and getattr(customer, field) != value:
            setattr(customer, field, list(value) if field == "tags" else value)
            changed.append(field)
    if changed:
        audit.record(session, actor=actor, action="customer.update", entity="customer",
                     entity_id=customer.id, details={"fields": changed})
    return customer


def set_email(session: Session, *, customer_id: int, email: str, actor: str = "system") -> Customer:
    """Give an (anonymous) customer an email; refuses one that belongs to someone else."""
    customer = _require(session, customer_id)
    normalised = normalise_email(email)
    owner = session.scalar(select(Customer).where(Customer.email == normalised))
    if owner is not None and owner.id != customer.id:
        raise InvalidInput("that email belongs to another customer")
    customer.email = normalised
    audit.record(session, actor=actor, action="customer.set_email", entity="customer",
                 entity_id=customer.id)
    return customer


def set_marketing_consent(
    session: Session, *, customer_id: int, opt_in: bool, source: str, actor: str = "system"
) -> Customer:
    """Record consent given or withdrawn, with when and where (e.g. source='telegram')."""
    customer = _require(session, customer_id)
    if customer.marketing_opt_in != opt_in or customer.marketing_consent_at is None:
        # What it was before, so that a withdrawal can be undone to exactly that.
        previous = customer.marketing_opt_in if customer.marketing_consent_at else None
        customer.marketing_opt_in = opt_in
        customer.marketing_consent_at = utcnow()
        customer.marketing_consent_source = source
        audit.record(session, actor=actor, action="customer.consent", entity="customer",
                     entity_id=customer.id,
                     details={"opt_in": opt_in, "source": source, "previous": previous})
    return customer


def undo_consent_withdrawal(session: Session, *, customer_id: int, within: timedelta,
                            actor: str) -> bool:
    """Put back the consent the customer withdrew in the last `within`, if they had given it
    before; False (nothing changed) otherwise. The customer's "Undo" after unsubscribing."""
    customer = _require(session, customer_id)
    changes = [e for e in audit.for_entity(session, entity="customer", entity_id=customer_id)
               if e.action == "customer.consent"]
    if not changes or customer.marketing_opt_in:
        return False
    latest = max(changes, key=lambda e: (e.at, e.id))
    if (latest.details or {}).get("opt_in") is not False \
            or (latest.details or {}).get("previous") is not True \
            or latest.at < utcnow() - within:
        return False
    set_marketing_consent(session, customer_id=customer_id, opt_in=True,
                          source=(latest.details or {}).get("source") or "undo", actor=actor)
    return True


def search(session: Session, *, query: str, limit: int = 20) -> list[Customer]:
    """Staff lookup by part of an email, name or phone."""
    pattern = f"%{query.strip().lower()}%"
    stmt = (
        select(Customer)
        .where(Customer.erased_at.is_(None))
        .where(or_(Customer.email.like(pattern), Customer.name.ilike(pattern),
                   Customer.phone.like(pattern)))
        .order_by(Customer.last_seen_at.desc().nulls_last(), Customer.id)
        .limit(limit)
    )
    return list(session.scalars(stmt))


def merge(session: Session, *, source_id: int, target_id: int, actor: str = "system") -> Customer:
    """Move everything of `source` (usually an anonymous chat customer) to `target`, then drop it."""
    if source_id == target_id:
        return _require(session, target_id)
    source = _require(session, source_id)
    target = _require(session, target_id)
    session.flush()
    for model in (ChannelIdentity, Conversation, Order, Ticket):
        session.execute(
            update(model).where(model.customer_id == source_id).values(customer_id=target_id)
        )
    # Interests and campaign deliveries are unique per customer: keep the stronger one.
    for interest in session.scalars(select(Interest).where(Interest.customer_id == source_id)):
        existing = session.scalar(select(Interest).where(
            Interest.customer_id == target_id, Interest.topic == interest.topic,
            Interest.source == interest.source))
        if existing is None:
            interest.customer_id = target_id
        else:
            existing.weight = max(existing.weight, interest.weight)
            session.delete(interest)
    for delivery in session.scalars(
        select(CampaignDelivery).where(CampaignDelivery.customer_id == source_id)
    ):
        duplicate = session.scalar(select(CampaignDelivery.id).where(
            CampaignDelivery.customer_id == target_id,
            CampaignDelivery.campaign_id == delivery.campaign_id))
        if duplicate is None:
            delivery.customer_id = target_id
        else:
            session.delete(delivery)
    for field in ("name", "phone", "language", "segment"):
        if getattr(target, field) is None and getattr(source, field) is not None:
            setattr(target, field, getattr(source, field))
    target.tags = sorted(set(target.tags) | set(source.tags))
    if source.last_seen_at and (target.last_seen_at is None
                                or source.last_seen_at > target.last_seen_at):
        target.last_seen_at = source.last_seen_at
    session.flush()
    session.expire(source)
    session.delete(source)
    session.flush()
    session.expire(target)
    audit.record(session, actor=actor, action="customer.merge", entity="customer",
                 entity_id=target_id, details={"merged_customer_id": source_id})
    return target


def _require(session: Session, customer_id: int) -> Customer:
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise NotFound(f"no customer {customer_id}")
    return customer
