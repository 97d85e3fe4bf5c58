"""The SLA card counts every ticket open past its deadline, whatever the period shows: a
backlog opened before the period must not read as "1 of 5 tickets" breached."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from crm_store import db
from crm_store.db import session_scope
from crm_store.models import (
    Ticket,
    TicketCategory,
    TicketKind,
    TicketPriority,
    TicketStatus,
    utcnow,
)
from crm_store.services import analytics, staff
from kefu_config.settings import Settings
from tests.conftest import free_port
from tests.support.demo_store import fresh_store
from tests.support.gateway_server import GatewayServer

DAY = timedelta(days=1)
PASSWORD = "correct horse battery staple"


def _ticket(session, opened, due, resolved=None, channel="web", assignee_id=None) -> None:
    session.add(Ticket(kind=TicketKind.COMPLAINT, category=TicketCategory.DELIVERY,
                       status=TicketStatus.RESOLVED if resolved else TicketStatus.OPEN,
                       priority=TicketPriority.NORMAL, subject="late parcel", channel=channel,
                       created_at=opened, sla_due_at=due, resolved_at=resolved,
                       assignee_id=assignee_id))


def seed_backlog(session) -> None:
    """Last week: five tickets, one of them breached and still open, four kept. Two months
    ago: four more, open and long past their deadline (one on Telegram)."""
    now = utcnow()
    _ticket(session, now - 2 * DAY, now - DAY)
    for _ in range(4):
        _ticket(session, now - 3 * DAY, now - DAY, resolved=now - 2 * DAY)
    for channel in ("web", "web", "web", "telegram"):
        _ticket(session, now - 60 * DAY, now - 50 * DAY, channel=channel)


def _last_week(**kwargs) -> analytics.Scope:
    now = utcnow()
    return analytics.Scope(now - 7 * DAY, now + DAY, **kwargs)


def test_open_breaches_outside_the_period_are_counted(store):
    with session_scope() as session:
        seed_backlog(session)
    with session_scope() as session:
        figures = analytics.sla_breaches(session, _last_week())
        web = analytics.sla_breaches(session, _last_week(channel="web"))
        someone = analytics.sla_breaches(session, _last_week(agent_id=999))
    assert (figures["breached"], figures["tickets"]) == (1, 5)  # opened in the period
    assert figures["open_breached"] == 5  # every ticket open past its deadline now
    assert web["open_breached"] == 4  # the channel still applies
    assert someone["open_breached"] == 0  # and an agent sees only tickets assigned to them


@pytest.fixture
def gateway(tmp_path):
    url = fresh_store(tmp_path)
    with session_scope() as session:
        seed_backlog(session)
        staff.create_user(session, email="ada@shop.example", password=PASSWORD, role="admin")
    server = GatewayServer(Settings(data_dir=tmp_path, database_url=url,
                                    gateway_port=free_port(), rasa_port=free_port(),
                                    action_port=free_port())).start()
    yield server
    server.stop()
    db.reset_engine()


@pytest.mark.browser
def test_the_sla_card_shows_the_open_backlog_beside_the_periods_figure(gateway, browser):
    from playwright.sync_api import expect

    page = browser.new_page()
    try:
        page.goto(f"{gateway.url}/dashboard")  # the default period: the last 30 days
        page.fill("#email", "ada@shop.example")
        page.fill("#password", PASSWORD)
        page.locator("form[action='/login'] button[type=submit]").click()
        headline = page.locator(".card[data-kpi=sla] .headline")
        expect(headline).to_have_text(
            "5 open tickets past the deadline now · 1 of 5 tickets opened in the period "
            "breached (20.0%)")
    finally:
        page.close()
    api = httpx.post(f"{gateway.url}/api/auth/login",
                     json={"email": "ada@shop.example", "password": PASSWORD})
    token = api.json()["token"]
    body = httpx.get(f"{gateway.url}/api/dashboard",
                     headers={"Authorization": f"Bearer {token}"}).json()
    assert body["kpis"]["sla"]["open_breached"] == 5
