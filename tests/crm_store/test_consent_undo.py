"""Undoing an unsubscribe restores exactly what was there, only for a few minutes, and never
subscribes someone who had not agreed (crm_store.services.customers.undo_consent_withdrawal)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from crm_store.db import session_scope
from crm_store.services import customers
from kefu_config import clock
from tests.support.demo_store import fresh_store

NOW = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)
WINDOW = timedelta(minutes=10)


def _customer(email: str, *, opted_in: bool | None) -> int:
    with session_scope() as session:
        customer = customers.get_or_create_by_email(session, email=email)
        if opted_in is not None:
            customers.set_marketing_consent(session, customer_id=customer.id, opt_in=opted_in,
                                            source="web", actor="customer")
        return customer.id


def _withdraw(customer_id: int) -> None:
    with session_scope() as session:
        customers.set_marketing_consent(session, customer_id=customer_id, opt_in=False,
                                        source="telegram", actor="customer")


def _undo(customer_id: int) -> bool:
    with session_scope() as session:
        return customers.undo_consent_withdrawal(session, customer_id=customer_id,
                                                 within=WINDOW, actor="customer")


def _opted_in(customer_id: int) -> bool:
    with session_scope() as session:
        return customers.get(session, customer_id=customer_id).marketing_opt_in


def test_undo_right_after_unsubscribing_restores_the_subscription_once(tmp_path):
    fresh_store(tmp_path)
    with clock.frozen(NOW):
        ada = _customer("ada@example.com", opted_in=True)
        _withdraw(ada)
        assert not _opted_in(ada)
        assert _undo(ada) and _opted_in(ada)
        assert not _undo(ada)  # nothing left to undo
        assert _opted_in(ada)


def test_undo_is_refused_after_the_window(tmp_path):
    fresh_store(tmp_path)
    with clock.frozen(NOW):
        bob = _customer("bob@example.com", opted_in=True)
        _withdraw(bob)
    with clock.frozen(NOW + WINDOW + timedelta(seconds=1)):
        assert not _undo(bob) and not _opted_in(bob)


def test_undo_never_subscribes_someone_who_had_not_agreed(tmp_path):
    fresh_store(tmp_path)
    with clock.frozen(NOW):
        never = _customer("never@example.com", opted_in=None)
        _withdraw(never)  # "yes, stop them" from someone who was never subscribed
        assert not _undo(never) and not _opted_in(never)
        declined = _customer("declined@example.com", opted_in=False)
        assert not _undo(declined) and not _opted_in(declined)
