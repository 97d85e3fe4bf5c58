"""One customer across channels: a verified web chat gives a one-time code, the customer types
it on Telegram, and both chats belong to the same customer record from then on."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from bot.shop_identity import sign
from crm_store.db import session_scope
from crm_store.models import ChannelIdentity, Conversation, Customer
from crm_store.services import customers
from tests.channels.conftest import gateway_settings
from tests.channels.test_web import Chat, bot_reply
from tests.support.fake_bot_api import FakeBotApi
from tests.support.gateway_server import GatewayServer

# Depends on the date or time of day: CI runs it at other moments too (.ci/clock-guard).
pytestmark = pytest.mark.clock

SHOP_SECRET = "linking-secret"
EMAIL = "emma.hughes@example.com"
CODE = re.compile(r"link code is ([A-Z0-9]{6})")


@pytest.fixture(scope="module")
def bot_api():
    with FakeBotApi(token="7000003:AALinkingBotTokenForKefuTests_abcdefghi") as api:
        yield api


@pytest.fixture(scope="module")
def gateway(rasa_settings, bot_api):
    server = GatewayServer(gateway_settings(
        rasa_settings, shop_secret=SHOP_SECRET, telegram_token=bot_api.token,
        telegram_api_url=bot_api.url)).start()
    bot_api.wait_for(lambda: bot_api.sent("getUpdates"), what="polling")
    yield server
    server.stop()


def identity(channel: str, external_id: str) -> ChannelIdentity | None:
    with session_scope() as db:
        return db.scalar(select(ChannelIdentity).where(
            ChannelIdentity.channel == channel, ChannelIdentity.external_id == external_id))


def ask_for_code(chat: Chat) -> str:
    chat.say("link")
    reply = next(f for f in chat.until(bot_reply, timeout=20) if bot_reply(f))
    match = CODE.search(reply["text"])
    assert match, reply
    return match.group(1)


def test_a_web_chat_and_a_telegram_chat_become_one_customer(gateway, bot_api):
    with session_scope() as db:
        emma = customers.get_by_email(db, email=EMAIL).id
    web = Chat(gateway, email=EMAIL, token=sign(SHOP_SECRET, EMAIL))
    assert web.welcome["verified"]
    code = ask_for_code(web)

    chat_id = 6_660_001
    bot_api.push_text(chat_id, "hello")  # an anonymous Telegram chat first
    bot_api.wait_for(lambda: bot_api.texts(chat_id), what="the greeting")
    anonymous = identity("telegram", str(chat_id)).customer_id
    assert anonymous != emma

    bot_api.push_text(chat_id, f"link {code.lower()}")  # typed as people type
    bot_api.wait_for(lambda: any(t.startswith("Linked!") for t in bot_api.texts(chat_id)),
                     what="the link confirmation")
    telegram = identity("telegram", str(chat_id))
    assert telegram.customer_id == emma and telegram.verified
    with session_scope() as db:
        channels = {c.channel for c in db.scalars(
            select(Conversation).where(Conversation.customer_id == emma))}
        assert {"web", "telegram"} <= channels
        assert db.get(Customer, anonymous) is None  # merged into Emma's record

    # The outbound API reaches her on the channel she used last: Telegram.
    before = len(bot_api.texts(chat_id))
    gateway.call(lambda: gateway.gateway.deliver(customer_id=emma, sender="system",
                                                 text="Your order A1001 has shipped."))
    bot_api.wait_for(lambda: len(bot_api.texts(chat_id)) > before, what="the notification")
    assert bot_api.texts(chat_id)[-1] == "Your order A1001 has shipped."

    # A code works once.
    other_chat = 6_660_002
    bot_api.push_text(other_chat, f"/link {code}")
    bot_api.wait_for(lambda: any("didn't work" in t for t in bot_api.texts(other_chat)),
                     what="the refusal")
    assert identity("telegram", str(other_chat)).customer_id != emma
    web.close()


def test_an_unverified_chat_gets_no_code(gateway):
    chat = Chat(gateway)
    chat.say("hello")
    chat.answered()
    chat.say("link")
    reply = next(f for f in chat.until(bot_reply, timeout=20) if bot_reply(f))
    assert "first need to know it's you" in reply["text"] and not CODE.search(reply["text"])
    chat.close()


def test_guessing_codes_is_stopped(gateway):
    chat = Chat(gateway)
    for attempt in range(6):
        chat.say(f"link ZZZZZ{attempt}")
        reply = next(f for f in chat.until(bot_reply, timeout=20) if bot_reply(f))
    assert reply["text"].startswith("Too many wrong codes")
    chat.close()
