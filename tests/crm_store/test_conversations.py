"""Conversations store every message; handoffs give a conversation to exactly one agent."""

from __future__ import annotations

import pytest

from crm_store.db import session_scope
from crm_store.errors import InvalidInput, NotAllowed
from crm_store.models import ConversationMode, DeliveryStatus, HandoffStatus, StaffRole
from crm_store.services import conversations, customers, handoffs, staff


def test_append_stores_messages_in_order_with_intent(store):
    with session_scope() as session:
        conversations.append(session, channel="telegram", external_id="99", direction="inbound",
                             sender_kind="customer", text="where is A1001?", intent="track_order",
                             confidence=0.93)
        reply = conversations.append(session, channel="telegram", external_id="99",
                                     direction="outbound", sender_kind="bot", text="It shipped.")
        assert reply.delivery_status == DeliveryStatus.PENDING
        with pytest.raises(InvalidInput):
            conversations.append(session, channel="telegram", external_id="99",
                                 direction="sideways", sender_kind="bot", text="?")
    with session_scope() as session:
        customer = customers.find_or_create_by_identity(session, channel="telegram",
                                                        external_id="99")
        [conversation] = conversations.for_customer(session, customer_id=customer.id)
        history = conversations.history(session, conversation_id=conversation.id)
        assert [(m.sender_kind.value, m.text, m.intent) for m in history] == [
            ("customer", "where is A1001?", "track_order"), ("bot", "It shipped.", None)]
        assert history[0].confidence == pytest.approx(0.93)
        assert [m.text for m in conversations.undelivered(session)] == ["It shipped."]
        conversations.set_delivery_status(session, message_id=history[1].id, status="delivered")
        assert conversations.undelivered(session) == []


def test_handoff_goes_to_exactly_one_agent_and_back_to_the_bot(store):
    with session_scope() as session:
        ann = staff.create_user(session, email="ann@shop.example", password="correct horse 1",
                                role=StaffRole.AGENT)
        bob = staff.create_user(session, email="bob@shop.example", password="correct horse 2",
                                role=StaffRole.AGENT)
        message = conversations.append(session, channel="web", external_id="s1",
                                       direction="inbound", sender_kind="customer",
                                       text="I want a person")
        handoff = handoffs.request(session, conversation_id=message.conversation_id,
                                   reason="asked for a human")
        again = handoffs.request(session, conversation_id=message.conversation_id)
        assert again.id == handoff.id
        handoffs.mark_waiting(session, handoff_id=handoff.id)
        ids = (handoff.id, ann.id, bob.id, message.conversation_id)
    handoff_id, ann_id, bob_id, conversation_id = ids
    with session_scope() as session:
        assert [h.id for h in handoffs.queue(session)] == [handoff_id]
        claimed = handoffs.claim(session, handoff_id=handoff_id, staff_id=ann_id)
        assert claimed.status == HandoffStatus.CLAIMED and claimed.claimed_by_id == ann_id
    with session_scope() as session:
        with pytest.raises(NotAllowed, match="claimed"):
            handoffs.claim(session, handoff_id=handoff_id, staff_id=bob_id)
    with session_scope() as session:
        assert conversations.get(session, conversation_id=conversation_id).mode \
            == ConversationMode.HUMAN
        assert handoffs.queue(session) == []
        handoffs.resolve(session, handoff_id=handoff_id, staff_id=ann_id, note="sorted")
    with session_scope() as session:
        assert conversations.get(session, conversation_id=conversation_id).mode \
            == ConversationMode.BOT
        assert handoffs.active_for(session, conversation_id=conversation_id) is None
