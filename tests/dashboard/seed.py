"""A small shop whose KPIs are worked out by hand (the numbers in test_analytics.py).

The period is the three days from T (2026-01-01 00:00 UTC). Conversations:
  c1 web, day 1: customer (greet) +0s, bot +2s (buttons), customer (nlu_fallback 0.3, "can I
     pay with bitcoin") +60s, bot +62s (answered from the help article payment-security).
  c2 web, day 2: customer (order_status) +0s, bot +4s, customer (human 0.4, "do you accept
     crypto currency") +100s, handoff
     +100s claimed by Anna +160s, Anna replies +190s; rated 5.
  c3 telegram, day 3: bot greets first, customer (order_status) +10s, bot +16s, handoff +20s
     claimed by Ben +320s, Ben replies +380s; rated 2.
  c4 web, started the day before: one old message, and a customer greet at T+30min.
  c5 web, day 3: a bot message only (the customer never wrote).
  c6 telegram, day 3: customer (human) +0s, handoff +5s, never claimed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy.orm import Session

from crm_store.models import (
    Campaign,
    CampaignDelivery,
    CampaignStatus,
    Conversation,
    Customer,
    DeliveryStatus,
    Direction,
    Handoff,
    HandoffStatus,
    Message,
    Order,
    OrderStatus,
    SenderKind,
    StaffRole,
    StaffUser,
    Ticket,
    TicketCategory,
    TicketKind,
    TicketPriority,
    TicketStatus,
    utcnow,
)

T = datetime(2026, 1, 1, tzinfo=UTC)
END = T + timedelta(days=3)
DAY = timedelta(days=1)
H = timedelta(hours=1)


def s(seconds: float) -> timedelta:
    return timedelta(seconds=seconds)


@dataclass
class Seeded:
    anna_id: int
    ben_id: int


class _Builder:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.n = 0

    def conversation(self, channel: str, started: datetime, customer: Customer | None = None,
                     rating: tuple[int, datetime] | None = None) -> Conversation:
        self.n += 1
        conv = Conversation(channel=channel, external_id=f"x{self.n}", started_at=started,
                            customer_id=customer.id if customer else None,
                            satisfaction=rating[0] if rating else None,
                            rated_at=rating[1] if rating else None)
        self.session.add(conv)
        self.session.flush()
        return conv

    def say(self, conv: Conversation, who: SenderKind, at: datetime, intent: str | None = None,
            confidence: float | None = None, staff: StaffUser | None = None,
            text: str | None = None, payload: dict | None = None) -> None:
        inbound = who == SenderKind.CUSTOMER
        self.session.add(Message(payload=payload,
            conversation_id=conv.id, sender_kind=who, text=text or f"{who} at {at:%H:%M:%S}",
            direction=Direction.INBOUND if inbound else Direction.OUTBOUND, created_at=at,
            intent=intent, confidence=confidence, staff_id=staff.id if staff else None,
            delivery_status=None if inbound else DeliveryStatus.DELIVERED))

    def handoff(self, conv: Conversation, requested: datetime, claimed_by: StaffUser | None = None,
                claimed: datetime | None = None) -> None:
        self.session.add(Handoff(
            conversation_id=conv.id, requested_at=requested,
            status=HandoffStatus.CLAIMED if claimed_by else HandoffStatus.WAITING,
            claimed_by_id=claimed_by.id if claimed_by else None, claimed_at=claimed))

    def customer(self, name: str) -> Customer:
        person = Customer(email=f"{name}@example.com", name=name, tags=[])
        self.session.add(person)
        self.session.flush()
        return person

    def order(self, who: Customer, at: datetime,
              status: OrderStatus = OrderStatus.PAID) -> None:
        self.n += 1
        self.session.add(Order(order_number=f"A{self.n}", customer_id=who.id, status=status,
                               total=Decimal("10.00"), created_at=at))

    def ticket(self, kind: TicketKind, category: TicketCategory, status: TicketStatus,
               created: datetime, due: datetime, resolved: datetime | None = None,
               channel: str = "web", assignee: StaffUser | None = None) -> None:
        self.session.add(Ticket(kind=kind, category=category, status=status,
                                priority=TicketPriority.NORMAL, subject="s", created_at=created,
                                sla_due_at=due, resolved_at=resolved, channel=channel,
                                assignee_id=assignee.id if assignee else None))


def seed(session: Session) -> Seeded:
    b = _Builder(session)
    anna = StaffUser(email="anna@shop.example", password_hash="x", role=StaffRole.AGENT)
    ben = StaffUser(email="ben@shop.example", password_hash="x", role=StaffRole.AGENT)
    session.add_all([anna, ben])
    session.flush()
    cust = {name: b.customer(name) for name in ("c1", "c2", "c3", "c4", "c5", "c6")}
    C, BOT, AGENT = SenderKind.CUSTOMER, SenderKind.BOT, SenderKind.AGENT

    t1 = T + H
    c1 = b.conversation("web", t1, cust["c1"])
    b.say(c1, C, t1, "greet", 0.9)
    b.say(c1, BOT, t1 + s(2), payload={"buttons": [{"title": "Track an order",
                                                    "payload": "/track_order"}]})
    b.say(c1, C, t1 + s(60), "nlu_fallback", 0.3, text="can I pay with bitcoin")
    # Answered from a help article (actions/help_answers.py; the gateway stores the source).
    b.say(c1, BOT, t1 + s(62), payload={"article": {"slug": "payment-security",
                                                    "title": "Paying safely"}})

    t2 = T + DAY + H
    c2 = b.conversation("web", t2, cust["c2"], rating=(5, t2 + H))
    b.say(c2, C, t2, "order_status", 0.95)
    b.say(c2, BOT, t2 + s(4))
    b.say(c2, C, t2 + s(100), "human", 0.4, text="do you accept crypto currency")
    b.handoff(c2, t2 + s(100), anna, t2 + s(160))
    b.say(c2, AGENT, t2 + s(190), staff=anna)

    t3 = T + 2 * DAY
    c3 = b.conversation("telegram", t3, rating=(2, t3 + H))
    b.say(c3, BOT, t3)
    b.say(c3, C, t3 + s(10), "order_status", 0.8)
    b.say(c3, BOT, t3 + s(16))
    b.handoff(c3, t3 + s(20), ben, t3 + s(320))
    b.say(c3, AGENT, t3 + s(380), staff=ben)

    c4 = b.conversation("web", T - DAY, rating=(1, T - DAY + H))
    b.say(c4, C, T - DAY, "greet", 0.9)
    b.say(c4, C, T + 0.5 * H, "greet", 0.9)

    c5 = b.conversation("web", T + 2 * DAY + 5 * H)
    b.say(c5, BOT, T + 2 * DAY + 5 * H)

    t6 = T + 2 * DAY + 6 * H
    c6 = b.conversation("telegram", t6)
    b.say(c6, C, t6, "human", 0.9)
    b.handoff(c6, t6 + s(5))

    K, R = TicketKind, TicketCategory
    b.ticket(K.COMPLAINT, R.DELIVERY, TicketStatus.OPEN, T + H, T + DAY)
    b.ticket(K.COMPLAINT, R.DELIVERY, TicketStatus.RESOLVED, T + 2 * H, T + 2 * DAY, T + DAY)
    b.ticket(K.COMPLAINT, R.PAYMENT, TicketStatus.RESOLVED, T + DAY, T + DAY + H,
             T + DAY + 5 * H, assignee=anna)
    b.ticket(K.SERVICE_REQUEST, R.RETURN, TicketStatus.OPEN, T + 2 * DAY,
             utcnow() + 10 * DAY, channel="telegram")
    b.ticket(K.COMPLAINT, R.STAFF, TicketStatus.OPEN, T - 5 * DAY, T - 4 * DAY)

    # c1, c2 chatted; c3-c6 did not.
    b.order(cust["c1"], T - 30 * DAY)
    b.order(cust["c1"], T + DAY)
    b.order(cust["c2"], T - 10 * DAY)
    b.order(cust["c2"], T + 9 * DAY)
    b.order(cust["c3"], T - 20 * DAY)
    b.order(cust["c3"], T - 15 * DAY)
    b.order(cust["c4"], T + DAY, OrderStatus.CANCELLED)
    b.order(cust["c4"], T + 2 * DAY)
    b.order(cust["c6"], T + 5 * DAY)

    hiking = Campaign(name="Hiking boots", topic="hiking", message="m",
                      status=CampaignStatus.SENT, sent_at=T + DAY)
    old = Campaign(name="Old news", topic="x", message="m", status=CampaignStatus.SENT,
                   sent_at=T - 10 * DAY)
    session.add_all([hiking, old])
    session.flush()
    for who, sent, status in (("c1", T + DAY + H, DeliveryStatus.DELIVERED),
                              ("c2", T + DAY, DeliveryStatus.SENT),
                              ("c3", T + DAY, DeliveryStatus.DELIVERED),
                              ("c4", T + DAY, DeliveryStatus.DELIVERED),
                              ("c5", T + DAY, DeliveryStatus.FAILED),
                              ("c6", T + 2 * DAY, DeliveryStatus.DELIVERED)):
        session.add(CampaignDelivery(campaign_id=hiking.id, customer_id=cust[who].id,
                                     channel="telegram", status=status, created_at=sent,
                                     sent_at=None if status == DeliveryStatus.FAILED else sent))
    session.add(CampaignDelivery(campaign_id=old.id, customer_id=cust["c3"].id,
                                 channel="telegram", status=DeliveryStatus.DELIVERED,
                                 created_at=T - 10 * DAY, sent_at=T - 10 * DAY))
    # Customer c5 is in the shop and never ordered or chatted.
    session.flush()
    return Seeded(anna_id=anna.id, ben_id=ben.id)
