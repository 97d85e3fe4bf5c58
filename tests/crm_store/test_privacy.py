"""Data rights: a customer's export holds everything; forgetting erases it but keeps orders."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from crm_store.db import session_scope
from crm_store.errors import NotFound
from crm_store.models import (
    AuditEntry,
    CampaignDelivery,
    Conversation,
    Customer,
    DeliveryStatus,
    DialogueEvent,
    Handoff,
    LinkCode,
    Message,
    OrderStatus,
    Ticket,
    utcnow,
)
from crm_store.privacy import export_customer, forget_customer
from crm_store.services import (
    campaigns,
    conversations,
    customers,
    handoffs,
    identities,
    interests,
    orders,
    tickets,
)
from tests.crm_store import factories


@pytest.fixture
def jane(store):
    with session_scope() as session:
        person = factories.customer(session, "jane@example.com", name="Jane Doe", opt_in=True)
        person.phone = "+442079460958"
        boots = factories.product(session, "HIK-001", price="99.00")
        factories.order(session, "A1001", person, [(boots, 1)], status=OrderStatus.DELIVERED,
                        shipped_days_ago=2, delivered_days_ago=1)
        identities.link(session, customer_id=person.id, channel="telegram", external_id="555",
                        verified=True)
        message = conversations.append(session, channel="telegram", external_id="555",
                                       direction="inbound", sender_kind="customer",
                                       text="My boots leak, I live at 1 High St")
        handoff = handoffs.request(session, conversation_id=message.conversation_id,
                                   reason="angry")
        # Left while waiting for the team outside business hours (bot/store.py).
        handoff.reply_email = "jane.doe@work.example.com"
        session.add(LinkCode(code="K7Q2M9", customer_id=person.id, issued_channel="telegram",
                             issued_external_id="555", expires_at=utcnow() + timedelta(minutes=5)))
        conversation = conversations.get(session, conversation_id=message.conversation_id)
        conversation.satisfaction, conversation.satisfaction_comment = 2, "Jane says: too slow"
        tickets.open(session, subject="Leaking boots", description="Jane's boots leak",
                     kind="complaint", category="delivery", customer_id=person.id,
                     conversation_id=message.conversation_id)
        interests.add(session, customer_id=person.id, topic="hiking", source="stated")
        # What Rasa's event broker said about her chat, and about someone else's.
        for sender, key in (("telegram:555", "jane-1"), ("telegram:777", "other-1")):
            session.add(DialogueEvent(sender_id=sender, kind="intent", name="complaint",
                                      occurred_at=utcnow(), event_key=key))
        campaign = campaigns.create(session, name="Trails", topic="hiking", message="New")
        # A delivery recorded before the gateway carried campaigns: no message of its own.
        session.add(CampaignDelivery(campaign_id=campaign.id, customer_id=person.id,
                                     channel="telegram", status=DeliveryStatus.PENDING))
    return store


def test_export_holds_everything_about_the_customer(jane):
    with session_scope() as session:
        data = export_customer(session, email="JANE@example.com")
    json.dumps(data)  # plain JSON all the way down
    assert data["customer"]["email"] == "jane@example.com"
    assert data["customer"]["phone"] == "+442079460958"
    assert [i["external_id"] for i in data["identities"]] == ["555"]
    assert [i["topic"] for i in data["interests"]] == ["hiking"]
    assert data["orders"][0]["order_number"] == "A1001"
    assert data["orders"][0]["items"] == [{"sku": "HIK-001", "name": "Product HIK-001",
                                           "quantity": 1, "unit_price": "99.00"}]
    assert data["tickets"][0]["subject"] == "Leaking boots"
    [conversation] = data["conversations"]
    assert conversation["messages"][0]["text"] == "My boots leak, I live at 1 High St"
    assert conversation["handoffs"][0]["reason"] == "angry"
    assert conversation["handoffs"][0]["reply_email"] == "jane.doe@work.example.com"
    assert conversation["satisfaction_comment"] == "Jane says: too slow"
    assert data["campaign_deliveries"][0]["campaign"] == "Trails"


def test_forget_erases_personal_data_and_keeps_anonymous_orders(jane):
    with session_scope() as session:
        customer_id = customers.get_by_email(session, email="jane@example.com").id
        result = forget_customer(session, email="jane@example.com", actor="staff:1")
    assert (result.orders_kept, result.messages_deleted, result.tickets_anonymised) == (1, 1, 1)
    # Rasa's ids for her chats, for erasing Rasa's own copy (kefu/commands/store.py).
    assert result.rasa_senders == ("telegram:555",)
    with session_scope() as session:
        with pytest.raises(NotFound):
            export_customer(session, email="jane@example.com")
        person = session.get(Customer, customer_id)
        assert (person.email, person.name, person.phone) == (None, None, None)
        assert person.erased_at is not None and not person.marketing_opt_in
        assert identities.for_customer(session, customer_id=customer_id) == []
        assert interests.for_customer(session, customer_id=customer_id) == []
        assert campaigns.audience(session, topic="hiking") == []
        assert session.scalars(select(Message)).all() == []
        assert session.scalars(select(LinkCode)).all() == []
        assert session.scalars(select(DialogueEvent.sender_id)).all() == ["telegram:777"]
        assert session.scalars(select(Handoff.reply_email)).all() == [None]
        ticket = session.scalar(select(Ticket))
        rated = session.scalar(select(Conversation))
        assert rated.satisfaction == 2 and rated.satisfaction_comment is None
        assert rated.external_id != "555"
        assert "Jane" not in ticket.description and ticket.subject == "[erased]"
        # Accounting keeps the order (and its amount), no longer tied to a person.
        [kept] = orders.for_customer(session, customer_id=customer_id)
        assert kept.order_number == "A1001" and str(kept.total) == "99.00"
        assert orders.status_for(session, order_number="A1001", email="jane@example.com") is None
        # The same Telegram chat writing again is a stranger now.
        assert customers.find_or_create_by_identity(
            session, channel="telegram", external_id="555").id != customer_id
        entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "customer.forget"))
        assert "jane" not in json.dumps(entry.details).lower()


def test_unknown_email_is_not_found(store):
    with session_scope() as session:
        with pytest.raises(NotFound):
            forget_customer(session, email="nobody@example.com")


def test_forget_blanks_her_address_left_in_a_chat_not_linked_to_her(jane):
    with session_scope() as session:
        conversation = conversations.get_or_start(session, channel="rest",
                                                  external_id="anonymous-jane")
        waiting = handoffs.hand_over(session, conversation_id=conversation.id, reason=None)
        waiting.reply_email = "jane@example.com"
        other = conversations.get_or_start(session, channel="rest", external_id="someone")
        handoffs.hand_over(session, conversation_id=other.id,
                           reason=None).reply_email = "sam@example.com"
    with session_scope() as session:
        forget_customer(session, email="jane@example.com")
    with session_scope() as session:
        assert sorted(session.scalars(select(Handoff.reply_email)), key=str) == [
            None, None, "sam@example.com"]
