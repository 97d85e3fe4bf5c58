"""A link code (joining a Telegram chat to a verified web chat) works until its time is up and
not a moment after; guesses are counted within their window. On the product's clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from crm_store.db import session_scope
from crm_store.errors import InvalidInput
from crm_store.services import identities, link_codes
from kefu_config import clock
from tests.crm_store import factories

pytestmark = pytest.mark.clock
ISSUED = datetime(2026, 12, 6, 23, 55, tzinfo=UTC)  # just before midnight: expiry crosses it


def _issue(external_id: str) -> str:
    with clock.frozen(ISSUED), session_scope() as session:
        customer = factories.customer(session, f"{external_id}@example.com")
        identities.link(session, customer_id=customer.id, channel="web",
                        external_id=external_id, verified=True)
        return link_codes.issue(session, channel="web", external_id=external_id).code


def _redeem(code: str, at: datetime, telegram_id: str):
    with clock.frozen(at), session_scope() as session:
        return link_codes.redeem(session, code=code, channel="telegram", external_id=telegram_id)


def test_a_code_works_until_the_last_second_of_its_time(store):
    code = _issue("web-expiry-1")
    almost = ISSUED + link_codes.DEFAULT_TTL - timedelta(seconds=1)
    assert _redeem(code, almost, "tg-expiry-1").channel == "telegram"


def test_a_code_is_refused_once_its_time_is_up(store):
    code = _issue("web-expiry-2")
    with pytest.raises(InvalidInput, match="expired"):
        _redeem(code, ISSUED + link_codes.DEFAULT_TTL, "tg-expiry-2")


def test_failed_guesses_count_only_within_their_window(store):
    for minute in range(link_codes.MAX_FAILED_GUESSES):
        with clock.frozen(ISSUED + timedelta(minutes=minute)), session_scope() as session:
            link_codes.record_failed_guess(session, channel="telegram", external_id="tg-guess")
    last = ISSUED + timedelta(minutes=link_codes.MAX_FAILED_GUESSES - 1)
    with session_scope() as session:
        assert link_codes.guesses_left(session, channel="telegram", external_id="tg-guess",
                                       now=last) == 0
        # The first guess leaves the window exactly GUESS_WINDOW after it was made.
        after = ISSUED + link_codes.GUESS_WINDOW + timedelta(seconds=1)
        assert link_codes.guesses_left(session, channel="telegram", external_id="tg-guess",
                                       now=after) == 1
