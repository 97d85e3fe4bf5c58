"""Seeded demo activity for the demo shop: conversations, handoffs, ratings, complaints, two
staff accounts and one past campaign, so the dashboard has something real to chart.

Everything is written through the crm_store services. The services stamp rows with the current
time, so where the demo needs a past moment (a handoff claimed twelve minutes after it was
asked for) the timestamp attributes of the model the service returned are set in the same unit
of work. The same seed and end date always give the same activity.

All channel senders are prefixed "demo-" so they can never meet a real sender or one a test
creates; the staff accounts get a random password nobody knows (sign in after
`kefu staff set-password`).
"""

from __future__ import annotations

import logging
import random
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_store.models import (
    Conversation,
    Customer,
    DeliveryStatus,
    Direction,
    Message,
    SenderKind,
    StaffRole,
)
from crm_store.services import (
    campaigns,
    complaints,
    conversations,
    delivery,
    handoffs,
    identities,
    staff,
    tickets,
)
from marketing import sending
from marketing.rules import SendPolicy

logger = logging.getLogger(__name__)

SEED = 20261120
# The demo orders end on 2026-11-20, the chats lead up to that day; kefu/demo.py moves both
# to end on the day the demo is loaded and passes that day as `until`.
UNTIL = datetime(2026, 11, 20, tzinfo=UTC)
DAYS = 60
CONVERSATIONS = 300
HANDOFF_SHARE = 0.15
COMPLAINTS = 25
CHATTING_SHARE = 0.7
CHANNELS = (("web", 0.5), ("telegram", 0.35), ("rest", 0.15))
AGENT_EMAIL = "demo.agent@kefu-demo.example"
ADMIN_EMAIL = "demo.admin@kefu-demo.example"
CAMPAIGN_NAME = "Demo: autumn hiking picks"

# (intent, customer text, bot reply) per kind of visit; confidences are drawn per message.
_TRACKING = [
    ("track_order", "Where is my order {order}?",
     "Your order {order} is on its way with DHL; it should arrive within two days."),
    ("track_order", "hi, any news on my parcel?",
     "Could you give me your order number? It starts with A."),
    ("inform", "{order}", "Thanks! Order {order} was shipped yesterday."),
    ("refund_status", "When do I get my refund for {order}?",
     "The refund for {order} was issued; banks take 3-5 working days."),
]
_DELIVERY = [
    ("delivery_options", "How long does delivery to Ireland take?",
     "Standard delivery to Ireland takes 3-5 working days; express takes 1-2."),
    ("delivery_options", "Do you offer next day delivery?",
     "Yes, orders placed before 2 pm can go out with next-day express."),
    ("payment_methods", "can I pay with paypal?", "Yes: cards, PayPal and bank transfer."),
    ("return_item", "I want to return the boots, they are too small",
     "No problem: returns are free within 30 days. I've started a return for you."),
]
_PRODUCT = [
    ("product_question", "Is the trail tent waterproof?",
     "Yes, the Trail Tent 2P has a 3000 mm hydrostatic head and taped seams."),
    ("product_question", "does the espresso grinder work for filter coffee too?",
     "It does: it has 40 grind settings from espresso to French press."),
    ("recommend_product", "Can you recommend running shoes for beginners?",
     "Here are three cushioned running shoes our customers like for a first season."),
    ("subscribe_interest", "tell me when you have new camping gear",
     "Done, I'll let you know about new camping gear."),
]
_SMALL_TALK = [("greet", "Hello!", "Hi! How can I help you today?"),
               ("thank", "thanks a lot", "You're welcome!"),
               ("goodbye", "bye", "Goodbye, have a nice day!")]
# What people write that the assistant does not understand: the inbox's raw material.
_NOT_UNDERSTOOD = [
    "do u ship to the canary islands",
    "my discount code SUMMER10 says invalid",
    "can I pick it up from your warehouse in person",
    "the zip on the jacket came off after a week",
    "is there a student discount",
    "can I change the colour after ordering",
    "do you sell gift cards",
    "the app keeps logging me out",
    "can I get an invoice with my company VAT number",
    "my parcel says delivered but I have nothing",
    "wrong size in the box",
    "do you price match",
    "is the black friday sale starting soon",
    "can I order by phone",
]
_NOT_UNDERSTOOD_GUESSES = ("product_question", "delivery_options", "track_order", "out_of_scope")
_COMPLAINTS = [
    ("My order arrived damaged, the tent pole is snapped.", "A replacement pole."),
    ("The parcel is two weeks late and nobody answers my emails!", "Refund the shipping."),
    ("I was charged twice for the same order.", "Refund the second charge."),
    ("The courier left my parcel in the rain and the box was soaked.", ""),
    ("Your agent was rude to me on the phone.", "An apology."),
    ("The jacket is faulty, the zip broke on the first day.", "A new jacket."),
    ("I returned the boots a month ago and still have no refund. Unacceptable!",
     "My money back today."),
    ("Wrong item delivered, I ordered the blue one.", "Swap it for the blue one."),
]
# (what staff read, what kind of handoff it was: its priority in the queue)
_HANDOFF_REASONS = [("customer asked for a person", handoffs.HandoffKind.ASKED),
                    ("repeated fallback", handoffs.HandoffKind.NOT_UNDERSTOOD),
                    ("complaint", handoffs.HandoffKind.COMPLAINT),
                    ("payment issue", handoffs.HandoffKind.ASKED)]
_RESOLUTIONS = ["Replacement sent", "Refund issued", "Explained the delivery delay",
                "Voucher for the next order"]


@dataclass(frozen=True)
class ActivitySummary:
    conversations: int
    messages: int
    handoffs: int
    ratings: int
    complaints: int
    staff: int
    campaign_deliveries: int

    def summary(self) -> str:
        return (f"{self.conversations} conversations, {self.messages} messages, "
                f"{self.handoffs} handoffs, {self.ratings} ratings, {self.complaints} complaints, "
                f"{self.staff} staff, {self.campaign_deliveries} campaign deliveries")


class _Writer:
    """One generator run inside one session; counts what it wrote."""

    def __init__(self, session: Session, rng: random.Random, until: datetime) -> None:
        self.session = session
        self.rng = rng
        self.until = until
        self.messages = 0

    def say(self, channel: str, sender: str, sender_kind: SenderKind, text: str, at: datetime,
            *, intent: str | None = None, confidence: float | None = None,
            staff_id: int | None = None) -> Message:
        outbound = sender_kind != SenderKind.CUSTOMER
        message = conversations.append(
            self.session, channel=channel, external_id=sender,
            direction=Direction.OUTBOUND if outbound else Direction.INBOUND,
            sender_kind=sender_kind, text=text, intent=intent, confidence=confidence,
            staff_id=staff_id, at=at)
        if outbound:
            # Long delivered: the gateway's retry queue must never pick demo replies up.
            conversations.set_delivery_status(self.session, message_id=message.id,
                                              status=DeliveryStatus.DELIVERED)
            message.delivered_at = at
        self.messages += 1
        return message

    def reply_delay(self) -> timedelta:
        return timedelta(seconds=round(self.rng.uniform(0.6, 4.5), 2))


def _staff(session: Session) -> tuple[int, int]:
    """The demo agent and admin, with random passwords never written anywhere."""
    agent = staff.create_user(session, email=AGENT_EMAIL, password=secrets.token_urlsafe(32),
                              role=StaffRole.AGENT, name="Demo Agent", actor="demo")
    admin = staff.create_user(session, email=ADMIN_EMAIL, password=secrets.token_urlsafe(32),
                              role=StaffRole.ADMIN, name="Demo Admin", actor="demo")
    return agent.id, admin.id


def _channel(rng: random.Random) -> str:
    return rng.choices([c for c, _ in CHANNELS], weights=[w for _, w in CHANNELS])[0]


def _start(rng: random.Random, until: datetime) -> datetime:
    # More chats on recent days and in shop hours (08-22 UTC), as a growing shop sees.
    day = int(DAYS * (1 - rng.random() ** 1.3))
    when = until - timedelta(days=day + 1) + timedelta(
        hours=rng.uniform(8, 22), seconds=rng.randrange(60))
    return when.replace(microsecond=0)


def _turns(rng: random.Random, order: str) -> list[tuple[str, str, str, float]]:
    """(intent, text, reply, confidence) for one visit: a topic, maybe a greeting and thanks."""
    topic = rng.choices([_TRACKING, _DELIVERY, _PRODUCT], weights=[0.45, 0.3, 0.25])[0]
    picked = rng.sample(topic, k=rng.choice((1, 1, 2)))
    turns = []
    if rng.random() < 0.5:
        turns.append(_SMALL_TALK[0])
    turns.extend(picked)
    if rng.random() < 0.6:
        turns.append(_SMALL_TALK[1])
    return [(i, t.format(order=order), r.format(order=order), round(rng.uniform(0.72, 0.99), 3))
            for i, t, r in turns]


def load(session: Session, *, until: datetime = UNTIL, seed: int = SEED) -> ActivitySummary:
    """Write the demo activity for the customers already in the store (the demo shop's)."""
    rng = random.Random(seed)
    writer = _Writer(session, rng, until)
    agent_id, admin_id = _staff(session)
    people = list(session.scalars(select(Customer).where(Customer.email.is_not(None))
                                  .order_by(Customer.id)))
    if not people:
        raise ValueError("the demo activity needs the demo shop's customers first")
    orders = {c.id: [o.order_number for o in c.orders] for c in people}
    # Not everyone chats: the rest are the dashboard's "did not chat" comparison group.
    chatters = rng.sample(people, k=round(len(people) * CHATTING_SHARE))
    starts = sorted(_start(rng, until) for _ in range(CONVERSATIONS))
    handoff_at = set(rng.sample(range(CONVERSATIONS), k=round(CONVERSATIONS * HANDOFF_SHARE)))
    complaint_at = set(rng.sample(range(CONVERSATIONS), k=COMPLAINTS))
    handoff_count = ratings = complaint_count = 0
    for n, t in enumerate(starts):
        customer = rng.choice(chatters)
        channel = _channel(rng)
        sender = f"demo-{channel}-{customer.id}-{n}"
        identities.link(session, customer_id=customer.id, channel=channel, external_id=sender,
                        actor="demo")
        order = rng.choice(orders.get(customer.id) or ["A1001"])
        turns = _turns(rng, order)
        if n in complaint_at:
            turns.append(("complaint", _COMPLAINTS[n % len(_COMPLAINTS)][0],
                          "I'm sorry. I've opened a complaint; our team will get back to you.",
                          round(rng.uniform(0.8, 0.98), 3)))
        elif rng.random() < 0.22:
            # Not understood: a plain fallback, or a guess below the fallback threshold.
            text = rng.choice(_NOT_UNDERSTOOD)
            if rng.random() < 0.6:
                turns.insert(rng.randrange(len(turns) + 1), (
                    "nlu_fallback", text, "Sorry, I didn't get that. Could you rephrase?",
                    round(rng.uniform(0.15, 0.45), 3)))
            else:
                turns.insert(rng.randrange(len(turns) + 1), (
                    rng.choice(_NOT_UNDERSTOOD_GUESSES), text,
                    "Sorry, I didn't get that. Could you rephrase?",
                    round(rng.uniform(0.35, 0.59), 3)))
        at = t
        first = None
        for intent, text, reply, confidence in turns:
            message = writer.say(channel, sender, SenderKind.CUSTOMER, text, at, intent=intent,
                                 confidence=confidence)
            first = first or message
            at += writer.reply_delay()
            writer.say(channel, sender, SenderKind.BOT, reply, at)
            at += timedelta(seconds=rng.randint(15, 180))
        conversation = first.conversation
        conversation.started_at = t
        if n in complaint_at:
            complaint_count += 1
            _complaint(writer, conversation.id, customer.id, channel, n, at, agent_id)
        if n in handoff_at:
            handoff_count += 1
            ratings += _handoff(writer, conversation.id, channel, sender, at, agent_id)
    deliveries = _campaign(session, rng, admin_id, until)
    session.flush()
    return ActivitySummary(CONVERSATIONS, writer.messages, handoff_count, ratings,
                           complaint_count, 2, deliveries)


def _handoff(writer: _Writer, conversation_id: int, channel: str, sender: str, at: datetime,
             agent_id: int) -> int:
    """Requested → claimed by the demo agent → resolved; rated most of the time."""
    rng, session = writer.rng, writer.session
    writer.say(channel, sender, SenderKind.CUSTOMER, "Can I talk to a person please?", at,
               intent="human_handoff", confidence=round(rng.uniform(0.85, 0.99), 3))
    at += writer.reply_delay()
    writer.say(channel, sender, SenderKind.BOT, "I'm getting a colleague for you.", at)
    reason, kind = rng.choice(_HANDOFF_REASONS)
    handoff = handoffs.request(session, conversation_id=conversation_id, reason=reason,
                               priority=handoffs.PRIORITY[kind])
    handoff.requested_at = at
    # Queue waits: mostly a few minutes, now and then most of an hour.
    wait = timedelta(seconds=min(3600, round(rng.lognormvariate(5.6, 0.9))))
    handoffs.claim(session, handoff_id=handoff.id, staff_id=agent_id)
    handoff.claimed_at = at + wait
    at += wait + timedelta(seconds=rng.randint(20, 120))
    writer.say(channel, sender, SenderKind.AGENT, "Hi, this is Sam from the shop team. "
               "Let me look into this for you.", at, staff_id=agent_id)
    at += timedelta(minutes=rng.randint(3, 25))
    handoffs.resolve(session, handoff_id=handoff.id, staff_id=agent_id,
                     note=rng.choice(_RESOLUTIONS))
    handoff.resolved_at = at
    if rng.random() < 0.8:
        rated = conversations.rate(session, conversation_id=conversation_id,
                                   score=rng.choices((1, 2, 3, 4, 5), (4, 5, 12, 35, 44))[0])
        rated.rated_at = at + timedelta(seconds=rng.randint(10, 90))
        return 1
    return 0


def _complaint(writer: _Writer, conversation_id: int, customer_id: int, channel: str, n: int,
               at: datetime, agent_id: int) -> None:
    """A complaint ticket; older ones mostly resolved (some late, some rated), a few overdue."""
    rng, session = writer.rng, writer.session
    details, wish = _COMPLAINTS[n % len(_COMPLAINTS)]
    ticket, _ = complaints.file_complaint(session, details=details, desired_resolution=wish,
                                          customer_id=customer_id,
                                          conversation_id=conversation_id, channel=channel,
                                          now=at)
    ticket.created_at = ticket.updated_at = at
    if rng.random() < 0.2:
        return  # still open: past its SLA by now unless it is very recent
    tickets.assign(session, ticket_id=ticket.id, staff_id=agent_id, actor="demo")
    tickets.resolve(session, ticket_id=ticket.id, resolution=rng.choice(_RESOLUTIONS),
                    actor="demo")
    sla = ticket.sla_due_at if ticket.sla_due_at.tzinfo else ticket.sla_due_at.replace(tzinfo=UTC)
    allowed = (sla - at).total_seconds()
    # About one in five is resolved after its deadline.
    took = allowed * (rng.uniform(1.1, 2.0) if rng.random() < 0.2 else rng.uniform(0.1, 0.9))
    ticket.resolved_at = ticket.updated_at = at + timedelta(seconds=round(took))
    if rng.random() < 0.6:
        tickets.rate(session, ticket_id=ticket.id, satisfaction=rng.choice((2, 3, 4, 4, 5, 5)),
                     actor="demo")


def _campaign(session: Session, rng: random.Random, admin_id: int, until: datetime) -> int:
    """One past topic campaign, sent like any other (one outbound message per consenting,
    reachable recipient) and delivered by the gateway, a few deliveries failing."""
    campaign = campaigns.create(session, name=CAMPAIGN_NAME, topic="hiking",
                                message="New autumn hiking gear is in: tents, boots and "
                                        "rain jackets. Have a look!",
                                created_by_id=admin_id)
    # The demo's hikers linked their Telegram chats to their shop accounts, so their imported
    # consent covers Telegram (segments.consented_channels): the campaign reaches them there.
    for customer in campaigns.audience(session, topic="hiking"):
        for identity in identities.for_customer(session, customer_id=customer.id):
            if identity.channel == "telegram":
                identities.verify(session, channel="telegram", external_id=identity.external_id)
    audience = sending.audience_for(session, campaign)
    sent = _send_day(session, [customer.id for customer, _ in audience], until)
    campaign.created_at = sent - timedelta(days=1)
    # Queueing stamps each chat with the real time; the demo is history, so keep its own.
    last_message = {reach.conversation_id: session.get(Conversation, reach.conversation_id)
                    .last_message_at for _, reach in audience}
    sending.send(session, campaign_id=campaign.id, now=sent, policy=SendPolicy.from_shop(),
                 recommender=_no_product)
    for row in campaign.deliveries:
        failed = rng.random() < 0.05
        message = delivery.record_attempt(
            session, message_id=row.message_id,
            status=DeliveryStatus.FAILED if failed else DeliveryStatus.DELIVERED,
            error="demo: recipient blocked the bot" if failed else None)
        message.created_at = sent
        if not failed:
            message.delivered_at = sent + timedelta(seconds=rng.randint(1, 30))
        session.get(Conversation, row.conversation_id).last_message_at = \
            last_message[row.conversation_id]
    return len(campaign.deliveries)


def _no_product(_session: Session, _customer_id: int) -> None:
    raise AssertionError("the demo campaign names no product")


def _send_day(session: Session, customer_ids: list[int], until: datetime) -> datetime:
    """10:00 (outside the shop's quiet hours) on the day, 10-45 days back, after which most
    recipients ordered within the conversion window: the demo campaign should show
    conversions, as a good one would."""
    placed = [o.created_at if o.created_at.tzinfo else o.created_at.replace(tzinfo=UTC)
              for cid in customer_ids for o in session.get(Customer, cid).orders]
    window = timedelta(days=7)

    def converted(sent: datetime) -> int:
        return sum(1 for at in placed if sent <= at < sent + window)

    days = [(until - timedelta(days=back)).replace(hour=10, minute=0, second=0, microsecond=0)
            for back in range(10, 46)]
    return max(days, key=lambda day: (converted(day), day))
