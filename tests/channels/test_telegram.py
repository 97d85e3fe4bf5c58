"""Telegram: the real python-telegram-bot in the gateway against a local Bot API server.

Long polling (the default) in one gateway for most tests; a second gateway in webhook mode.
Rasa is the real server with the trained model.
"""

from __future__ import annotations

import asyncio
import itertools
import time

import httpx
import pytest
from sqlalchemy import select

from crm_store.db import session_scope
from crm_store.models import Conversation, Customer, Direction, Message
from crm_store.services import customers, delivery, handoffs
from tests.channels.conftest import gateway_settings
from tests.conftest import free_port
from tests.support.fake_bot_api import FakeBotApi
from tests.support.gateway_server import GatewayServer

_chats = itertools.count(5_550_001)


@pytest.fixture(scope="module")
def bot_api():
    with FakeBotApi() as api:
        yield api


@pytest.fixture(scope="module")
def gateway(rasa_settings, bot_api):
    settings = gateway_settings(rasa_settings, telegram_token=bot_api.token,
                                telegram_api_url=bot_api.url)
    server = GatewayServer(settings).start()
    bot_api.wait_for(lambda: bot_api.sent("getUpdates"), what="the bot to start polling")
    yield server
    server.stop()


def conversation(chat_id: int) -> Conversation | None:
    with session_scope() as session:
        return session.scalar(select(Conversation).where(
            Conversation.channel == "telegram", Conversation.external_id == str(chat_id)))


def messages(chat_id: int) -> list[Message]:
    found = conversation(chat_id)
    if found is None:
        return []
    with session_scope() as session:
        return list(session.scalars(select(Message).where(
            Message.conversation_id == found.id).order_by(Message.id)))


def test_a_user_message_gets_the_assistants_reply(gateway, bot_api):
    chat = next(_chats)
    bot_api.push_text(chat, "hello")
    replies = bot_api.wait_for(lambda: bot_api.texts(chat), what="a reply")
    assert any("I'm Kefu" in text for text in replies), replies
    stored = messages(chat)
    assert stored[0].direction == Direction.INBOUND and stored[0].text == "hello"
    assert stored[0].intent == "greet"
    bot_api.wait_for(lambda: all(m.delivery_status.value == "delivered"
                                 for m in messages(chat) if m.direction == Direction.OUTBOUND),
                     what="replies marked delivered")


def test_a_repeated_update_id_is_answered_once(gateway, bot_api):
    chat = next(_chats)
    update = bot_api.push_text(chat, "hi")
    bot_api.wait_for(lambda: bot_api.texts(chat), what="the first answer")
    answers = len(bot_api.texts(chat))
    bot_api.push_update(update)  # Telegram delivering the same update again
    bot_api.wait_for(lambda: [c for c in bot_api.sent("getUpdates")
                              if c.at > bot_api.sent(chat_id=chat)[-1].at],
                     what="the redelivered update to be fetched")
    time.sleep(1.5)  # time enough to answer it, had it been processed again
    assert len(bot_api.texts(chat)) == answers
    assert [m.text for m in messages(chat) if m.direction == Direction.INBOUND] == ["hi"]


def test_an_over_long_message_gets_a_polite_reason_and_is_not_stored(gateway, bot_api):
    chat = next(_chats)
    bot_api.push_text(chat, "why " * 750)  # 3,000 characters: Telegram allows 4,096
    replies = bot_api.wait_for(lambda: bot_api.texts(chat), what="a reply")
    assert replies == ["Sorry, the message is too long (3,000 characters); please keep it to "
                       "2,000 characters or fewer."]
    assert [m.direction for m in messages(chat)] == [Direction.OUTBOUND]


def test_a_429_is_retried_after_retry_after(gateway, bot_api):
    chat = next(_chats)
    bot_api.fail_next("sendMessage", 429, retry_after=2)
    bot_api.push_text(chat, "hello")
    bot_api.wait_for(lambda: bot_api.texts(chat), timeout=60, what="the retried reply")
    refused = [c for c in bot_api.sent(ok_only=False, chat_id=chat) if c.status == 429]
    delivered = bot_api.sent(chat_id=chat)
    assert len(refused) == 1
    assert delivered[0].at - refused[0].at >= 1.9  # Telegram's retry_after was honoured
    first_reply = bot_api.wait_for(
        lambda: (m := next(m for m in messages(chat) if m.direction == Direction.OUTBOUND))
        .delivery_status.value == "delivered" and m, what="the reply marked delivered")
    assert first_reply.attempts == 2  # the refused one and the one that went through


def test_server_errors_are_retried_with_backoff(gateway, bot_api):
    chat = next(_chats)
    bot_api.fail_next("sendMessage", 500, times=2)
    bot_api.push_text(chat, "hello")
    bot_api.wait_for(lambda: bot_api.texts(chat), timeout=60, what="the reply after two 500s")
    failed = [c for c in bot_api.sent(ok_only=False, chat_id=chat) if c.status == 500]
    assert len(failed) == 2
    # Backoff: 1 s after the first failure, 2 s after the second.
    assert failed[1].at - failed[0].at >= 0.9
    assert bot_api.sent(chat_id=chat)[0].at - failed[1].at >= 1.9


def test_a_message_telegram_refuses_is_marked_failed(gateway, bot_api):
    chat = next(_chats)
    bot_api.push_text(chat, "hello")
    bot_api.wait_for(lambda: bot_api.texts(chat), what="the conversation to start")
    conversation_id = conversation(chat).id
    bot_api.fail_next("sendMessage", 403, description="Forbidden: bot was blocked by the user")
    gateway.call(lambda: gateway.gateway.deliver(conversation_id=conversation_id,
                                                 text="Your parcel is on its way."))
    last = bot_api.wait_for(
        lambda: (m := messages(chat)[-1]).delivery_status.value == "failed" and m,
        what="the message to be marked failed")
    assert last.text == "Your parcel is on its way." and "blocked" in last.last_error


def test_buttons_become_an_inline_keyboard_and_a_press_is_answered_once(gateway, bot_api):
    chat = next(_chats)
    bot_api.push_text(chat, "hello")
    bot_api.wait_for(lambda: bot_api.texts(chat), what="the greeting")
    conversation_id = conversation(chat).id
    gateway.call(lambda: gateway.gateway.deliver(
        conversation_id=conversation_id, sender="bot", text="Shall I say hello again?",
        buttons=[{"title": "Yes, greet me", "payload": "/greet"}]))
    sent = bot_api.wait_for(lambda: [c for c in bot_api.sent(chat_id=chat)
                                     if c.params.get("reply_markup")], what="the keyboard")[0]
    button = sent.params["reply_markup"]["inline_keyboard"][0][0]
    assert button["text"] == "Yes, greet me"
    before = len(bot_api.texts(chat))
    update = bot_api.push_callback(chat, button["callback_data"],
                                   message_id=sent.params["_message_id"])
    bot_api.wait_for(lambda: len(bot_api.texts(chat)) > before, what="the answer to the press")
    assert "I'm Kefu" in bot_api.texts(chat)[-1]
    bot_api.push_update(update)
    time.sleep(1.5)
    assert len(bot_api.sent("answerCallbackQuery")) == 1
    assert len(bot_api.texts(chat)) == before + 1
    pressed = [m for m in messages(chat) if m.direction == Direction.INBOUND][-1]
    assert pressed.text == "Yes, greet me" and pressed.payload == {"payload": "/greet"}
    assert bot_api.sent("editMessageReplyMarkup", chat_id=chat)  # keyboard removed


def test_help_and_stop_commands(gateway, bot_api):
    chat = next(_chats)
    bot_api.push_text(chat, "hello")
    bot_api.wait_for(lambda: bot_api.texts(chat), what="the greeting")
    customer_id = conversation(chat).customer_id
    with session_scope() as session:
        customers.set_marketing_consent(session, customer_id=customer_id, opt_in=True,
                                        source="test")
    bot_api.push_text(chat, "/help")
    bot_api.wait_for(lambda: any("/human" in t for t in bot_api.texts(chat)), what="help")
    bot_api.push_text(chat, "/stop")
    bot_api.wait_for(lambda: any("won't receive marketing" in t for t in bot_api.texts(chat)),
                     what="the /stop confirmation")
    with session_scope() as session:
        customer = session.get(Customer, customer_id)
        assert customer.marketing_opt_in is False
        assert customer.marketing_consent_source == "telegram"


def test_human_mode_routes_to_staff_and_agent_replies_are_marked(gateway, bot_api):
    chat = next(_chats)
    bot_api.push_text(chat, "hello")
    bot_api.wait_for(lambda: bot_api.texts(chat), what="the greeting")
    conversation_id = conversation(chat).id
    gateway.call(lambda: gateway.gateway.set_mode(conversation_id, "human"))
    events: list[dict] = []

    async def listen_for_one() -> None:
        async with gateway.app.state.staff_bus.subscribe() as stream:
            async for event in stream:
                if event["type"] == "message" and event["conversation_id"] == conversation_id:
                    events.append(event)
                    return

    listener = asyncio.run_coroutine_threadsafe(listen_for_one(), gateway.loop)
    bot_api.wait_for(lambda: gateway.app.state.staff_bus.subscriber_count, what="subscriber")
    answered = len(bot_api.texts(chat))
    bot_api.push_text(chat, "is anybody there?")
    listener.result(30)
    assert events[0]["message"]["text"] == "is anybody there?"
    assert events[0]["mode"] == "human"
    time.sleep(1.0)
    assert len(bot_api.texts(chat)) == answered  # the bot stayed silent
    gateway.call(lambda: gateway.gateway.deliver(conversation_id=conversation_id,
                                                 text="Hi, I'm Anna. Let me check."))
    text = bot_api.wait_for(lambda: len(bot_api.texts(chat)) > answered
                            and bot_api.texts(chat)[-1], what="the agent's reply")
    assert text == "Team member:\nHi, I'm Anna. Let me check."


def test_sends_to_one_chat_are_spaced_a_second_apart(gateway, bot_api):
    chat = next(_chats)
    bot_api.push_text(chat, "hello")
    bot_api.wait_for(lambda: bot_api.texts(chat), what="the greeting")
    conversation_id = conversation(chat).id
    for n in range(3):
        gateway.call(lambda n=n: gateway.gateway.deliver(conversation_id=conversation_id,
                                                         sender="system", text=f"update {n}"))
    sent = bot_api.wait_for(lambda: (s := [c for c in bot_api.sent(chat_id=chat)
                                           if c.params["text"].startswith("update")])
                            and len(s) == 3 and s, what="three updates")
    assert [c.params["text"] for c in sent] == ["update 0", "update 1", "update 2"]
    assert sent[1].at - sent[0].at >= 0.95 and sent[2].at - sent[1].at >= 0.95


def test_messages_queued_by_another_process_are_delivered(gateway, bot_api):
    """A campaign run from the command line writes a pending message; the gateway sends it."""
    chat = next(_chats)
    bot_api.push_text(chat, "hello")
    bot_api.wait_for(lambda: bot_api.texts(chat), what="the greeting")
    with session_scope() as session:
        delivery.queue_outbound(session, conversation_id=conversation(chat).id,
                                sender_kind="system", text="New rain jackets are in!")
    bot_api.wait_for(lambda: "New rain jackets are in!" in bot_api.texts(chat),
                     what="the queued message")
    bot_api.wait_for(lambda: messages(chat)[-1].delivery_status.value == "delivered",
                     what="it to be marked delivered")


def test_human_command_hands_the_chat_to_a_person(gateway, bot_api):
    chat = next(_chats)
    bot_api.push_text(chat, "hello")
    bot_api.wait_for(lambda: bot_api.texts(chat), what="the greeting")
    answered = len(bot_api.texts(chat))
    bot_api.push_text(chat, "/human")
    bot_api.wait_for(lambda: len(bot_api.texts(chat)) > answered, what="what happens next")
    found = conversation(chat)
    assert found.mode.value == "human"
    with session_scope() as session:
        assert handoffs.active_for(session, conversation_id=found.id) is not None
    answered = len(bot_api.texts(chat))
    bot_api.push_text(chat, "hello")  # now for the person, not the bot
    bot_api.wait_for(lambda: messages(chat)[-1].text == "hello", what="the message stored")
    time.sleep(1.0)
    assert len(bot_api.texts(chat)) == answered


def test_webhook_mode_checks_the_secret(rasa_settings, start_gateway):
    # Another bot (its own token): update ids are only unique per bot.
    with FakeBotApi(token="7000002:AAWebhookBotTokenForKefuTests_abcdefghij") as api:
        port = free_port()
        settings = gateway_settings(
            rasa_settings, gateway_port=port, telegram_token=api.token,
            telegram_api_url=api.url,
            telegram_webhook_url=f"http://127.0.0.1:{port}/webhooks/telegram",
            telegram_webhook_secret="hook-secret_123")
        server = start_gateway(settings)
        api.wait_for(lambda: api.webhook, what="setWebhook")
        assert api.webhook == {"url": f"http://127.0.0.1:{port}/webhooks/telegram",
                               "secret_token": "hook-secret_123"}
        update = {"update_id": 1, "message": {
            "message_id": 1, "date": int(time.time()), "text": "hello",
            "chat": {"id": 4242, "type": "private"},
            "from": {"id": 4242, "is_bot": False, "first_name": "Eve"}}}
        url = f"{server.url}/webhooks/telegram"
        assert httpx.post(url, json=update).status_code == 403
        assert httpx.post(url, json=update, headers={
            "X-Telegram-Bot-Api-Secret-Token": "wrong"}).status_code == 403
        time.sleep(1.0)
        assert api.sent(chat_id=4242) == [] and conversation(4242) is None

        chat = next(_chats)
        api.push_text(chat, "hello")  # posted by the "Telegram" server with the secret
        replies = api.wait_for(lambda: api.texts(chat), what="a reply in webhook mode")
        assert any("I'm Kefu" in t for t in replies)
        assert all(status == 200 for _, status in api.webhook_posts)
        assert not api.sent("getUpdates")  # no polling in webhook mode
