"""Every API that takes a body, found from the app's routes: malformed JSON, wrong types and
oversized bodies (with and without Content-Length) get a 4xx with a reason, never a 500.

Requests are made as an admin, so the guard lets them through to the body's validation.
"""

from __future__ import annotations

import httpx
from fastapi.routing import APIRoute, iter_route_contexts
from sqlalchemy import select

from bot.channels.web import UPLOAD_PATH
from crm_store.db import session_scope
from crm_store.models import Conversation
from tests.bad_input.conftest import ADA, bearer

OVER_LIMIT = 1_100_000  # kefu_config/settings.py: max_body_bytes is 1,000,000


def body_routes(app) -> list[tuple[str, str, str]]:
    """(method, concrete path, media type) for every route that reads a request body."""
    found = []
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if not isinstance(route, APIRoute) or route.body_field is None:
            continue
        path = context.path
        for name in route.param_convertors:
            path = path.replace("{" + name + "}", "1")
        form = "form" in type(route.body_field.field_info).__name__.lower()
        for method in sorted(context.methods or ()):
            found.append((method, path, "form" if form else "json"))
    return found


def test_the_walk_finds_the_apis_with_bodies(bare_gateway):
    # If this list shrinks to nothing the other tests here would pass without checking.
    routes = {(m, p) for m, p, _ in body_routes(bare_gateway.app)}
    assert {("POST", "/webhooks/rest/webhook"), ("POST", "/api/auth/login"),
            ("PATCH", "/api/tickets/1"), ("POST", "/api/segments"),
            ("POST", "/api/campaigns"), ("POST", "/login")} <= routes


def test_malformed_json_and_wrong_types_get_422_with_a_reason(bare_gateway):
    headers = bearer(bare_gateway, ADA)
    bad_bodies = {
        "malformed JSON": b'{"text": "unterminated',
        "not UTF-8": b'{"text": "caf\xe9"}',
        "a list": b"[1, 2, 3]",
        "a string": b'"hello"',
        "a number": b"12",
        "null": b"null",
        "wrong field types": b'{"text": 12, "email": [], "sender": {}, "message": false, '
                             b'"status": 3, "name": null, "rules": "x", "password": 1}',
        "deeply nested": b"[" * 5000 + b"]" * 5000,
    }
    problems = []
    with httpx.Client(base_url=bare_gateway.url, timeout=30) as client:
        for method, path, kind in body_routes(bare_gateway.app):
            if kind != "json":
                continue
            for what, body in bad_bodies.items():
                response = client.request(method, path, content=body, headers={
                    **headers, "Content-Type": "application/json"})
                # 422 is FastAPI's answer for a body it cannot use; 400 for one it cannot
                # even decode; 404/409 where the route looks the id up before the body.
                if response.status_code not in (400, 404, 409, 422):
                    problems.append(f"{method} {path} with {what}: {response.status_code} "
                                    f"{response.text[:200]}")
                elif not response.json().get("detail"):
                    problems.append(f"{method} {path} with {what}: no reason given")
    assert not problems, "\n".join(problems)


def test_oversized_bodies_are_refused_with_413_even_when_chunked(bare_gateway):
    headers = bearer(bare_gateway, ADA)

    def chunks():
        # No Content-Length: httpx sends a generator as Transfer-Encoding: chunked.
        piece = b"a" * 65_536
        for _ in range(OVER_LIMIT // len(piece) + 1):
            yield piece

    problems = []
    with httpx.Client(base_url=bare_gateway.url, timeout=30) as client:
        for method, path, kind in body_routes(bare_gateway.app):
            if path == UPLOAD_PATH:
                continue  # a larger limit of its own: the next test
            content_type = "application/json" if kind == "json" else \
                "application/x-www-form-urlencoded"
            declared = client.request(method, path, content=b"a" * OVER_LIMIT,
                                      headers={**headers, "Content-Type": content_type})
            chunked = client.request(method, path, content=chunks(),
                                     headers={**headers, "Content-Type": content_type})
            assert "content-length" not in {k.lower() for k in chunked.request.headers}
            for how, response in (("with Content-Length", declared), ("chunked", chunked)):
                if response.status_code != 413:
                    problems.append(f"{method} {path} {how}: {response.status_code} "
                                    f"{response.text[:200]}")
                elif "1,000,000 bytes" not in response.json()["detail"]:
                    problems.append(f"{method} {path} {how}: reason {response.text}")
    assert not problems, "\n".join(problems)


def test_a_body_just_under_the_limit_is_read(bare_gateway):
    # The limit refuses only what is over it: a 999 kB REST message is read and answered
    # with the message-length rule's own reason, not a 413.
    body = b'{"sender": "big-but-legal", "message": "' + b"a" * 990_000 + b'"}'
    response = httpx.post(f"{bare_gateway.url}/webhooks/rest/webhook", content=body,
                          headers={"Content-Type": "application/json"}, timeout=30)
    assert response.status_code == 422
    assert "too long (990,000 characters)" in response.text


def test_values_the_store_cannot_hold_get_422_and_nothing_is_written(bare_gateway):
    # Found by the schemathesis fuzz on PostgreSQL: ids past 32 bits and NUL characters were
    # 500s. They are the caller's input: a 422 with the database's reason, nothing stored.
    headers = bearer(bare_gateway, ADA)
    sender = "store-limits"
    assert httpx.post(f"{bare_gateway.url}/webhooks/rest/webhook", timeout=30,
                      json={"sender": sender, "message": "hello"}).status_code == 200
    with httpx.Client(base_url=bare_gateway.url, headers=headers, timeout=30) as client:
        huge = client.get("/api/conversations/99999999999")
        assert huge.status_code == 422 and "out of range" in huge.json()["detail"]
        with session_scope() as session:
            conversation_id = session.scalar(select(Conversation.id).where(
                Conversation.channel == "rest", Conversation.external_id == sender))
        note = client.post(f"/api/conversations/{conversation_id}/notes",
                           json={"text": "call back \x00 later"})
        assert note.status_code == 422 and "NUL" in note.json()["detail"]
        transcript = client.get(f"/api/conversations/{conversation_id}").json()
        assert transcript["notes"] == []
    nul_sender = httpx.get(f"{bare_gateway.url}/webhooks/rest/messages",
                           params={"sender": "a\x00b"})
    assert nul_sender.status_code == 422 and "control characters" in nul_sender.text


def test_the_chat_upload_takes_a_photo_but_refuses_bodies_over_its_own_limit(bare_gateway):
    """POST /api/chat/attachments takes a file of KEFU_ATTACHMENT_MAX_BYTES (and its form
    fields), more than the 1 MB of every other body, and no more, chunked or not."""
    limit = bare_gateway.settings.attachment_max_bytes + 64_000
    over = limit + 1_000

    head = (b'--x\r\nContent-Disposition: form-data; name="file"; filename="a.jpg"\r\n'
            b"Content-Type: image/jpeg\r\n\r\n")

    def chunks():
        yield head
        piece = b"a" * 262_144
        for _ in range(over // len(piece) + 1):
            yield piece

    headers = {"Content-Type": "multipart/form-data; boundary=x"}
    with httpx.Client(base_url=bare_gateway.url, timeout=60) as client:
        for response in (client.post(UPLOAD_PATH, content=head + b"a" * over,
                                             headers=headers),
                         client.post(UPLOAD_PATH, content=chunks(), headers=headers)):
            assert response.status_code == 413
            assert f"{limit:,} bytes" in response.json()["detail"]
        # Over the 1 MB of other bodies, under its own: read, and refused for what it is.
        response = client.post(UPLOAD_PATH, data={"session": "s" * 24, "client_id": "c1"},
                               files={"file": ("big.jpg", b"a" * 1_500_000, "image/jpeg")})
        assert response.status_code == 415
