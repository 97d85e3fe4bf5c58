"""Cross-channel linking: a verified customer gets a one-time code on one channel and types it
on another; that channel's identity then belongs to the same customer (and is verified).

Codes use an alphabet without look-alikes (no 0/O, 1/I/L), expire after minutes and work once.
Only a verified identity can issue one: a code hands over the customer's record, so it must
come from someone who proved they own it.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from crm_store.errors import InvalidInput, NotAllowed, NotFound
from crm_store.models import AuditEntry, ChannelIdentity, LinkCode, utcnow
from crm_store.services import audit, identities

ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 6
DEFAULT_TTL = timedelta(minutes=10)
# Wrong codes one chat may type before it must wait. Counted in the audit log, in the shared
# database, so a guesser gets the same five tries however many gateway replicas there are.
MAX_FAILED_GUESSES = 5
GUESS_WINDOW = timedelta(minutes=10)
FAILED_GUESS = "link_code.fail"


def normalise_code(raw: str) -> str:
    """What people type ('abc 234', 'ABC-234') -> 'ABC234'."""
    return "".join(ch for ch in (raw or "").upper() if ch.isalnum())


def issue(session: Session, *, channel: str, external_id: str,
          ttl: timedelta = DEFAULT_TTL) -> LinkCode:
    """A new code for the customer behind this (verified) identity; older unused ones lapse."""
    identity = identities.get(session, channel=channel, external_id=external_id)
    if identity is None:
        raise NotFound(f"no {channel} identity {external_id!r}")
    if not identity.verified:
        raise NotAllowed("only a verified customer can link another channel")
    now = utcnow()
    session.execute(
        update(LinkCode)
        .where(LinkCode.issued_channel == channel, LinkCode.issued_external_id == external_id,
               LinkCode.used_at.is_(None), LinkCode.expires_at > now)
        .values(expires_at=now)
        .execution_options(synchronize_session=False)
    )
    while True:
        code = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
        if session.scalar(select(LinkCode.id).where(LinkCode.code == code)) is None:
            break
    link = LinkCode(code=code, customer_id=identity.customer_id, issued_channel=channel,
                    issued_external_id=external_id, created_at=now, expires_at=now + ttl)
    session.add(link)
    session.flush()
    audit.record(session, actor=f"customer:{identity.customer_id}", action="link_code.issue",
                 entity="customer", entity_id=identity.customer_id, details={"channel": channel})
    return link


def redeem(session: Session, *, code: str, channel: str, external_id: str) -> ChannelIdentity:
    """Join this channel's identity to the code's customer. Raises InvalidInput for a bad code."""
    normalised = normalise_code(code)
    if len(normalised) != CODE_LENGTH:
        raise InvalidInput("that is not a link code")
    now = utcnow()
    # One conditional UPDATE claims the code, so two channels typing it at once cannot both win.
    result = session.execute(
        update(LinkCode)
        .where(LinkCode.code == normalised, LinkCode.used_at.is_(None), LinkCode.expires_at > now)
        .values(used_at=now, used_channel=channel, used_external_id=external_id)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise InvalidInput("that link code is unknown, used or expired")
    link = session.scalar(select(LinkCode).where(LinkCode.code == normalised))
    identity = identities.link(session, customer_id=link.customer_id, channel=channel,
                               external_id=external_id, verified=True,
                               actor=f"customer:{link.customer_id}")
    audit.record(session, actor=f"customer:{link.customer_id}", action="link_code.redeem",
                 entity="customer", entity_id=link.customer_id,
                 details={"from": link.issued_channel, "to": channel})
    return identity


def _chat(channel: str, external_id: str) -> tuple[str, str]:
    # The audit log's entity id holds 64 characters; longer external ids (REST senders) are
    # kept as their digest, which counts the same.
    entity_id = external_id if len(external_id) <= 64 else \
        hashlib.sha256(external_id.encode()).hexdigest()
    return f"chat:{channel}"[:40], entity_id


def record_failed_guess(session: Session, *, channel: str, external_id: str) -> None:
    """A wrong, used or expired code was typed on this chat (its own unit of work: the failed
    redeem itself is rolled back)."""
    entity, entity_id = _chat(channel, external_id)
    audit.record(session, actor="customer", action=FAILED_GUESS, entity=entity,
                 entity_id=entity_id)


def guesses_left(session: Session, *, channel: str, external_id: str,
                 now: datetime | None = None) -> int:
    """How many more wrong codes this chat may type within the window."""
    entity, entity_id = _chat(channel, external_id)
    since = (now or utcnow()) - GUESS_WINDOW
    failed = session.scalar(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.at > since, AuditEntry.action == FAILED_GUESS,
        AuditEntry.entity == entity, AuditEntry.entity_id == entity_id))
    return max(0, MAX_FAILED_GUESSES - (failed or 0))
