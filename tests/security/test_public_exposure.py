"""What anyone can reach without signing in exposes no customer's data, and guessing ids on
the public channels gets nothing: the web widget's session is its own random secret, the
REST channel is closed to callers without its token when one is set, and the public pages
and catalog carry catalog data only."""

from __future__ import annotations

import json

import httpx
from sqlalchemy import select
from websockets.sync.client import connect

from crm_store.db import session_scope
from crm_store.models import Conversation, Customer, Order


def demo_secrets() -> list[str]:
    """Things of real (demo) customers that must never show on a public route."""
    with session_scope() as session:
        customers = list(session.scalars(select(Customer).where(Customer.email.is_not(None))
                                         .order_by(Customer.id).limit(20)))
        orders = list(session.scalars(select(Order).order_by(Order.id).limit(20)))
        found = [c.email for c in customers] + [o.order_number for o in orders]
        found += [o.tracking_number for o in orders if o.tracking_number]
    assert len(found) > 30
    return found


def test_public_routes_show_no_customer_data(gateway):
    secrets = demo_secrets()
    for path in ("/", "/api/shop/products", "/widget.js", "/openapi.json", "/healthz",
                 "/login", "/webhooks/rest/messages?sender=1"):
        body = httpx.get(gateway.url + path, timeout=30).text
        leaked = [s for s in secrets if s in body]
        assert not leaked, f"{path} shows {leaked[:3]}"


def hello(gateway, **fields) -> dict:
    with connect(gateway.ws_url, open_timeout=10) as ws:
        ws.send(json.dumps({"type": "hello", **fields}))
        return json.loads(ws.recv(10))


def test_guessed_widget_sessions_get_a_new_empty_chat(gateway):
    with session_scope() as session:
        ids = [str(i) for i in session.scalars(select(Conversation.id).limit(3))]
    someone = demo_secrets()[0]
    for guess in ids + ["", "1", "web:1", "../1", "' OR 1=1 --", "a" * 200]:
        welcome = hello(gateway, session=guess)
        assert welcome["type"] == "welcome"
        assert welcome["session"] != guess and len(welcome["session"]) >= 16
        assert welcome["history"] == [] and welcome["verified"] is False
    # Naming a customer's email gets nothing without the shop's signature for it.
    for fields in ({"email": someone}, {"email": someone, "token": "0" * 64}):
        welcome = hello(gateway, **fields)
        assert welcome["history"] == [] and welcome["verified"] is False
        assert welcome["identity"] in ("none", "invalid", "disabled")


def test_with_a_rest_token_the_rest_channel_is_closed_to_guessers(start_gateway):
    gateway = start_gateway(rest_token="integration-token-for-tests-only")
    url = f"{gateway.url}/webhooks/rest"
    assert httpx.get(f"{url}/messages", params={"sender": "alice"}).status_code == 401
    assert httpx.post(f"{url}/webhook", json={"sender": "alice", "message": "hi"}
                      ).status_code == 401
    wrong = httpx.get(f"{url}/messages", params={"sender": "alice"},
                      headers={"Authorization": "Bearer guess"})
    assert wrong.status_code == 401
    right = httpx.get(f"{url}/messages", params={"sender": "alice"},
                      headers={"Authorization": "Bearer integration-token-for-tests-only"})
    assert right.status_code == 200
