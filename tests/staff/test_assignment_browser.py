"""Automatic assignment in the agent console, in a real browser (Debian's chromium through
Playwright): an agent sets themselves online in the top bar, a customer who asks for a person
appears under "Mine" without a click, the admin's team panel shows who has what, and going
away puts the conversation back in the queue."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.staff.conftest import ADA, ANNA, everyone_away_and_nothing_waiting
from tests.staff.test_console_browser import sign_in
from tests.staff.test_reply_email import RestCustomer

pytestmark = pytest.mark.browser


@pytest.fixture
def clean_team():
    everyone_away_and_nothing_waiting()
    yield
    everyone_away_and_nothing_waiting()


def console(browser, base: str, account) -> Page:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    sign_in(page, base, account)
    expect(page).to_have_url(f"{base}/agent")
    expect(page.locator("#live-status")).to_have_text("live", timeout=10_000)
    return page


def test_an_online_agent_is_given_a_waiting_conversation_and_the_admin_sees_it(
        browser, api_gateway, clean_team):
    base = api_gateway.url
    anna = console(browser, base, ANNA)
    toggle = anna.locator("#availability")
    expect(toggle).to_have_text("Away")
    expect(toggle).to_have_attribute("aria-pressed", "false")
    # Only admins have the team panel.
    expect(anna.locator("#team")).to_be_hidden()
    toggle.click()
    expect(toggle).to_have_text("Online")
    expect(toggle).to_have_attribute("aria-pressed", "true")

    RestCustomer(api_gateway, "browser-assigned").say("/human")
    mine = anna.locator("#queue-mine .queue-item")
    expect(mine).to_have_count(1, timeout=10_000)
    expect(mine).to_contain_text("Anonymous rest customer")
    expect(anna.locator("#toast")).to_contain_text("given to you")
    expect(anna.locator("#queue-waiting .queue-item")).to_have_count(0)
    mine.click()
    expect(anna.locator("#transcript")).to_contain_text(
        "Anna from our team has joined the conversation.")
    expect(anna.locator("#resolve")).to_be_enabled()

    ada = console(browser, base, ADA)
    team = ada.locator("#team-list")
    expect(ada.locator("#team")).to_be_visible()
    expect(team.locator(".team-item.online")).to_contain_text("Anna")
    expect(team.locator(".team-item.online .load")).to_have_text("1 / 5")

    # Anna goes away: the conversation waits in the queue again, live in both consoles.
    toggle.click()
    expect(toggle).to_have_text("Away")
    expect(anna.locator("#queue-mine .queue-item")).to_have_count(0)
    expect(anna.locator("#queue-waiting .queue-item")).to_have_count(1)
    expect(team.locator(".team-item.online")).to_have_count(0)
    expect(ada.locator("#queue-waiting .queue-item")).to_have_count(1)
    # Reloading keeps the status: it is stored, not the page's.
    anna.reload()
    expect(anna.locator("#availability")).to_have_text("Away")
    for page in (anna, ada):
        page.context.close()
