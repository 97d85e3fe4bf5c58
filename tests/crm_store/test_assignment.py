"""Automatic assignment (crm_store.services.assignment): waiting handoffs go to the least
loaded online agent below capacity, never to one who is away; full agents leave them waiting
until someone frees up or comes online; going away puts open conversations back in the queue;
capacity holds when handoffs arrive at once; the wait a customer is told is measured. On
SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from crm_store.db import session_scope
from crm_store.errors import InvalidInput
from crm_store.models import AgentStatus, Handoff, HandoffStatus, utcnow
from crm_store.services import assignment, conversations, handoffs, staff
from crm_store.services.handoffs import HandoffKind

PASSWORD = "a long enough password"


def _agent(name: str, role: str = "agent", status: str | None = "online") -> int:
    with session_scope() as session:
        user = staff.create_user(session, email=f"{name.lower()}@shop.example",
                                 password=PASSWORD, role=role, name=name)
        if status is not None:
            assignment.set_status(session, staff_id=user.id, status=status, actor="test")
        return user.id


def _handoff(session, external_id: str, kind=HandoffKind.ASKED) -> Handoff:
    conversation = conversations.get_or_start(session, channel="rest", external_id=external_id)
    return handoffs.hand_over(session, conversation_id=conversation.id, reason="asked",
                              kind=kind)


def _new_handoff(external_id: str, kind=HandoffKind.ASKED) -> int:
    with session_scope() as session:
        return _handoff(session, external_id, kind).id


def _assign(capacity: int = 5) -> list[assignment.Assignment]:
    with session_scope() as session:
        return assignment.assign_waiting(session, default_capacity=capacity)


def _holder(handoff_id: int) -> int | None:
    with session_scope() as session:
        handoff = session.get(Handoff, handoff_id)
        return handoff.claimed_by_id if handoff.status == HandoffStatus.CLAIMED else None


def _open(staff_id: int) -> int:
    with session_scope() as session:
        return assignment.open_counts(session).get(staff_id, 0)


def test_a_handoff_goes_to_the_least_loaded_online_agent_and_never_to_one_away(store):
    anna, ben = _agent("Anna"), _agent("Ben")
    cleo = _agent("Cleo", status="away")
    first = _new_handoff("c1")
    [given] = _assign()
    # A tie (none open): whoever has gone longest without one (never: the lower id first).
    assert given.handoff_id == first and given.staff_id == anna and given.staff_name == "Anna"
    assert not given.passed_on
    second = _new_handoff("c2")
    third = _new_handoff("c3")
    given = _assign()
    assert [(g.handoff_id, g.staff_id) for g in given] == [(second, ben), (third, anna)]
    assert _open(anna) == 2 and _open(ben) == 1 and _open(cleo) == 0
    with session_scope() as session:
        entry = session.get(Handoff, first)
        assert entry.claimed_at is not None
        assert session.get(type(entry), first).status == HandoffStatus.CLAIMED


def test_the_queue_is_served_most_urgent_first(store):
    _new_handoff("calm")
    urgent = _new_handoff("angry", HandoffKind.COMPLAINT)
    anna = _agent("Anna")
    [given] = _assign(capacity=1)
    assert given.handoff_id == urgent and given.staff_id == anna


def test_full_agents_leave_it_waiting_until_one_frees_up_or_comes_online(store):
    anna = _agent("Anna")
    held = _new_handoff("h1")
    waiting = _new_handoff("h2")
    assert [g.handoff_id for g in _assign(capacity=1)] == [held]
    assert _holder(waiting) is None
    with session_scope() as session:
        assert handoffs.position(session, handoff_id=waiting) == 1
    # Anna resolves hers: the waiting one is hers now.
    with session_scope() as session:
        handoffs.resolve(session, handoff_id=held, staff_id=anna)
    assert [(g.handoff_id, g.staff_id) for g in _assign(capacity=1)] == [(waiting, anna)]
    # Full again; a colleague coming online takes the next one.
    later = _new_handoff("h3")
    assert _assign(capacity=1) == []
    ben = _agent("Ben", status="away")
    with session_scope() as session:
        assignment.set_status(session, staff_id=ben, status="online", actor="test")
        given = assignment.assign_waiting(session, default_capacity=1)
    assert [(g.handoff_id, g.staff_id) for g in given] == [(later, ben)]


def test_an_agents_own_capacity_overrides_the_default(store):
    anna = _agent("Anna")
    with session_scope() as session:
        assignment.set_capacity(session, staff_id=anna, capacity=2, actor="test")
        with pytest.raises(InvalidInput):
            assignment.set_capacity(session, staff_id=anna, capacity=0, actor="test")
    for n in range(3):
        _new_handoff(f"o{n}")
    assert len(_assign(capacity=1)) == 2
    with session_scope() as session:
        [load] = assignment.loads(session, default_capacity=1)
        assert (load.status, load.open, load.capacity, load.own_capacity) == \
            (AgentStatus.ONLINE, 2, 2, 2)


def test_going_away_puts_open_conversations_back_and_colleagues_with_room_take_them(store):
    anna = _agent("Anna")
    first, second = _new_handoff("a1"), _new_handoff("a2")
    _assign()
    assert _open(anna) == 2
    ben = _agent("Ben", status="away")
    with session_scope() as session:
        released = assignment.set_status(session, staff_id=anna, status="away", actor="test")
    assert released == [first, second]
    with session_scope() as session:
        back = session.get(Handoff, first)
        assert back.status == HandoffStatus.WAITING and back.claimed_by_id is None
        # Still with a person, in its old place.
        assert handoffs.position(session, handoff_id=first) == 1
        assert handoffs.position(session, handoff_id=second) == 2
        # Going away again changes nothing.
        assert assignment.set_status(session, staff_id=anna, status="away", actor="t") == []
    assert _assign() == []  # nobody online
    with session_scope() as session:
        assignment.set_status(session, staff_id=ben, status="online", actor="test")
        given = assignment.assign_waiting(session, default_capacity=1)
    # The one Ben has room for; the customer had a person before: passed on, not "joined".
    assert [(g.handoff_id, g.staff_id, g.passed_on) for g in given] == [(first, ben, True)]
    assert _holder(second) is None


def test_only_active_service_staff_set_a_status(store):
    mia = _agent("Mia", role="marketer", status=None)
    with session_scope() as session, pytest.raises(InvalidInput):
        assignment.set_status(session, staff_id=mia, status="online", actor="test")
    anna = _agent("Anna")
    with session_scope() as session:
        with pytest.raises(InvalidInput):
            assignment.set_status(session, staff_id=anna, status="busy", actor="test")
        staff.set_active(session, user_id=anna, active=False, actor="test")
    _new_handoff("nobody")
    assert _assign() == []


def test_capacity_holds_when_handoffs_arrive_at_the_same_time(store):
    anna, ben = _agent("Anna"), _agent("Ben")
    threads, start = 8, threading.Barrier(8)
    errors: list[BaseException] = []

    def customer(n: int) -> None:
        try:
            start.wait(10)
            with session_scope() as session:
                _handoff(session, f"rush{n}")
                assignment.assign_waiting(session, default_capacity=3)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    workers = [threading.Thread(target=customer, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert not errors, errors
    assert _open(anna) == 3 and _open(ben) == 3
    with session_scope() as session:
        waiting = session.scalars(select(Handoff).where(
            Handoff.status == HandoffStatus.WAITING)).all()
    assert len(waiting) == 2


def _claimed_after(external_id: str, minutes: float, staff_id: int, days_ago: float = 0):
    with session_scope() as session:
        handoff = _handoff(session, external_id)
        handoffs.claim(session, handoff_id=handoff.id, staff_id=staff_id)
        claimed = utcnow() - timedelta(days=days_ago)
        handoff.claimed_at = claimed
        handoff.requested_at = claimed - timedelta(minutes=minutes)
        handoffs.resolve(session, handoff_id=handoff.id, staff_id=staff_id)


def test_the_wait_is_estimated_only_from_measured_waits(store, monkeypatch):
    # Staff at work at any hour (the estimate leaves out handoffs made while the team is off).
    monkeypatch.setattr("kefu_config.policy.ShopPolicy.is_open", lambda self, at: True,
                        raising=False)
    anna = _agent("Anna", status="away")
    for n in range(4):
        _claimed_after(f"w{n}", 4, anna)
    _claimed_after("at-once", 0.1, anna)  # found an agent free: no measure of a queue
    _claimed_after("old", 60, anna, days_ago=30)  # too long ago
    queued = _new_handoff("q1")
    second = _new_handoff("q2")
    with session_scope() as session:
        assert assignment.wait_minutes(session, position=1) is None  # four measures only
    _claimed_after("w5", 6, anna)
    with session_scope() as session:
        assert assignment.wait_minutes(session, position=1) == 4
        assert assignment.expected_wait(session, handoff_id=second, default_capacity=1) \
            == (2, 8)
        # An agent with room: they will have it in a moment; no wait is promised.
        assignment.set_status(session, staff_id=anna, status="online", actor="test")
        assert assignment.expected_wait(session, handoff_id=queued, default_capacity=1) \
            == (1, None)
