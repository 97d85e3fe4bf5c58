"""Builders for marketing tests: customers with consent, interests and chats."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import Session

from crm_store.models import Conversation, Customer
from crm_store.services import conversations, customers, identities, interests, staff
from kefu_config.policy import load_policy
from marketing.rules import SendPolicy
from tests.crm_store import factories


def person(session: Session, email: str, *, name: str, topics: tuple[str, ...] = (),
           consent: str | None = None) -> Customer:
    """A customer with interests; `consent` is where they opted in (None: never)."""
    customer = factories.customer(session, email, name=name)
    for topic in topics:
        interests.add(session, customer_id=customer.id, topic=topic, source="stated")
    if consent is not None:
        customers.set_marketing_consent(session, customer_id=customer.id, opt_in=True,
                                        source=consent)
    return customer


def marketing_team(session: Session, password: str) -> None:
    """Mia the marketer and Anna the agent (who must be refused the marketing pages)."""
    staff.create_user(session, email="mia@shop.example", password=password, role="marketer",
                      name="Mia")
    staff.create_user(session, email="anna@shop.example", password=password, role="agent",
                      name="Anna")


def chat(session: Session, customer: Customer, channel: str, external_id: str, *,
         verified: bool = False) -> Conversation:
    identities.link(session, customer_id=customer.id, channel=channel, external_id=external_id,
                    verified=verified)
    return conversations.get_or_start(session, channel=channel, external_id=external_id)


def london(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    """A moment given in the shop's time zone (policy/shop.yml), as UTC."""
    return datetime(year, month, day, hour, minute, tzinfo=load_policy().tz).astimezone(UTC)


def shop_policy() -> SendPolicy:
    return SendPolicy.from_shop()
