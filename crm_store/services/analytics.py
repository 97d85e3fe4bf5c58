"""Service KPIs for the dashboard: read-only queries over conversations, messages, handoffs,
tickets, orders and campaigns.

Every function takes a Session and a `Scope` (period, optional channel, optional agent) and
returns plain dicts and lists, ready for JSON and CSV. Aggregation happens in SQL; only
per-conversation or per-handoff timestamps come back to Python where a percentile is needed
(SQLite has no percentile function and the two backends subtract timestamps differently).

Definitions (the README points here):
- a conversation belongs to the period when it *started* in it; message counts use the
  message's own time;
- bot first response: from the customer's first message to the first bot reply after it;
  human first response: from a handoff request to the first agent message after it;
- automated: a conversation in which the customer wrote and no handoff was ever requested;
- resolved: an automated conversation whose last customer message in the period was
  understood (not `nlu_fallback`, not below `LOW_CONFIDENCE`: the not-understood inbox's rule)
  and after which the same customer did not write again on the same topic within
  `REPEAT_WINDOW` (24 h), on any channel. A conversation's topics are the intents of its
  understood customer messages in the period, small talk (`NOT_A_TOPIC`) left out; the repeat
  must be understood as one of them. Without a known customer only the same conversation is
  looked at. (One whose customer wrote only after the period has nothing in it to count
  against it and counts as resolved.)
- queue wait: from a handoff request to its claim (unclaimed ones are counted separately);
- not understood: an inbound customer message whose intent is `nlu_fallback` or whose
  confidence is below `LOW_CONFIDENCE`;
- SLA breach: a ticket resolved after its deadline, or still unresolved past it; the SLA
  figure also counts every ticket open past its deadline now, whenever it was opened;
- repeat purchase: among customers with an order placed before the period ends, the share
  with two or more; retention: among customers who ordered before the period started, the
  share who ordered again inside it; both split by whether the customer ever chatted;
- campaign conversion: recipients (sent or delivered; never failed ones) who placed an order
  within `CONVERSION_DAYS` after the notification went out, as the campaign report counts it
  (`campaigns.conversions`, shared by both).
Cancelled orders count as no order. Messages are told apart by sender kind alone (customers'
are always inbound, bot and agent ones outbound), which lets the indexes of migration 0006
answer without reading the rows.

Agents see their own figures: with `Scope.agent_id` the conversation KPIs cover only
conversations whose handoff that agent claimed, and tickets only those assigned to them.
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Select, and_, case, exists, func, or_, select
from sqlalchemy.orm import Session, aliased

from crm_store.models import (
    Campaign,
    Conversation,
    Handoff,
    Message,
    Order,
    OrderStatus,
    SenderKind,
    Ticket,
    TicketKind,
    utcnow,
)
from crm_store.services import campaigns

logger = logging.getLogger(__name__)

FALLBACK_INTENT = "nlu_fallback"
# Below this the NLU was guessing: the FallbackClassifier threshold in config.yml (keep equal).
LOW_CONFIDENCE = 0.6
CONVERSION_DAYS = campaigns.ATTRIBUTION_DAYS
TOP_INTENTS = 10
# A customer who writes about the same thing again within this long was not helped.
REPEAT_WINDOW = timedelta(hours=24)
# Intents that say nothing about what the customer needed: coming back with one of them is
# not a repeat contact (each is an intent of domain.yml; a test keeps them so).
NOT_A_TOPIC = frozenset({"greet", "goodbye", "thank", "affirm", "deny", "bot_challenge",
                         "inform", "rate"})


@dataclass(frozen=True)
class Scope:
    """What a dashboard shows: [start, end), one channel or all, one agent or everyone."""

    start: datetime
    end: datetime
    channel: str | None = None
    agent_id: int | None = None

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise ValueError("the period must end after it starts")


# --- helpers -------------------------------------------------------------------------------------

def percentile(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile (p in 0..100) of `values`; None when there are none."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def _rate(part: int, whole: int) -> float | None:
    return None if whole == 0 else part / whole


def _day(session: Session, column) -> ColumnElement[str]:
    """The UTC calendar day of a timestamp as 'YYYY-MM-DD' on both backends."""
    if session.get_bind().dialect.name == "postgresql":
        return func.to_char(func.timezone("UTC", column), "YYYY-MM-DD")
    # SQLite stores naive UTC text (UTCDateTime), so its date part is the UTC day.
    return func.strftime("%Y-%m-%d", column)


def _days(scope: Scope) -> list[str]:
    day = scope.start.date()
    last = (scope.end - timedelta(microseconds=1)).date()
    out = []
    while day <= last:
        out.append(day.isoformat())
        day += timedelta(days=1)
    return out


def _conversations(scope: Scope) -> Select:
    """Ids of the conversations in scope: started in the period, on the channel, and for an
    agent, handed off to them."""
    query = select(Conversation.id).where(Conversation.started_at >= scope.start,
                                          Conversation.started_at < scope.end)
    if scope.channel:
        query = query.where(Conversation.channel == scope.channel)
    if scope.agent_id is not None:
        query = query.where(exists().where(Handoff.conversation_id == Conversation.id,
                                           Handoff.claimed_by_id == scope.agent_id))
    return query


def _seconds(later: datetime, earlier: datetime) -> float:
    return (later - earlier).total_seconds()


def _not_understood(message=Message) -> ColumnElement[bool]:
    """The one rule for a message the bot did not understand (the inbox, the fallback rate
    and resolution all use it)."""
    return or_(message.intent == FALLBACK_INTENT, message.confidence < LOW_CONFIDENCE)


def _understood_topic(message) -> ColumnElement[bool]:
    """A customer message understood as an intent that names what they need."""
    return and_(message.sender_kind == SenderKind.CUSTOMER, message.intent.is_not(None),
                message.intent.not_in(sorted(NOT_A_TOPIC)),
                case((_not_understood(message), 0), else_=1) == 1)


def _customer_messages(scope: Scope) -> list[ColumnElement[bool]]:
    """Inbound customer messages written in the period, within the scope's conversations."""
    return _messages_by(SenderKind.CUSTOMER, scope)


def _messages_by(sender: SenderKind, scope: Scope) -> list[ColumnElement[bool]]:
    """Messages of one kind of sender written in the period, within the scope's conversations."""
    conditions = [Message.created_at >= scope.start, Message.created_at < scope.end,
                  Message.sender_kind == sender]
    if scope.channel or scope.agent_id is not None:
        conditions.append(Message.conversation_id.in_(_in_channel(scope)))
    return conditions


def _in_channel(scope: Scope) -> Select:
    """Conversations on the channel (any start date), for counting messages by their own time."""
    query = select(Conversation.id)
    if scope.channel:
        query = query.where(Conversation.channel == scope.channel)
    if scope.agent_id is not None:
        query = query.where(exists().where(Handoff.conversation_id == Conversation.id,
                                           Handoff.claimed_by_id == scope.agent_id))
    return query


# --- the KPIs ------------------------------------------------------------------------------------

def volume_per_day(session: Session, scope: Scope) -> list[dict]:
    """Conversations started and messages written per day (every day of the period listed)."""
    conv_day = _day(session, Conversation.started_at)
    started = dict(session.execute(
        select(conv_day, func.count()).where(Conversation.id.in_(_conversations(scope)))
        .group_by(conv_day)).all())
    msg_day = _day(session, Message.created_at)
    conditions = [Message.created_at >= scope.start, Message.created_at < scope.end]
    if scope.channel or scope.agent_id is not None:
        conditions.append(Message.conversation_id.in_(_in_channel(scope)))
    written = dict(session.execute(
        select(msg_day, func.count()).where(*conditions).group_by(msg_day)).all())
    return [{"day": day, "conversations": started.get(day, 0), "messages": written.get(day, 0)}
            for day in _days(scope)]


def first_response_times(session: Session, scope: Scope) -> dict:
    """Seconds to the first bot reply and to the first agent reply after a handoff, p50/p95."""
    first_in = (
        select(Message.conversation_id.label("cid"), func.min(Message.created_at).label("t0"))
        .where(Message.conversation_id.in_(_conversations(scope)),
               Message.sender_kind == SenderKind.CUSTOMER)
        .group_by(Message.conversation_id).subquery())
    bot_rows = session.execute(
        select(first_in.c.t0, func.min(Message.created_at))
        .join(Message, and_(Message.conversation_id == first_in.c.cid,
                            Message.created_at >= first_in.c.t0,
                            Message.sender_kind == SenderKind.BOT))
        .group_by(first_in.c.cid, first_in.c.t0)).all()
    bot = [_seconds(reply, asked) for asked, reply in bot_rows]

    handoffs = (select(Handoff.id, Handoff.conversation_id, Handoff.requested_at)
                .where(Handoff.conversation_id.in_(_conversations(scope))))
    if scope.agent_id is not None:
        handoffs = handoffs.where(Handoff.claimed_by_id == scope.agent_id)
    handoffs = handoffs.subquery()
    agent_reply = [Message.conversation_id == handoffs.c.conversation_id,
                   Message.created_at >= handoffs.c.requested_at,
                   Message.sender_kind == SenderKind.AGENT]
    if scope.agent_id is not None:
        agent_reply.append(Message.staff_id == scope.agent_id)
    human_rows = session.execute(
        select(handoffs.c.requested_at, func.min(Message.created_at))
        .join(Message, and_(*agent_reply))
        .group_by(handoffs.c.id, handoffs.c.requested_at)).all()
    human = [_seconds(reply, asked) for asked, reply in human_rows]
    return {
        "bot": {"count": len(bot), "p50_s": percentile(bot, 50), "p95_s": percentile(bot, 95)},
        "human": {"count": len(human), "p50_s": percentile(human, 50),
                  "p95_s": percentile(human, 95)},
    }


def containment(session: Session, scope: Scope) -> dict:
    """Conversations where the customer wrote: how many never needed a person (automated),
    and how many of those were resolved (see the module's definitions). The automated ones
    that were not resolved are split by why: the last message was not understood, or the
    customer came back on the same topic within `REPEAT_WINDOW`."""
    customer_wrote = exists().where(Message.conversation_id == Conversation.id,
                                    Message.sender_kind == SenderKind.CUSTOMER)
    handed_off = exists().where(Handoff.conversation_id == Conversation.id)
    total, escalated = session.execute(
        select(func.count(), func.coalesce(func.sum(case((handed_off, 1), else_=0)), 0))
        .where(Conversation.id.in_(_conversations(scope)), customer_wrote)).one()
    automated_ids = select(Conversation.id).where(Conversation.id.in_(_conversations(scope)),
                                                  customer_wrote, ~handed_off)

    # Each automated conversation's last customer message in the period.
    ranked = (
        select(Message.conversation_id.label("cid"), Message.created_at.label("at"),
               case((_not_understood(), 1), else_=0).label("missed"),
               func.row_number().over(partition_by=Message.conversation_id,
                                      order_by=(Message.created_at.desc(), Message.id.desc())
                                      ).label("rank"))
        .where(Message.conversation_id.in_(automated_ids),
               Message.sender_kind == SenderKind.CUSTOMER,
               Message.created_at >= scope.start, Message.created_at < scope.end)
        .subquery())
    last = select(ranked.c.cid, ranked.c.at, ranked.c.missed).where(ranked.c.rank == 1).subquery()

    # For those that ended understood: the first later message of the same customer (or, for
    # an unknown customer, of the same conversation) on one of the conversation's topics.
    own, other = aliased(Conversation), aliased(Conversation)
    topic, later = aliased(Message), aliased(Message)
    ends = session.execute(
        select(last.c.missed, last.c.at, func.min(later.created_at))
        .join(own, own.id == last.c.cid)
        .outerjoin(topic, and_(last.c.missed == 0, topic.conversation_id == last.c.cid,
                               _understood_topic(topic), topic.created_at >= scope.start,
                               topic.created_at <= last.c.at))
        .outerjoin(other, and_(topic.id.is_not(None),
                               or_(other.id == own.id, other.customer_id == own.customer_id)))
        .outerjoin(later, and_(later.conversation_id == other.id, _understood_topic(later),
                               later.intent == topic.intent, later.created_at > last.c.at,
                               later.created_at <= scope.end + REPEAT_WINDOW))
        .group_by(last.c.cid, last.c.missed, last.c.at)).all()
    missed_at_end = sum(1 for missed, _, _ in ends if missed)
    came_back = sum(1 for missed, ended, again in ends
                    if not missed and again is not None and again - ended <= REPEAT_WINDOW)

    automated = total - escalated
    resolved = automated - missed_at_end - came_back
    automated_rate = _rate(automated, total)
    return {"conversations": total, "automated": automated, "resolved": resolved,
            "handed_off": escalated, "not_understood_at_end": missed_at_end,
            "came_back": came_back,
            "automated_rate": automated_rate, "resolved_rate": _rate(resolved, total),
            "handoff_rate": _rate(escalated, total),
            # The automated rate under its old name: tests/crm_store/test_demo_activity.py
            # still reads it. Drop it once nothing does.
            "containment_rate": automated_rate}


def queue_wait(session: Session, scope: Scope) -> dict:
    """Handoffs requested in the period: seconds waiting for a claim, p50/p95."""
    query = (select(Handoff.requested_at, Handoff.claimed_at)
             .join(Conversation, Conversation.id == Handoff.conversation_id)
             .where(Handoff.requested_at >= scope.start, Handoff.requested_at < scope.end))
    if scope.channel:
        query = query.where(Conversation.channel == scope.channel)
    if scope.agent_id is not None:
        query = query.where(Handoff.claimed_by_id == scope.agent_id)
    rows = session.execute(query).all()
    waits = [_seconds(claimed, asked) for asked, claimed in rows if claimed is not None]
    return {"handoffs": len(rows), "claimed": len(waits), "unclaimed": len(rows) - len(waits),
            "p50_s": percentile(waits, 50), "p95_s": percentile(waits, 95)}


def csat(session: Session, scope: Scope) -> dict:
    """Ratings given in the period (by rating time): average and count per score 1-5."""
    query = (select(Conversation.satisfaction, func.count())
             .where(Conversation.rated_at >= scope.start, Conversation.rated_at < scope.end,
                    Conversation.satisfaction.is_not(None))
             .group_by(Conversation.satisfaction))
    if scope.channel:
        query = query.where(Conversation.channel == scope.channel)
    if scope.agent_id is not None:
        query = query.where(exists().where(Handoff.conversation_id == Conversation.id,
                                           Handoff.claimed_by_id == scope.agent_id))
    counts = dict(session.execute(query).all())
    distribution = [{"score": score, "count": counts.get(score, 0)} for score in range(1, 6)]
    total = sum(counts.values())
    average = None if total == 0 else sum(s * n for s, n in counts.items()) / total
    return {"ratings": total, "average": average, "distribution": distribution}


def _tickets(scope: Scope, *conditions) -> list:
    where = [Ticket.created_at >= scope.start, Ticket.created_at < scope.end, *conditions]
    if scope.channel:
        where.append(Ticket.channel == scope.channel)
    if scope.agent_id is not None:
        where.append(Ticket.assignee_id == scope.agent_id)
    return where


def complaints(session: Session, scope: Scope) -> dict:
    """Complaints opened in the period, by category, by status, and by both (each category's
    complaints split by status, for a chart with categories on one axis)."""
    where = _tickets(scope, Ticket.kind == TicketKind.COMPLAINT)
    both = session.execute(select(Ticket.category, Ticket.status, func.count()).where(*where)
                           .group_by(Ticket.category, Ticket.status)
                           .order_by(Ticket.category, Ticket.status)).all()
    by_category = session.execute(select(Ticket.category, func.count()).where(*where)
                                  .group_by(Ticket.category).order_by(Ticket.category)).all()
    by_status = session.execute(select(Ticket.status, func.count()).where(*where)
                                .group_by(Ticket.status).order_by(Ticket.status)).all()
    return {"total": sum(n for _, n in by_category),
            "by_category": [{"category": c.value, "count": n} for c, n in by_category],
            "by_status": [{"status": s.value, "count": n} for s, n in by_status],
            "by_category_and_status": [{"category": c.value, "status": s.value, "count": n}
                                       for c, s, n in both]}


def sla_breaches(session: Session, scope: Scope, *, now: datetime | None = None) -> dict:
    """Tickets opened in the period that missed their deadline, by kind; and every ticket
    still open past its deadline now, whenever it was opened (the backlog that a period of
    recent days would otherwise hide), on the scope's channel and for its agent."""
    now = now or utcnow()
    overdue = and_(Ticket.resolved_at.is_(None), Ticket.sla_due_at < now)
    breached = or_(and_(Ticket.resolved_at.is_not(None), Ticket.resolved_at > Ticket.sla_due_at),
                   overdue)
    rows = session.execute(
        select(Ticket.kind, func.count(), func.coalesce(func.sum(case((breached, 1), else_=0)), 0))
        .where(*_tickets(scope)).group_by(Ticket.kind).order_by(Ticket.kind)).all()
    tickets = sum(n for _, n, _ in rows)
    missed = sum(b for _, _, b in rows)
    backlog = [overdue]
    if scope.channel:
        backlog.append(Ticket.channel == scope.channel)
    if scope.agent_id is not None:
        backlog.append(Ticket.assignee_id == scope.agent_id)
    open_breached = session.scalar(select(func.count()).select_from(Ticket).where(*backlog))
    return {"tickets": tickets, "breached": missed, "breach_rate": _rate(missed, tickets),
            "open_breached": open_breached,
            "by_kind": [{"kind": k.value, "tickets": n, "breached": b} for k, n, b in rows]}


def top_intents(session: Session, scope: Scope, *, limit: int = TOP_INTENTS) -> list[dict]:
    """The intents customers' messages were understood as most often."""
    rows = session.execute(
        select(Message.intent, func.count().label("n"))
        .where(*_customer_messages(scope), Message.intent.is_not(None))
        .group_by(Message.intent).order_by(func.count().desc(), Message.intent)
        .limit(limit)).all()
    return [{"intent": intent, "count": n} for intent, n in rows]


def fallback_rate(session: Session, scope: Scope) -> dict:
    """Share of customer messages the bot did not understand (fallback or low confidence), and
    how many bot answers came from the shop's help articles (most of them answer a message no
    intent covered; the gateway stores the article in the reply's payload)."""
    total, missed = session.execute(
        select(func.count(), func.coalesce(func.sum(case((_not_understood(), 1), else_=0)), 0))
        .where(*_customer_messages(scope))).one()
    from_articles = session.scalar(
        select(func.count()).where(*_messages_by(SenderKind.BOT, scope),
                                   Message.payload["article"]["slug"].as_string().is_not(None)))
    return {"messages": total, "not_understood": missed, "fallback_rate": _rate(missed, total),
            "help_answers": int(from_articles or 0)}


def repeat_and_retention(session: Session, scope: Scope) -> list[dict]:
    """Repeat-purchase and retention rates of customers who chatted and those who did not."""
    flag = lambda condition: case((condition, 1), else_=0)  # noqa: E731
    # One pass over the orders placed before the period ends, one row per buyer.
    buyers = (
        select(Order.customer_id.label("customer_id"),
               func.count().label("orders"),
               func.max(flag(Order.created_at < scope.start)).label("earlier"),
               func.max(flag(Order.created_at >= scope.start)).label("during"))
        .where(Order.status != OrderStatus.CANCELLED, Order.created_at < scope.end)
        .group_by(Order.customer_id).subquery())
    chatters = (select(Conversation.customer_id.label("customer_id"))
                .where(Conversation.customer_id.is_not(None)).distinct().subquery())
    group = case((chatters.c.customer_id.is_not(None), "chatted"), else_="did not chat")
    total = lambda condition: func.coalesce(func.sum(flag(condition)), 0)  # noqa: E731
    rows = session.execute(
        select(group, func.count(), total(buyers.c.orders >= 2), total(buyers.c.earlier == 1),
               total(and_(buyers.c.earlier == 1, buyers.c.during == 1)))
        .select_from(buyers)
        .outerjoin(chatters, chatters.c.customer_id == buyers.c.customer_id)
        .group_by(group)).all()
    found = {name: rest for name, *rest in rows}
    out = []
    for name in ("chatted", "did not chat"):
        count, repeaters, earlier, returned = found.get(name, (0, 0, 0, 0))
        out.append({"group": name, "buyers": count, "repeat_buyers": repeaters,
                    "repeat_purchase_rate": _rate(repeaters, count),
                    "earlier_buyers": earlier, "retained": returned,
                    "retention_rate": _rate(returned, earlier)})
    return out


def campaign_conversion(session: Session, scope: Scope, *,
                        days: int = CONVERSION_DAYS) -> list[dict]:
    """Campaigns sent in the period: recipients reached, and those who ordered within `days`
    (the campaign report's definition: `campaigns.conversions`)."""
    found = campaigns.conversions(session, start=scope.start, end=scope.end,
                                  channel=scope.channel, days=days)
    found = {cid: c for cid, c in found.items() if c.reached}
    names = dict(session.execute(select(Campaign.id, Campaign.name)
                                 .where(Campaign.id.in_(list(found)))).all())
    return [{"campaign_id": cid, "campaign": names.get(cid, str(cid)), "recipients": c.reached,
             "converted": c.converted, "conversion_rate": c.rate}
            for cid, c in sorted(found.items())]


def not_understood_messages(session: Session, scope: Scope, *, limit: int = 500) -> list[dict]:
    """The newest customer messages the bot did not understand, for the inbox; those a help
    article answered are left out (the inbox is also the help centre's missing articles)."""
    rows = session.execute(
        select(Message.id, Message.conversation_id, Message.text, Message.intent,
               Message.confidence, Message.created_at)
        .where(*_customer_messages(scope), _not_understood(),
               # answered from a help article (bot/store.py marks it): not for the inbox
               Message.payload["answered_from"].as_string().is_(None))
        .order_by(Message.created_at.desc(), Message.id.desc()).limit(limit)).all()
    return [{"id": mid, "conversation_id": cid, "text": text_, "intent": intent,
             "confidence": confidence, "created_at": at, "why": NOT_UNDERSTOOD}
            for mid, cid, text_, intent, confidence, at in rows]


# An answer is taken as missed when the customer's next message, this soon, turns it down or
# asks the same again in other words.
REJECTION_WINDOW = timedelta(minutes=5)
# Overlap of content words (Jaccard) from which the next message asks the same again: "do you
# have a waterproof jacket" and "no, a waterproof jacket for kids" 0.67; "hiking boots" and
# "and running shoes?" 0.
REPHRASE_OVERLAP = 0.5
_FILLER = frozenset("a an the and or do does you your have has i me my is are it for no not "
                    "to of in on any please can could with want need looking".split())
NOT_UNDERSTOOD = "not understood"
ANSWER_REJECTED = "answer rejected"
ASKED_AGAIN = "asked again"


def rejected_answers(session: Session, scope: Scope, *, limit: int = 500) -> list[dict]:
    """Customer messages the bot understood with confidence whose answer did not help, for the
    inbox beside the messages it did not understand: the customer's next message in the
    conversation, within REJECTION_WINDOW, is a "no" to an answer that asked nothing (its
    replies had no buttons), or the same intent again in largely the same words."""
    customer = and_(*_customer_messages(scope))
    later = aliased(Message)
    following = (
        select(later.id).where(later.conversation_id == Message.conversation_id,
                               later.sender_kind == SenderKind.CUSTOMER,
                               or_(later.created_at > Message.created_at,
                                   and_(later.created_at == Message.created_at,
                                        later.id > Message.id)))
        .order_by(later.created_at, later.id).limit(1).correlate(Message).scalar_subquery())
    confident = and_(Message.intent.is_not(None), Message.intent.not_in(sorted(NOT_A_TOPIC)),
                     case((_not_understood(), 0), else_=1) == 1)
    rows = session.execute(
        select(Message.id, Message.conversation_id, Message.text, Message.intent,
               Message.confidence, Message.created_at, following.label("next_id"))
        .where(customer, confident)
        .order_by(Message.created_at.desc(), Message.id.desc()).limit(limit * 4)).all()
    nexts = {m.id: m for m in session.scalars(select(Message).where(
        Message.id.in_([r.next_id for r in rows if r.next_id is not None])))}
    found: list[dict] = []
    for mid, cid, text_, intent, confidence, at, next_id in rows:
        after = nexts.get(next_id)
        if after is None or after.created_at - at > REJECTION_WINDOW:
            continue
        why = None
        if after.intent == "deny" and not _asked_something(session, cid, at, after.created_at):
            why = ANSWER_REJECTED
        elif after.intent == intent and _overlap(text_, after.text) >= REPHRASE_OVERLAP:
            why = ASKED_AGAIN
        if why is not None:
            found.append({"id": mid, "conversation_id": cid, "text": text_, "intent": intent,
                          "confidence": confidence, "created_at": at, "why": why,
                          "followed_by": after.text})
            if len(found) == limit:
                break
    return found


def _asked_something(session: Session, conversation_id: int, start: datetime,
                     end: datetime) -> bool:
    """Did the bot's replies between the two messages offer buttons (a yes/no question), so
    that "no" answered it rather than turned the answer down?"""
    payloads = session.scalars(select(Message.payload).where(
        Message.conversation_id == conversation_id, Message.sender_kind == SenderKind.BOT,
        Message.created_at >= start, Message.created_at <= end))
    return any(isinstance(p, dict) and p.get("buttons") for p in payloads)


def _overlap(first: str | None, second: str | None) -> float:
    a, b = (set(re.findall(r"[a-z0-9]+", (t or "").lower())) - _FILLER
            for t in (first, second))
    return len(a & b) / len(a | b) if a | b else 0.0


KPIS = {
    "volume": volume_per_day,
    "first_response": first_response_times,
    "containment": containment,
    "queue_wait": queue_wait,
    "csat": csat,
    "complaints": complaints,
    "sla": sla_breaches,
    "top_intents": top_intents,
    "fallback": fallback_rate,
    "retention": repeat_and_retention,
    "campaigns": campaign_conversion,
}
# What an agent sees of the above: their own conversations and tickets, not the shop's sales.
AGENT_KPIS = ("volume", "first_response", "containment", "queue_wait", "csat", "complaints",
              "sla", "top_intents", "fallback")


def dashboard(session: Session, scope: Scope) -> dict:
    """Every KPI the scope may see, keyed as in `KPIS`."""
    names = AGENT_KPIS if scope.agent_id is not None else tuple(KPIS)
    return {name: KPIS[name](session, scope) for name in names}
