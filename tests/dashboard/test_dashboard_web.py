"""The dashboard in the real gateway: its API and CSV for each role, the not-understood inbox,
and the page in a real browser (Debian's chromium through Playwright) with every chart drawn."""

from __future__ import annotations

import csv
import io
import os

import httpx
import pytest
import yaml

from crm_store import db
from crm_store.db import session_scope
from crm_store.services import staff
from kefu_config.settings import Settings
from tests.conftest import free_port
from tests.dashboard.seed import seed
from tests.support.demo_store import fresh_store
from tests.support.gateway_server import GatewayServer

# Depends on the date or time of day: CI runs it at other moments too (.ci/clock-guard).
pytestmark = pytest.mark.clock

os.environ.setdefault("HF_HUB_OFFLINE", "1")

PASSWORD = "correct horse battery staple"
ADMIN = "ada@shop.example"
MARKETER = "mia@shop.example"
AGENT = "anna@shop.example"  # made by seed(); Anna took over conversation c2
PERIOD = {"start": "2026-01-01", "end": "2026-01-03"}
ALL_KPIS = {"volume", "first_response", "containment", "queue_wait", "csat", "complaints",
            "sla", "top_intents", "fallback", "retention", "campaigns"}


@pytest.fixture(scope="module")
def gateway(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("dashboard")
    url = fresh_store(data_dir)
    with session_scope() as session:
        seeded = seed(session)
        staff.set_password(session, user_id=seeded.anna_id, password=PASSWORD, actor="test")
        staff.create_user(session, email=ADMIN, password=PASSWORD, role="admin", name="Ada")
        staff.create_user(session, email=MARKETER, password=PASSWORD, role="marketer")
    settings = Settings(data_dir=data_dir, database_url=url, gateway_port=free_port(),
                        rasa_port=free_port(), action_port=free_port())
    server = GatewayServer(settings).start()
    yield server
    server.stop()
    db.reset_engine()


def client(server: GatewayServer, email: str) -> httpx.Client:
    response = httpx.post(f"{server.url}/api/auth/login",
                          json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return httpx.Client(base_url=server.url, timeout=120,
                        headers={"Authorization": f"Bearer {response.json()['token']}"})


def test_an_admin_gets_every_kpi_of_the_period(gateway):
    with client(gateway, ADMIN) as http:
        body = http.get("/api/dashboard", params=PERIOD).json()
    assert body["scope"] == {"start": "2026-01-01", "end": "2026-01-03", "channel": None,
                             "own_figures_only": False}
    assert set(body["kpis"]) == ALL_KPIS
    assert body["kpis"]["containment"]["containment_rate"] == 0.25
    assert [d["conversations"] for d in body["kpis"]["volume"]] == [1, 1, 3]


def test_an_agent_sees_only_their_own_figures_and_no_sales(gateway):
    with client(gateway, AGENT) as http:
        body = http.get("/api/dashboard", params=PERIOD).json()
        assert http.get("/api/dashboard/retention.csv", params=PERIOD).status_code == 404
    assert body["scope"]["own_figures_only"] is True
    assert "retention" not in body["kpis"] and "campaigns" not in body["kpis"]
    assert [d["conversations"] for d in body["kpis"]["volume"]] == [0, 1, 0]
    assert body["kpis"]["csat"]["average"] == 5.0


def test_a_marketer_and_an_anonymous_caller_are_refused(gateway):
    with client(gateway, MARKETER) as http:
        refused = http.get("/api/dashboard", params=PERIOD)
        assert refused.status_code == 403
        assert "agent or admin" in refused.json()["detail"]
        assert http.get("/api/dashboard/inbox").status_code == 403
    assert httpx.get(f"{gateway.url}/api/dashboard").status_code == 401
    page = httpx.get(f"{gateway.url}/dashboard")
    assert page.status_code == 303 and page.headers["location"] == "/login?next=/dashboard"


def test_each_chart_exports_its_data_as_csv(gateway):
    with client(gateway, ADMIN) as http:
        response = http.get("/api/dashboard/complaints.csv", params=PERIOD)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/csv")
        assert "kefu-complaints-2026-01-01-2026-01-03.csv" in \
            response.headers["content-disposition"]
        rows = list(csv.DictReader(io.StringIO(response.text)))
        assert [(r["breakdown"], r["category"] or r["status"], r["count"]) for r in rows] == [
            ("by_category", "delivery", "2"), ("by_category", "payment", "1"),
            ("by_status", "open", "1"), ("by_status", "resolved", "2"),
            ("by_category_and_status", "delivery", "1"),
            ("by_category_and_status", "delivery", "1"),
            ("by_category_and_status", "payment", "1")]
        assert [r["status"] for r in rows if r["breakdown"] == "by_category_and_status"] == [
            "open", "resolved", "resolved"]
        volume = http.get("/api/dashboard/volume.csv", params={**PERIOD, "channel": "web"})
        assert volume.text.splitlines() == ["day,conversations,messages", "2026-01-01,1,5",
                                            "2026-01-02,1,4", "2026-01-03,1,1"]
        for kpi in ALL_KPIS:
            assert http.get(f"/api/dashboard/{kpi}.csv", params=PERIOD).status_code == 200
        assert http.get("/api/dashboard/nonsense.csv").status_code == 404


@pytest.mark.parametrize(("params", "reason"), [
    ({"start": "2026-01-05", "end": "2026-01-01"}, "end is before start"),
    ({"start": "2024-01-01", "end": "2026-01-01"}, "at most 366 days"),
    ({"channel": "fax"}, "channel is one of"),
])
def test_a_bad_period_or_channel_gets_a_422_with_the_reason(gateway, params, reason):
    with client(gateway, ADMIN) as http:
        response = http.get("/api/dashboard", params=params)
    assert response.status_code == 422
    assert reason in response.json()["detail"]


def test_the_inbox_groups_and_a_label_goes_to_the_review_file_only(gateway):
    review = gateway.settings.data_path / "review" / "nlu_review.yml"
    with client(gateway, ADMIN) as http:
        body = http.get("/api/dashboard/inbox", params=PERIOD).json()
        # the seeded fallback and the low-confidence message ask the same thing
        assert [(g["label"], g["messages"], g["guessed_intents"]) for g in body["groups"]] == [
            ("can I pay with bitcoin", 2, ["human", "nlu_fallback"])]
        assert body["considered"] == 2
        assert "track_order" in body["intents"]
        refused = http.post("/api/dashboard/inbox/label",
                            json={"intent": "teleport", "texts": ["x"]})
        assert refused.status_code == 422 and "unknown intent" in refused.json()["detail"]
        group = body["groups"][0]
        texts = [t["text"] for t in group["texts"]]
        done = http.post("/api/dashboard/inbox/label",
                         json={"intent": "track_order", "texts": texts})
        assert done.status_code == 200 and done.json()["added"] == texts
        after = http.get("/api/dashboard/inbox", params=PERIOD).json()
    assert after["groups"] == []
    data = yaml.safe_load(review.read_text())
    assert data["nlu"] == [{"intent": "track_order",
                            "examples": "".join(f"- {t}\n" for t in texts)}]
