"""Action tests: real trackers (Tracker.from_dict), a real SQLite store with a small shop."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from crm_store import db
from crm_store.db import session_scope
from crm_store.models import OrderStatus
from tests.crm_store import factories
from tests.support.demo_store import fresh_store


@pytest.fixture
def shop(tmp_path) -> Iterator[dict]:
    fresh_store(tmp_path)
    with session_scope() as session:
        boots = factories.product(session, "HIK-001", price="129.00", name="Trail Boots")
        jane = factories.customer(session, "jane@example.com", name="Jane")
        john = factories.customer(session, "john@example.com", name="John")
        factories.order(session, "A2001", jane, [(boots, 1)], status=OrderStatus.SHIPPED,
                        shipped_days_ago=1)
        factories.order(session, "A2002", jane, [(boots, 2)], status=OrderStatus.PAID)
        factories.order(session, "A2003", john, [(boots, 1)], status=OrderStatus.DELIVERED,
                        shipped_days_ago=5, delivered_days_ago=3)
        ids = {"jane": jane.id, "john": john.id}
    yield ids
    db.reset_engine()


def tracker(sender: str = "rest:tester", slots: dict | None = None, text: str = "",
            intent: str = "inform", entities: list[dict] | None = None,
            events: list[dict] | None = None, active_loop: str | None = None) -> Tracker:
    return Tracker.from_dict({
        "sender_id": sender,
        "slots": {"requested_slot": None, **(slots or {})},
        "latest_message": {"text": text, "intent": {"name": intent, "confidence": 0.9},
                           "entities": entities or []},
        "events": events or [],
        "paused": False,
        "followup_action": None,
        "active_loop": {"name": active_loop} if active_loop else {},
        "latest_action_name": "action_listen",
        "latest_input_channel": "rest",
    })


@pytest.fixture
def dispatcher() -> CollectingDispatcher:
    return CollectingDispatcher()


def said(dispatcher: CollectingDispatcher) -> list[str]:
    return [m.get("text") or m.get("response") or "" for m in dispatcher.messages]
