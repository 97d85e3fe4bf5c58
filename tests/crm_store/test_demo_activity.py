"""The demo shop comes with activity (demo_shop/activity.py), so every dashboard chart has data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from crm_store.db import session_scope
from crm_store.models import (
    Campaign,
    CampaignDelivery,
    ChannelIdentity,
    Conversation,
    Customer,
    Handoff,
    Message,
    Order,
    StaffUser,
    Ticket,
)
from crm_store.services import analytics, conversations, handoffs, staff
from kefu.demo import DEMO_ACTIVITY_UNTIL, demo_shift, load_if_empty

# Depends on the date or time of day: CI runs it at other moments too (.ci/clock-guard).
pytestmark = pytest.mark.clock


def demo_period() -> analytics.Scope:
    """The 60 days of demo activity, which end on the day the demo is loaded."""
    until = DEMO_ACTIVITY_UNTIL + demo_shift()
    return analytics.Scope(until - timedelta(days=60), until + timedelta(days=1))

TABLES = (Customer, ChannelIdentity, Conversation, Message, Handoff, Ticket, StaffUser, Campaign,
          CampaignDelivery)


def _counts() -> dict[str, int]:
    with session_scope() as session:
        return {t.__name__: session.scalar(select(func.count()).select_from(t)) for t in TABLES}


def test_every_kpi_has_data_on_the_demo_shop(store):
    loaded = load_if_empty()
    assert loaded.loaded and loaded.activity.startswith("300 conversations")
    PERIOD = demo_period()
    with session_scope() as session:
        kpis = analytics.dashboard(session, PERIOD)
        inbox = analytics.not_understood_messages(session, PERIOD)
        agent = staff.get_by_email(session, email="demo.agent@kefu-demo.example")
        mine = analytics.dashboard(session, analytics.Scope(PERIOD.start, PERIOD.end,
                                                            agent_id=agent.id))
        telegram = analytics.dashboard(session, analytics.Scope(PERIOD.start, PERIOD.end,
                                                                channel="telegram"))
        pending_replies = conversations.undelivered(session)
        queued = handoffs.queue(session)

    days = kpis["volume"]
    assert sum(d["conversations"] for d in days) == 300
    assert sum(1 for d in days if d["messages"]) > 40  # spread over the period, not one day
    assert kpis["first_response"]["bot"]["count"] == 300
    assert 0 < kpis["first_response"]["bot"]["p50_s"] < 10
    assert kpis["first_response"]["human"]["count"] > 0
    assert 0.8 <= kpis["containment"]["containment_rate"] <= 0.9  # about 15% handed off
    wait = kpis["queue_wait"]
    assert wait["claimed"] == wait["handoffs"] > 0 and wait["p50_s"] < wait["p95_s"] <= 3600
    ratings = kpis["csat"]
    assert ratings["ratings"] > 0 and 1 <= ratings["average"] <= 5
    assert sum(1 for d in ratings["distribution"] if d["count"]) >= 3
    complaints = kpis["complaints"]
    assert complaints["total"] == 25
    assert {"open", "resolved"} <= {s["status"] for s in complaints["by_status"]}
    assert len(complaints["by_category"]) >= 3
    assert 0 < kpis["sla"]["breached"] < kpis["sla"]["tickets"]
    intents = {row["intent"] for row in kpis["top_intents"]}
    assert {"track_order", "nlu_fallback", "delivery_options"} <= intents
    assert 0.03 < kpis["fallback"]["fallback_rate"] < 0.2
    groups = {row["group"]: row for row in kpis["retention"]}
    assert groups["chatted"]["buyers"] > 0 and groups["did not chat"]["buyers"] > 0
    assert groups["chatted"]["retention_rate"] is not None
    [campaign] = kpis["campaigns"]
    assert campaign["recipients"] > 0 and campaign["converted"] > 0
    assert len({m["text"] for m in inbox}) >= 5
    # The demo agent sees their own handoffs; one channel is a real share of the whole.
    assert mine["containment"]["handed_off"] == kpis["containment"]["handed_off"]
    assert 0 < telegram["containment"]["conversations"] < 300
    # Nothing for the gateway to send and nobody waiting: the demo is history.
    assert pending_replies == [] and queued == []


def test_demo_activity_loads_once_and_leaves_the_shop_as_imported(store):
    assert load_if_empty().loaded
    first = _counts()
    # The chats belong to the 50 demo customers; no anonymous customers were made for them.
    assert first["Customer"] == 50
    assert first["Conversation"] == 300 and first["StaffUser"] == 2
    with session_scope() as session:
        senders = set(session.scalars(select(Conversation.external_id)))
        hashes = set(session.scalars(select(StaffUser.password_hash)))
    assert all(s.startswith("demo-") for s in senders)
    assert all(h.startswith("$argon2id$") for h in hashes)
    assert not load_if_empty().loaded
    assert _counts() == first


def test_the_demo_is_recent_whatever_day_it_is_loaded(store, shop_clock):
    """Loaded on 2027-03-01, the demo's last 30 days are full and nothing lies in the future."""
    shop_clock(datetime(2027, 3, 1, 9, 30, tzinfo=UTC))
    assert load_if_empty().loaded
    with session_scope() as session:
        last_30 = analytics.dashboard(session, analytics.Scope(
            datetime(2027, 1, 30, tzinfo=UTC), datetime(2027, 3, 2, tzinfo=UTC)))
        newest_order = session.scalar(select(func.max(Order.created_at)))
        newest_message = session.scalar(select(func.max(Message.created_at)))
    days = [d for d in last_30["volume"] if d["conversations"]]
    assert len(days) >= 25, last_30["volume"]
    assert 80 <= sum(d["conversations"] for d in days) <= 220  # a good share of the 300
    assert datetime(2027, 2, 28, tzinfo=UTC) <= newest_order < datetime(2027, 3, 1, tzinfo=UTC)
    assert newest_message <= datetime(2027, 3, 1, 9, 30, tzinfo=UTC)


def test_the_same_day_gives_the_same_demo(store, shop_clock):
    shop_clock(datetime(2027, 3, 1, 9, 30, tzinfo=UTC))
    assert demo_shift() == demo_shift(datetime(2027, 3, 1, 0, 0, tzinfo=UTC)) \
        == demo_shift(datetime(2027, 3, 1, 23, 59, tzinfo=UTC))
    assert demo_shift(datetime(2027, 3, 2, 0, 1, tzinfo=UTC)) - demo_shift() == timedelta(days=1)
