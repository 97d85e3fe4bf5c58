"""Action tests: real trackers (Tracker.from_dict), a real SQLite store with a small shop."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import yaml
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from crm_store import db
from crm_store.db import session_scope
from crm_store.models import OrderStatus
from kefu_config.policy import load_policy, policy_path
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
def shop_policy(tmp_path, monkeypatch):
    """policy/shop.yml with this test's `identifiers` section, for load_policy()."""

    def write(identifiers: dict) -> None:
        policy = yaml.safe_load(policy_path().read_text(encoding="utf-8"))
        policy["identifiers"] = identifiers
        path = tmp_path / "shop.yml"
        path.write_text(yaml.safe_dump(policy, sort_keys=False), encoding="utf-8")
        monkeypatch.setenv("KEFU_POLICY_FILE", str(path))
        load_policy.cache_clear()

    yield write
    load_policy.cache_clear()


@pytest.fixture
def dispatcher() -> CollectingDispatcher:
    return CollectingDispatcher()


def said(dispatcher: CollectingDispatcher) -> list[str]:
    return [m.get("text") or m.get("response") or "" for m in dispatcher.messages]


@contextmanager
def catalog_store(tmp_path, monkeypatch, products: list[tuple]) -> Iterator[tuple]:
    """A migrated SQLite store with `products` (sku, name, category, price, description, stock
    [, attributes]) and a real index of them. Yields the open unit of work that adds them and {sku: Product},
    for the caller to add customers and orders; indexes the catalog when the block ends."""
    from decimal import Decimal

    from crm_store import migrate
    from crm_store.models import Product
    from kefu_config.settings import get_settings
    from knowledge import service, sync_from_store

    url = f"sqlite:///{tmp_path / 'kefu.db'}"
    monkeypatch.setenv("KEFU_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("KEFU_DATABASE_URL", url)
    get_settings.cache_clear()
    service._services.clear()
    db.reset_engine()
    db.configure(url)
    migrate.upgrade(url=url)
    with session_scope() as session:
        rows = {}
        for sku, name, category, price, description, stock, *attributes in products:
            rows[sku] = Product(sku=sku, name=name, category=category, price=Decimal(price),
                                description=description, stock=stock, tags=[],
                                attributes=attributes[0] if attributes else {})
            session.add(rows[sku])
        session.flush()
        yield session, rows
    sync_from_store()


def read_only_catalog(tmp_path_factory, products: list[tuple]) -> Iterator[None]:
    """One store and index for a whole module whose tests only read the catalog."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        with catalog_store(tmp_path_factory.mktemp("catalog"), monkeypatch, products):
            pass
        yield
        reset_catalog_store()


def reset_catalog_store() -> None:
    """Undo catalog_store: no settings, index service or engine left for the next test."""
    from kefu_config.settings import get_settings
    from knowledge import service

    get_settings.cache_clear()
    service._services.clear()
    db.reset_engine()


@pytest.fixture(autouse=True)
def help_centre(tmp_path, monkeypatch):
    """Every action test's own help index (empty unless the test syncs a folder into it), so
    no test answers from a help centre a developer's var/ happens to hold."""
    from actions import help_answers
    from knowledge.help_service import HelpService

    service = HelpService(tmp_path / "help-index", check_interval=3600)
    monkeypatch.setattr(help_answers, "get_help_service", lambda: service)
    return service
