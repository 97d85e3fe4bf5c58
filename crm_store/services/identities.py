"""Channel identities: which customer a web session, Telegram chat or REST sender belongs to."""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_store.errors import NotFound
from crm_store.models import ChannelIdentity, Customer, utcnow
from crm_store.services import audit, customers

logger = logging.getLogger(__name__)


def get(session: Session, *, channel: str, external_id: str) -> ChannelIdentity | None:
    return session.scalar(
        select(ChannelIdentity).where(
            ChannelIdentity.channel == channel, ChannelIdentity.external_id == external_id
        )
    )


def for_customer(session: Session, *, customer_id: int) -> list[ChannelIdentity]:
    stmt = (select(ChannelIdentity).where(ChannelIdentity.customer_id == customer_id)
            .order_by(ChannelIdentity.id))
    return list(session.scalars(stmt))


def link(
    session: Session,
    *,
    customer_id: int,
    channel: str,
    external_id: str,
    verified: bool = False,
    actor: str = "system",
) -> ChannelIdentity:
    """Point a channel sender at `customer_id`.

    If the sender so far belonged to an anonymous customer (no email: a chat that had not said
    who it was), that customer is merged in, so nothing said before is lost. A sender that
    belonged to another known customer is simply moved (a shared device changing hands).
    """
    target = session.get(Customer, customer_id)
    if target is None:
        raise NotFound(f"no customer {customer_id}")
    now = utcnow()
    identity = get(session, channel=channel, external_id=external_id)
    if identity is None:
        identity = ChannelIdentity(customer_id=customer_id, channel=channel,
                                   external_id=external_id, last_seen_at=now)
        session.add(identity)
    elif identity.customer_id != customer_id:
        previous = identity.customer
        if previous.email is None and previous.erased_at is None:
            customers.merge(session, source_id=previous.id, target_id=customer_id, actor=actor)
            session.refresh(identity)
        else:
            identity.customer_id = customer_id
            # A different person now: the old verification says nothing about this one.
            identity.verified = False
            identity.verified_at = None
    if verified and not identity.verified:
        identity.verified = True
        identity.verified_at = now
    identity.last_seen_at = now
    session.flush()
    audit.record(session, actor=actor, action="identity.link", entity="customer",
                 entity_id=customer_id, details={"channel": channel, "verified": identity.verified})
    return identity


def verify(session: Session, *, channel: str, external_id: str) -> ChannelIdentity:
    identity = get(session, channel=channel, external_id=external_id)
    if identity is None:
        raise NotFound(f"no {channel} identity {external_id!r}")
    if not identity.verified:
        identity.verified = True
        identity.verified_at = utcnow()
    return identity
