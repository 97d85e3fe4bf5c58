"""The complaint process: category and priority from the text and the customer, SLA from policy."""

from __future__ import annotations

from datetime import timedelta

import pytest

from crm_store.db import session_scope
from crm_store.errors import InvalidInput, NotAllowed
from crm_store.models import TicketCategory, TicketKind, TicketPriority, utcnow
from crm_store.services import complaints, conversations, tickets
from kefu_config.policy import load_policy
from tests.crm_store import factories
from tests.support.shop_policy import ALWAYS_OPEN, policy_file

# Depends on the date or time of day: CI runs it at other moments too (.ci/clock-guard).
pytestmark = pytest.mark.clock


@pytest.mark.parametrize("text, category", [
    ("My parcel never arrived and the tracking hasn't moved in a week", TicketCategory.DELIVERY),
    ("The kettle stopped working after two days, the lid is cracked", TicketCategory.PRODUCT_QUALITY),
    ("The agent I spoke to on the phone was really rude to me", TicketCategory.STAFF),
    ("I was charged twice for the same order on my card", TicketCategory.PAYMENT),
    ("Your checkout page keeps showing an error when I press the button", TicketCategory.WEBSITE),
    ("I just don't like how things are going", TicketCategory.OTHER),
])
def test_classify_by_what_went_wrong(text, category):
    assert complaints.classify(text) == category


def test_tone_spots_anger_and_urgency():
    assert complaints.tone("THIS IS ABSOLUTELY UNACCEPTABLE, WHERE IS MY ORDER") == (True, False)
    assert complaints.tone("I need it today for my daughter's birthday") == (False, True)
    assert complaints.tone("The box was a bit dented") == (False, False)


def test_priority_rises_for_anger_repeat_and_value(store):
    now = utcnow()
    with session_scope() as session:
        calm = factories.customer(session, "calm@example.com")
        loyal = factories.customer(session, "loyal@example.com")
        tent = factories.product(session, "CAM-900", price="620.00")
        factories.order(session, "A5001", loyal, [(tent, 1)], status="delivered")
        first = complaints.triage(session, text="The box was a bit dented", customer_id=calm.id)
        assert first.priority == TicketPriority.NORMAL
        angry = complaints.triage(session, text="This is unacceptable, the box was crushed!!",
                                  customer_id=calm.id)
        assert angry.angry and angry.priority == TicketPriority.HIGH
        valued = complaints.triage(session, text="The box was a bit dented", customer_id=loyal.id)
        assert valued.high_value and valued.priority == TicketPriority.HIGH
        complaints.file_complaint(session, details="The box was a bit dented", customer_id=calm.id)
        repeat = complaints.triage(session, text="Another dented box", customer_id=calm.id,
                                   now=now + timedelta(days=1))
        assert repeat.repeat and repeat.priority == TicketPriority.HIGH
        urgent = complaints.triage(session, text="Unacceptable, I need it today!!",
                                   customer_id=loyal.id)
        assert urgent.priority == TicketPriority.URGENT


def test_file_complaint_opens_a_ticket_with_the_policy_sla(store):
    with session_scope() as session:
        jane = factories.customer(session, "jane@example.com")
        ticket, result = complaints.file_complaint(
            session, details="The jacket's zip broke on the first hike", customer_id=jane.id,
            desired_resolution="a replacement please", channel="web")
        assert ticket.kind == TicketKind.COMPLAINT
        assert ticket.category == TicketCategory.PRODUCT_QUALITY
        assert ticket.priority == result.priority == TicketPriority.NORMAL
        hours = load_policy().tickets.sla_hours["normal"]
        assert abs((ticket.sla_due_at - ticket.created_at) - timedelta(hours=hours)) < timedelta(seconds=5)
        assert "a replacement please" in ticket.description
        assert ticket.reference.startswith("T-")


def test_a_policy_without_a_priority_s_sla_still_files_the_complaint(store, tmp_path,
                                                                       monkeypatch):
    """Tickets and complaints share one SLA rule: a priority the shop's policy leaves out gets
    the documented default (8 hours for high), it does not refuse the customer's complaint."""
    sla_hours = {"urgent": 4, "normal": 24, "low": 72}  # no "high"
    monkeypatch.setenv("KEFU_POLICY_FILE", str(policy_file(tmp_path, hours=ALWAYS_OPEN,
                                                           tickets={"sla_hours": sla_hours})))
    load_policy.cache_clear()
    try:
        with session_scope() as session:
            jane = factories.customer(session, "jane.high@example.com")
            for _ in range(2):  # a repeat complaint within the window is high priority
                ticket, result = complaints.file_complaint(
                    session, details="The parcel arrived damaged again", customer_id=jane.id)
            assert result.priority == TicketPriority.HIGH
            late = ticket.sla_due_at - ticket.created_at - tickets.SLA[TicketPriority.HIGH]
            assert abs(late) < timedelta(seconds=5)
            plain = tickets.open(session, subject="Where is it?", priority="high")
            assert plain.sla_due_at - plain.created_at == tickets.SLA[TicketPriority.HIGH]
    finally:
        load_policy.cache_clear()


def test_conversation_rating_is_stored_and_checked(store):
    with session_scope() as session:
        message = conversations.append(session, channel="web", external_id="abc",
                                       direction="inbound", sender_kind="customer", text="hi")
        conversation_id = message.conversation_id
        conversations.rate(session, conversation_id=conversation_id, score=4)
        conversations.comment_on_rating(session, conversation_id=conversation_id,
                                        comment=" quick and friendly ")
        with pytest.raises(InvalidInput):
            conversations.rate(session, conversation_id=conversation_id, score=6)
    with session_scope() as session:
        conversation = conversations.get(session, conversation_id=conversation_id)
        assert (conversation.satisfaction, conversation.satisfaction_comment) == (4, "quick and friendly")
        assert conversation.rated_at is not None


def test_rating_comment_needs_a_rating_first(store):
    with session_scope() as session:
        jane = factories.customer(session, "jane@example.com")
        ticket = tickets.open(session, subject="Late", kind="complaint", category="delivery",
                              customer_id=jane.id)
        with pytest.raises(NotAllowed):
            tickets.comment_on_rating(session, ticket_id=ticket.id, comment="meh")
        tickets.resolve(session, ticket_id=ticket.id, resolution="Refunded shipping", actor="staff:1")
        tickets.rate(session, ticket_id=ticket.id, satisfaction=5)
        tickets.comment_on_rating(session, ticket_id=ticket.id, comment="Great service")
        assert (ticket.satisfaction, ticket.satisfaction_comment) == (5, "Great service")
