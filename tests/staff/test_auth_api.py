"""Staff sign-in and roles on the real gateway: tokens, browser sessions, CSRF, lockout, and
the answers every staff API gives to the wrong caller (401, 403) or bad input (404, 422)."""

from __future__ import annotations

import json
import re

import httpx
import pytest
from sqlalchemy import select
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from bot.auth import load_secret_key
from crm_store.db import session_scope
from crm_store.models import AuditEntry, StaffSession
from crm_store.services import conversations, staff
from kefu_config.settings import Settings
from tests.staff.conftest import ADA, ANNA, MIA, PASSWORD, Account, token_for

# Depends on the date or time of day: CI runs it at other moments too (.ci/clock-guard).
pytestmark = pytest.mark.clock

STAFF_APIS = [
    ("GET", "/api/handoffs"),
    ("GET", "/api/handoffs/1"),
    ("POST", "/api/handoffs/1/claim"),
    ("POST", "/api/handoffs/1/resolve"),
    ("POST", "/api/handoffs/1/transfer"),
    ("GET", "/api/conversations/1"),
    ("POST", "/api/conversations/1/messages"),
    ("POST", "/api/conversations/1/notes"),
    ("GET", "/api/customers/1"),
    ("GET", "/api/tickets"),
    ("PATCH", "/api/tickets/1"),
    ("GET", "/api/staff"),
    ("GET", "/api/canned-responses"),
]


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _new_account(email: str, role: str = "agent") -> Account:
    with session_scope() as session:
        staff.create_user(session, email=email, password=PASSWORD, role=role)
    return Account(email, role, email.split("@")[0])


@pytest.mark.parametrize(("method", "path"), STAFF_APIS)
def test_every_staff_api_needs_a_signed_in_caller(api_gateway, method, path):
    anonymous = httpx.request(method, api_gateway.url + path, json={"text": "hi"})
    assert anonymous.status_code == 401, anonymous.text
    assert anonymous.headers["www-authenticate"] == "Bearer"
    forged = httpx.request(method, api_gateway.url + path, json={"text": "hi"},
                           headers=_bearer("not-a-token"))
    assert forged.status_code == 401


@pytest.mark.parametrize(("method", "path"), STAFF_APIS)
def test_a_marketer_gets_403_from_the_service_apis(api_gateway, method, path):
    """Marketers never read transcripts, customers' details or tickets."""
    response = httpx.request(method, api_gateway.url + path, json={"text": "hi"},
                             headers=_bearer(token_for(api_gateway, MIA)))
    assert response.status_code == 403
    assert "agent or admin" in response.json()["detail"]


def test_login_gives_a_token_that_logout_ends(api_gateway):
    response = httpx.post(f"{api_gateway.url}/api/auth/login",
                          json={"email": " ANNA@shop.example", "password": PASSWORD})
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer" and body["staff"]["role"] == "agent"
    token = body["token"]
    me = httpx.get(f"{api_gateway.url}/api/auth/me", headers=_bearer(token))
    assert me.json() == {"id": me.json()["id"], "email": ANNA.email, "name": "Anna",
                         "role": "agent"}
    # The store keeps a keyed hash, never the token.
    with session_scope() as session:
        hashes = list(session.scalars(select(StaffSession.token_hash)))
    assert token not in hashes and all(len(h) == 64 for h in hashes)
    assert httpx.post(f"{api_gateway.url}/api/auth/logout",
                      headers=_bearer(token)).status_code == 204
    assert httpx.get(f"{api_gateway.url}/api/auth/me",
                     headers=_bearer(token)).status_code == 401


def test_wrong_credentials_and_bad_login_bodies(api_gateway):
    url = f"{api_gateway.url}/api/auth/login"
    wrong = httpx.post(url, json={"email": ANNA.email, "password": "not the password"})
    assert wrong.status_code == 401 and wrong.json()["detail"] == "wrong email or password"
    unknown = httpx.post(url, json={"email": "who@shop.example", "password": PASSWORD})
    assert unknown.status_code == 401 and unknown.json() == wrong.json()
    missing = httpx.post(url, json={"email": ANNA.email})
    assert missing.status_code == 422 and "password" in missing.text
    extra = httpx.post(url, json={"email": ANNA.email, "password": PASSWORD, "role": "admin"})
    assert extra.status_code == 422 and "role" in extra.text


def test_five_failures_lock_the_account_for_a_while(api_gateway):
    victim = _new_account("locked@shop.example")
    url = f"{api_gateway.url}/api/auth/login"
    codes = [httpx.post(url, json={"email": victim.email, "password": "guess number %d" % i}
                        ).status_code for i in range(5)]
    assert codes == [401, 401, 401, 401, 429]
    locked = httpx.post(url, json={"email": victim.email, "password": PASSWORD})
    assert locked.status_code == 429
    assert "try again in about 15 minutes" in locked.json()["detail"]
    assert 14 * 60 < int(locked.headers["retry-after"]) <= 15 * 60
    # The browser form is locked too.
    form = httpx.post(f"{api_gateway.url}/login",
                      data={"email": victim.email, "password": PASSWORD, "next": "/agent"})
    assert form.status_code == 429 and "Too many failed sign-ins" in form.text
    assert "set-cookie" not in form.headers


def test_a_disabled_account_loses_its_sessions(api_gateway):
    leaver = _new_account("leaver@shop.example")
    token = token_for(api_gateway, leaver)
    assert httpx.get(f"{api_gateway.url}/api/handoffs", headers=_bearer(token)).status_code \
        == 200
    with session_scope() as session:
        user = staff.get_by_email(session, email=leaver.email)
        staff.set_active(session, user_id=user.id, active=False, actor="test")
    assert httpx.get(f"{api_gateway.url}/api/handoffs", headers=_bearer(token)).status_code \
        == 401
    again = httpx.post(f"{api_gateway.url}/api/auth/login",
                       json={"email": leaver.email, "password": PASSWORD})
    assert again.status_code == 401


def test_browser_sign_in_sets_an_httponly_samesite_cookie_and_needs_csrf(api_gateway):
    with httpx.Client(base_url=api_gateway.url) as browser:
        page = browser.get("/agent")
        assert page.status_code == 303 and page.headers["location"] == "/login?next=/agent"
        signed_in = browser.post("/login", data={"email": ANNA.email, "password": PASSWORD,
                                                 "next": "/agent"})
        assert signed_in.status_code == 303 and signed_in.headers["location"] == "/agent"
        cookie = signed_in.headers["set-cookie"]
        assert cookie.startswith("kefu_session=")
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
        console = browser.get("/agent")
        assert console.status_code == 200 and "Agent console" in console.text
        assert console.headers["content-security-policy"].startswith("default-src 'self'")
        assert console.headers["x-frame-options"] == "DENY"
        csrf = re.search(r'name="kefu-csrf" content="([0-9a-f]+)"', console.text).group(1)
        # Reading works with the cookie alone; changing something needs the page's token.
        assert browser.get("/api/handoffs").status_code == 200
        no_token = browser.post("/api/conversations/1/notes", json={"text": "x"})
        assert no_token.status_code == 403 and "X-CSRF-Token" in no_token.json()["detail"]
        wrong = browser.post("/api/conversations/1/notes", json={"text": "x"},
                             headers={"X-CSRF-Token": "0" * 40})
        assert wrong.status_code == 403
        with_token = browser.post("/api/conversations/999999/notes", json={"text": "x"},
                                  headers={"X-CSRF-Token": csrf})
        assert with_token.status_code == 404  # past the CSRF check: no such conversation
        out = browser.post("/logout", data={"csrf": csrf})
        assert out.status_code == 303 and 'kefu_session=""' in out.headers["set-cookie"]
        assert browser.get("/api/handoffs").status_code == 401


def test_login_never_redirects_off_site(api_gateway):
    for evil in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        response = httpx.post(f"{api_gateway.url}/login",
                              data={"email": ANNA.email, "password": PASSWORD, "next": evil})
        assert response.status_code == 303 and response.headers["location"] == "/agent"
    wrong = httpx.post(f"{api_gateway.url}/login",
                       data={"email": ANNA.email, "password": "nope", "next": "/agent"})
    assert wrong.status_code == 401 and "Wrong email or password" in wrong.text


def test_a_marketer_gets_a_403_page_at_the_console(api_gateway):
    with httpx.Client(base_url=api_gateway.url) as browser:
        browser.post("/login", data={"email": MIA.email, "password": PASSWORD,
                                     "next": "/agent"})
        page = browser.get("/agent")
        assert page.status_code == 403
        assert "needs the agent or admin role" in page.text and "transcript" not in page.text


def test_the_staff_websocket_needs_service_staff(api_gateway):
    url = api_gateway.url.replace("http", "ws") + "/ws/staff"
    for headers, code in (({}, 4401), (_bearer("bogus"), 4401),
                          (_bearer(token_for(api_gateway, MIA)), 4403)):
        with connect(url, additional_headers=headers) as ws:
            assert json.loads(ws.recv(timeout=10))["type"] == "error"
            with pytest.raises(ConnectionClosed) as closed:
                ws.recv(timeout=10)
            assert closed.value.rcvd.code == code
    with connect(url, additional_headers=_bearer(token_for(api_gateway, ADA))) as ws:
        hello = json.loads(ws.recv(timeout=10))
        assert hello == {"type": "hello", "staff": {"id": hello["staff"]["id"], "name": "Ada",
                                                    "role": "admin"}}


def test_a_cookie_from_another_site_cannot_open_the_staff_websocket(api_gateway):
    with httpx.Client(base_url=api_gateway.url) as browser:
        browser.post("/login", data={"email": ANNA.email, "password": PASSWORD, "next": "/"})
        cookie = f"kefu_session={browser.cookies['kefu_session']}"
    url = api_gateway.url.replace("http", "ws") + "/ws/staff"
    host = api_gateway.url.removeprefix("http://")
    with connect(url, additional_headers={"Cookie": cookie},
                 origin="http://evil.example") as ws:
        assert json.loads(ws.recv(timeout=10))["type"] == "error"
    with connect(url, additional_headers={"Cookie": cookie}, origin=f"http://{host}") as ws:
        assert json.loads(ws.recv(timeout=10))["type"] == "hello"


def test_unknown_ids_are_404_and_bad_bodies_422(api_gateway, as_staff):
    anna = as_staff(api_gateway, ANNA)
    for method, path in (("GET", "/api/handoffs/999999"),
                         ("POST", "/api/handoffs/999999/claim"),
                         ("POST", "/api/handoffs/999999/resolve"),
                         ("GET", "/api/conversations/999999"),
                         ("GET", "/api/customers/999999")):
        response = anna.http.request(method, path)
        assert response.status_code == 404, (method, path, response.text)
        assert "999999" in response.json()["detail"]
    assert anna.patch("/api/tickets/999999", json={"status": "open"}).status_code == 404
    assert anna.post("/api/conversations/999999/messages",
                     json={"text": "hi"}).status_code == 404
    assert anna.get("/api/handoffs/abc").status_code == 422
    bad_status = anna.get("/api/handoffs", params={"status": "lost"})
    assert bad_status.status_code == 422 and "waiting" in bad_status.text
    with session_scope() as session:
        conversation_id = conversations.append(
            session, channel="rest", external_id="auth-422", direction="inbound",
            sender_kind="customer", text="hi").conversation_id
    empty = anna.post(f"/api/conversations/{conversation_id}/messages", json={"text": "   "})
    assert empty.status_code == 422 and "text" in empty.text
    extra = anna.post(f"/api/conversations/{conversation_id}/messages",
                      json={"text": "hi", "sender": "bot"})
    assert extra.status_code == 422 and "sender" in extra.text
    long = anna.post(f"/api/conversations/{conversation_id}/notes", json={"text": "x" * 5001})
    assert long.status_code == 422
    # In bot mode nobody holds the conversation: a reply is refused with the reason.
    bot_mode = anna.post(f"/api/conversations/{conversation_id}/messages", json={"text": "hi"})
    assert bot_mode.status_code == 409 and "assistant has this conversation" in bot_mode.text
    bad_filter = anna.get("/api/tickets", params={"status": "archived"})
    assert bad_filter.status_code == 422 and "ticket status" in bad_filter.text


def test_the_openapi_document_lists_the_staff_api(api_gateway):
    spec = httpx.get(f"{api_gateway.url}/openapi.json").json()
    for method, path in [("post", "/api/auth/login"), ("get", "/api/handoffs"),
                         ("post", "/api/handoffs/{handoff_id}/claim"),
                         ("post", "/api/handoffs/{handoff_id}/resolve"),
                         ("get", "/api/conversations/{conversation_id}"),
                         ("post", "/api/conversations/{conversation_id}/messages"),
                         ("get", "/api/customers/{customer_id}"), ("get", "/api/tickets"),
                         ("patch", "/api/tickets/{ticket_id}")]:
        assert method in spec["paths"][path], path
    handoff = spec["components"]["schemas"]["HandoffPublic"]["properties"]
    assert {"id", "conversation_id", "customer_id", "channel", "status", "reason",
            "created_at"} <= set(handoff)
    login = spec["paths"]["/api/auth/login"]["post"]["responses"]
    assert {"200", "401", "422", "429"} <= set(login)


def test_sign_ins_and_outs_are_audited(api_gateway):
    token = token_for(api_gateway, ADA)
    httpx.post(f"{api_gateway.url}/api/auth/logout", headers=_bearer(token))
    with session_scope() as session:
        ada = staff.get_by_email(session, email=ADA.email)
        actions = [a.action for a in session.scalars(
            select(AuditEntry).where(AuditEntry.staff_id == ada.id))]
    assert "staff.login" in actions and "staff.logout" in actions


def test_the_development_key_is_kept_private_and_short_keys_are_refused(tmp_path):
    settings = Settings(data_dir=tmp_path)
    key = load_secret_key(settings)
    path = tmp_path / "secret_key"
    assert path.stat().st_mode & 0o777 == 0o600
    assert load_secret_key(settings) == key  # the same key after a restart
    assert load_secret_key(Settings(data_dir=tmp_path, secret_key="k" * 40)) == b"k" * 40
    with pytest.raises(ValueError, match="at least 32 characters"):
        load_secret_key(Settings(data_dir=tmp_path, secret_key="short"))
