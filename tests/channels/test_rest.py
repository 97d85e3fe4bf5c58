"""The REST channel through the gateway, against the real Rasa with the trained model."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select

from crm_store.db import session_scope
from crm_store.models import Conversation, Direction, Message
from tests.channels.conftest import gateway_settings


@pytest.fixture(scope="module")
def gateway(rasa_settings):
    from tests.support.gateway_server import GatewayServer

    server = GatewayServer(gateway_settings(rasa_settings, rest_token=None)).start()
    yield server
    server.stop()


def _messages(sender: str) -> list[Message]:
    with session_scope() as session:
        conversation = session.scalar(select(Conversation).where(
            Conversation.channel == "rest", Conversation.external_id == sender))
        if conversation is None:
            return []
        return list(session.scalars(select(Message).where(
            Message.conversation_id == conversation.id).order_by(Message.id)))


def test_hello_is_answered_and_both_sides_are_stored(gateway):
    response = httpx.post(f"{gateway.url}/webhooks/rest/webhook",
                          json={"sender": "rest-hello", "message": "hello"}, timeout=60)
    assert response.status_code == 200, response.text
    body = response.json()
    assert any("I'm Kefu" in m.get("text", "") for m in body), body
    assert all(m["recipient_id"] == "rest-hello" for m in body)
    stored = _messages("rest-hello")
    inbound = [m for m in stored if m.direction == Direction.INBOUND]
    outbound = [m for m in stored if m.direction == Direction.OUTBOUND]
    assert [m.text for m in inbound] == ["hello"]
    assert inbound[0].intent == "greet" and inbound[0].confidence > 0.5
    assert [m.text for m in outbound] == [m["text"] for m in body]
    assert all(m.delivery_status.value == "delivered" for m in outbound)


def test_a_retried_message_id_is_processed_once(gateway):
    payload = {"sender": "rest-dup", "message": "hi there", "message_id": "m-1"}
    first = httpx.post(f"{gateway.url}/webhooks/rest/webhook", json=payload, timeout=60)
    second = httpx.post(f"{gateway.url}/webhooks/rest/webhook", json=payload, timeout=60)
    assert first.status_code == second.status_code == 200
    assert first.json() and second.json() == []
    assert [m.text for m in _messages("rest-dup") if m.direction == Direction.INBOUND] == \
        ["hi there"]


def test_bad_payloads_get_422_with_the_reason(gateway):
    missing = httpx.post(f"{gateway.url}/webhooks/rest/webhook", json={"message": "hi"})
    assert missing.status_code == 422 and "sender" in missing.text
    empty = httpx.post(f"{gateway.url}/webhooks/rest/webhook", json={"sender": "x", "message": ""})
    assert empty.status_code == 422 and "message" in empty.text
    huge = httpx.post(f"{gateway.url}/webhooks/rest/webhook",
                      content=b'{"sender": "x", "message": "' + b"a" * 1_100_000 + b'"}',
                      headers={"Content-Type": "application/json"})
    assert huge.status_code == 413


def test_human_mode_silences_the_bot_and_agent_replies_can_be_fetched(gateway):
    url = f"{gateway.url}/webhooks/rest"
    httpx.post(f"{url}/webhook", json={"sender": "rest-human", "message": "hello"}, timeout=60)
    conversation_id = _messages("rest-human")[0].conversation_id
    gateway.call(lambda: gateway.gateway.set_mode(conversation_id, "human"))

    quiet = httpx.post(f"{url}/webhook", json={"sender": "rest-human", "message": "hello?"},
                       timeout=60)
    assert quiet.json() == []
    gateway.call(lambda: gateway.gateway.deliver(conversation_id=conversation_id,
                                                 text="Hi, Anna here from the team."))
    fetched = httpx.get(f"{url}/messages", params={"sender": "rest-human"}).json()
    assert fetched == [{"recipient_id": "rest-human", "text": "Hi, Anna here from the team.",
                        "sender": "agent"}]
    assert httpx.get(f"{url}/messages", params={"sender": "rest-human"}).json() == []
    texts = [m.text for m in _messages("rest-human")]
    assert texts[-2:] == ["hello?", "Hi, Anna here from the team."]


def test_a_rest_token_is_required_when_configured(rasa_settings, start_gateway):
    server = start_gateway(gateway_settings(rasa_settings, rest_token="s3cret-token"))
    url = f"{server.url}/webhooks/rest/webhook"
    body = {"sender": "rest-auth", "message": "hello"}
    assert httpx.post(url, json=body).status_code == 401
    assert httpx.post(url, json=body, headers={"Authorization": "Bearer nope"}).status_code == 401
    ok = httpx.post(url, json=body, headers={"Authorization": "Bearer s3cret-token"}, timeout=60)
    assert ok.status_code == 200 and ok.json()
