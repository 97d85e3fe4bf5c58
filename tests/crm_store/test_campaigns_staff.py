"""Campaigns reach only opted-in customers with the interest; staff sign in with argon2."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from crm_store.db import session_scope
from crm_store.errors import InvalidInput
from crm_store.models import AuditEntry, CampaignStatus, StaffUser
from crm_store.services import campaigns, identities, interests, staff
from tests.crm_store import factories


def test_campaign_audience_delivery_and_stats(store):
    with session_scope() as session:
        hiker = factories.customer(session, "hiker@example.com", opt_in=True)
        shy_hiker = factories.customer(session, "shy@example.com", opt_in=False)
        cook = factories.customer(session, "cook@example.com", opt_in=True)
        for person, topic in ((hiker, "hiking"), (shy_hiker, "hiking"), (cook, "cooking")):
            interests.add(session, customer_id=person.id, topic=topic, source="imported")
        identities.link(session, customer_id=hiker.id, channel="telegram", external_id="123")
        campaign = campaigns.create(session, name="Autumn trails", topic="Hiking",
                                    message="New rain jackets are in")
        assert [c.email for c in campaigns.audience(session, topic="hiking")] \
            == ["hiker@example.com"]
        assert campaigns.enqueue(session, campaign_id=campaign.id) == 1
        assert campaigns.enqueue(session, campaign_id=campaign.id) == 0
        [delivery] = campaigns.pending_deliveries(session)
        assert delivery.channel == "telegram"
        campaigns.mark_delivery(session, delivery_id=delivery.id, status="delivered")
        campaigns.record_response(session, delivery_id=delivery.id)
        stats = campaigns.stats(session, campaign_id=campaign.id)
        assert (stats.audience, stats.delivered, stats.responded) == (1, 1, 1)
        assert stats.response_rate == 1.0
        assert campaign.status == CampaignStatus.SENT


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
