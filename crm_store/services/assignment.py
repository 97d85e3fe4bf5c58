"""Automatic assignment: waiting conversations go to online agents, within their capacity.

The rule (`assign_waiting`): the queue is served in its own order (handoffs.served_order: most
urgent first, then longest waiting); each handoff goes to the online agent with the fewest
open (claimed) conversations among those below their capacity; on a tie, to the one who has
gone longest without being given a conversation (never given one first), then the lowest
staff id. When nobody has room the handoff waits, and the next call (a new handoff, an agent
coming online, a conversation resolved) tries again.

An agent who goes away (`set_status`) gives their open conversations back to the queue, in
their old places; the caller runs `assign_waiting` next, which hands them to colleagues with
room. Agents still claim and transfer by hand as before; capacity limits only what is given
automatically.

Every change of who takes what first locks the service staff's rows (`_serialise`): on
PostgreSQL two handoffs assigned at once queue up there instead of both reading the same
loads; SQLite takes its write lock at the start of every unit of work anyway (crm_store.db).
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm_store.errors import InvalidInput
from crm_store.models import (
    AgentAvailability,
    AgentStatus,
    Handoff,
    HandoffStatus,
    StaffRole,
    StaffUser,
    utcnow,
)
from crm_store.services import audit, handoffs

ASSIGNER = "system:assignment"
SERVICE_ROLES = (StaffRole.AGENT, StaffRole.ADMIN)
MAX_CAPACITY = 100

# The wait estimate is measured, never assumed: how long recent customers who had to queue
# waited for a person. Handoffs claimed within WAIT_WINDOW, the latest WAIT_SAMPLES of them,
# at least MIN_WAIT_SAMPLES, requested while the team was at work, and waiting longer than
# QUEUED (less means an agent had room at once: no measure of a queue).
WAIT_WINDOW = timedelta(days=7)
WAIT_SAMPLES = 20
MIN_WAIT_SAMPLES = 5
QUEUED = timedelta(seconds=15)

_NEVER = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Assignment:
    """A waiting handoff given to an agent."""

    handoff_id: int
    conversation_id: int
    staff_id: int
    staff_name: str | None
    # A person had it before (it went back to the queue when they went away): the customer
    # was told someone joined, so they hear it passed on rather than a person joining.
    passed_on: bool


@dataclass(frozen=True)
class AgentLoad:
    """One member of service staff as the admin's view shows them."""

    staff_id: int
    email: str
    name: str | None
    role: str
    status: AgentStatus
    since: datetime | None
    open: int
    capacity: int
    own_capacity: int | None  # the agent's override; None: the default


def _serialise(session: Session) -> None:
    """One change of assignments at a time (see the module's docstring)."""
    session.execute(select(StaffUser.id).where(StaffUser.role.in_(SERVICE_ROLES))
                    .order_by(StaffUser.id).with_for_update()).all()


def _service_user(session: Session, staff_id: int) -> StaffUser:
    user = session.get(StaffUser, staff_id)
    if user is None or not user.active or user.role not in SERVICE_ROLES:
        raise InvalidInput(f"staff_id {staff_id} is not an active agent or admin")
    return user


def _row(session: Session, staff_id: int) -> AgentAvailability:
    row = session.get(AgentAvailability, staff_id)
    if row is None:
        row = AgentAvailability(staff_id=staff_id, status=AgentStatus.AWAY, changed_at=utcnow())
        session.add(row)
    return row


def open_counts(session: Session) -> dict[int, int]:
    """Claimed (open) conversations per staff id."""
    rows = session.execute(select(Handoff.claimed_by_id, func.count())
                           .where(Handoff.status == HandoffStatus.CLAIMED,
                                  Handoff.claimed_by_id.is_not(None))
                           .group_by(Handoff.claimed_by_id))
    return {staff_id: count for staff_id, count in rows}


def status_of(session: Session, *, staff_id: int) -> AgentStatus:
    row = session.get(AgentAvailability, staff_id)
    return row.status if row is not None else AgentStatus.AWAY


def set_status(session: Session, *, staff_id: int, status: AgentStatus | str,
               actor: str) -> list[int]:
    """Online or away. Going away gives the agent's open conversations back to the queue;
    the ids of those handoffs (the caller then runs assign_waiting and tells the customers)."""
    try:
        status = AgentStatus(status)
    except ValueError as exc:
        raise InvalidInput(f"unknown status {status!r} (online or away)") from exc
    _serialise(session)
    _service_user(session, staff_id)
    row = _row(session, staff_id)  # a new row says away
    changed = row.status != status
    released: list[int] = []
    if changed:
        row.status = status
        row.changed_at = utcnow()
        audit.record(session, actor=actor, action="agent.status", entity="staff",
                     entity_id=staff_id, details={"status": status.value})
    if status == AgentStatus.AWAY and changed:
        held = session.scalars(select(Handoff)
                               .where(Handoff.status == HandoffStatus.CLAIMED,
                                      Handoff.claimed_by_id == staff_id)
                               .order_by(Handoff.id))
        for handoff in list(held):
            handoffs.release(session, handoff_id=handoff.id, actor=actor)
            released.append(handoff.id)
    session.flush()
    return released


def set_capacity(session: Session, *, staff_id: int, capacity: int | None,
                 actor: str) -> AgentAvailability:
    """The agent's own capacity (conversations at once); None: the default setting."""
    if capacity is not None and not 1 <= capacity <= MAX_CAPACITY:
        raise InvalidInput(f"capacity must be between 1 and {MAX_CAPACITY}")
    _serialise(session)
    _service_user(session, staff_id)
    row = _row(session, staff_id)
    row.capacity = capacity
    audit.record(session, actor=actor, action="agent.capacity", entity="staff",
                 entity_id=staff_id, details={"capacity": capacity})
    session.flush()
    return row


def has_room(session: Session, *, default_capacity: int) -> bool:
    """Whether some online agent could take a conversation now."""
    loads = open_counts(session)
    return any(loads.get(row.staff_id, 0) < (row.capacity or default_capacity)
               for row, _user in _online(session))


def _online(session: Session) -> list[tuple[AgentAvailability, StaffUser]]:
    rows = session.execute(select(AgentAvailability, StaffUser)
                           .join(StaffUser, StaffUser.id == AgentAvailability.staff_id)
                           .where(AgentAvailability.status == AgentStatus.ONLINE,
                                  StaffUser.active.is_(True),
                                  StaffUser.role.in_(SERVICE_ROLES))
                           .order_by(StaffUser.id))
    return [(row, user) for row, user in rows]


def assign_waiting(session: Session, *, default_capacity: int,
                   now: datetime | None = None) -> list[Assignment]:
    """Give waiting handoffs to online agents with room (the module's rule); what was given."""
    _serialise(session)
    online = _online(session)
    if not online:
        return []
    now = now or utcnow()
    loads = open_counts(session)
    given: list[Assignment] = []
    for handoff in handoffs.served_order(session):
        room = [(row, user) for row, user in online
                if loads.get(user.id, 0) < (row.capacity or default_capacity)]
        if not room:
            break
        row, user = min(room, key=lambda pair: (loads.get(pair[1].id, 0),
                                                pair[0].last_assigned_at or _NEVER,
                                                pair[1].id))
        passed_on = handoff.claimed_at is not None
        handoffs.claim(session, handoff_id=handoff.id, staff_id=user.id, actor=ASSIGNER)
        row.last_assigned_at = now
        loads[user.id] = loads.get(user.id, 0) + 1
        given.append(Assignment(handoff.id, handoff.conversation_id, user.id, user.name,
                                passed_on))
    session.flush()
    return given


def loads(session: Session, *, default_capacity: int) -> list[AgentLoad]:
    """Every active agent and admin: online or away since when, open conversations, capacity."""
    counts = open_counts(session)
    users = session.scalars(select(StaffUser).where(StaffUser.active.is_(True),
                                                    StaffUser.role.in_(SERVICE_ROLES))
                            .order_by(StaffUser.name, StaffUser.email))
    found = []
    for user in users:
        row = session.get(AgentAvailability, user.id)
        found.append(AgentLoad(
            staff_id=user.id, email=user.email, name=user.name, role=user.role.value,
            status=row.status if row else AgentStatus.AWAY,
            since=row.changed_at if row else None, open=counts.get(user.id, 0),
            capacity=(row.capacity if row and row.capacity else default_capacity),
            own_capacity=row.capacity if row else None))
    return found


def wait_minutes(session: Session, *, position: int, now: datetime | None = None
                 ) -> int | None:
    """About how many minutes the customer at `position` in the queue will wait, from the
    waits of recent customers who had to queue (see WAIT_WINDOW): their median wait times the
    position, rounded up. None without enough measurements: then nothing is promised."""
    from kefu_config.policy import load_policy  # the shop's hours, read when needed

    now = now or utcnow()
    recent = session.execute(select(Handoff.requested_at, Handoff.claimed_at)
                             .where(Handoff.claimed_at.is_not(None),
                                    Handoff.claimed_at >= now - WAIT_WINDOW,
                                    Handoff.claimed_at <= now)
                             .order_by(Handoff.claimed_at.desc())
                             .limit(WAIT_SAMPLES * 5)).all()
    policy = load_policy()
    waits = [(claimed - requested).total_seconds() for requested, claimed in recent
             if claimed - requested > QUEUED and policy.is_open(requested)][:WAIT_SAMPLES]
    if len(waits) < MIN_WAIT_SAMPLES:
        return None
    return max(1, math.ceil(statistics.median(waits) * max(1, position) / 60))


def expected_wait(session: Session, *, handoff_id: int, default_capacity: int,
                  now: datetime | None = None) -> tuple[int, int | None]:
    """What a waiting customer is told: their place in the queue and, when no online agent
    has room for them now, about how many minutes they will wait (None: an agent will take it
    at once, or there is no measure)."""
    position = handoffs.position(session, handoff_id=handoff_id)
    if has_room(session, default_capacity=default_capacity):
        return position, None
    return position, wait_minutes(session, position=position, now=now)
