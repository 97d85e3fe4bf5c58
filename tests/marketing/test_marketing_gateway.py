"""Campaigns through the running gateway: the marketer's API, delivery on Telegram (the local
Bot API server) and the web widget's socket, the one-tap opt-out, and staff roles.

No Rasa here: everything asserted (delivery, /stop) is the gateway's own work.
"""

from __future__ import annotations

import json
import os
import time
from datetime import timedelta

import httpx
import pytest
from websockets.sync.client import connect

from crm_store import db
from crm_store.db import session_scope
from crm_store.services import customers
from kefu_config.settings import Settings
from tests.conftest import free_port
from tests.marketing.helpers import chat, london, marketing_team, person
from tests.support.demo_store import fresh_store
from tests.support.fake_bot_api import FakeBotApi
from tests.support.gateway_server import GatewayServer

# Depends on the date or time of day: CI runs it at other moments too (.ci/clock-guard).
pytestmark = pytest.mark.clock

os.environ.setdefault("HF_HUB_OFFLINE", "1")
PASSWORD = "correct horse battery staple"
NOON = london(2026, 11, 18, 12)


@pytest.fixture(scope="module")
def store_url(tmp_path_factory):
    url = fresh_store(tmp_path_factory.mktemp("kefu-marketing"))
    with session_scope() as session:
        marketing_team(session, PASSWORD)
    yield url
    db.reset_engine()


@pytest.fixture(scope="module")
def bot_api():
    with FakeBotApi() as api:
        yield api


@pytest.fixture(scope="module")
def gateway(store_url, bot_api, tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("kefu-marketing-gw")
    settings = Settings(data_dir=data_dir, database_url=store_url, rasa_port=free_port(),
                        action_port=free_port(), gateway_port=free_port(),
                        outbound_sweep_interval=0.5, campaign_sweep_interval=0.5,
                        telegram_token=bot_api.token,
                        telegram_api_url=bot_api.url)
    server = GatewayServer(settings).start()
    bot_api.wait_for(lambda: bot_api.sent("getUpdates"), what="the bot to start polling")
    yield server
    server.stop()


def token(gateway, email):
    response = httpx.post(f"{gateway.url}/api/auth/login",
                          json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


class Widget:
    def __init__(self, gateway):
        self.ws = connect(gateway.ws_url, open_timeout=10)
        self.ws.send(json.dumps({"type": "hello", "session": None}))
        welcome = json.loads(self.ws.recv(30))
        assert welcome["type"] == "welcome", welcome
        self.session = welcome["session"]

    def messages(self, seconds):
        """Message frames that arrive within `seconds`."""
        found, deadline = [], time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                frame = json.loads(self.ws.recv(left))
            except TimeoutError:
                break
            if frame.get("type") == "message":
                found.append(frame)
        return found

    def wait_for_text(self, fragment, seconds=20):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for frame in self.messages(1):
                if fragment in (frame.get("text") or ""):
                    return frame
        raise AssertionError(f"no message with {fragment!r} on the web chat")


def test_agents_cannot_use_the_marketing_api_or_page(gateway):
    agent = token(gateway, "anna@shop.example")
    created = httpx.post(f"{gateway.url}/api/campaigns", headers=agent,
                         json={"name": "Sneaky", "message": "hi", "topic": "hiking"})
    assert created.status_code == 403
    assert "marketer or admin" in created.json()["detail"]
    assert httpx.get(f"{gateway.url}/api/segments", headers=agent).status_code == 403
    assert httpx.post(f"{gateway.url}/api/campaigns", json={}).status_code == 401
    assert httpx.get(f"{gateway.url}/marketing", headers=agent,
                     follow_redirects=False).status_code in (302, 303, 307)


def test_campaign_reaches_exactly_the_consenting_members_and_stop_works(gateway, bot_api,
                                                                         shop_clock):
    web = Widget(gateway)
    with session_scope() as session:
        ann = person(session, "ann@example.com", name="Ann Lee", topics=("hiking",),
                     consent="telegram")
        chat(session, ann, "telegram", "7001")
        ben = person(session, "ben@example.com", name="Ben Ode", topics=("hiking",),
                     consent="web")
        chat(session, ben, "web", web.session)
        cat = person(session, "cat@example.com", name="Cat Roe", topics=("hiking",))
        chat(session, cat, "telegram", "7003")
        dan = person(session, "dan@example.com", name="Dan Poe", topics=("cooking",),
                     consent="telegram")
        chat(session, dan, "telegram", "7004")
        ann_id, ben_id = ann.id, ben.id
    mia = token(gateway, "mia@shop.example")
    api = gateway.url + "/api"
    segment = httpx.post(f"{api}/segments", headers=mia,
                         json={"name": "Hikers", "rules": {"interests": ["hiking"]}})
    assert segment.status_code == 201, segment.text
    assert (segment.json()["audience"], segment.json()["members"]) == (2, 3)
    bad = httpx.post(f"{api}/segments", headers=mia, json={"name": "X", "rules": {"size": 1}})
    assert bad.status_code == 422 and "size" in bad.json()["detail"]

    def campaign(name, at):
        created = httpx.post(f"{api}/campaigns", headers=mia, json={
            "name": name, "message": "Hi {first_name}, " + name, "segment_id": segment.json()["id"]})
        assert created.status_code == 201, created.text
        shop_clock(at)
        sent = httpx.post(f"{api}/campaigns/{created.json()['id']}/send", headers=mia)
        assert sent.status_code == 200, sent.text
        return created.json()["id"], sent.json()

    first_id, sent = campaign("trail maps are in", NOON)
    assert (sent["queued"], sent["capped"]) == (2, 0)
    [to_ann] = bot_api.wait_for(lambda: bot_api.sent(chat_id=7001), what="Ann's campaign")
    assert to_ann.params["text"].startswith("Hi Ann, trail maps are in")
    stop_button = to_ann.params["reply_markup"]["inline_keyboard"][0][0]
    assert stop_button["text"].startswith("/stop")
    assert "Hi Ben, trail maps are in" in web.wait_for_text("trail maps")["text"]
    time.sleep(1.5)  # a sweep or two more: nobody else gets anything
    assert bot_api.sent(chat_id=7003) == [] and bot_api.sent(chat_id=7004) == []

    # A day later the cap holds everyone back; at night nothing goes.
    _, sent = campaign("boots sale", NOON + timedelta(days=1))
    assert (sent["queued"], sent["capped"]) == (0, 2)
    _, sent = campaign("night owls", london(2026, 11, 22, 23, 30))
    assert sent["queued"] == 0 and sent["deferred_until"].startswith("2026-11-23T09:00")

    # Ann taps the button on Telegram: consent is gone at once, and she is told so.
    bot_api.push_callback(7001, stop_button["callback_data"],
                          message_id=to_ann.params["_message_id"])
    bot_api.wait_for(lambda: [t for t in bot_api.texts(7001) if "won't receive" in t],
                     what="the opt-out confirmation")
    with session_scope() as session:
        assert customers.get(session, customer_id=ann_id).marketing_opt_in is False
    _, sent = campaign("poles", NOON + timedelta(days=4))
    assert sent["queued"] == 1
    assert "Hi Ben, poles" in web.wait_for_text("poles")["text"]
    time.sleep(1.5)
    assert len(bot_api.sent(chat_id=7001)) == 2  # the campaign and the opt-out answer only

    # Ben taps the same button in the web chat: the widget sends its title and payload.
    web.ws.send(json.dumps({"type": "message", "client_id": "stop-1",
                            "text": "/stop — no more offers", "payload": "/stop"}))
    web.wait_for_text("won't receive")
    with session_scope() as session:
        assert customers.get(session, customer_id=ben_id).marketing_opt_in is False
    _, sent = campaign("last one", NOON + timedelta(days=9))
    assert sent["queued"] == 0

    report = httpx.get(f"{api}/campaigns/{first_id}/report", headers=mia).json()
    assert (report["recipients"], report["opted_out"], report["failed"]) == (2, 2, 0)
    assert report["replies"] == 2  # both pressed the opt-out button in that conversation
    listed = httpx.get(f"{api}/campaigns", headers=mia).json()
    assert [c["name"] for c in listed][-1] == "trail maps are in"
    web.ws.close()


def test_a_scheduled_campaign_goes_out_by_itself_and_a_refused_one_is_failed(
        gateway, bot_api, shop_clock):
    with session_scope() as session:
        eva = person(session, "eva@example.com", name="Eva Sol", topics=("kayaking",),
                     consent="telegram")
        chat(session, eva, "telegram", "7101")
        gus = person(session, "gus@example.com", name="Gus Tam", topics=("kayaking",),
                     consent="telegram")
        chat(session, gus, "telegram", "7102")
    shop_clock(NOON + timedelta(days=30))  # before signing in: the session is stamped with it
    mia = token(gateway, "mia@shop.example")
    api = gateway.url + "/api"
    # Telegram refuses Gus for good (he blocked the bot): his delivery ends failed.
    bot_api.fail_next("sendMessage", status=403)
    created = httpx.post(f"{api}/campaigns", headers=mia, json={
        "name": "Paddles", "message": "Hi {first_name}, paddles!", "topic": "kayaking",
        "scheduled_at": (NOON + timedelta(days=30, minutes=-1)).isoformat()})
    assert created.status_code == 201, created.text
    campaign_id = created.json()["id"]

    def report():
        return httpx.get(f"{api}/campaigns/{campaign_id}/report", headers=mia).json()

    bot_api.wait_for(lambda: report()["recipients"] == 2 and report()["queued"] == 0,
                     timeout=30, what="the scheduled campaign to be sent and settled")
    figures = report()
    assert (figures["reached"], figures["failed"]) == (1, 1)
    failed = [r for r in figures["per_recipient"] if r["status"] == "failed"]
    assert len(failed) == 1 and failed[0]["error"]
    naive = httpx.post(f"{api}/campaigns", headers=mia, json={
        "name": "X", "message": "x", "topic": "kayaking", "scheduled_at": "2026-12-01T10:00"})
    assert naive.status_code == 422 and "time zone" in naive.json()["detail"]
