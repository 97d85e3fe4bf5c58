"""The widget's courtesies (issue 20): a new chat is greeted with what Kefu does and buttons
the bot understands; the length limit is said, not applied silently; a refused message says
why in a proper sentence and stays in the transcript as "Not sent", across reloads.

No Rasa: everything here is the gateway's and the widget's (a message that gets through is
answered with the gateway's own "I can't answer right now"). The gateway takes messages of
up to 300 characters, so the widget must follow the server's limit, not its own 2,000.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest
import yaml
from playwright.sync_api import Page, expect
from websockets.sync.client import connect

from bot.channels import web
from bot.limits import Limiters
from bot.rasa_client import UNAVAILABLE_TEXT
from kefu_config.settings import Settings
from tests.conftest import free_port
from tests.support.conversation_log import inbound_texts
from tests.support.gateway_server import GatewayServer

MAX_CHARS = 300
DOMAIN = web.BOT_DIR.parent / "domain.yml"


@pytest.fixture(scope="module")
def gateway(store_url, tmp_path_factory) -> Iterator[GatewayServer]:
    """A gateway on the demo store; Rasa's port has nobody on it."""
    settings = Settings(data_dir=tmp_path_factory.mktemp("gw"), database_url=store_url,
                        gateway_port=free_port(), rasa_port=free_port(),
                        action_port=free_port(), outbound_sweep_interval=0.5,
                        rasa_timeout=5.0, rest_token=None, max_message_chars=MAX_CHARS)
    server = GatewayServer(settings).start()
    yield server
    server.stop()


@pytest.fixture
def limits_of(gateway):
    """`limits_of(**settings)`: fresh web limits for this test (the tests all come from
    127.0.0.1, so each starts with a full budget); generous ones again afterwards."""
    def set_limits(**overrides) -> None:
        gateway.app.state.limiters = Limiters(gateway.settings.model_copy(update=overrides))

    set_limits()
    yield set_limits
    set_limits()


class Chat:
    def __init__(self, server: GatewayServer, session: str | None = None) -> None:
        self.ws = connect(server.ws_url, open_timeout=10)
        self.ws.send(json.dumps({"type": "hello", "session": session}))
        self.welcome = json.loads(self.ws.recv(10))
        assert self.welcome["type"] == "welcome", self.welcome
        self.session = self.welcome["session"]

    def say(self, text: str) -> dict:
        """Send a message; its ack or its refusal."""
        client_id = uuid.uuid4().hex
        self.ws.send(json.dumps({"type": "message", "client_id": client_id, "text": text}))
        while True:
            frame = json.loads(self.ws.recv(30))
            if frame.get("client_id") == client_id and frame["type"] in ("ack", "error"):
                return frame

    def close(self) -> None:
        self.ws.close()


# --- the protocol ---------------------------------------------------------------------------

def test_a_new_chat_is_greeted_with_what_kefu_does_and_buttons_the_bot_understands(
        gateway, limits_of):
    chat = Chat(gateway)
    welcome = chat.welcome
    assert welcome["history"] == []
    greeting = welcome["greeting"]
    for topic in ("orders", "delivery", "returns", "refunds", "payments", "products", "person"):
        assert topic in greeting
    intents = set(yaml.safe_load(DOMAIN.read_text())["intents"])
    titles = [b["title"] for b in welcome["quick_replies"]]
    assert titles[0] == "Track my order" and "Talk to a person" in titles
    for button in welcome["quick_replies"]:
        assert button["payload"].startswith("/") and button["payload"][1:] in intents, button
    assert welcome["max_chars"] == MAX_CHARS
    assert chat.say("hello")["type"] == "ack"
    chat.close()

    back = Chat(gateway, session=chat.session)
    assert back.welcome["history"] and back.welcome["greeting"] is None
    assert back.welcome["quick_replies"] == []
    back.close()


def test_an_over_long_message_is_refused_at_the_gateways_own_limit(gateway, limits_of):
    chat = Chat(gateway)
    refusal = chat.say("x" * (MAX_CHARS + 1))
    assert (refusal["type"], refusal["reason"]) == ("error", (
        "Sorry, the message is too long (301 characters); please keep it to 300 characters "
        "or fewer."))
    assert "retry_after" not in refusal  # the same message would be refused again
    assert inbound_texts("web", chat.session) == []
    chat.close()


def test_too_many_messages_are_refused_in_a_sentence_that_says_how_long_to_wait(
        gateway, limits_of):
    limits_of(web_ip_max=1, web_ip_window_seconds=600.0)
    chat = Chat(gateway)
    assert chat.say("first")["type"] == "ack"
    refusal = chat.say("second")
    assert refusal["type"] == "error"
    # 600 s from the first message, less the moments since: ten minutes, said as such.
    assert 540 < refusal["retry_after"] <= 600
    assert refusal["reason"] == ("Sorry, that's more messages than we can take at once. "
                                 "Please wait 10 minutes, then send this one again.")
    assert inbound_texts("web", chat.session) == ["first"]
    chat.close()


@pytest.mark.parametrize(("seconds", "words"), [
    (1, "a second"), (45, "45 seconds"), (59, "59 seconds"), (60, "a minute"),
    (61, "2 minutes"), (600, "10 minutes")])
def test_the_wait_is_said_in_words(seconds, words):
    assert web._slow_down(seconds) == (f"Sorry, that's more messages than we can take at once. "
                                       f"Please wait {words}, then send this one again.")


# --- in the browser ---------------------------------------------------------------------------

@pytest.fixture
def page(browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    page = context.new_page()
    yield page
    context.close()


def open_chat(page: Page, gateway: GatewayServer) -> None:
    page.goto(gateway.url + "/")
    page.locator(".kefu-launcher").click()
    expect(page.locator(".kefu-status")).to_have_text("online")


def send(page: Page, text: str) -> None:
    page.locator(".kefu-input").fill(text)
    page.locator(".kefu-input").press("Enter")


ANSWER = UNAVAILABLE_TEXT  # the gateway's answer, with Rasa away


@pytest.mark.browser
def test_the_welcome_buttons_and_the_length_limit_in_the_browser(gateway, limits_of, page):
    open_chat(page, gateway)
    greeting = page.locator(".kefu-welcome")
    expect(greeting).to_have_count(1)
    expect(greeting.locator(".kefu-text")).to_contain_text("orders, delivery, returns")
    expect(page.locator(".kefu-quick-reply")).to_have_count(4)

    # Typing up to the limit: a counter near it, a notice at it (the box cannot take more).
    box, limit = page.locator(".kefu-input"), page.locator(".kefu-limit")
    expect(limit.locator(".kefu-counter")).to_be_hidden()
    expect(limit.get_by_role("status")).to_have_text("")
    box.fill("a" * 250)
    expect(limit.locator(".kefu-counter")).to_have_text("250 / 300")
    expect(limit.get_by_role("status")).to_have_text("")
    box.fill("a" * 400)
    assert len(box.input_value()) == MAX_CHARS
    expect(limit.locator(".kefu-counter")).to_have_text("300 / 300")
    expect(limit.get_by_role("status")).to_have_text(
        "That's the limit of 300 characters for one message. Please send the rest in "
        "another message.")
    # A paste that does not fit says how much was left out.
    box.fill("b" * 100)
    page.evaluate("text => navigator.clipboard.writeText(text)", "c" * 350)
    box.press("End")
    box.press("ControlOrMeta+v")
    expect(limit.get_by_role("status")).to_have_text(
        "Only the first 300 characters fit in one message: the last 150 characters you pasted "
        "were left out. Please send them in another message.")
    assert box.input_value() == "b" * 100 + "c" * 200
    box.fill("")
    expect(limit.locator(".kefu-counter")).to_be_hidden()
    expect(limit.get_by_role("status")).to_have_text("")

    # A quick button sends its words; the welcome stays for this visit only.
    page.locator(".kefu-quick-reply", has_text="Track my order").click()
    expect(page.locator(".kefu-customer .kefu-text")).to_have_text(["Track my order"])
    expect(page.locator(".kefu-customer.kefu-pending")).to_have_count(0)
    expect(page.locator(".kefu-bot .kefu-text").last).to_contain_text(ANSWER)
    expect(page.locator(".kefu-quick-reply")).to_have_count(0)
    page.reload()
    expect(page.locator(".kefu-customer .kefu-text")).to_have_text(["Track my order"])
    expect(page.locator(".kefu-bot .kefu-text")).to_contain_text([ANSWER])
    expect(page.locator(".kefu-welcome")).to_have_count(0)
    expect(page.locator(".kefu-quick-reply")).to_have_count(0)


@pytest.mark.browser
def test_refused_messages_stay_as_not_sent_with_the_reason_across_reloads(
        gateway, limits_of, page):
    limits_of(web_ip_max=1, web_ip_window_seconds=600.0)
    open_chat(page, gateway)
    send(page, "first")
    expect(page.locator(".kefu-bot .kefu-text").last).to_contain_text(ANSWER)
    send(page, "second")
    refused = page.locator(".kefu-customer.kefu-refused")
    expect(refused).to_have_count(1)
    expect(refused.locator(".kefu-text")).to_have_text("second")
    expect(refused.locator(".kefu-not-sent")).to_have_text("Not sent")
    expect(refused.locator(".kefu-reason")).to_have_text(
        "Sorry, that's more messages than we can take at once. Please wait 10 minutes, then "
        "send this one again.")
    expect(refused.locator(".kefu-retry")).to_have_text("Try again")
    expect(page.locator(".kefu-system")).to_have_count(0)  # said on the message, not beside

    # A message queued in this browser that is longer than the gateway takes (written before
    # the shop lowered its limit, say): the gateway refuses it on the next connection.
    page.evaluate("""text => localStorage.setItem('kefu.outbox',
        JSON.stringify([{client_id: 'queued-long', text: text}]))""", "z" * (MAX_CHARS + 1))
    page.reload()
    expect(refused).to_have_count(2)
    expect(refused.last.locator(".kefu-reason")).to_have_text(
        "Sorry, the message is too long (301 characters); please keep it to 300 characters "
        "or fewer.")
    expect(refused.last.locator(".kefu-retry")).to_have_text("Edit")

    # Reloaded again: both still there, where they were, still not sent.
    page.reload()
    texts = page.locator(".kefu-msg .kefu-text")
    expect(texts).to_have_text(["first", ANSWER, "second", "z" * (MAX_CHARS + 1)])
    expect(refused.locator(".kefu-not-sent")).to_have_text(["Not sent", "Not sent"])

    # The wait is over: "Try again" sends it, and it is an ordinary sent message from then on.
    limits_of()
    refused.first.locator(".kefu-retry").click()
    expect(refused).to_have_count(1)
    expect(page.locator(".kefu-customer .kefu-text").filter(has_text="second")).to_have_count(1)
    expect(page.locator(".kefu-customer.kefu-pending")).to_have_count(0)
    expect(page.locator(".kefu-bot .kefu-text")).to_have_count(2)
    # "Edit" puts the long one back in the box, which says what is wrong and does not send it.
    refused.locator(".kefu-retry").click()
    expect(refused).to_have_count(0)
    box = page.locator(".kefu-input")
    assert box.input_value() == "z" * (MAX_CHARS + 1)
    expect(page.locator(".kefu-notice")).to_have_text(
        "This message is 301 characters; please keep it to 300 or fewer.")
    box.press("Enter")
    expect(page.locator(".kefu-notice")).to_have_text(
        "This message is 301 characters; please keep it to 300 or fewer.")
    page.reload()
    expect(page.locator(".kefu-customer .kefu-text")).to_have_text(["first", "second"])
    expect(refused).to_have_count(0)
