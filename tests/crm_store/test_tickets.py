"""Tickets get a quotable reference and an SLA deadline; customers see only their own."""

from __future__ import annotations

from datetime import timedelta

import pytest

from crm_store.db import session_scope
from crm_store.errors import InvalidInput, NotAllowed
from crm_store.models import TicketStatus, utcnow
from crm_store.services import tickets
from tests.crm_store import factories

# Depends on the date or time of day: CI runs it at other moments too (.ci/clock-guard).
pytestmark = pytest.mark.clock


def test_open_gives_a_reference_and_a_deadline_by_priority(store):
    with session_scope() as session:
        jane = factories.customer(session, "jane@example.com")
        urgent = tickets.open(session, subject="Parcel arrived damaged", kind="complaint", category="delivery",
                              priority="urgent", customer_id=jane.id, channel="web")
        normal = tickets.open(session, subject="Change my address", customer_id=jane.id)
        assert urgent.reference == f"T-{1000 + urgent.id}"
        assert normal.reference == f"T-{1000 + normal.id}"
        assert urgent.status == TicketStatus.OPEN
        assert timedelta(hours=3.9) < urgent.sla_due_at - urgent.created_at <= timedelta(hours=4)
        assert normal.sla_due_at - normal.created_at == timedelta(hours=24)
        # Most urgent deadline first in the agents' queue.
        assert [t.id for t in tickets.queue(session)] == [urgent.id, normal.id]
        with pytest.raises(InvalidInput, match="ticket category"):
            tickets.open(session, subject="x", category="gossip")


def test_status_for_only_the_owner(store):
    with session_scope() as session:
        jane = factories.customer(session, "jane@example.com")
        factories.customer(session, "john@example.com")
        reference = tickets.open(session, subject="Late delivery", customer_id=jane.id).reference
    number = reference.split("-")[1]
    with session_scope() as session:
        assert tickets.status_for(session, reference=f"t{number}", email="Jane@example.com")
        assert tickets.status_for(session, reference=reference, customer_id=jane.id)
        assert tickets.status_for(session, reference=reference, email="john@example.com") is None
        assert tickets.status_for(session, reference="T-99999", email="jane@example.com") is None


def test_resolve_then_rate(store):
    with session_scope() as session:
        ticket = tickets.open(session, subject="Refund missing")
        with pytest.raises(NotAllowed):
            tickets.rate(session, ticket_id=ticket.id, satisfaction=5)
        tickets.resolve(session, ticket_id=ticket.id, resolution="Refund re-sent",
                        actor="staff:1")
        assert ticket.status == TicketStatus.RESOLVED and ticket.resolved_at is not None
        with pytest.raises(InvalidInput):
            tickets.rate(session, ticket_id=ticket.id, satisfaction=6)
        tickets.rate(session, ticket_id=ticket.id, satisfaction=4)
        assert ticket.satisfaction == 4
        assert tickets.queue(session) == []


def test_overdue_lists_breached_active_tickets(store):
    with session_scope() as session:
        late = tickets.open(session, subject="Where is my order", priority="high")
        done = tickets.open(session, subject="Invoice copy", priority="high")
        tickets.resolve(session, ticket_id=done.id, resolution="sent", actor="staff:1")
        later = utcnow() + timedelta(hours=9)
        assert [t.id for t in tickets.overdue(session, now=later)] == [late.id]
        assert tickets.overdue(session) == []
