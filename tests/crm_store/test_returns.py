"""Returns and refunds follow the shop's rules and never leak across customers."""

from __future__ import annotations

from decimal import Decimal

import pytest

from crm_store.db import session_scope
from crm_store.errors import InvalidInput, NotAllowed, NotFound
from crm_store.models import OrderStatus, ReturnStatus
from crm_store.services import orders, returns
from tests.crm_store import factories


@pytest.fixture
def shop(store):
    with session_scope() as session:
        jacket = factories.product(session, "HIK-010", price="129.00")
        jane = factories.customer(session, "jane@example.com")
        factories.order(session, "A2001", jane, [(jacket, 1)], status=OrderStatus.DELIVERED,
                        created_days_ago=10, shipped_days_ago=9, delivered_days_ago=7)
        factories.order(session, "A2002", jane, [(jacket, 1)], status=OrderStatus.DELIVERED,
                        created_days_ago=60, shipped_days_ago=59, delivered_days_ago=55)
        factories.order(session, "A2003", jane, [(jacket, 1)], status=OrderStatus.PAID)
    return store


def test_return_then_refund_of_a_recent_delivery(shop):
    with session_scope() as session:
        ret = returns.request(session, order_number="A2001", email="jane@example.com",
                              reason="too small")
        return_id = ret.id
    with session_scope() as session:
        assert returns.refund_status(session, order_number="A2001",
                                     email="jane@example.com").return_status == ReturnStatus.REQUESTED
        returns.advance(session, return_id=return_id, status="approved")
        returns.advance(session, return_id=return_id, status="received")
        assert orders.get_by_number(session, order_number="A2001").status == OrderStatus.RETURNED
        returns.advance(session, return_id=return_id, status="refunded")
    with session_scope() as session:
        view = returns.refund_status(session, order_number="A2001", email="jane@example.com")
        assert view.order_status == OrderStatus.REFUNDED
        assert view.return_status == ReturnStatus.REFUNDED
        assert view.refund_amount == Decimal("129.00") and view.refunded_at is not None


def test_returns_outside_the_rules_are_refused_with_a_reason(shop):
    with session_scope() as session:
        with pytest.raises(NotAllowed, match="30 days"):
            returns.request(session, order_number="A2002", email="jane@example.com", reason="x")
        with pytest.raises(NotAllowed, match="only delivered"):
            returns.request(session, order_number="A2003", email="jane@example.com", reason="x")
        with pytest.raises(NotFound):
            returns.request(session, order_number="A2001", email="john@example.com", reason="x")
        returns.request(session, order_number="A2001", email="jane@example.com", reason="x")
        with pytest.raises(NotAllowed, match="already in progress"):
            returns.request(session, order_number="A2001", email="jane@example.com", reason="x")


def test_return_states_only_move_forward(shop):
    with session_scope() as session:
        ret = returns.request(session, order_number="A2001", email="jane@example.com", reason="x")
        with pytest.raises(NotAllowed):
            returns.advance(session, return_id=ret.id, status="refunded")
        returns.advance(session, return_id=ret.id, status="approved")
        with pytest.raises(InvalidInput):
            returns.advance(session, return_id=ret.id, status="refunded",
                            refund_amount=Decimal("500"))


def test_refund_status_never_leaks(shop):
    with session_scope() as session:
        assert returns.refund_status(session, order_number="A2001",
                                     email="john@example.com") is None
        view = returns.refund_status(session, order_number="A2003", email="jane@example.com")
        assert view.return_status is None and view.order_status == OrderStatus.PAID
