"""Telegram misbehaving: server errors until Kefu gives up, updates delivered twice, and the
webhook while the database is down.

A 429 is honoured exactly (tests/channels/test_telegram.py::test_a_429_is_retried_after_retry_after)
and a couple of 500s are retried with backoff (::test_server_errors_are_retried_with_backoff);
here the 500s do not stop, and the message must end up marked failed, not lost silently.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from kefu.stack import gateway_spec
from tests.conftest import free_port
from tests.faults.conftest import FaultStack, chats, wait_for
from tests.support.fake_bot_api import FakeBotApi

pytestmark = pytest.mark.e2e


def test_a_message_telegram_keeps_refusing_with_500_is_marked_failed(stack):
    api, store = stack.bot_api, stack.store
    chat = next(chats)
    api.push_text(chat, "hello")
    api.wait_for(lambda: api.texts(chat), what="the greeting")
    api.fail_next("sendMessage", 500, times=3)  # the faults gateway gives up after 3
    api.push_text(chat, "hello")
    failed = wait_for(lambda: [m for m in store.messages("telegram", str(chat))
                               if m.delivery_status and m.delivery_status.value == "failed"],
                      timeout=60, what="the reply to be marked failed")
    assert len(failed) == 1
    assert failed[0].attempts == 3
    assert "server error" in failed[0].last_error
    refused = [c for c in api.sent(ok_only=False, chat_id=chat) if c.status == 500]
    assert len(refused) == 3
    # Backoff between the attempts: 1 s, then 2 s.
    assert refused[1].at - refused[0].at >= 0.9 and refused[2].at - refused[1].at >= 1.9
    # Nothing else of that chat went out meanwhile, and it is not retried any more.
    assert len(api.texts(chat)) == 1


def test_the_same_update_polled_twice_at_once_is_stored_and_answered_once(stack):
    api, store = stack.bot_api, stack.store
    chat = next(chats)
    update = api.push_text(chat, "hello")
    api.push_update(update)  # Telegram hands out the same update twice
    api.wait_for(lambda: api.texts(chat), what="the answer")
    wait_for(lambda: store.outbound_texts("telegram", str(chat)), what="the reply stored")
    # A later message proves the bot moved on; by then a second answer would have come.
    api.push_text(chat, "/help")
    api.wait_for(lambda: any("/human" in t for t in api.texts(chat)), what="the help text")
    assert store.inbound_texts("telegram", str(chat)) == ["hello", "/help"]
    assert len(api.texts(chat)) == 2  # one greeting, one help text


@pytest.fixture(scope="module")
def webhook(stack: FaultStack) -> Iterator[tuple[FakeBotApi, str]]:
    """The gateway in webhook mode (another bot), in place of the polling one: two gateways
    on one store would deliver each other's Telegram messages with the wrong bot."""
    port = free_port()
    api = FakeBotApi(token="7000003:AAWebhookFaultsBotToken_abcdefghijklmn").start()
    spec = gateway_spec(stack.settings.model_copy(update={"gateway_port": port}))
    spec.name = "gateway-webhook"
    spec.env.update({**stack.specs["gateway"].env,
                     "KEFU_GATEWAY_PORT": str(port),
                     "KEFU_TELEGRAM_TOKEN": api.token, "KEFU_TELEGRAM_API_URL": api.url,
                     "KEFU_TELEGRAM_WEBHOOK_URL": f"http://127.0.0.1:{port}/webhooks/telegram",
                     "KEFU_TELEGRAM_WEBHOOK_SECRET": "faults-hook-secret"})
    stack.specs[spec.name] = spec
    stack.stop("gateway")
    try:
        stack.start(spec.name)
        api.wait_for(lambda: api.webhook, what="setWebhook")
        yield api, f"http://127.0.0.1:{port}/webhooks/telegram"
    finally:
        stack.stop(spec.name)
        api.stop()
        stack.start("gateway")


def post(url: str, update: dict) -> httpx.Response:
    return httpx.post(url, json=update, timeout=60,
                      headers={"X-Telegram-Bot-Api-Secret-Token": "faults-hook-secret"})


def test_a_webhook_update_posted_twice_at_once_is_stored_and_answered_once(stack, webhook):
    api, url = webhook
    chat = next(chats)
    update = {"update_id": 50_001, "message": {
        "message_id": 1, "date": int(time.time()), "text": "hello",
        "chat": {"id": chat, "type": "private"},
        "from": {"id": chat, "is_bot": False, "first_name": "Eve"}}}
    statuses: list[int] = []
    posts = [threading.Thread(target=lambda: statuses.append(post(url, update).status_code))
             for _ in range(2)]
    for thread in posts:
        thread.start()
    for thread in posts:
        thread.join(60)
    assert statuses == [200, 200]  # both confirmed: Telegram stops sending it
    api.wait_for(lambda: api.texts(chat), what="the answer")
    assert post(url, update).status_code == 200  # and once more, later
    # A later message proves the bot moved on; by then a second answer would have come.
    help_update = {"update_id": 50_003, "message": {**update["message"], "message_id": 3,
                                                    "text": "/help", "entities": [
                                                        {"type": "bot_command", "offset": 0,
                                                         "length": 5}]}}
    assert post(url, help_update).status_code == 200
    api.wait_for(lambda: any("/human" in t for t in api.texts(chat)), what="the help text")
    assert stack.store.inbound_texts("telegram", str(chat)) == ["hello", "/help"]
    assert len(api.texts(chat)) == 2  # one greeting, one help text


def test_webhook_updates_are_refused_while_the_database_is_down(stack, webhook):
    api, url = webhook
    chat = next(chats)
    update = {"update_id": 50_002, "message": {
        "message_id": 2, "date": int(time.time()), "text": "hello",
        "chat": {"id": chat, "type": "private"},
        "from": {"id": chat, "is_bot": False, "first_name": "Eve"}}}
    stack.proxy.cut()
    try:
        refused = post(url, update)
        assert refused.status_code == 503, refused.text  # Telegram will send it again
        assert "Retry-After" in refused.headers
    finally:
        stack.proxy.restore()
    assert stack.store.inbound_texts("telegram", str(chat)) == []
    # Telegram's retry, once the database is back.
    accepted = wait_for(lambda: (r := post(url, update)).status_code == 200 and r,
                        timeout=30, what="the update to be accepted")
    assert accepted.json() == {"ok": True}
    api.wait_for(lambda: api.texts(chat), what="the answer")
    assert stack.store.inbound_texts("telegram", str(chat)) == ["hello"]
