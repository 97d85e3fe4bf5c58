"""Handoffs: a person takes over a conversation from the bot, and gives it back."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import func, literal, select, update
from sqlalchemy.orm import Session

from crm_store.errors import InvalidInput, NotAllowed, NotFound
from crm_store.models import (
    Conversation,
    ConversationMode,
    Handoff,
    HandoffStatus,
    TicketPriority,
    UTCDateTime,
    utcnow,
)
from crm_store.normalise import normalise_email
from crm_store.services import audit, conversations, tickets

# Most urgent last: a handoff's place in the queue (see urgency).
PRIORITY_RANK = {TicketPriority.LOW: 0, TicketPriority.NORMAL: 1, TicketPriority.HIGH: 2,
                 TicketPriority.URGENT: 3}


class HandoffKind(StrEnum):
    """What made the conversation go to a person, as the caller knows it. The reason staff
    read is the caller's own words; the kind decides how urgent the handoff is."""

    ASKED = "asked"  # the customer asked for a person
    NOT_UNDERSTOOD = "not_understood"  # ... after the assistant missed twice in a row
    VERIFICATION_FAILED = "verification_failed"  # the order details failed three times
    COMPLAINT = "complaint"  # an angry or urgent complaint
    UNANSWERED = "unanswered"  # a message left unanswered by an outage, too old to answer now


# A customer who is angry, or stuck, should not wait behind one who simply prefers a person.
PRIORITY = {
    HandoffKind.ASKED: TicketPriority.NORMAL,
    HandoffKind.NOT_UNDERSTOOD: TicketPriority.HIGH,
    HandoffKind.VERIFICATION_FAILED: TicketPriority.HIGH,
    HandoffKind.COMPLAINT: TicketPriority.URGENT,
    HandoffKind.UNANSWERED: TicketPriority.HIGH,
}

ACTIVE = (HandoffStatus.REQUESTED, HandoffStatus.WAITING, HandoffStatus.CLAIMED)


def active_for(session: Session, *, conversation_id: int) -> Handoff | None:
    stmt = (select(Handoff)
            .where(Handoff.conversation_id == conversation_id, Handoff.status.in_(ACTIVE))
            .order_by(Handoff.id.desc()))
    return session.scalar(stmt)


def request(session: Session, *, conversation_id: int, reason: str | None = None,
            priority: TicketPriority | str = TicketPriority.NORMAL,
            actor: str = "bot") -> Handoff:
    """Ask for a person; asking again while one is pending returns the pending handoff."""
    conversation = session.get(Conversation, conversation_id)
    if conversation is None:
        raise NotFound(f"no conversation {conversation_id}")
    existing = active_for(session, conversation_id=conversation_id)
    if existing is not None:
        return existing
    handoff = Handoff(conversation_id=conversation_id, status=HandoffStatus.REQUESTED,
                      reason=reason, priority=TicketPriority(priority),
                      requested_at=utcnow())
    session.add(handoff)
    session.flush()
    audit.record(session, actor=actor, action="handoff.request", entity="conversation",
                 entity_id=conversation_id, details={"handoff_id": handoff.id})
    return handoff


def hand_over(session: Session, *, conversation_id: int, reason: str | None,
              kind: HandoffKind = HandoffKind.ASKED) -> Handoff:
    """The conversation goes to staff: its open handoff (or a new one with `reason`, of the
    priority its `kind` warrants) waits in the agents' queue and the conversation is in human
    mode, so the gateway stops passing the customer's messages to the dialogue. The
    dialogue's action_handoff and the gateway's own /human fallback both hand over here."""
    handoff = request(session, conversation_id=conversation_id, reason=reason,
                      priority=PRIORITY[kind])
    mark_waiting(session, handoff_id=handoff.id)
    conversations.set_mode(session, conversation_id=conversation_id,
                           mode=ConversationMode.HUMAN)
    return handoff


def urgency(session: Session, handoff: Handoff, *, customer_id: int | None) -> TicketPriority:
    """How urgent the waiting conversation is: the handoff's own priority, raised to that of
    the customer's most urgent open ticket (a customer with an urgent complaint open who asks
    for a person again comes first)."""
    best = handoff.priority or TicketPriority.NORMAL
    if customer_id is not None:
        for ticket in tickets.for_customer(session, customer_id=customer_id, active_only=True):
            if PRIORITY_RANK[ticket.priority] > PRIORITY_RANK[best]:
                best = ticket.priority
    return best


def mark_waiting(session: Session, *, handoff_id: int) -> Handoff:
    """The request reached the agents' queue."""
    handoff = _require(session, handoff_id)
    if handoff.status == HandoffStatus.REQUESTED:
        handoff.status = HandoffStatus.WAITING
    return handoff


def queue(session: Session) -> list[Handoff]:
    """Unclaimed handoffs, longest waiting first."""
    stmt = (select(Handoff)
            .where(Handoff.status.in_((HandoffStatus.REQUESTED, HandoffStatus.WAITING)))
            .order_by(Handoff.requested_at, Handoff.id))
    return list(session.scalars(stmt))


def served_order(session: Session) -> list[Handoff]:
    """Unclaimed handoffs in the order they are served, by agents and by automatic
    assignment alike: most urgent first (urgency), then whoever has waited longest."""
    found = []
    for handoff in queue(session):
        conversation = session.get(Conversation, handoff.conversation_id)
        rank = PRIORITY_RANK[urgency(session, handoff, customer_id=conversation.customer_id)]
        found.append((-rank, handoff.requested_at, handoff.id, handoff))
    return [item[-1] for item in sorted(found, key=lambda item: item[:3])]


def claim(session: Session, *, handoff_id: int, staff_id: int,
          actor: str | None = None) -> Handoff:
    """Give the conversation to one agent. Two agents clicking at once: only the first wins."""
    now = utcnow()
    # One conditional UPDATE, so the check and the write cannot interleave between agents.
    # A handoff that goes back to the queue (release) keeps its first claimed_at: the moment
    # the customer first had a person (the dashboard's figure), as a transfer keeps it.
    result = session.execute(
        update(Handoff)
        .where(Handoff.id == handoff_id,
               Handoff.status.in_((HandoffStatus.REQUESTED, HandoffStatus.WAITING)))
        .values(status=HandoffStatus.CLAIMED, claimed_by_id=staff_id,
                claimed_at=func.coalesce(Handoff.claimed_at,
                                           literal(now, UTCDateTime())))
        .execution_options(synchronize_session=False)
    )
    handoff = _require(session, handoff_id)
    session.refresh(handoff)
    if result.rowcount != 1:
        raise NotAllowed(f"handoff {handoff_id} is already {handoff.status.value}")
    conversation = session.get(Conversation, handoff.conversation_id)
    conversation.mode = ConversationMode.HUMAN
    audit.record(session, actor=actor or f"staff:{staff_id}", staff_id=staff_id,
                 action="handoff.claim", entity="conversation",
                 entity_id=handoff.conversation_id, details={"handoff_id": handoff.id})
    return handoff


def release(session: Session, *, handoff_id: int, actor: str) -> Handoff:
    """A claimed conversation goes back to the queue (its agent went away): waiting again in
    its old place (requested_at is kept), still with a person (human mode)."""
    handoff = _require(session, handoff_id)
    if handoff.status != HandoffStatus.CLAIMED:
        raise NotAllowed(f"handoff {handoff_id} is {handoff.status.value}; only a claimed "
                         "conversation can go back to the queue")
    previous = handoff.claimed_by_id
    handoff.status = HandoffStatus.WAITING
    handoff.claimed_by_id = None
    audit.record(session, actor=actor, action="handoff.release", entity="conversation",
                 entity_id=handoff.conversation_id,
                 details={"handoff_id": handoff.id, "from": previous})
    return handoff


def resolve(session: Session, *, handoff_id: int, staff_id: int | None,
            note: str | None = None) -> Handoff:
    """Close the handoff; the bot answers the conversation again."""
    handoff = _require(session, handoff_id)
    if handoff.status == HandoffStatus.RESOLVED:
        return handoff
    handoff.status = HandoffStatus.RESOLVED
    handoff.resolved_at = utcnow()
    handoff.resolution_note = note
    conversation = session.get(Conversation, handoff.conversation_id)
    conversation.mode = ConversationMode.BOT
    audit.record(session, actor=f"staff:{staff_id}" if staff_id else "system", staff_id=staff_id,
                 action="handoff.resolve", entity="conversation",
                 entity_id=handoff.conversation_id, details={"handoff_id": handoff.id})
    return handoff


def position(session: Session, *, handoff_id: int) -> int:
    """The handoff's place in the agents' queue as it is served (1 = next); 1 once it is no
    longer queued."""
    ids = [h.id for h in served_order(session)]
    return ids.index(handoff_id) + 1 if handoff_id in ids else 1


def with_status(session: Session, *, statuses: tuple[HandoffStatus, ...],
                limit: int = 200) -> list[Handoff]:
    """Handoffs in these states: queued ones longest waiting first, others newest first."""
    stmt = select(Handoff).where(Handoff.status.in_(statuses))
    if set(statuses) <= {HandoffStatus.REQUESTED, HandoffStatus.WAITING}:
        stmt = stmt.order_by(Handoff.requested_at, Handoff.id)
    else:
        stmt = stmt.order_by(Handoff.requested_at.desc(), Handoff.id.desc())
    return list(session.scalars(stmt.limit(limit)))


def transfer(session: Session, *, handoff_id: int, to_staff_id: int, actor_staff_id: int) -> Handoff:
    """Hand a claimed conversation to another agent (the conversation stays with a person)."""
    handoff = _require(session, handoff_id)
    if handoff.status != HandoffStatus.CLAIMED:
        raise NotAllowed(f"handoff {handoff_id} is {handoff.status.value}; only a claimed "
                         "conversation can be transferred")
    previous = handoff.claimed_by_id
    # claimed_at stays: it marks when the customer stopped waiting (the dashboard's figure).
    handoff.claimed_by_id = to_staff_id
    audit.record(session, actor=f"staff:{actor_staff_id}", staff_id=actor_staff_id,
                 action="handoff.transfer", entity="conversation",
                 entity_id=handoff.conversation_id,
                 details={"handoff_id": handoff.id, "from": previous, "to": to_staff_id})
    return handoff


# What may stand around an address in a sentence: "(jane@example.com)", "jane@example.com."
_AROUND_ADDRESS = "\"'()<>[]{},;:!?."


def email_in(text: str) -> str | None:
    """The first email address in what a customer wrote ("my email is Jane@Example.com."),
    normalised as the store keeps emails (crm_store.normalise); None when there is none or it
    does not look valid ("jane@example", "jane@@example.com")."""
    for word in (text or "").split():
        word = word.strip(_AROUND_ADDRESS)
        if word.lower().startswith("mailto:"):
            word = word[len("mailto:"):]
        if "@" not in word:
            continue
        try:
            return normalise_email(word)
        except InvalidInput:
            continue
    return None


def record_reply_email(session: Session, *, conversation_id: int, text: str) -> Handoff | None:
    """A customer waiting for a person wrote an email address: the answer goes there too.

    Recorded on the conversation's handoff only while it waits in the queue and the
    conversation is with staff (human mode); once an agent has taken it they talk directly,
    and a message without a valid address changes nothing. A later address replaces an
    earlier one. Returns the handoff it was recorded on, else None. Whether the team is at
    work is the caller's to decide (the gateway records it only outside business hours)."""
    email = email_in(text)
    if email is None:
        return None
    handoff = active_for(session, conversation_id=conversation_id)
    if handoff is None or handoff.status not in (HandoffStatus.REQUESTED, HandoffStatus.WAITING):
        return None
    conversation = session.get(Conversation, conversation_id)
    if conversation is None or conversation.mode != ConversationMode.HUMAN:
        return None
    handoff.reply_email = email
    # The log says it happened, never the address.
    actor = f"customer:{conversation.customer_id}" if conversation.customer_id else "customer"
    audit.record(session, actor=actor, action="handoff.reply_email",
                 entity="conversation", entity_id=conversation_id,
                 details={"handoff_id": handoff.id})
    return handoff


def _require(session: Session, handoff_id: int) -> Handoff:
    handoff = session.get(Handoff, handoff_id)
    if handoff is None:
        raise NotFound(f"no handoff {handoff_id}")
    return handoff
