"""Issue 20, "Honest figures": automated vs resolved conversations on conversations with known
outcomes, the complaints cross-tab, and the dashboard that shows them (API, CSV, browser).

The shop below (period: the three days from T, as in seed.py):
  a1  ann, web, day 1: greet, track_order; ann asks track_order again 20 h later (a2, telegram)
  a2  ann, telegram: track_order, nothing after                               -> resolved
  b1  bob, web, day 1: payment_methods; bob asks it again 30 h later (b2)     -> resolved
  b2  bob, web: payment_methods                                               -> resolved
  c   cat: track_order, then a fallback at the end                            -> not understood
  d   dan: return_item, then return_item at 0.45 confidence at the end        -> not understood
  e   eve: a fallback, then refund_status at the end                          -> resolved
  f   fay: complaint, handed to a person                                      -> handed off
  g1  gus: delivery_options; gus says only "hi" 3 h later (g2)                -> resolved
  g2  gus: greet                                                              -> resolved
  h   no known customer, telegram: track_order 2 h before the period ends and again in the
      same chat an hour after it ends                                         -> came back
  i   ivy: a bot greeting only (the customer never wrote)                     -> not counted
"""

from __future__ import annotations

import csv
import io

import pytest
import yaml
from playwright.sync_api import expect

from crm_store.db import session_scope
from crm_store.models import SenderKind
from crm_store.services import analytics
from crm_store.services.analytics import Scope
from kefu_config.settings import REPO_ROOT
from tests.dashboard.seed import DAY, END, H, T, _Builder, s
from tests.dashboard.test_dashboard_browser import page, sign_in  # noqa: F401 - fixture
from tests.dashboard.test_dashboard_web import (  # noqa: F401 - the gateway fixture
    ADMIN,
    PERIOD,
    client,
    gateway,
)

# Depends on the date or time of day: CI runs it at other moments too (.ci/clock-guard).
pytestmark = pytest.mark.clock

C, BOT = SenderKind.CUSTOMER, SenderKind.BOT


def seed_outcomes(session) -> None:
    b = _Builder(session)
    people = {name: b.customer(name) for name in ("ann", "bob", "cat", "dan", "eve", "fay",
                                                   "gus", "ivy")}

    def chat(who, channel, at, *turns):
        conv = b.conversation(channel, at, people.get(who))
        for offset, intent, confidence in turns:
            b.say(conv, C, at + s(offset), intent, confidence)
            b.say(conv, BOT, at + s(offset + 1))
        return conv

    a1 = T + 10 * H
    chat("ann", "web", a1, (0, "greet", 0.9), (60, "track_order", 0.9))
    chat("ann", "telegram", a1 + s(60) + 20 * H, (0, "track_order", 0.85))
    chat("bob", "web", T + 2 * H, (0, "payment_methods", 0.9))
    chat("bob", "web", T + 32 * H, (0, "payment_methods", 0.9))
    chat("cat", "web", T + 3 * H, (0, "track_order", 0.9), (30, "nlu_fallback", 0.3))
    chat("dan", "web", T + 4 * H, (0, "return_item", 0.9), (30, "return_item", 0.45))
    chat("eve", "web", T + 5 * H, (0, "nlu_fallback", 0.2), (30, "refund_status", 0.9))
    f = chat("fay", "web", T + 6 * H, (0, "complaint", 0.9))
    b.handoff(f, T + 6 * H + s(5))
    g1 = T + DAY + 8 * H
    chat("gus", "web", g1, (0, "delivery_options", 0.9))
    chat("gus", "telegram", g1 + 3 * H, (0, "greet", 0.95))
    h = chat(None, "telegram", END - 2 * H, (0, "track_order", 0.9))
    b.say(h, C, END + H, "track_order", 0.9)
    ivy = b.conversation("web", T + 7 * H, people["ivy"])
    b.say(ivy, BOT, T + 7 * H)
    session.flush()


@pytest.fixture
def outcomes(store):
    with session_scope() as session:
        seed_outcomes(session)


def containment(scope: Scope) -> dict:
    with session_scope() as session:
        return analytics.containment(session, scope)


def test_resolved_leaves_out_fallbacks_at_the_end_and_repeat_contacts_within_24_hours(outcomes):
    assert containment(Scope(T, END)) == {
        "conversations": 11, "automated": 10, "resolved": 6, "handed_off": 1,
        "not_understood_at_end": 2,  # c and d
        "came_back": 2,  # a1 (20 h later, other channel) and h (same chat, after the period)
        "automated_rate": 10 / 11, "resolved_rate": 6 / 11, "handoff_rate": 1 / 11,
        "containment_rate": 10 / 11}


def test_the_end_of_a_conversation_is_its_last_customer_message_in_the_period(outcomes):
    # Day 1 alone: b1's repeat 30 h later and a1's 20 h later are both still looked at.
    figures = containment(Scope(T, T + DAY))
    assert (figures["conversations"], figures["automated"], figures["resolved"],
            figures["not_understood_at_end"], figures["came_back"]) == (6, 5, 2, 2, 1)
    # The web channel alone still sees ann come back on telegram.
    web = containment(Scope(T, END, channel="web"))
    assert (web["automated"], web["resolved"], web["came_back"]) == (7, 4, 1)


def test_small_talk_intents_are_intents_of_the_domain():
    domain = yaml.safe_load((REPO_ROOT / "domain.yml").read_text(encoding="utf-8"))
    intents = {next(iter(i)) if isinstance(i, dict) else i for i in domain["intents"]}
    assert analytics.NOT_A_TOPIC <= intents


def test_the_api_and_the_csv_give_both_automated_and_resolved(gateway):
    with client(gateway, ADMIN) as http:
        figures = http.get("/api/dashboard", params=PERIOD).json()["kpis"]["containment"]
        response = http.get("/api/dashboard/containment.csv", params=PERIOD)
    # seed.py: c1 is the only conversation without a handoff, and it ends in a fallback.
    assert (figures["automated"], figures["resolved"], figures["conversations"]) == (1, 0, 4)
    [row] = list(csv.DictReader(io.StringIO(response.text)))
    assert (row["automated"], row["automated_rate"], row["resolved"], row["resolved_rate"]) == \
        ("1", "0.25", "0", "0.0")


@pytest.mark.browser
def test_the_page_defines_its_figures_separates_bot_and_human_and_says_what_is_not_causal(
        gateway, page):  # noqa: F811 - the fixtures imported above
    sign_in(page, gateway, ADMIN)
    page.wait_for_selector("body[data-charts]")
    page.fill("#start", PERIOD["start"])
    page.fill("#end", PERIOD["end"])
    page.locator("#period button[type=submit]").click()
    card = page.locator(".card[data-kpi=containment]")
    expect(card.locator(".headline")).to_have_text("automated 25.0% · resolved 0.0% of 4")
    expect(card.locator(".definition")).to_have_text([
        "Automated: the customer wrote and no person was asked for.",
        "Resolved: automated, the customer's last message was understood, and they did not "
        "ask about the same topic again within 24 h."])
    charts = page.evaluate("""() => Object.fromEntries([...document.querySelectorAll('.card')]
      .map(card => [card.dataset.kpi, [...card.querySelectorAll('canvas')].map(canvas => {
        const chart = Chart.getChart(canvas), y = chart.options.scales.y || {};
        return {title: canvas.getAttribute('aria-label'), stacked: !!y.stacked,
                unit: y.title ? y.title.text : null, labels: chart.data.labels,
                sets: chart.data.datasets.map(d => [d.label, d.data])};
      })]))""")
    # Bot and human first responses on their own axes, each in its own unit.
    bot, human = charts["first_response"]
    assert (bot["title"], bot["unit"], bot["sets"]) == (
        "Bot first response", "seconds", [["p50", [4]], ["p95", [6]]])
    assert (human["title"], human["unit"], human["sets"]) == (
        "Human first response", "minutes", [["p50", [1.5]], ["p95", [6]]])
    # Categories on the axis, statuses stacked.
    [complaints] = charts["complaints"]
    assert complaints["labels"] == ["delivery", "payment"] and complaints["stacked"]
    assert complaints["sets"] == [["open", [1, 0]], ["resolved", [1, 1]]]
    caption = page.locator(".card[data-kpi=retention] .caption")
    expect(caption).to_contain_text("not causal")
    expect(caption).to_contain_text("customers who chatted with those who did not")
    assert page.errors == []
