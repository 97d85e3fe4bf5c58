"""Every route of the gateway, taken from app.routes: each is either on the public list below
or has an access rule here, and every staff route refuses anonymous callers (401, or the
sign-in page for pages) and callers whose role may not use it (403).

A route added without a rule fails `test_every_route_is_public_or_has_an_access_rule`; a
staff route added without the guard fails the walk.
"""

from __future__ import annotations

import re

import httpx
import pytest
from fastapi.routing import APIWebSocketRoute, iter_route_contexts
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.bad_input.conftest import ACCOUNTS, ADA, ANNA, MIA, bearer

# Open to anyone, each for a reason.
PUBLIC = {
    ("GET", "/healthz"): "health check for load balancers",
    ("GET", "/"): "the shop page with the widget",
    ("GET", "/widget.js"): "the widget",
    ("GET", "/widget.css"): "the widget",
    ("GET", "/static/shop.css"): "the shop page",
    ("GET", "/api/shop/products"): "the catalog any shop visitor sees (catalog fields only)",
    ("WS", "/ws/chat"): "the customer chat; a session is its own random secret",
    ("POST", "/api/chat/attachments"): "the customer chat's photos; a session is its own "
                                        "random secret, files are checked and rate-limited",
    ("GET", "/attachments/{attachment_id}"): "a signed, expiring link for one chat or one "
                                             "signed-in agent (tests/staff/test_attachments.py)",
    ("POST", "/webhooks/rest/webhook"): "the REST channel; KEFU_REST_TOKEN guards it when set",
    ("GET", "/webhooks/rest/messages"): "the REST channel; KEFU_REST_TOKEN guards it when set",
    ("POST", "/webhooks/telegram"): "Telegram's webhook; its secret token header guards it",
    ("POST", "/api/auth/login"): "sign-in",
    ("GET", "/login"): "sign-in",
    ("POST", "/login"): "sign-in",
    ("POST", "/logout"): "sign-out form; does nothing without the session's CSRF token",
    ("GET", "/openapi.json"): "the API's description (no data)",
    ("GET", "/docs"): "the API's description (no data)",
    ("GET", "/docs/oauth2-redirect"): "part of /docs",
    ("GET", "/redoc"): "the API's description (no data)",
    # The consoles' own scripts and styles: code, no data; the pages that use them are guarded.
    ("GET", "/agent/static/{name}"): "console assets",
    ("GET", "/dashboard/static/{name}"): "console assets",
    ("GET", "/marketing/static/{name}"): "console assets",
}

SERVICE = ("agent", "admin")
MARKETING = ("marketer", "admin")
ANY_STAFF = ("agent", "marketer", "admin")
ADMIN = ("admin",)
# Who may use which staff route, by path prefix (first match wins).
RULES: list[tuple[str, tuple[str, ...]]] = [
    ("/api/auth/", ANY_STAFF),
    ("/api/handoffs", SERVICE),
    ("/api/conversations", SERVICE),
    ("/api/canned-responses", SERVICE),
    ("/api/customers", SERVICE),
    ("/api/tickets", SERVICE),
    ("/api/search", SERVICE),
    ("/api/staff", SERVICE),
    ("/api/agents/me", SERVICE),  # one's own online/away status
    ("/api/agents", ADMIN),  # who is online with how many conversations; capacities
    ("/api/dashboard", SERVICE),  # agents see their own figures, admins everyone's
    ("/api/segments", MARKETING),
    ("/api/campaigns", MARKETING),
    ("/agent", SERVICE),
    ("/ws/staff", SERVICE),
    ("/dashboard", SERVICE),
    ("/marketing", MARKETING),
]
# Ids that exist nowhere: a caller who gets past the guard gets a 404 or 422, never a change.
MISSING_ID = "987654"


def all_routes(app) -> list[tuple[str, str]]:
    """(method or "WS", path) for every route of the app, included routers flattened."""
    found = []
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, APIWebSocketRoute):
            found.append(("WS", context.path))
        else:
            found += [(m, context.path) for m in sorted(context.methods or ()) if m != "HEAD"]
    return found


def rule_for(path: str) -> tuple[str, ...] | None:
    return next((roles for prefix, roles in RULES if path.startswith(prefix)), None)


def staff_routes(app) -> list[tuple[str, str, tuple[str, ...]]]:
    return [(method, path, rule_for(path)) for method, path in all_routes(app)
            if (method, path) not in PUBLIC]


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", MISSING_ID, path)


def is_page(path: str) -> bool:
    return not path.startswith("/api/")


def test_every_route_is_public_or_has_an_access_rule(gateway):
    routes = all_routes(gateway.app)
    assert len(routes) > 40  # the walk sees included routers, not just the app's own routes
    unruled = [f"{m} {p}" for m, p in routes if (m, p) not in PUBLIC and rule_for(p) is None]
    assert not unruled, ("routes with no access rule; add them to RULES (staff) or PUBLIC "
                         "(with the reason) in this file: " + ", ".join(unruled))
    stale = [f"{m} {p}" for m, p in PUBLIC if (m, p) not in routes]
    assert not stale, "PUBLIC lists routes that no longer exist: " + ", ".join(stale)


def test_every_staff_route_refuses_anonymous_callers(gateway):
    problems = []
    with httpx.Client(base_url=gateway.url, timeout=30, follow_redirects=False) as client:
        for method, path, _roles in staff_routes(gateway.app):
            if method == "WS":
                continue
            for label, headers in (("anonymous", {}),
                                   ("a made-up token", {"Authorization": "Bearer x" * 3}),
                                   ("a made-up cookie", {"Cookie": "kefu_session=guess"})):
                response = client.request(method, concrete(path), headers=headers, json={})
                if is_page(path):
                    ok = response.status_code == 303 and \
                        response.headers["location"].startswith("/login")
                else:
                    ok = response.status_code == 401
                if not ok:
                    problems.append(f"{method} {path} as {label}: {response.status_code}")
    assert not problems, "\n".join(problems)


def test_every_staff_api_refuses_the_wrong_roles_and_admits_the_right_ones(gateway):
    tokens = {account.role: bearer(gateway, account) for account in (ANNA, MIA, ADA)}
    problems = []
    checked = 0
    with httpx.Client(base_url=gateway.url, timeout=30) as client:
        for method, path, roles in staff_routes(gateway.app):
            if method == "WS" or is_page(path) or path == "/api/auth/logout":
                continue
            for role, headers in tokens.items():
                response = client.request(method, concrete(path), headers=headers, json={})
                checked += 1
                if role in roles and response.status_code in (401, 403):
                    problems.append(f"{method} {path} as {role}: {response.status_code}, "
                                    f"but {role} may use it")
                if role not in roles and response.status_code != 403:
                    problems.append(f"{method} {path} as {role}: {response.status_code}, "
                                    "expected 403")
    assert checked > 60 and not problems, "\n".join(problems)


def signed_in_browser(gateway, account) -> httpx.Client:
    client = httpx.Client(base_url=gateway.url, timeout=30, follow_redirects=False)
    response = client.post("/login", data={"email": account.email, "password": account.password})
    assert response.status_code == 303, response.text
    return client


def test_every_staff_page_refuses_the_wrong_roles(gateway):
    problems = []
    pages = [(m, p, r) for m, p, r in staff_routes(gateway.app)
             if m == "GET" and is_page(p)]
    assert {p for _, p, _ in pages} >= {"/agent", "/dashboard", "/marketing"}
    for account in ACCOUNTS:
        browser = signed_in_browser(gateway, account)
        try:
            for _method, path, roles in pages:
                status = browser.get(concrete(path)).status_code
                # Console assets are public (PUBLIC); what is left here are the pages.
                expected = 200 if account.role in roles else 403
                if status != expected:
                    problems.append(f"GET {path} as {account.role}: {status}, "
                                    f"expected {expected}")
        finally:
            browser.close()
    assert not problems, "\n".join(problems)


def staff_socket_answer(gateway, headers: dict[str, str]) -> dict | int:
    """The first frame of /ws/staff, or the close code when it is closed at once."""
    import json

    with connect(gateway.ws_url.replace("/ws/chat", "/ws/staff"), open_timeout=10,
                 additional_headers=headers) as ws:
        try:
            frame = json.loads(ws.recv(10))
            if frame.get("type") == "error":
                ws.recv(10)
            return frame
        except ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd else 1006


@pytest.mark.parametrize("who, expected", [
    (None, 4401), ("made-up", 4401), (MIA, 4403), (ANNA, "hello"), (ADA, "hello")])
def test_the_staff_socket_admits_service_staff_only(gateway, who, expected):
    websocket_routes = [p for m, p, _ in staff_routes(gateway.app) if m == "WS"]
    assert websocket_routes == ["/ws/staff"]
    headers = {} if who is None else {"Authorization": "Bearer made-up-token"} \
        if who == "made-up" else bearer(gateway, who)
    answer = staff_socket_answer(gateway, headers)
    if expected == "hello":
        assert isinstance(answer, dict) and answer["type"] == "hello", answer
    else:
        assert answer == expected
