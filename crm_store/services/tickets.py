"""Tickets: complaints and service requests with a service-level deadline."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from crm_store.errors import InvalidInput, NotAllowed, NotFound
from crm_store.models import (
    Customer,
    Ticket,
    TicketCategory,
    TicketKind,
    TicketPriority,
    TicketStatus,
    utcnow,
)
from crm_store.normalise import normalise_email, normalise_ticket_reference
from crm_store.services import audit

# How long the shop promises to take, by priority (the SLA the dashboard counts breaches of),
# when the shop policy file does not say.
SLA = {
    TicketPriority.URGENT: timedelta(hours=4),
    TicketPriority.HIGH: timedelta(hours=8),
    TicketPriority.NORMAL: timedelta(hours=24),
    TicketPriority.LOW: timedelta(hours=72),
}


def sla_for(priority: TicketPriority) -> timedelta:
    """The shop's promise for this priority: policy/shop.yml `tickets.sla_hours`, else SLA.

    A policy that leaves a priority out gets the default, not an error: a complaint must be
    filed (and the customer told when to expect an answer) whatever the shop wrote."""
    from kefu_config.policy import load_policy

    hours = load_policy().tickets.sla_hours.get(priority.value)
    return timedelta(hours=hours) if hours is not None else SLA[priority]


def sla_due(priority: TicketPriority, *, opened_at: datetime) -> datetime:
    """When the shop promised to answer a ticket of this priority opened at `opened_at`: the
    one rule for every ticket, complaints included."""
    return opened_at + sla_for(priority)
# Ticket references start at T-1001 so they always have four digits or more.
REFERENCE_OFFSET = 1000
ACTIVE = frozenset({TicketStatus.OPEN, TicketStatus.PENDING})


def _enum(enum_cls, value, what: str):
    try:
        return enum_cls(value)
    except ValueError as exc:
        allowed = ", ".join(m.value for m in enum_cls)
        raise InvalidInput(f"unknown {what} {value!r} (one of: {allowed})") from exc


def open(  # noqa: A001 - the aggregate's verb; callers write tickets.open(...)
    session: Session,
    *,
    subject: str,
    kind: TicketKind | str = TicketKind.SERVICE_REQUEST,
    category: TicketCategory | str = TicketCategory.OTHER,
    description: str = "",
    priority: TicketPriority | str = TicketPriority.NORMAL,
    customer_id: int | None = None,
    conversation_id: int | None = None,
    order_id: int | None = None,
    channel: str | None = None,
    sla_due_at: datetime | None = None,
    actor: str = "bot",
) -> Ticket:
    subject = subject.strip()
    if not subject:
        raise InvalidInput("a ticket needs a subject")
    kind = _enum(TicketKind, kind, "ticket kind")
    category = _enum(TicketCategory, category, "ticket category")
    priority = _enum(TicketPriority, priority, "ticket priority")
    now = utcnow()
    ticket = Ticket(
        customer_id=customer_id, conversation_id=conversation_id, order_id=order_id,
        kind=kind, category=category, priority=priority, status=TicketStatus.OPEN,
        subject=subject, description=description.strip(), channel=channel,
        sla_due_at=sla_due_at or sla_due(priority, opened_at=now),
        created_at=now, updated_at=now,
    )
    session.add(ticket)
    session.flush()
    ticket.reference = f"T-{REFERENCE_OFFSET + ticket.id}"
    session.flush()
    audit.record(session, actor=actor, action="ticket.open", entity="ticket", entity_id=ticket.id,
                 details={"kind": kind.value, "category": category.value,
                          "priority": priority.value})
    return ticket


def get_by_reference(session: Session, *, reference: str) -> Ticket | None:
    return session.scalar(
        select(Ticket).where(Ticket.reference == normalise_ticket_reference(reference)))


def status_for(
    session: Session, *, reference: str, customer_id: int | None = None, email: str | None = None
) -> Ticket | None:
    """The ticket only if it belongs to the given customer (by id or email); never leak."""
    ticket = get_by_reference(session, reference=reference)
    if ticket is None or ticket.customer_id is None:
        return None
    if customer_id is not None and ticket.customer_id == customer_id:
        return ticket
    if email:
        try:
            email = normalise_email(email)
        except InvalidInput:
            return None
        owner = session.get(Customer, ticket.customer_id)
        if owner is not None and owner.email == email:
            return ticket
    return None


def for_customer(session: Session, *, customer_id: int, active_only: bool = False) -> list[Ticket]:
    stmt = select(Ticket).where(Ticket.customer_id == customer_id)
    if active_only:
        stmt = stmt.where(Ticket.status.in_(ACTIVE))
    return list(session.scalars(stmt.order_by(Ticket.created_at.desc(), Ticket.id.desc())))


def queue(session: Session, *, assignee_id: int | None = None) -> list[Ticket]:
    """Active tickets, the most urgent deadline first."""
    stmt = select(Ticket).where(Ticket.status.in_(ACTIVE))
    if assignee_id is not None:
        stmt = stmt.where(Ticket.assignee_id == assignee_id)
    return list(session.scalars(stmt.order_by(Ticket.sla_due_at, Ticket.id)))


def overdue(session: Session, *, now: datetime | None = None) -> list[Ticket]:
    """Active tickets past their SLA deadline."""
    now = now or utcnow()
    stmt = (select(Ticket).where(Ticket.status.in_(ACTIVE), Ticket.sla_due_at < now)
            .order_by(Ticket.sla_due_at))
    return list(session.scalars(stmt))


def _require(session: Session, ticket_id: int) -> Ticket:
    ticket = session.get(Ticket, ticket_id)
    if ticket is None:
        raise NotFound(f"no ticket {ticket_id}")
    return ticket


def assign(session: Session, *, ticket_id: int, staff_id: int | None, actor: str) -> Ticket:
    ticket = _require(session, ticket_id)
    ticket.assignee_id = staff_id
    ticket.updated_at = utcnow()
    audit.record(session, actor=actor, action="ticket.assign", entity="ticket",
                 entity_id=ticket.id, details={"assignee_id": staff_id})
    return ticket


def set_status(session: Session, *, ticket_id: int, status: TicketStatus | str,
               actor: str) -> Ticket:
    ticket = _require(session, ticket_id)
    status = _enum(TicketStatus, status, "ticket status")
    now = utcnow()
    previous = ticket.status
    ticket.status = status
    ticket.updated_at = now
    if status in (TicketStatus.RESOLVED, TicketStatus.CLOSED) and ticket.resolved_at is None:
        ticket.resolved_at = now
    elif status in ACTIVE:
        ticket.resolved_at = None
    audit.record(session, actor=actor, action="ticket.status", entity="ticket",
                 entity_id=ticket.id, details={"from": previous.value, "to": status.value})
    return ticket


def resolve(session: Session, *, ticket_id: int, resolution: str, actor: str) -> Ticket:
    if not resolution.strip():
        raise InvalidInput("say how the ticket was resolved")
    ticket = set_status(session, ticket_id=ticket_id, status=TicketStatus.RESOLVED, actor=actor)
    ticket.resolution = resolution.strip()
    return ticket


def rate(session: Session, *, ticket_id: int, satisfaction: int, actor: str = "customer") -> Ticket:
    """The customer's 1-5 satisfaction score, accepted once the ticket is resolved."""
    ticket = _require(session, ticket_id)
    if not 1 <= int(satisfaction) <= 5:
        raise InvalidInput("satisfaction is a score from 1 to 5")
    if ticket.status not in (TicketStatus.RESOLVED, TicketStatus.CLOSED):
        raise NotAllowed(f"ticket {ticket.reference} is not resolved yet")
    ticket.satisfaction = int(satisfaction)
    ticket.updated_at = utcnow()
    audit.record(session, actor=actor, action="ticket.rate", entity="ticket", entity_id=ticket.id,
                 details={"satisfaction": ticket.satisfaction})
    return ticket


def comment_on_rating(session: Session, *, ticket_id: int, comment: str,
                      actor: str = "customer") -> Ticket:
    """What the customer added to their rating (kept verbatim for the team)."""
    ticket = _require(session, ticket_id)
    if ticket.satisfaction is None:
        raise NotAllowed(f"ticket {ticket.reference} has not been rated")
    ticket.satisfaction_comment = comment.strip()
    ticket.updated_at = utcnow()
    audit.record(session, actor=actor, action="ticket.rating_comment", entity="ticket",
                 entity_id=ticket.id)
    return ticket


def set_priority(session: Session, *, ticket_id: int, priority: TicketPriority | str,
                 actor: str) -> Ticket:
    """A new priority moves the SLA deadline to what the shop promises for it, counted from
    when the ticket was opened."""
    ticket = _require(session, ticket_id)
    priority = _enum(TicketPriority, priority, "ticket priority")
    if priority == ticket.priority:
        return ticket
    previous = ticket.priority
    ticket.priority = priority
    ticket.sla_due_at = sla_due(priority, opened_at=ticket.created_at)
    ticket.updated_at = utcnow()
    audit.record(session, actor=actor, action="ticket.priority", entity="ticket",
                 entity_id=ticket.id, details={"from": previous.value, "to": priority.value})
    return ticket


def set_resolution(session: Session, *, ticket_id: int, resolution: str, actor: str) -> Ticket:
    ticket = _require(session, ticket_id)
    ticket.resolution = resolution.strip() or None
    ticket.updated_at = utcnow()
    audit.record(session, actor=actor, action="ticket.resolution", entity="ticket",
                 entity_id=ticket.id)
    return ticket


def search(session: Session, *, statuses: list[str] | None = None,
           priorities: list[str] | None = None, kinds: list[str] | None = None,
           categories: list[str] | None = None, assignee_id: int | None = None,
           unassigned: bool = False, breached: bool | None = None,
           customer_id: int | None = None, now: datetime | None = None,
           limit: int = 200, offset: int = 0) -> list[Ticket]:
    """Tickets matching every given filter, the most urgent deadline first.

    `breached`: True for tickets that missed their SLA (see breached_sla), False for the rest."""
    now = now or utcnow()
    stmt = select(Ticket)
    if statuses:
        stmt = stmt.where(Ticket.status.in_([_enum(TicketStatus, s, "ticket status")
                                             for s in statuses]))
    if priorities:
        stmt = stmt.where(Ticket.priority.in_([_enum(TicketPriority, p, "ticket priority")
                                               for p in priorities]))
    if kinds:
        stmt = stmt.where(Ticket.kind.in_([_enum(TicketKind, k, "ticket kind") for k in kinds]))
    if categories:
        stmt = stmt.where(Ticket.category.in_([_enum(TicketCategory, c, "ticket category")
                                               for c in categories]))
    if unassigned:
        stmt = stmt.where(Ticket.assignee_id.is_(None))
    elif assignee_id is not None:
        stmt = stmt.where(Ticket.assignee_id == assignee_id)
    if customer_id is not None:
        stmt = stmt.where(Ticket.customer_id == customer_id)
    if breached is not None:
        # The same rule as breached_sla(): open past the deadline, or resolved after it.
        late = or_(Ticket.status.in_(ACTIVE) & (Ticket.sla_due_at < now),
                   Ticket.resolved_at.is_not(None) & (Ticket.resolved_at > Ticket.sla_due_at))
        stmt = stmt.where(late if breached else ~late)
    stmt = stmt.order_by(Ticket.sla_due_at, Ticket.id).offset(offset).limit(limit)
    return list(session.scalars(stmt))


def breached_sla(ticket: Ticket, now: datetime | None = None) -> bool:
    """Still open past its deadline, or resolved after it."""
    now = now or utcnow()
    if ticket.status in ACTIVE:
        return ticket.sla_due_at < now
    return ticket.resolved_at is not None and ticket.resolved_at > ticket.sla_due_at
