"""The /marketing page in a real browser (Debian's chromium through Playwright): a marketer
builds a segment, sees its live reachable audience, creates and sends a campaign and reads its
report chart; the segment's rules read as words, live as they are typed, and a campaign is
sent to the marketer's own chat as a test; an agent is refused the page."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from crm_store import db
from crm_store.db import session_scope
from crm_store.models import Conversation, Direction, Message
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
        # Mia's own customer account, proved hers in a web chat: where her test sends go.
        mia = person(session, "mia@shop.example", name="Mia Rossi")
        chat(session, mia, "web", "browser-mia", verified=True)
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


def test_rules_read_as_words_and_a_test_send_reaches_the_marketer(browser, gateway):
    context, page = sign_in(browser, gateway, "mia@shop.example")
    try:
        sentence = page.locator("#seg-sentence")
        expect(sentence).to_have_text("Every customer (no rules yet)")
        # The store's interests are offered while typing.
        expect(page.locator('#seg-known-interests option[value="hiking"]')).to_have_count(1)
        page.fill("#seg-name", "Web hikers")
        page.fill("#seg-interests", "hiking")
        expect(sentence).to_have_text("Customers who are interested in hiking")
        page.fill("#seg-min-orders", "2")
        expect(sentence).to_have_text(
            "Customers who are interested in hiking and have at least 2 orders")
        page.fill("#seg-min-orders", "")
        page.check('#seg-channels input[value="web"]')
        expect(sentence).to_have_text(
            "Customers who are interested in hiking and are reachable on web")
        page.click("#seg-save")
        rules = page.locator("#segments tr", has_text="Web hikers").locator("td.rules")
        expect(rules).to_have_text("Interested in hiking · reachable on web")
        expect(rules).not_to_contain_text("{")

        page.select_option("#camp-segment", label="Web hikers (1 reachable)")
        page.fill("#camp-name", "Trail test")
        page.fill("#camp-message", "Hi {first_name}, see you on the trail!")
        # A slow preview: the button says so, and takes no second click, until it answers.
        held = []
        page.route("**/api/campaigns/preview", lambda route: held.append(route))
        page.click("#camp-preview")
        preview = page.locator("#camp-preview")
        expect(preview).to_have_text("Previewing…")
        expect(preview).to_be_disabled()
        expect(preview).to_have_class(re.compile(r"\bmk-busy\b"))
        deadline = time.monotonic() + 10
        while not held and time.monotonic() < deadline:
            page.wait_for_timeout(20)  # lets Playwright hand over the held request
        held[0].continue_()
        expect(page.locator("#preview")).to_contain_text("Hi Hana, see you on the trail!")
        expect(preview).to_have_text("Preview")
        expect(preview).to_be_enabled()

        page.click("#camp-create")
        row = page.locator("#campaigns tr", has_text="Trail test")
        row.locator("button.test-send").click()
        expect(page.locator("#toast")).to_have_text("Test of Trail test sent to your web chat")
        expect(row.locator(".status")).to_have_text("draft")
        with session_scope() as session:
            texts = list(session.scalars(
                select(Message.text).join(Conversation, Conversation.id == Message.conversation_id)
                .where(Conversation.external_id == "browser-mia",
                       Message.direction == Direction.OUTBOUND)))
        assert len(texts) == 1 and texts[0].startswith("[Test] Hi Mia, see you on the trail!")
    finally:
        context.close()
