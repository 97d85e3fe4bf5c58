"""Campaign conversion has one definition, and the campaign report and the dashboard give the
same figure for the same campaign: orders within 7 days from the customers the message
reached, over those reached (a recipient whose delivery failed counts on neither side)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from crm_store.db import session_scope
from crm_store.models import (
    Campaign,
    CampaignDelivery,
    CampaignStatus,
    Customer,
    DeliveryStatus,
    Order,
    OrderStatus,
    utcnow,
)
from crm_store.services import analytics, campaigns

DAY = timedelta(days=1)


def seed_campaign(session) -> int:
    """Nine recipients: eight reached (two of them ordered within a week, one after eight
    days, one only a cancelled order), and one whose delivery failed but who ordered."""
    sent = utcnow() - 10 * DAY
    campaign = Campaign(name="Trail shoes", topic="running", message="m",
                        status=CampaignStatus.SENT, sent_at=sent)
    session.add(campaign)
    session.flush()
    orders = {"r1": [(2 * DAY, OrderStatus.PAID)], "r2": [(6 * DAY, OrderStatus.DELIVERED)],
              "r3": [(8 * DAY, OrderStatus.PAID)], "r4": [(DAY, OrderStatus.CANCELLED)],
              "failed": [(DAY, OrderStatus.PAID)]}
    statuses = {"r1": DeliveryStatus.DELIVERED, "r2": DeliveryStatus.SENT,
                "r7": DeliveryStatus.SENT, "failed": DeliveryStatus.FAILED}
    for n, name in enumerate(("r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8", "failed")):
        person = Customer(email=f"{name}@example.com", name=name, tags=[])
        session.add(person)
        session.flush()
        status = statuses.get(name, DeliveryStatus.DELIVERED)
        session.add(CampaignDelivery(
            campaign_id=campaign.id, customer_id=person.id, channel="telegram", status=status,
            created_at=sent, sent_at=None if status == DeliveryStatus.FAILED else sent))
        for k, (after, order_status) in enumerate(orders.get(name, [])):
            session.add(Order(order_number=f"CV{n}{k}", customer_id=person.id,
                              status=order_status, total=Decimal("40.00"),
                              created_at=sent + after))
    session.flush()
    return campaign.id


def test_the_report_and_the_dashboard_give_the_same_conversion(store):
    with session_scope() as session:
        campaign_id = seed_campaign(session)
    with session_scope() as session:
        report = campaigns.report(session, campaign_id=campaign_id)
        now = utcnow()
        [row] = analytics.dashboard(session, analytics.Scope(now - 30 * DAY, now))["campaigns"]
    assert (report["reached"], report["failed"], report["orders"]) == (8, 1, 2)
    assert report["conversion"] == 0.25
    assert (row["recipients"], row["converted"], row["conversion_rate"]) == (8, 2, 0.25)
    assert report["conversion"] == round(row["conversion_rate"], 4)
    # The failed recipient's order is shown on their row but not counted as a conversion.
    [failed] = [r for r in report["per_recipient"] if r["status"] == "failed"]
    assert failed["ordered"] and not failed["converted"]
    assert sum(r["converted"] for r in report["per_recipient"]) == report["orders"]
