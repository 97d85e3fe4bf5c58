"""Interests: topics a customer cares about, where we learnt them and how strongly."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from crm_store.errors import InvalidInput
from crm_store.models import Customer, Interest, InterestSource, utcnow
from crm_store.normalise import normalise_topic

# What a source is worth when ranking: a customer's own words beat our guesses.
SOURCE_RANK = {
    InterestSource.STATED: 0,
    InterestSource.IMPORTED: 1,
    InterestSource.PURCHASE: 2,
    InterestSource.INFERRED: 3,
}


def add(
    session: Session,
    *,
    customer_id: int,
    topic: str,
    source: InterestSource | str,
    weight: float = 1.0,
) -> Interest:
    """Record an interest; repeating one keeps the stronger weight and refreshes its time."""
    topic = normalise_topic(topic)
    if not topic:
        raise InvalidInput("interest topic is empty")
    if not 0.0 <= weight <= 1.0:
        raise InvalidInput(f"interest weight must be between 0 and 1, got {weight}")
    try:
        source = InterestSource(source)
    except ValueError as exc:
        raise InvalidInput(f"unknown interest source {source!r}") from exc
    interest = session.scalar(select(Interest).where(
        Interest.customer_id == customer_id, Interest.topic == topic, Interest.source == source))
    now = utcnow()
    if interest is None:
        interest = Interest(customer_id=customer_id, topic=topic, source=source, weight=weight,
                            created_at=now, updated_at=now)
        session.add(interest)
        session.flush()
    else:
        interest.weight = max(interest.weight, weight)
        interest.updated_at = now
    return interest


def remove(session: Session, *, customer_id: int, topic: str) -> int:
    """Forget a topic from every source (the customer said they are not interested)."""
    result = session.execute(delete(Interest).where(
        Interest.customer_id == customer_id, Interest.topic == normalise_topic(topic)))
    return result.rowcount or 0


def for_customer(session: Session, *, customer_id: int) -> list[Interest]:
    """Strongest first: stated before imported before purchase before inferred, then by weight."""
    rows = session.scalars(select(Interest).where(Interest.customer_id == customer_id))
    return sorted(rows, key=lambda i: (SOURCE_RANK[i.source], -i.weight, i.topic))


def customers_interested_in(
    session: Session, *, topic: str, opted_in_only: bool = True, min_weight: float = 0.0
) -> list[Customer]:
    """Customers with this topic (any source), for marketing audiences."""
    # IN (subquery) rather than JOIN + DISTINCT: PostgreSQL cannot compare JSON columns.
    holders = select(Interest.customer_id).where(Interest.topic == normalise_topic(topic),
                                                 Interest.weight >= min_weight)
    stmt = (
        select(Customer)
        .where(Customer.id.in_(holders), Customer.erased_at.is_(None))
        .order_by(Customer.id)
    )
    if opted_in_only:
        stmt = stmt.where(Customer.marketing_opt_in.is_(True))
    return list(session.scalars(stmt))


def topic_counts(session: Session) -> dict[str, int]:
    """How many customers hold each topic, for the marketers' segment picker."""
    from sqlalchemy import func

    stmt = (select(Interest.topic, func.count(func.distinct(Interest.customer_id)))
            .group_by(Interest.topic).order_by(Interest.topic))
    return {topic: count for topic, count in session.execute(stmt)}
