"""The agent console's units of work on crm_store: one short session each, run in a thread by
`bot.store.run`, returning the API's pydantic models (bot/schemas.py) so no ORM object leaves
the unit of work.

Who may act on a conversation is decided here, next to the data: an agent replies to, resolves
and transfers only a conversation they hold (claimed); an admin may act on any claimed one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import NamedTuple
from urllib.parse import quote

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.messages import Content
from bot.schemas import (
    AgentPublic,
    ButtonPublic,
    ConversationHitPublic,
    ConversationPublic,
    ConversationRefPublic,
    CustomerHitPublic,
    CustomerPublic,
    HandoffPublic,
    IdentityPublic,
    InterestPublic,
    MessagePublic,
    NotePublic,
    OrderItemPublic,
    OrderPublic,
    ProductPublic,
    SearchPublic,
    StaffPublic,
    StaffRef,
    TicketPublic,
)
from bot.store import ConversationRef, attachment_json, conversation_ref
from crm_store.errors import InvalidInput, NotAllowed, NotFound
from crm_store.models import (
    Attachment,
    Conversation,
    Customer,
    Direction,
    Handoff,
    HandoffStatus,
    Message,
    StaffRole,
    StaffUser,
    Ticket,
    TicketPriority,
    utcnow,
)
from crm_store.services import (
    assignment,
    audit,
    conversations,
    evidence,
    handoffs,
    identities,
    interests,
    notes,
    orders,
    search,
    tickets,
)
from kefu_config.policy import load_policy

QUEUED = (HandoffStatus.REQUESTED, HandoffStatus.WAITING)
STATES: dict[str, tuple[HandoffStatus, ...]] = {
    "waiting": QUEUED,
    "claimed": (HandoffStatus.CLAIMED,),
    "resolved": (HandoffStatus.RESOLVED,),
}
SERVICE_ROLES = (StaffRole.AGENT, StaffRole.ADMIN)
TRANSCRIPT_LIMIT = 500


class Actor:
    """Who is acting, as the units of work need it (no request objects in threads)."""

    def __init__(self, staff_id: int, role: str) -> None:
        self.id = staff_id
        self.admin = role == StaffRole.ADMIN.value
        self.name = f"staff:{staff_id}"


# --- small views ---------------------------------------------------------------------------------

def _customer_name(customer: Customer | None, channel: str | None = None) -> str:
    if customer is None:
        return "Unknown customer"
    if customer.erased_at is not None:
        return "Erased customer"
    if customer.name:
        return customer.name
    if customer.email:
        return customer.email
    return f"Anonymous {channel} customer" if channel else "Anonymous customer"


def _staff_ref(session: Session, staff_id: int | None) -> StaffRef | None:
    if staff_id is None:
        return None
    user = session.get(StaffUser, staff_id)
    if user is None:
        return None
    return StaffRef(id=user.id, name=user.name or user.email.split("@")[0])


def _state(handoff: Handoff) -> str:
    if handoff.status in QUEUED:
        return "waiting"
    return handoff.status.value


def handoff_public(session: Session, handoff: Handoff, now: datetime | None = None
                   ) -> HandoffPublic:
    now = now or utcnow()
    conversation = session.get(Conversation, handoff.conversation_id)
    customer = session.get(Customer, conversation.customer_id) \
        if conversation.customer_id is not None else None
    # Back in the queue after its agent went away: it keeps its first claimed_at, and waits.
    until = now if handoff.status in QUEUED else handoff.claimed_at or handoff.resolved_at or now
    last = session.scalar(select(Message.text)
                          .where(Message.conversation_id == conversation.id,
                                 Message.direction == Direction.INBOUND)
                          .order_by(Message.id.desc()).limit(1))
    return HandoffPublic(
        id=handoff.id, conversation_id=conversation.id, customer_id=conversation.customer_id,
        customer_name=_customer_name(customer, conversation.channel),
        channel=conversation.channel, status=_state(handoff), reason=handoff.reason,
        created_at=handoff.requested_at,
        priority=handoffs.urgency(session, handoff,
                                  customer_id=conversation.customer_id).value,
        waiting_seconds=max(0, int((until - handoff.requested_at).total_seconds())),
        claimed_by=_staff_ref(session, handoff.claimed_by_id), claimed_at=handoff.claimed_at,
        resolved_at=handoff.resolved_at,
        last_message=(last[:140] + "…") if last and len(last) > 140 else last,
        reply_email=handoff.reply_email,
        reply_mailto=reply_mailto(handoff.reply_email) if handoff.reply_email else None,
    )


def reply_mailto(email: str) -> str:
    """A mailto: link for the agent's answer by email, with the shop's subject line."""
    subject = f"Your question to {load_policy().shop.name}"
    return f"mailto:{quote(email, safe='@')}?subject={quote(subject, safe='')}"


def message_public(message: Message) -> MessagePublic:
    content = Content.from_stored(message.text, message.payload)
    return MessagePublic(
        id=message.id, direction=message.direction.value, sender=message.sender_kind.value,
        text="" if content.summary else content.text,
        buttons=[ButtonPublic(**b.to_json()) for b in content.buttons],
        products=[ProductPublic(**p.to_json()) for p in content.products],
        image=content.image, at=message.created_at,
        status=message.delivery_status.value if message.delivery_status else None,
        staff_id=message.staff_id, intent=message.intent, confidence=message.confidence,
        article=content.article_json(), attachment=content.attachment,
    )


def ticket_public(session: Session, ticket: Ticket, now: datetime | None = None,
                  files: list[Attachment] | None = None) -> TicketPublic:
    """`files`: the ticket's attachments when the caller fetched a page's at once."""
    customer = session.get(Customer, ticket.customer_id) if ticket.customer_id else None
    if files is None:
        files = evidence.for_tickets(session, [ticket.id]).get(ticket.id, [])
    return TicketPublic(
        id=ticket.id, reference=ticket.reference, customer_id=ticket.customer_id,
        customer_name=_customer_name(customer) if customer else None,
        conversation_id=ticket.conversation_id, kind=ticket.kind.value,
        category=ticket.category.value, priority=ticket.priority.value,
        status=ticket.status.value, subject=ticket.subject, description=ticket.description,
        channel=ticket.channel, sla_due_at=ticket.sla_due_at,
        sla_breached=tickets.breached_sla(ticket, now),
        assignee=_staff_ref(session, ticket.assignee_id), resolution=ticket.resolution,
        satisfaction=ticket.satisfaction, created_at=ticket.created_at,
        updated_at=ticket.updated_at, resolved_at=ticket.resolved_at,
        attachments=[attachment_json(row) for row in files],
    )


def _require_handoff(session: Session, handoff_id: int) -> Handoff:
    handoff = session.get(Handoff, handoff_id)
    if handoff is None:
        raise NotFound(f"no handoff {handoff_id}")
    return handoff


def _require_conversation(session: Session, conversation_id: int) -> Conversation:
    conversation = conversations.get(session, conversation_id=conversation_id)
    if conversation is None:
        raise NotFound(f"no conversation {conversation_id}")
    return conversation


def _check_holder(handoff: Handoff, actor: Actor) -> None:
    if handoff.status in QUEUED:
        raise NotAllowed("claim the conversation first")
    if handoff.status != HandoffStatus.CLAIMED:
        raise NotAllowed(f"the handoff is already {handoff.status.value}")
    if handoff.claimed_by_id != actor.id and not actor.admin:
        raise NotAllowed("another agent holds this conversation; ask them to transfer it")


# --- handoffs ------------------------------------------------------------------------------------

def list_handoffs(state: str, limit: int) -> Callable[[Session], list[HandoffPublic]]:
    def work(session: Session) -> list[HandoffPublic]:
        now = utcnow()
        found = [handoff_public(session, h, now)
                 for h in handoffs.with_status(session, statuses=STATES[state], limit=limit)]
        if state == "waiting":
            # Most urgent first; within a priority, whoever has waited longest.
            found.sort(key=lambda h: (-handoffs.PRIORITY_RANK[TicketPriority(h.priority)],
                                      h.created_at, h.id))
        return found
    return work


def get_handoff(handoff_id: int) -> Callable[[Session], HandoffPublic]:
    return lambda session: handoff_public(session, _require_handoff(session, handoff_id))


def claim(handoff_id: int, actor: Actor) -> Callable[[Session], tuple[HandoffPublic,
                                                                       ConversationRef]]:
    def work(session: Session) -> tuple[HandoffPublic, ConversationRef]:
        _require_handoff(session, handoff_id)
        handoff = handoffs.claim(session, handoff_id=handoff_id, staff_id=actor.id)
        conversation = session.get(Conversation, handoff.conversation_id)
        return handoff_public(session, handoff), conversation_ref(conversation)
    return work


def resolve(handoff_id: int, actor: Actor, note: str | None
            ) -> Callable[[Session], tuple[HandoffPublic, ConversationRef]]:
    def work(session: Session) -> tuple[HandoffPublic, ConversationRef]:
        handoff = _require_handoff(session, handoff_id)
        _check_holder(handoff, actor)
        handoffs.resolve(session, handoff_id=handoff_id, staff_id=actor.id,
                         note=(note or "").strip() or None)
        conversation = session.get(Conversation, handoff.conversation_id)
        return handoff_public(session, handoff), conversation_ref(conversation)
    return work


def transfer(handoff_id: int, actor: Actor, to_staff_id: int
             ) -> Callable[[Session], tuple[HandoffPublic, str | None]]:
    """(the handoff, the display name of the agent who now holds it, None when they have
    none: what the customer may be told)."""
    def work(session: Session) -> tuple[HandoffPublic, str | None]:
        handoff = _require_handoff(session, handoff_id)
        _check_holder(handoff, actor)
        target = session.get(StaffUser, to_staff_id)
        if target is None or not target.active or target.role not in SERVICE_ROLES:
            raise InvalidInput(f"staff_id {to_staff_id} is not an active agent or admin")
        if target.id == handoff.claimed_by_id:
            raise InvalidInput("that agent already holds the conversation")
        handoffs.transfer(session, handoff_id=handoff_id, to_staff_id=target.id,
                          actor_staff_id=actor.id)
        return handoff_public(session, handoff), target.name
    return work


# --- conversations -------------------------------------------------------------------------------

def conversation_public(conversation_id: int, actor: Actor, limit: int = TRANSCRIPT_LIMIT
                        ) -> Callable[[Session], ConversationPublic]:
    def work(session: Session) -> ConversationPublic:
        conversation = _require_conversation(session, conversation_id)
        handoff = handoffs.active_for(session, conversation_id=conversation_id) or session.scalar(
            select(Handoff).where(Handoff.conversation_id == conversation_id)
            .order_by(Handoff.id.desc()).limit(1))
        messages = conversations.history(session, conversation_id=conversation_id, limit=limit)
        # Reading a transcript is reading personal data: the log says who did.
        audit.record(session, actor=actor.name, staff_id=actor.id, action="conversation.view",
                     entity="conversation", entity_id=conversation_id)
        return ConversationPublic(
            id=conversation.id, channel=conversation.channel,
            customer_id=conversation.customer_id, mode=conversation.mode.value,
            started_at=conversation.started_at, last_message_at=conversation.last_message_at,
            satisfaction=conversation.satisfaction,
            handoff=handoff_public(session, handoff) if handoff else None,
            messages=[message_public(m) for m in messages],
            notes=[NotePublic(id=n.id, text=n.text, at=n.created_at,
                              staff=_staff_ref(session, n.staff_id))
                   for n in notes.for_conversation(session, conversation_id=conversation_id)],
        )
    return work


def held_conversation(conversation_id: int, actor: Actor) -> Callable[[Session],
                                                                       ConversationRef]:
    """The conversation if the actor may write to the customer in it now."""
    def work(session: Session) -> ConversationRef:
        conversation = _require_conversation(session, conversation_id)
        handoff = handoffs.active_for(session, conversation_id=conversation_id)
        if handoff is None:
            raise NotAllowed("the assistant has this conversation; a person can reply only "
                             "after the customer asks for one and an agent claims it")
        _check_holder(handoff, actor)
        return conversation_ref(conversation)
    return work


def add_note(conversation_id: int, actor: Actor, text: str) -> Callable[[Session], NotePublic]:
    def work(session: Session) -> NotePublic:
        _require_conversation(session, conversation_id)
        note = notes.add(session, conversation_id=conversation_id, staff_id=actor.id, text=text)
        return NotePublic(id=note.id, text=note.text, at=note.created_at,
                          staff=_staff_ref(session, actor.id))
    return work


def record(actor: Actor, action: str, entity: str, entity_id: int | str | None,
           details: dict | None = None) -> Callable[[Session], None]:
    def work(session: Session) -> None:
        audit.record(session, actor=actor.name, staff_id=actor.id, action=action, entity=entity,
                     entity_id=entity_id, details=details)
    return work


# --- customers -----------------------------------------------------------------------------------

def customer_public(customer_id: int, actor: Actor) -> Callable[[Session], CustomerPublic]:
    def work(session: Session) -> CustomerPublic:
        customer = session.get(Customer, customer_id)
        if customer is None:
            raise NotFound(f"no customer {customer_id}")
        now = utcnow()
        audit.record(session, actor=actor.name, staff_id=actor.id, action="customer.view",
                     entity="customer", entity_id=customer_id)
        return CustomerPublic(
            id=customer.id, name=customer.name, email=customer.email, phone=customer.phone,
            language=customer.language, segment=customer.segment, tags=list(customer.tags or []),
            marketing_opt_in=customer.marketing_opt_in, created_at=customer.created_at,
            last_seen_at=customer.last_seen_at, erased=customer.erased_at is not None,
            identities=[IdentityPublic(channel=i.channel, verified=i.verified,
                                       last_seen_at=i.last_seen_at)
                        for i in identities.for_customer(session, customer_id=customer_id)],
            interests=[InterestPublic(topic=i.topic, source=i.source.value, weight=i.weight)
                       for i in interests.for_customer(session, customer_id=customer_id)],
            orders=[OrderPublic(
                id=o.id, order_number=o.order_number, status=o.status.value,
                total=f"{o.total:.2f}", currency=o.currency, created_at=o.created_at,
                carrier=o.carrier, tracking_number=o.tracking_number,
                items=[OrderItemPublic(sku=line.product.sku, name=line.product.name,
                                       quantity=line.quantity,
                                       unit_price=f"{line.unit_price:.2f}")
                       for line in o.lines])
                for o in orders.for_customer(session, customer_id=customer_id, limit=50)],
            tickets=[ticket_public(session, t, now)
                     for t in tickets.for_customer(session, customer_id=customer_id)],
            conversations=[ConversationRefPublic(id=c.id, channel=c.channel, mode=c.mode.value,
                                                 last_message_at=c.last_message_at)
                           for c in conversations.for_customer(session, customer_id=customer_id)],
        )
    return work


# --- search --------------------------------------------------------------------------------------

def search_all(query: str, kinds: list[str], limit: int, phone_region: str | None
               ) -> Callable[[Session], SearchPublic]:
    """Conversations, customers and tickets matching `query` (crm_store.services.search)."""
    def work(session: Session) -> SearchPublic:
        found = search.search(session, query=query, kinds=kinds, limit=limit,
                              phone_region=phone_region)
        now = utcnow()
        return SearchPublic(
            query=query.strip(),
            conversations=[ConversationHitPublic(
                id=h.conversation.id, channel=h.conversation.channel,
                mode=h.conversation.mode.value, customer_id=h.conversation.customer_id,
                customer_name=_customer_name(h.customer, h.conversation.channel),
                last_message_at=h.conversation.last_message_at, message_id=h.message.id,
                sender=h.message.sender_kind.value, at=h.message.created_at,
                snippet=h.snippet) for h in found.conversations],
            customers=[CustomerHitPublic(id=h.customer.id, name=h.customer.name,
                                         email=h.customer.email, phone=h.customer.phone,
                                         matched=h.matched) for h in found.customers],
            tickets=[ticket_public(session, t, now) for t in found.tickets],
        )
    return work


# --- tickets -------------------------------------------------------------------------------------

def list_tickets(filters: dict, limit: int, offset: int) -> Callable[[Session],
                                                                     list[TicketPublic]]:
    def work(session: Session) -> list[TicketPublic]:
        now = utcnow()
        found = tickets.search(session, now=now, limit=limit, offset=offset, **filters)
        files = evidence.for_tickets(session, [t.id for t in found])
        return [ticket_public(session, t, now, files.get(t.id, [])) for t in found]
    return work


def update_ticket(ticket_id: int, actor: Actor, changes: dict
                  ) -> Callable[[Session], tuple[TicketPublic, bool]]:
    """Apply the changes in one unit of work (all or nothing); (ticket, newly resolved?)."""
    def work(session: Session) -> tuple[TicketPublic, bool]:
        ticket = session.get(Ticket, ticket_id)
        if ticket is None:
            raise NotFound(f"no ticket {ticket_id}")
        was_done = ticket.status.value in ("resolved", "closed")
        if "assignee_id" in changes:
            assignee = changes["assignee_id"]
            if assignee is not None:
                target = session.get(StaffUser, assignee)
                if target is None or not target.active or target.role not in SERVICE_ROLES:
                    raise InvalidInput(f"assignee_id {assignee} is not an active agent or admin")
            tickets.assign(session, ticket_id=ticket_id, staff_id=assignee, actor=actor.name)
        if changes.get("priority") is not None:
            tickets.set_priority(session, ticket_id=ticket_id, priority=changes["priority"],
                                 actor=actor.name)
        if changes.get("resolution") is not None:
            tickets.set_resolution(session, ticket_id=ticket_id,
                                   resolution=changes["resolution"], actor=actor.name)
        status = changes.get("status")
        if status is not None and status != ticket.status.value:
            if status in ("resolved", "closed") and not (ticket.resolution or "").strip():
                raise InvalidInput("say how the ticket was resolved: send a resolution with "
                                   "the new status")
            tickets.set_status(session, ticket_id=ticket_id, status=status, actor=actor.name)
        session.flush()
        newly_resolved = not was_done and ticket.status.value == "resolved"
        return ticket_public(session, ticket), newly_resolved
    return work


class TicketNews(NamedTuple):
    """What the customer is told when their ticket is resolved, and where."""

    reference: str
    resolution: str | None
    conversation: ConversationRef | None  # None: nobody to tell


def ticket_conversation(ticket_id: int) -> Callable[[Session], TicketNews | None]:
    """The ticket's news and the conversation to tell it in: the customer's most recently
    active one (the channel they last used), else the one the ticket came from; no
    conversation when the customer cannot be reached."""
    def work(session: Session) -> TicketNews | None:
        ticket = session.get(Ticket, ticket_id)
        if ticket is None:
            return None
        found = conversations.for_customer(session, customer_id=ticket.customer_id) \
            if ticket.customer_id is not None else []
        if not found and ticket.conversation_id:
            origin = session.get(Conversation, ticket.conversation_id)
            found = [origin] if origin is not None else []
        reachable = [c for c in found if not c.external_id.startswith("erased-")]
        return TicketNews(ticket.reference, ticket.resolution,
                          conversation_ref(reachable[0]) if reachable else None)
    return work


# --- staff ---------------------------------------------------------------------------------------

def staff_list(roles: Iterable[str]) -> Callable[[Session], list[StaffPublic]]:
    wanted = {StaffRole(r) for r in roles}

    def work(session: Session) -> list[StaffPublic]:
        users = session.scalars(select(StaffUser).where(StaffUser.active.is_(True),
                                                        StaffUser.role.in_(wanted))
                                .order_by(StaffUser.name, StaffUser.email))
        return [StaffPublic(id=u.id, email=u.email, name=u.name, role=u.role.value)
                for u in users]
    return work


# --- agents' availability and automatic assignment (crm_store.services.assignment) ---------------

class Requeued(NamedTuple):
    """A conversation back in the queue because its agent went away, nobody free to take it."""

    handoff_id: int
    conversation_id: int
    position: int
    wait_minutes: int | None


class AvailabilityChange(NamedTuple):
    agent: AgentPublic
    given: list[assignment.Assignment]  # waiting conversations that went to agents with room
    requeued: list[Requeued]


def _agent_public(load: assignment.AgentLoad) -> AgentPublic:
    return AgentPublic(id=load.staff_id, email=load.email, name=load.name, role=load.role,
                       status=load.status.value, since=load.since, open=load.open,
                       capacity=load.capacity, own_capacity=load.own_capacity)


def _agent(session: Session, staff_id: int, capacity: int) -> AgentPublic:
    found = [a for a in assignment.loads(session, default_capacity=capacity)
             if a.staff_id == staff_id]
    if not found:
        raise NotFound(f"no active agent or admin {staff_id}")
    return _agent_public(found[0])


def agents(capacity: int) -> Callable[[Session], list[AgentPublic]]:
    """Every active agent and admin: online or away, open conversations, capacity."""
    return lambda session: [_agent_public(a)
                            for a in assignment.loads(session, default_capacity=capacity)]


def agent(staff_id: int, capacity: int) -> Callable[[Session], AgentPublic]:
    return lambda session: _agent(session, staff_id, capacity)


def set_availability(actor: Actor, status: str, capacity: int
                     ) -> Callable[[Session], AvailabilityChange]:
    """Online or away, and what follows in the same unit of work: coming online takes
    waiting conversations; going away gives the agent's open ones to colleagues with room,
    or back to the queue (with each customer's new place in it)."""
    def work(session: Session) -> AvailabilityChange:
        released = assignment.set_status(session, staff_id=actor.id, status=status,
                                         actor=actor.name)
        given = assignment.assign_waiting(session, default_capacity=capacity)
        taken = {a.handoff_id for a in given}
        requeued = []
        for handoff_id in released:
            if handoff_id in taken:
                continue
            position, minutes = assignment.expected_wait(session, handoff_id=handoff_id,
                                                         default_capacity=capacity)
            requeued.append(Requeued(handoff_id, _require_handoff(session, handoff_id)
                                     .conversation_id, position, minutes))
        return AvailabilityChange(_agent(session, actor.id, capacity), given, requeued)
    return work


def set_capacity(staff_id: int, actor: Actor, own_capacity: int | None, capacity: int
                 ) -> Callable[[Session], AvailabilityChange]:
    """An admin sets one agent's capacity (None: the default); more room may take waiting
    conversations at once."""
    def work(session: Session) -> AvailabilityChange:
        if session.get(StaffUser, staff_id) is None:
            raise NotFound(f"no staff user {staff_id}")
        assignment.set_capacity(session, staff_id=staff_id, capacity=own_capacity,
                                actor=actor.name)
        given = assignment.assign_waiting(session, default_capacity=capacity)
        return AvailabilityChange(_agent(session, staff_id, capacity), given, [])
    return work
