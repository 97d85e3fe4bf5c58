"""The store behind the agent console: sign-in lockout, staff sessions, handoff transfer and
queue order, private notes (and the customer's data rights over them), ticket search and
priority changes. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from crm_store.db import session_scope
from crm_store.errors import InvalidInput, NotAllowed
from crm_store.models import (
    AuditEntry,
    ConversationNote,
    HandoffStatus,
    LoginThrottle,
    StaffSession,
    TicketPriority,
    utcnow,
)
from crm_store.privacy import export_customer, forget_customer
from crm_store.services import (
    conversations,
    customers,
    handoffs,
    notes,
    staff,
    staff_sessions,
    tickets,
)
from tests.crm_store import factories

PASSWORD = "a long enough password"
LOCKOUT = timedelta(minutes=15)


def _user(email: str = "anna@shop.example", role: str = "agent") -> int:
    with session_scope() as session:
        return staff.create_user(session, email=email, password=PASSWORD, role=role).id


def _sign_in(email: str, password: str, now=None) -> staff_sessions.SignIn:
    with session_scope() as session:
        result = staff_sessions.sign_in(session, email=email, password=password,
                                        max_failures=5, lockout=LOCKOUT, now=now)
        return staff_sessions.SignIn(result.user.id if result.user else None,
                                     result.locked_until)


def test_five_wrong_passwords_lock_the_address_even_against_the_right_one(store):
    _user()
    for _ in range(4):
        assert _sign_in("anna@shop.example", "wrong password!") == staff_sessions.SignIn(None)
    fifth = _sign_in("anna@shop.example", "wrong password!")
    assert fifth.user is None and fifth.locked_until is not None
    assert fifth.locked_until - utcnow() > timedelta(minutes=14)
    # Locked: the right password is refused too, in any spelling of the address.
    assert _sign_in("ANNA@shop.example ", PASSWORD).locked_until is not None
    # Once the lockout has run out, the right password works and the count starts again.
    later = utcnow() + LOCKOUT + timedelta(seconds=1)
    assert _sign_in("anna@shop.example", PASSWORD, now=later).user is not None
    assert _sign_in("anna@shop.example", "wrong password!").locked_until is None
    with session_scope() as session:
        actions = [a.action for a in session.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert "staff.lockout" in actions and actions.count("staff.login") == 1


def test_unknown_addresses_lock_the_same_way(store):
    """The lockout must not tell an attacker which addresses are staff accounts."""
    results = [_sign_in("nobody@shop.example", "whatever") for _ in range(5)]
    assert [r.locked_until is not None for r in results] == [False] * 4 + [True]


def test_a_success_resets_the_failure_count(store):
    _user()
    for _ in range(4):
        _sign_in("anna@shop.example", "wrong password!")
    assert _sign_in("anna@shop.example", PASSWORD).user is not None
    for _ in range(4):
        assert _sign_in("anna@shop.example", "wrong password!").locked_until is None


def test_sessions_end_when_expired_closed_or_the_account_is_disabled(store):
    user_id = _user()
    with session_scope() as session:
        staff_sessions.open_session(session, staff_id=user_id, token_hash="a" * 64,
                                    kind="browser", lifetime=timedelta(hours=1))
        staff_sessions.open_session(session, staff_id=user_id, token_hash="b" * 64, kind="api",
                                    lifetime=timedelta(hours=1))
        with pytest.raises(InvalidInput):
            staff_sessions.open_session(session, staff_id=user_id, token_hash="c" * 64,
                                        kind="cookie", lifetime=timedelta(hours=1))
    with session_scope() as session:
        found, user = staff_sessions.active(session, token_hash="a" * 64)
        assert user.id == user_id and found.kind == "browser"
        assert staff_sessions.active(session, token_hash="a" * 64,
                                     now=utcnow() + timedelta(hours=2)) is None
        assert staff_sessions.active(session, token_hash="f" * 64) is None
    with session_scope() as session:
        assert staff_sessions.close(session, token_hash="a" * 64) is not None
    with session_scope() as session:
        assert staff_sessions.active(session, token_hash="a" * 64) is None
        staff.set_active(session, user_id=user_id, active=False, actor="test")
    with session_scope() as session:
        assert staff_sessions.active(session, token_hash="b" * 64) is None


def _waiting_handoff(session, external_id: str, reason: str = "customer asked for a person"):
    message = conversations.append(session, channel="rest", external_id=external_id,
                                   direction="inbound", sender_kind="customer", text="help")
    handoff = handoffs.request(session, conversation_id=message.conversation_id, reason=reason)
    handoffs.mark_waiting(session, handoff_id=handoff.id)
    return handoff


def test_transfer_moves_a_claimed_conversation_and_keeps_when_it_was_claimed(store):
    anna, ben = _user(), _user("ben@shop.example")
    with session_scope() as session:
        handoff = _waiting_handoff(session, "t1")
        with pytest.raises(NotAllowed):
            handoffs.transfer(session, handoff_id=handoff.id, to_staff_id=ben,
                              actor_staff_id=anna)
        handoffs.claim(session, handoff_id=handoff.id, staff_id=anna)
        claimed_at = handoff.claimed_at
        handoffs.transfer(session, handoff_id=handoff.id, to_staff_id=ben, actor_staff_id=anna)
    with session_scope() as session:
        moved = session.get(type(handoff), handoff.id)
        assert moved.claimed_by_id == ben and moved.status == HandoffStatus.CLAIMED
        assert moved.claimed_at == claimed_at
        entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "handoff.transfer"))
        assert entry.details == {"handoff_id": handoff.id, "from": anna, "to": ben}


def test_queue_position_and_status_lists(store):
    agent = _user()
    with session_scope() as session:
        first = _waiting_handoff(session, "q1")
        second = _waiting_handoff(session, "q2")
        assert handoffs.position(session, handoff_id=second.id) == 2
        handoffs.claim(session, handoff_id=first.id, staff_id=agent)
        assert handoffs.position(session, handoff_id=second.id) == 1
        waiting = handoffs.with_status(session, statuses=(HandoffStatus.WAITING,
                                                          HandoffStatus.REQUESTED))
        claimed = handoffs.with_status(session, statuses=(HandoffStatus.CLAIMED,))
        assert [h.id for h in waiting] == [second.id] and [h.id for h in claimed] == [first.id]


def test_notes_are_checked_exported_and_erased_with_the_customer(store):
    agent = _user()
    with session_scope() as session:
        person = factories.customer(session, "jane@example.com", name="Jane")
        message = conversations.append(session, channel="rest", external_id="jane",
                                       direction="inbound", sender_kind="customer", text="hi")
        conversation = conversations.get(session, conversation_id=message.conversation_id)
        conversation.customer_id = person.id
        with pytest.raises(InvalidInput):
            notes.add(session, conversation_id=conversation.id, staff_id=agent, text="   ")
        notes.add(session, conversation_id=conversation.id, staff_id=agent,
                  text="Jane prefers email; VIP")
    with session_scope() as session:
        data = export_customer(session, email="jane@example.com")
        assert [n["text"] for n in data["conversations"][0]["staff_notes"]] == \
            ["Jane prefers email; VIP"]
        forget_customer(session, email="jane@example.com")
    with session_scope() as session:
        assert session.scalars(select(ConversationNote)).all() == []


def test_ticket_search_filters_and_priority_moves_the_deadline(store):
    agent = _user()
    now = utcnow()
    with session_scope() as session:
        late = tickets.open(session, subject="Late parcel", kind="complaint",
                            category="delivery", priority="high",
                            sla_due_at=now - timedelta(hours=1))
        fine = tickets.open(session, subject="Change address", priority="normal")
        done_late = tickets.open(session, subject="Old one", sla_due_at=now - timedelta(days=2))
        tickets.resolve(session, ticket_id=done_late.id, resolution="sorted", actor="test")
        tickets.assign(session, ticket_id=fine.id, staff_id=agent, actor="test")
        ids = {"late": late.id, "fine": fine.id, "done_late": done_late.id}
    with session_scope() as session:
        def found(**filters):
            return {t.id for t in tickets.search(session, **filters)}
        assert found(breached=True) == {ids["late"], ids["done_late"]}
        assert found(breached=False) == {ids["fine"]}
        assert found(statuses=["open"], kinds=["complaint"]) == {ids["late"]}
        assert found(assignee_id=agent) == {ids["fine"]}
        assert found(unassigned=True) == {ids["late"], ids["done_late"]}
        assert found(priorities=["high", "urgent"]) == {ids["late"]}
        with pytest.raises(InvalidInput, match="ticket status"):
            tickets.search(session, statuses=["archived"])
        ticket = tickets.set_priority(session, ticket_id=ids["fine"], priority="urgent",
                                      actor="staff:1")
        assert ticket.priority == TicketPriority.URGENT
        assert ticket.sla_due_at == ticket.created_at + tickets.sla_for(TicketPriority.URGENT)


def test_purge_forgets_ended_sessions_and_stale_failures_but_not_lockouts(store):
    user_id = _user()
    now = utcnow()
    with session_scope() as session:
        staff_sessions.open_session(session, staff_id=user_id, token_hash="1" * 64, kind="api",
                                    lifetime=timedelta(hours=1), now=now - timedelta(hours=2))
        staff_sessions.open_session(session, staff_id=user_id, token_hash="2" * 64, kind="api",
                                    lifetime=timedelta(hours=1))
    _sign_in("stale@shop.example", "guess", now=now - timedelta(days=2))
    for _ in range(5):
        _sign_in("locked@shop.example", "guess", now=now - timedelta(days=2))
    with session_scope() as session:
        session.get(LoginThrottle, "locked@shop.example").locked_until = now + LOCKOUT
    with session_scope() as session:
        assert staff_sessions.purge_expired(session, now=now) == 1
    with session_scope() as session:
        assert session.scalars(select(StaffSession.token_hash)).all() == ["2" * 64]
        assert session.scalars(select(LoginThrottle.email)).all() == ["locked@shop.example"]


def test_a_handoff_s_queue_priority_is_what_the_caller_said_raised_by_open_tickets(store):
    """No guessing from the reason's words: a calm handoff whose reason mentions a complaint
    stays normal until the customer has an urgent ticket open."""
    with session_scope() as session:
        message = conversations.append(session, channel="rest", external_id="prio",
                                       direction="inbound", sender_kind="customer", text="hi")
        handoff = handoffs.hand_over(session, conversation_id=message.conversation_id,
                                     reason="customer asked about their complaint")
        customer = customers.find_or_create_by_identity(session, channel="rest",
                                                        external_id="prio")
        assert handoffs.urgency(session, handoff, customer_id=customer.id) == \
            TicketPriority.NORMAL
        tickets.open(session, subject="Broken", priority="urgent", customer_id=customer.id)
        assert handoffs.urgency(session, handoff, customer_id=customer.id) == \
            TicketPriority.URGENT


@pytest.mark.parametrize(("kind", "priority"), [
    (handoffs.HandoffKind.ASKED, TicketPriority.NORMAL),
    (handoffs.HandoffKind.NOT_UNDERSTOOD, TicketPriority.HIGH),
    (handoffs.HandoffKind.VERIFICATION_FAILED, TicketPriority.HIGH),
    (handoffs.HandoffKind.COMPLAINT, TicketPriority.URGENT),
])
def test_the_handoff_s_kind_decides_its_priority_whatever_the_reason_says(store, kind,
                                                                          priority):
    with session_scope() as session:
        message = conversations.append(session, channel="rest", external_id=f"kind-{kind}",
                                       direction="inbound", sender_kind="customer", text="hi")
        handoff = handoffs.hand_over(session, conversation_id=message.conversation_id,
                                     reason="in the caller's words", kind=kind)
        assert handoff.priority == priority
        assert handoffs.urgency(session, handoff, customer_id=None) == priority
