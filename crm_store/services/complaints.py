"""The complaint process: classify, prioritise, open a ticket with the shop's SLA, follow up.

Classification and priority are rules a person can read and a shop can tune: keywords per
category, and priority raised for angry or urgent wording, for repeat complainers and for
high-value customers. The SLA hours come from the shop policy file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm_store.models import (
    Order,
    OrderStatus,
    Ticket,
    TicketCategory,
    TicketKind,
    TicketPriority,
    utcnow,
)
from crm_store.services import tickets

# Order matters only for ties: the category with most keyword hits wins.
CATEGORY_KEYWORDS: dict[TicketCategory, tuple[str, ...]] = {
    TicketCategory.DELIVERY: (
        "deliver", "delivery", "courier", "parcel", "package", "shipping", "shipped", "arrive",
        "arrived", "late", "lost", "tracking", "driver", "dhl", "ups", "fedex", "royal mail",
        "dpd", "usps", "never came", "not received", "hasn't come", "left outside",
    ),
    TicketCategory.PRODUCT_QUALITY: (
        "broken", "broke", "faulty", "defect", "damaged", "damage", "quality", "stopped working",
        "doesn't work", "does not work", "not working", "cheap", "ripped", "torn", "leak",
        "leaks", "scratched", "wrong size", "fell apart", "smell", "crack", "cracked", "fake",
        "not as described", "stitching", "faded",
    ),
    TicketCategory.STAFF: (
        "staff", "rude", "agent", "employee", "service desk", "customer service", "manager",
        "unhelpful", "attitude", "hung up", "support team", "representative", "person i spoke",
    ),
    TicketCategory.PAYMENT: (
        "payment", "charged", "charge", "card", "refund", "money", "paid", "paypal", "klarna",
        "billing", "invoice", "double", "twice", "overcharged", "price", "bank",
    ),
    TicketCategory.WEBSITE: (
        "website", "site", "app", "checkout", "login", "log in", "sign in", "password", "page",
        "error", "bug", "crash", "loading", "button", "basket", "cart", "promo code", "voucher code",
    ),
}

ANGRY_WORDS = (
    "furious", "angry", "outrageous", "unacceptable", "disgusting", "disgrace", "ridiculous",
    "worst", "terrible", "awful", "useless", "scam", "rip off", "rip-off", "fraud", "lawyer",
    "solicitor", "sue", "trading standards", "never again", "fed up", "sick of", "joke",
    "pathetic", "appalling", "shocking", "livid", "wtf", "damn", "hell",
)
URGENT_WORDS = (
    "urgent", "urgently", "asap", "immediately", "right now", "emergency", "today", "tonight",
    "tomorrow", "deadline", "wedding", "birthday", "funeral", "medical", "dangerous", "unsafe",
    "injured", "hurt", "fire", "burn", "smoke", "child",
)

# A customer who spent at least this much with the shop (delivered orders) is high-value.
HIGH_VALUE_SPEND = Decimal("500")
# Complaints within this window count as repeats.
REPEAT_WINDOW = timedelta(days=90)

_PRIORITY_ORDER = [TicketPriority.LOW, TicketPriority.NORMAL, TicketPriority.HIGH,
                   TicketPriority.URGENT]


def _hits(text: str, words: tuple[str, ...]) -> int:
    return sum(1 for word in words if re.search(rf"\b{re.escape(word)}", text))


def classify(text: str) -> TicketCategory:
    lowered = (text or "").lower()
    scores = {category: _hits(lowered, words) for category, words in CATEGORY_KEYWORDS.items()}
    best = max(scores, key=lambda category: scores[category])
    return best if scores[best] > 0 else TicketCategory.OTHER


def tone(text: str) -> tuple[bool, bool]:
    """(angry, urgent) from the wording: swear/anger words, shouting, or urgency words."""
    raw = text or ""
    lowered = raw.lower()
    letters = [c for c in raw if c.isalpha()]
    shouting = len(letters) >= 12 and sum(c.isupper() for c in letters) / len(letters) > 0.7
    angry = _hits(lowered, ANGRY_WORDS) > 0 or shouting or "!!" in raw
    urgent = _hits(lowered, URGENT_WORDS) > 0
    return angry, urgent


@dataclass(frozen=True)
class Triage:
    category: TicketCategory
    priority: TicketPriority
    angry: bool
    urgent: bool
    repeat: bool
    high_value: bool

    @property
    def needs_person_now(self) -> bool:
        return self.angry or self.urgent


def triage(session: Session, *, text: str, customer_id: int | None,
           now: datetime | None = None) -> Triage:
    now = now or utcnow()
    angry, urgent = tone(text)
    repeat = high_value = False
    if customer_id is not None:
        previous = session.scalar(select(func.count(Ticket.id)).where(
            Ticket.customer_id == customer_id, Ticket.kind == TicketKind.COMPLAINT,
            Ticket.created_at >= now - REPEAT_WINDOW))
        repeat = bool(previous)
        spent = session.scalar(select(func.coalesce(func.sum(Order.total), 0)).where(
            Order.customer_id == customer_id,
            Order.status.in_((OrderStatus.DELIVERED, OrderStatus.SHIPPED, OrderStatus.PAID))))
        high_value = Decimal(spent or 0) >= HIGH_VALUE_SPEND
    level = 1  # normal
    level += sum((angry, repeat, high_value))
    if urgent:
        level = max(level + 1, 2)
    priority = _PRIORITY_ORDER[min(level, len(_PRIORITY_ORDER) - 1)]
    return Triage(classify(text), priority, angry, urgent, repeat, high_value)


def file_complaint(
    session: Session,
    *,
    details: str,
    desired_resolution: str = "",
    customer_id: int | None,
    conversation_id: int | None = None,
    order_id: int | None = None,
    channel: str | None = None,
    category: TicketCategory | None = None,
    now: datetime | None = None,
) -> tuple[Ticket, Triage]:
    """Open the complaint ticket: category (unless the conversation already knows it, as
    for a payment problem) and priority from the text, SLA from the policy."""
    now = now or utcnow()
    result = triage(session, text=f"{details}\n{desired_resolution}", customer_id=customer_id,
                    now=now)
    if category is not None:
        result = replace(result, category=category)
    subject = " ".join(details.split())[:120] or "Complaint"
    description = details.strip()
    if desired_resolution.strip():
        description += f"\n\nThe customer would like: {desired_resolution.strip()}"
    ticket = tickets.open(
        session, subject=subject, kind=TicketKind.COMPLAINT, category=result.category,
        priority=result.priority, description=description, customer_id=customer_id,
        conversation_id=conversation_id, order_id=order_id, channel=channel,
        sla_due_at=tickets.sla_due(result.priority, opened_at=now), actor="bot")
    return ticket, result
