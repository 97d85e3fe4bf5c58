"""Rate limits a caller notices: a 429 with Retry-After and the reason, and what was refused
is not processed. Limits are lowered per gateway (app.state.limiters) so the tests are quick;
the defaults and their variables are in kefu_config/settings.py.

Other client IPs come in as X-Forwarded-For from 127.0.0.1, which uvicorn trusts by default
(--forwarded-allow-ips): the way a load balancer in front of the gateway reports them.
"""

from __future__ import annotations

import json
import uuid

import httpx
from websockets.sync.client import connect

from bot.channels import web
from bot.limits import Limiters
from tests.bad_input.conftest import ADA
from tests.support.conversation_log import inbound_texts

# What the widget's customer reads when refused within a 600-second window (bot/channels/web.py).
REFUSED = ("Sorry, that's more messages than we can take at once. Please wait 10 minutes, then "
           "send this one again.")


def lowered(server, **limits) -> None:
    server.app.state.limiters = Limiters(server.settings.model_copy(update=limits))


def from_ip(ip: str) -> dict[str, str]:
    return {"X-Forwarded-For": ip}


def assert_429(response: httpx.Response, reason: str) -> None:
    assert response.status_code == 429, response.text
    assert reason in response.json()["detail"]
    assert 1 <= int(response.headers["Retry-After"]) <= 3600


def test_one_ip_cannot_try_many_addresses(start_gateway):
    gateway = start_gateway()
    lowered(gateway, login_ip_max_failures=4)
    url = f"{gateway.url}/api/auth/login"
    attacker = from_ip("203.0.113.7")
    for n in range(4):  # four different addresses: the per-address lockout never triggers
        wrong = httpx.post(url, json={"email": f"user{n}@shop.example", "password": "guess"},
                           headers=attacker)
        assert wrong.status_code == 401, wrong.text
    # Now even the right password is refused from that IP, on the API and the form...
    right = {"email": ADA.email, "password": ADA.password}
    assert_429(httpx.post(url, json=right, headers=attacker),
               "too many failed sign-ins from your network address")
    form = httpx.post(f"{gateway.url}/login", data=right, headers=attacker)
    assert form.status_code == 429 and "Too many failed sign-ins" in form.text
    assert int(form.headers["Retry-After"]) >= 1
    # ...while Ada, signing in from her own IP, is not locked out by the attacker.
    assert httpx.post(url, json=right, headers=from_ip("198.51.100.20")).status_code == 200


def test_successful_sign_ins_do_not_count_against_the_ip(start_gateway):
    gateway = start_gateway()
    lowered(gateway, login_ip_max_failures=2)
    office = from_ip("192.0.2.50")
    for _ in range(5):
        response = httpx.post(f"{gateway.url}/api/auth/login", headers=office,
                              json={"email": ADA.email, "password": ADA.password})
        assert response.status_code == 200, response.text


def test_the_rest_channel_limits_each_sender_and_each_ip(start_gateway):
    gateway = start_gateway()
    lowered(gateway, rest_sender_max=3, rest_ip_max=5)
    url = f"{gateway.url}/webhooks/rest/webhook"
    sender = f"chatty-{uuid.uuid4().hex[:6]}"
    ip = from_ip("203.0.113.40")
    for n in range(3):
        assert httpx.post(url, json={"sender": sender, "message": f"hi {n}"}, headers=ip,
                          timeout=30).status_code == 200
    assert_429(httpx.post(url, json={"sender": sender, "message": "hi 3"}, headers=ip,
                          timeout=30), f"too many messages from sender '{sender}'")
    # The refused message was not stored (and not answered).
    assert inbound_texts("rest", sender) == ["hi 0", "hi 1", "hi 2"]
    # The same IP under other senders: two more fit in its five, then it is refused.
    for other in ("a", "b"):
        assert httpx.post(url, json={"sender": f"{sender}-{other}", "message": "hello"},
                          headers=ip, timeout=30).status_code == 200
    assert_429(httpx.post(url, json={"sender": f"{sender}-c", "message": "hello"}, headers=ip,
                          timeout=30), "too many messages from this address")
    assert inbound_texts("rest", f"{sender}-c") == []
    # Another IP is not affected.
    assert httpx.post(url, json={"sender": f"{sender}-d", "message": "hello"},
                      headers=from_ip("198.51.100.41"), timeout=30).status_code == 200


def test_the_web_widget_limits_messages_per_connection(start_gateway, monkeypatch):
    # A long window, so a slow (shared) machine cannot let the oldest message age out of it
    # before the last one is counted; the count is what is under test.
    monkeypatch.setattr(web, "RATE_WINDOW", 600.0)
    gateway = start_gateway()
    with connect(gateway.ws_url, open_timeout=10) as ws:
        ws.send(json.dumps({"type": "hello"}))
        session = json.loads(ws.recv(10))["session"]
        answers: dict[str, str] = {}
        sent = [f"m{n}" for n in range(web.RATE_MAX + 3)]
        for client_id in sent:
            ws.send(json.dumps({"type": "message", "client_id": client_id,
                                "text": f"message {client_id}"}))
        while len(answers) < len(sent):
            frame = json.loads(ws.recv(30))
            if frame["type"] in ("ack", "error") and frame.get("client_id") in sent:
                answers[frame["client_id"]] = frame["type"] if frame["type"] == "ack" \
                    else frame["reason"]
    assert [answers[c] for c in sent[:web.RATE_MAX]] == ["ack"] * web.RATE_MAX
    assert [answers[c] for c in sent[web.RATE_MAX:]] == \
        [REFUSED] * 3
    assert inbound_texts("web", session) == [f"message {c}" for c in sent[:web.RATE_MAX]]


def test_fresh_web_connections_from_one_ip_get_no_fresh_budget(start_gateway):
    gateway = start_gateway()
    lowered(gateway, web_ip_max=2, web_ip_window_seconds=600.0)
    answers: list[str] = []
    sessions: list[str] = []
    for n in range(3):  # a script opening a new websocket for every message
        with connect(gateway.ws_url, open_timeout=10) as ws:
            ws.send(json.dumps({"type": "hello"}))
            sessions.append(json.loads(ws.recv(10))["session"])
            ws.send(json.dumps({"type": "message", "client_id": f"c{n}", "text": f"hello {n}"}))
            while True:
                frame = json.loads(ws.recv(30))
                if frame.get("client_id") == f"c{n}" and frame["type"] in ("ack", "error"):
                    answers.append(frame["type"] if frame["type"] == "ack" else frame["reason"])
                    break
    assert answers == ["ack", "ack", REFUSED]
    assert inbound_texts("web", sessions[2]) == []
