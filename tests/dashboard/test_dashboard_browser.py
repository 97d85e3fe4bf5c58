"""The dashboard page in a real browser: an admin signs in and sees every KPI drawn as a chart
with its CSV link, labels an inbox group; a marketer gets the 403 page."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.dashboard.test_dashboard_web import (  # noqa: F401 - the gateway fixture
    ADMIN,
    ALL_KPIS,
    MARKETER,
    PASSWORD,
    gateway,
)

pytestmark = pytest.mark.browser


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    # Failed requests are recorded by URL below; chromium also asks for /favicon.ico.
    page.on("console", lambda m: errors.append(m.text) if m.type == "error"
            and not m.text.startswith("Failed to load resource") else None)
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}")
            if r.status >= 400 and not r.url.endswith("/favicon.ico") else None)
    page.errors = errors
    yield page
    context.close()


def sign_in(page: Page, server, email: str) -> None:
    page.goto(f"{server.url}/dashboard")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.locator("form[action='/login'] button[type=submit]").click()
    page.wait_for_url("**/dashboard")


# For each canvas: the Chart.js chart on it and whether any pixel was painted.
DRAWN = """() => [...document.querySelectorAll('#charts canvas')].map(canvas => {
  const chart = Chart.getChart(canvas);
  const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  let painted = 0;
  for (let i = 3; i < pixels.length; i += 4) if (pixels[i] > 0) painted++;
  return {kpi: canvas.closest('.card').dataset.kpi, type: chart ? chart.config.type : null,
          points: chart ? chart.data.datasets.reduce((n, d) => n + d.data.length, 0) : 0,
          painted: painted, width: canvas.width};
})"""


def test_an_admin_sees_every_kpi_as_a_drawn_chart_and_labels_the_inbox(gateway, page):
    sign_in(page, gateway, ADMIN)
    # the page first shows the last 30 days, with dates filled in
    page.wait_for_selector("body[data-charts='12']")
    page.fill("#start", "2026-01-01")
    page.fill("#end", "2026-01-03")
    page.locator("#period button[type=submit]").click()
    expect(page.locator(".card[data-kpi=volume] .headline")).to_have_text(
        "5 conversations, 15 messages")
    drawn = page.evaluate(DRAWN)
    assert {c["kpi"] for c in drawn} == ALL_KPIS
    for chart in drawn:
        assert chart["type"] in {"bar", "line", "doughnut"}, chart
        assert chart["points"] > 0 and chart["width"] > 0, chart
        assert chart["painted"] > 500, f"{chart['kpi']} was not drawn: {chart}"
    expect(page.locator(".card[data-kpi=containment] .headline")).to_contain_text(
        "automated 25.0% · resolved 0.0%")
    expect(page.locator(".card[data-kpi=csat] .headline")).to_have_text(
        "average 3.50 of 5 (2 ratings)")

    # the CSV link carries the period shown, and the signed-in browser may download it
    with page.expect_download() as download:
        page.locator(".card[data-kpi=volume] a.csv").click()
    lines = open(download.value.path(), encoding="utf-8").read().splitlines()
    assert lines == ["day,conversations,messages", "2026-01-01,1,5", "2026-01-02,1,4",
                     "2026-01-03,3,6"]

    page.locator("#inbox-load").click()
    group = page.locator(".group")
    expect(group).to_have_count(1, timeout=90_000)  # the first use loads the model
    expect(group.locator("strong")).to_have_text("can I pay with bitcoin")
    group.locator("select").select_option("payment_methods")
    group.locator("button.label").click()
    expect(group.locator(".labelled")).to_have_text(
        "2 examples added to payment_methods for review")
    review = gateway.settings.data_path / "review" / "nlu_review.yml"
    assert "- do you accept crypto currency" in review.read_text()
    assert page.errors == []


def test_a_marketer_is_shown_the_not_allowed_page(gateway, page):
    page.goto(f"{gateway.url}/dashboard")
    page.fill("#email", MARKETER)
    page.fill("#password", PASSWORD)
    page.locator("form[action='/login'] button[type=submit]").click()
    # Signing in lands a marketer on their own console, not on a refusal...
    page.wait_for_url("**/marketing")
    # ...and the dashboard itself still says no.
    page.goto(f"{gateway.url}/dashboard")
    expect(page.locator("h1")).to_have_text("Not allowed")
    assert page.evaluate("document.querySelectorAll('canvas').length") == 0
    status = httpx.get(f"{gateway.url}/dashboard",
                       cookies={c["name"]: c["value"] for c in page.context.cookies()})
    assert status.status_code == 403
