"""The /marketing page in a real browser (Debian's chromium through Playwright): a marketer
builds a segment, sees its live reachable audience, creates and sends a campaign and reads its
report chart; an agent is refused the page."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from crm_store import db
from crm_store.db import session_scope
from kefu_config import clock
from kefu_config.settings import Settings
from tests.conftest import free_port
from tests.marketing.helpers import chat, london, marketing_team, person
from tests.support.demo_store import fresh_store
from tests.support.gateway_server import GatewayServer

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="module")
def gateway(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("kefu-marketing-browser")
    url = fresh_store(data_dir)
    with session_scope() as session:
        marketing_team(session, PASSWORD)
        hiker = person(session, "hiker@example.com", name="Hana Ito", topics=("hiking",),
                       consent="web")
        chat(session, hiker, "web", "browser-hiker")
        shy = person(session, "shy@example.com", name="Shy Hiker", topics=("hiking",))
        chat(session, shy, "web", "browser-shy")
    settings = Settings(data_dir=data_dir, database_url=url, rasa_port=free_port(),
                        action_port=free_port(), gateway_port=free_port())
    server = GatewayServer(settings).start()
    # Noon in the shop: outside the quiet hours whatever the real time is.
    clock.set_source(clock.running_from_moment(london(2026, 11, 18, 12)))
    yield server
    clock.set_source(None)
    server.stop()
    db.reset_engine()


def sign_in(browser, gateway, email):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(f"{gateway.url}/marketing")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("#sign-in")
    return context, page


def test_marketer_builds_a_segment_sends_and_reads_the_report(browser, gateway):
    context, page = sign_in(browser, gateway, "mia@shop.example")
    try:
        expect(page).to_have_url(f"{gateway.url}/marketing")
        page.fill("#seg-name", "Hikers")
        page.fill("#seg-interests", "hiking")
        page.click("#seg-count")
        expect(page.locator("#seg-audience")).to_have_text("1 reachable with consent (of 2)")
        page.click("#seg-save")
        expect(page.locator("#segments tr")).to_have_count(1)
        expect(page.locator("#camp-segment option")).to_have_text(["Hikers (1 reachable)"])
        page.fill("#camp-name", "Trail maps")
        page.fill("#camp-message", "Hi {first_name}, new trail maps!")
        page.click("#camp-preview")
        expect(page.locator("#preview")).to_contain_text("Hi Hana, new trail maps!")
        expect(page.locator("#preview")).to_contain_text("/stop")
        page.click("#camp-create")
        row = page.locator("#campaigns tr", has_text="Trail maps")
        expect(row).to_contain_text("draft")
        row.locator("button.send").click()
        expect(page.locator("#toast")).to_contain_text("1 queued")
        expect(row).to_contain_text("sending")
        row.locator("button.report").click()
        expect(page.locator("#report-title")).to_have_text("Report: Trail maps")
        # The hiker's web chat is closed, so the message waits for her: queued, not reached.
        queued = page.locator('#report-chart rect[data-label="Queued"]')
        expect(queued).to_have_attribute("data-value", "1")
        expect(page.locator('#report-chart rect[data-label="Reached"]')
               ).to_have_attribute("data-value", "0")
        expect(page.locator("#report-figures")).to_contain_text("1 recipients")
    finally:
        context.close()


def test_an_agent_is_refused_the_marketing_page(browser, gateway):
    context, page = sign_in(browser, gateway, "anna@shop.example")
    try:
        response = page.goto(f"{gateway.url}/marketing")
        assert response.status == 403
        expect(page.locator("#segment-form")).to_have_count(0)
    finally:
        context.close()
