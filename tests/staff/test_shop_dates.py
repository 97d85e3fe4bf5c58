"""Staff pages write dates, times and money the shop's way (policy/shop.yml: locale en-GB,
time zone Europe/London), whatever the staff member's browser is set to: "18 Nov 2026, 14:05",
not the US "11/18/26"."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.sync_api import Page, expect
from pydantic import ValidationError

from kefu_config.policy import ShopInfo, load_policy
from tests.staff.conftest import ADA, Account

LONDON = ZoneInfo("Europe/London")


def shop(**fields) -> ShopInfo:
    return ShopInfo(name="S", email="e", phone="p", address="a", website="w", **fields)


def test_the_shop_names_its_locale_or_gets_one_from_its_time_zone():
    assert load_policy().shop.locale_tag == "en-GB"
    assert shop(timezone="Europe/Berlin").locale_tag == "en-DE"
    assert shop(timezone="America/Toronto").locale_tag == "en-CA"
    assert shop(timezone="UTC").locale_tag == "en"
    assert shop(timezone="Europe/Berlin", locale="de-DE").locale_tag == "de-DE"
    with pytest.raises(ValidationError, match="language tag"):
        shop(locale="British English")


def test_the_format_helper_is_served_to_staff_pages(api_gateway):
    script = httpx.get(f"{api_gateway.url}/marketing/static/format.js")
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("application/javascript")
    assert "Intl.DateTimeFormat" in script.text


def shop_time(iso: str) -> str:
    """How the shop writes a moment: 18 Nov 2026, 14:05 in London."""
    moment = datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(LONDON)
    return f"{moment.day} {moment:%b %Y, %H:%M}"


def sign_in(page: Page, base: str, account: Account, path: str) -> None:
    page.goto(f"{base}{path}")
    page.fill("#email", account.email)
    page.fill("#password", account.password)
    page.click("#sign-in")
    expect(page).to_have_url(f"{base}{path}")


def expect_shop_format(page: Page) -> None:
    shop_meta = page.locator('meta[name="kefu-shop"]')
    expect(shop_meta).to_have_attribute("data-locale", "en-GB")
    expect(shop_meta).to_have_attribute("data-time-zone", "Europe/London")
    expect(shop_meta).to_have_attribute("data-currency", "EUR")


@pytest.mark.browser
def test_console_and_dashboard_dates_are_the_shops_in_a_us_browser(api_gateway, browser,
                                                                    as_staff):
    ada = as_staff(api_gateway, ADA)
    tickets = ada.ok("GET", "/api/tickets?status=open&status=pending")
    assert tickets, "the demo shop has open tickets"
    first = tickets[0]
    # A staff member in New York with a US English browser.
    context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="en-US",
                                  timezone_id="America/New_York")
    page = context.new_page()
    try:
        sign_in(page, api_gateway.url, ADA, "/agent")
        expect_shop_format(page)
        page.click("#tab-tickets")
        due = page.locator(f'#ticket-rows tr[data-id="{first["id"]}"] td.sla')
        expect(due).to_contain_text(shop_time(first["sla_due_at"]))
        assert page.evaluate("KefuFormat.money('1299.5', 'EUR')") == "€1,299.50"

        page.goto(f"{api_gateway.url}/dashboard")
        expect_shop_format(page)
        page.wait_for_function("() => Number(document.body.dataset.charts) > 0")
        day = date.fromisoformat(page.input_value("#start"))
        label = page.evaluate("Chart.getChart(document.querySelector("
                              "'[data-kpi=volume] canvas')).data.labels[0]")
        assert label == f"{day.day} {day:%b}"

        page.goto(f"{api_gateway.url}/marketing")
        expect_shop_format(page)
        expect(page.locator("label", has_text="Schedule")).to_contain_text("Europe/London")
    finally:
        context.close()
