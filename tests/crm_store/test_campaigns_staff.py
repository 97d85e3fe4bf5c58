"""Campaigns reach only opted-in customers with the interest; staff sign in with argon2."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from crm_store.db import session_scope
from crm_store.errors import InvalidInput
from crm_store.models import AuditEntry, CampaignStatus, StaffUser
from crm_store.services import campaigns, delivery, staff
from marketing import sending
from tests.marketing.helpers import chat, london, person, shop_policy

NOON = london(2026, 11, 18, 12)  # a Wednesday, outside the quiet hours


def _no_product(_session, _customer_id, _topic=None):
    raise AssertionError("a message without product placeholders needs no recommendation")


def test_campaign_audience_delivery_and_report(store):
    with session_scope() as session:
        hiker = person(session, "hiker@example.com", name="Hal", topics=("hiking",),
                       consent="telegram")
        chat(session, hiker, "telegram", "123")
        person(session, "shy@example.com", name="Shy", topics=("hiking",))
        person(session, "cook@example.com", name="Coo", topics=("cooking",), consent="telegram")
        campaign = campaigns.create(session, name="Autumn trails", topic="Hiking",
                                    message="New rain jackets are in")
        assert [c.email for c in campaigns.audience(session, topic="hiking")] \
            == ["hiker@example.com"]
        assert sending.send(session, campaign_id=campaign.id, now=NOON, policy=shop_policy(),
                            recommender=_no_product).queued == 1
        [row] = campaign.deliveries
        assert row.channel == "telegram"
        delivery.record_attempt(session, message_id=row.message_id, status="delivered")
        reply = delivery.record_inbound(session, channel="telegram", external_id="123",
                                        text="which sizes?")
        reply.message.created_at = NOON + timedelta(hours=1)
        report = campaigns.report(session, campaign_id=campaign.id)
        assert (report["recipients"], report["reached"], report["replies"]) == (1, 1, 1)
        assert campaigns.status_of(session, campaign) == CampaignStatus.SENT


def test_staff_authenticate(store):
    with session_scope() as session:
        user = staff.create_user(session, email="Agent@Shop.example", password="a long secret",
                                 role="agent", name="Ann")
        assert user.password_hash.startswith("$argon2id$")
        assert "a long secret" not in user.password_hash
        with pytest.raises(InvalidInput, match="already exists"):
            staff.create_user(session, email="agent@shop.example", password="another secret",
                              role="agent")
        with pytest.raises(InvalidInput, match="at least"):
            staff.create_user(session, email="b@shop.example", password="short", role="agent")
        with pytest.raises(InvalidInput, match="role"):
            staff.create_user(session, email="c@shop.example", password="long enough pw",
                              role="owner")
    with session_scope() as session:
        signed_in = staff.authenticate(session, email="agent@shop.example",
                                       password="a long secret")
        assert signed_in is not None and signed_in.last_login_at is not None
        assert staff.authenticate(session, email="agent@shop.example", password="wrong") is None
        assert staff.authenticate(session, email="nobody@shop.example",
                                  password="a long secret") is None
        staff.set_active(session, user_id=signed_in.id, active=False, actor="staff:0")
        assert staff.authenticate(session, email="agent@shop.example",
                                  password="a long secret") is None
    with session_scope() as session:
        user_id = session.scalar(select(StaffUser.id))
        actions = [a.action for a in session.scalars(
            select(AuditEntry).where(AuditEntry.entity == "staff",
                                     AuditEntry.entity_id == str(user_id)).order_by(AuditEntry.id))]
        assert actions == ["staff.create", "staff.active"]
