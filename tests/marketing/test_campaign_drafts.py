"""A marketer edits and deletes draft campaigns and takes a scheduled send off the schedule,
through the campaigns API and the marketing console; a campaign that went out stays as it
was. Campaign previews write prices in the shop's currency and locale."""

from __future__ import annotations

import time
from datetime import timedelta

import httpx
import pytest
from playwright.sync_api import expect

from crm_store import db
from crm_store.db import session_scope
from crm_store.services import audit
from kefu_config import clock
from kefu_config.policy import ShopInfo
from kefu_config.settings import Settings
from marketing import composing
from tests.conftest import free_port
from tests.marketing.helpers import chat, london, marketing_team, person
from tests.support.demo_store import fresh_store
from tests.support.gateway_server import GatewayServer

PASSWORD = "correct horse battery staple"
NOON = london(2026, 11, 18, 12)  # a Wednesday in the shop, outside the quiet hours


@pytest.fixture(scope="module")
def gateway(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("kefu-drafts")
    url = fresh_store(data_dir)
    with session_scope() as session:
        marketing_team(session, PASSWORD)
        hiker = person(session, "hiker@example.com", name="Hana Ito", topics=("hiking",),
                       consent="web")
        chat(session, hiker, "web", "drafts-hiker")
    clock.set_source(clock.running_from_moment(NOON))
    settings = Settings(data_dir=data_dir, database_url=url, rasa_port=free_port(),
                        action_port=free_port(), gateway_port=free_port(),
                        campaign_sweep_interval=0.5)
    server = GatewayServer(settings).start()
    yield server
    server.stop()
    clock.set_source(None)
    db.reset_engine()


def client(gateway, email: str) -> httpx.Client:
    response = httpx.post(f"{gateway.url}/api/auth/login",
                          json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return httpx.Client(base_url=f"{gateway.url}/api", timeout=30,
                        headers={"Authorization": f"Bearer {response.json()['token']}"})


def listed(mia: httpx.Client) -> dict[int, dict]:
    return {c["id"]: c for c in mia.get("/campaigns").json()}


def hikers(mia: httpx.Client) -> int:
    """The saved segment of hikers (made by the first test that needs it)."""
    found = mia.get("/segments").json()
    for segment in found:
        if segment["name"] == "Hikers":
            return segment["id"]
    made = mia.post("/segments", json={"name": "Hikers", "rules": {"interests": ["hiking"]}})
    assert made.status_code == 201, made.text
    return made.json()["id"]


def test_a_draft_is_edited_unscheduled_and_deleted_and_a_sent_one_stays(gateway):
    mia = client(gateway, "mia@shop.example")
    later = NOON + timedelta(days=2)
    created = mia.post("/campaigns", json={"name": "Boots", "message": "Hi {first_name}, boots!",
                                 "topic": "hiking", "scheduled_at": later.isoformat()})
    assert created.status_code == 201, created.text
    draft = created.json()["id"]

    edited = mia.patch(f"/campaigns/{draft}", json={"name": "Winter boots",
                                          "message": "Hi {first_name}, winter boots!",
                                          "scheduled_at": (later + timedelta(hours=3)).isoformat()})
    assert edited.status_code == 200, edited.text
    shown = listed(mia)[draft]
    assert (shown["name"], shown["message"], shown["topic"], shown["status"]) == (
        "Winter boots", "Hi {first_name}, winter boots!", "hiking", "draft")
    assert shown["scheduled_at"].startswith((later + timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M"))

    # Bad edits are refused with the reason, and change nothing.
    for body, reason in (({"message": "Dear {surname}"}, "unknown placeholder {surname}"),
                         ({"name": ""}, "name"),
                         ({"scheduled_at": "2026-12-01T10:00"}, "time zone"),
                         ({}, "nothing to change")):
        refused = mia.patch(f"/campaigns/{draft}", json=body)
        assert refused.status_code == 422 and reason in refused.text, (body, refused.text)
    assert listed(mia)[draft]["name"] == "Winter boots"

    # Cancel the scheduled send: a draft again, which the sweep leaves alone.
    back = mia.delete(f"/campaigns/{draft}/schedule")
    assert back.status_code == 200, back.text
    assert (back.json()["status"], back.json()["scheduled_at"]) == ("draft", None)
    again = mia.delete(f"/campaigns/{draft}/schedule")
    assert again.status_code == 409 and "not scheduled" in again.json()["detail"]

    # A campaign that went out can be neither edited, unscheduled nor deleted.
    sent = mia.post("/campaigns", json={"name": "Maps", "message": "Maps!", "topic": "hiking"}).json()["id"]
    assert mia.post(f"/campaigns/{sent}/send").json()["queued"] == 1
    for method, path in (("PATCH", f"/campaigns/{sent}"), ("DELETE", f"/campaigns/{sent}/schedule"),
                         ("DELETE", f"/campaigns/{sent}")):
        refused = mia.request(method, path, json={"name": "Renamed"} if method == "PATCH" else None)
        assert refused.status_code == 409, (method, path, refused.text)
        assert "already sent" in refused.json()["detail"]
    assert listed(mia)[sent]["name"] == "Maps"

    deleted = mia.delete(f"/campaigns/{draft}")
    assert deleted.status_code == 204
    assert draft not in listed(mia)
    assert mia.delete(f"/campaigns/{draft}").status_code == 404
    with session_scope() as session:
        trail = [(e.action, e.details) for e in audit.for_entity(session, entity="campaign",
                                                                 entity_id=draft)]
    assert [action for action, _ in trail] == ["campaign.create", "campaign.update",
                                               "campaign.unschedule", "campaign.delete"]
    assert trail[1][1] == {"fields": ["message", "name", "scheduled_at"]}

    anna = client(gateway, "anna@shop.example")
    assert anna.delete(f"/campaigns/{sent}").status_code == 403
    assert anna.patch(f"/campaigns/{sent}", json={"name": "x"}).status_code == 403


def test_a_new_draft_moves_from_a_topic_to_a_segment(gateway):
    mia = client(gateway, "mia@shop.example")
    segment = hikers(mia)
    draft = mia.post("/campaigns", json={"name": "Poles", "message": "Poles!", "topic": "hiking"}).json()
    moved = mia.patch(f"/campaigns/{draft['id']}", json={"segment_id": segment})
    assert moved.status_code == 200, moved.text
    assert (moved.json()["segment_id"], moved.json()["topic"]) == (segment, None)
    back = mia.patch(f"/campaigns/{draft['id']}", json={"topic": "Camping"})
    assert (back.json()["segment_id"], back.json()["topic"]) == (None, "camping")
    assert mia.patch(f"/campaigns/{draft['id']}", json={"segment_id": 99999}).status_code == 404


@pytest.mark.browser
def test_the_console_edits_unschedules_and_deletes_drafts_in_the_shops_time(gateway, browser):
    mia = client(gateway, "mia@shop.example")
    segment = hikers(mia)
    went = mia.post("/campaigns", json={"name": "Went out", "message": "Out!", "topic": "hiking"}).json()
    assert mia.post(f"/campaigns/{went['id']}/send").status_code == 200
    mia.post("/campaigns", json={"name": "Gaiters", "message": "Gaiters!", "topic": "hiking",
                       "scheduled_at": london(2026, 11, 20, 14, 5).isoformat()})
    # A marketer whose browser is set to New York and US English still works in shop time.
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US",
                                  timezone_id="America/New_York")
    page = context.new_page()
    try:
        page.goto(f"{gateway.url}/marketing")
        page.fill("#email", "mia@shop.example")
        page.fill("#password", PASSWORD)
        page.click("#sign-in")
        row = page.locator("#campaigns tr", has_text="Gaiters")
        expect(row.locator(".status")).to_have_text("draft (scheduled 20 Nov 2026, 14:05)")

        row.locator("button.edit").click()
        expect(page.locator("#camp-title")).to_have_text("Edit campaign: Gaiters")
        expect(page.locator("#camp-when")).to_have_value("2026-11-20T14:05")
        page.fill("#camp-name", "Warm gaiters")
        page.fill("#camp-when", "2026-11-21T09:30")
        page.click("#camp-create")
        expect(page.locator("#toast")).to_have_text("Saved Warm gaiters")
        expect(page.locator("#camp-title")).to_have_text("New campaign")
        row = page.locator("#campaigns tr", has_text="Warm gaiters")
        expect(row.locator(".status")).to_have_text("draft (scheduled 21 Nov 2026, 09:30)")
        campaign = next(c for c in listed(mia).values() if c["name"] == "Warm gaiters")
        assert campaign["scheduled_at"].startswith("2026-11-21T09:30")  # London is on UTC then

        row.locator("button.unschedule").click()
        expect(row.locator(".status")).to_have_text("draft")
        expect(row.locator("button.unschedule")).to_have_count(0)

        page.once("dialog", lambda dialog: dialog.accept())
        row.locator("button.delete").click()
        expect(page.locator("#toast")).to_have_text("Deleted Warm gaiters")
        expect(page.locator("#campaigns tr", has_text="Warm gaiters")).to_have_count(0)
        # A campaign that went out offers no edit or delete.
        gone = page.locator("#campaigns tr", has_text="Went out")
        expect(gone.locator("button.report")).to_have_count(1)
        expect(gone.locator("button.edit, button.delete")).to_have_count(0)

        # A slow preview says it is being prepared until the answer comes.
        release = []
        page.route("**/api/campaigns/preview", lambda route: release.append(route))
        page.select_option("#camp-segment", value=str(segment))
        page.fill("#camp-message", "Hi {first_name}!")
        page.click("#camp-preview")
        expect(page.locator("#preview")).to_have_text("Preparing preview…")
        expect(page.locator("#camp-preview")).to_be_disabled()
        deadline = time.monotonic() + 10
        while not release and time.monotonic() < deadline:
            page.wait_for_timeout(20)  # lets Playwright hand over the held request
        release[0].continue_()
        expect(page.locator("#preview")).to_contain_text("Hi Hana!")
        expect(page.locator("#camp-preview")).to_be_enabled()
    finally:
        context.close()


def test_preview_prices_carry_the_shops_currency(gateway):
    with session_scope() as session:
        ann = person(session, "ann@example.com", name="Ann Lee", topics=("hiking",))
        session.flush()
        pick = {"sku": "HIK-1", "name": "Trail boots", "price": "1299.5", "reason": "hiking"}
        shown = composing.preview(session, message="{product} for {product_price}",
                                  customer_id=ann.id, recommender=lambda s, c, t: pick)
        # policy/shop.yml: currency EUR, locale en-GB.
        assert shown.text.startswith("Trail boots for €1,299.50\n")
        german = ShopInfo(name="S", email="e", phone="p", address="a", website="w",
                          currency="EUR", locale="de-DE")
        assert composing.render("{product_price}", ann, product=pick, shop=german
                                ).text.startswith("1.299,50\u00a0€")


@pytest.mark.parametrize(("amount", "currency", "locale", "written"), [
    ("49.9", "EUR", "en-GB", "€49.90"),
    (4.95, "GBP", "en-GB", "£4.95"),
    ("1299.5", "EUR", "fr-FR", "1\u202f299,50\u00a0€"),
    ("1299.5", "CHF", "de-CH", "1.299,50\u00a0CHF"),
    ("20", "CAD", "en-CA", "CAD\u00a020.00"),
    ("1500", "JPY", "en", "¥1,500"),
    ("on request", "EUR", "en-GB", "on request"),
])
def test_money_is_written_in_the_shops_locale(amount, currency, locale, written):
    assert composing.money(amount, currency, locale) == written
