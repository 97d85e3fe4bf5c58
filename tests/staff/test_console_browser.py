"""The agent console in a real browser (Debian's chromium through Playwright) with a Telegram
customer (python-telegram-bot in the gateway against the local Bot API server), the real Rasa
and the real action server: the customer asks for a person, the agent signs in, sees the
customer's whole context, answers, and hands the chat back to the assistant, which asks for a
rating on Telegram."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from crm_store.db import session_scope
from crm_store.models import Conversation, Direction, Message, Ticket, utcnow
from crm_store.services import customers, identities, tickets
from tests.staff.conftest import ANNA, MIA, OPEN_NEXT_STEPS, Account
from tests.support.fake_bot_api import FakeBotApi

pytestmark = pytest.mark.browser

CHAT = 7_770_001
XSS = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>'
REPLY_TIMEOUT = 90


@pytest.fixture
def context(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    yield context
    context.close()


def sign_in(page: Page, base: str, account: Account) -> None:
    page.goto(f"{base}/agent")
    expect(page).to_have_url(f"{base}/login?next=/agent")
    page.fill("#email", account.email)
    page.fill("#password", account.password)
    page.click("#sign-in")


def telegram_texts(bot_api: FakeBotApi) -> list[str]:
    return bot_api.texts(CHAT)


def wait_for_text(bot_api: FakeBotApi, needle: str, what: str) -> str:
    return bot_api.wait_for(lambda: next((t for t in telegram_texts(bot_api) if needle in t),
                                         None), timeout=REPLY_TIMEOUT, what=what)


def test_a_telegram_customer_is_helped_from_the_console(telegram_gateway, bot_api, context):
    base = telegram_gateway.url
    # Emma from the demo shop writes on Telegram, already known to the shop there.
    with session_scope() as session:
        emma = customers.get_by_email(session, email="emma.hughes@example.com")
        identities.link(session, customer_id=emma.id, channel="telegram",
                        external_id=str(CHAT), verified=True, actor="test")
    bot_api.push_text(CHAT, "hello")
    wait_for_text(bot_api, "I'm Kefu", "the greeting")
    bot_api.push_text(CHAT, "/human")
    wait_for_text(bot_api, OPEN_NEXT_STEPS, "what happens next")
    with session_scope() as session:
        conversation = session.scalar(select(Conversation).where(
            Conversation.channel == "telegram", Conversation.external_id == str(CHAT)))
        assert conversation.mode.value == "human" and conversation.customer_id == emma.id
    conversation_id = conversation.id

    page = context.new_page()
    sign_in(page, base, ANNA)
    expect(page).to_have_url(f"{base}/agent")
    cookie = next(c for c in context.cookies() if c["name"] == "kefu_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert page.evaluate("document.cookie") == ""  # scripts cannot read the session
    expect(page.locator("#live-status")).to_have_text("live", timeout=10_000)

    item = page.locator(f'#queue-waiting .queue-item[data-conversation="{conversation_id}"]')
    expect(item).to_contain_text("Emma Hughes")
    expect(item).to_contain_text("telegram")
    item.click()
    # The whole conversation, the assistant's part included, and Emma's context beside it.
    transcript = page.locator("#transcript")
    expect(transcript.locator(".msg.from-customer").first).to_contain_text("hello")
    expect(transcript.locator(".msg.from-bot").first).to_contain_text("I'm Kefu")
    expect(page.locator("#cust-name")).to_have_text("Emma Hughes")
    expect(page.locator("#cust-orders")).to_contain_text("A1178")
    expect(page.locator("#cust-profile")).to_contain_text("emma.hughes@example.com")
    expect(page.locator("#reply-form")).to_be_hidden()

    page.click("#claim")
    expect(page.locator("#reply-form")).to_be_visible()
    expect(page.locator(f'#queue-mine .queue-item[data-conversation="{conversation_id}"]')
           ).to_be_visible()
    wait_for_text(bot_api, "Anna from our team has joined", "the join notice")

    # A canned response, filled in for Emma, sent to her Telegram chat.
    page.select_option("#canned", "greeting")
    expect(page.locator("#reply-text")).to_have_value(
        "Hi Emma, this is Anna from Kefu Demo Shop. I've read the conversation so far — let me "
        "help you with this.")
    page.click("#send")
    wait_for_text(bot_api, "Hi Emma, this is Anna", "the canned reply on Telegram")
    page.fill("#reply-text", "Could you send me a photo of the damage?")
    page.press("#reply-text", "Enter")
    wait_for_text(bot_api, "photo of the damage", "the typed reply on Telegram")
    expect(transcript.locator(".msg.from-agent").last).to_contain_text("photo of the damage")

    # Emma answers with something nasty: the agent reads it as text; nothing runs.
    bot_api.push_text(CHAT, XSS)
    last = transcript.locator(".msg.from-customer").last
    expect(last.locator(".text")).to_have_text(XSS, timeout=20_000)
    assert page.evaluate("window.__xss") is None
    assert transcript.locator("img").count() == 0 and transcript.locator("script").count() == 0
    with session_scope() as session:
        stored = session.scalars(select(Message).where(
            Message.conversation_id == conversation_id,
            Message.direction == Direction.INBOUND).order_by(Message.id)).all()
        assert stored[-1].text == XSS and stored[-1].intent is None  # not sent to Rasa

    page.fill("#note-text", "Emma sounds upset; offer a replacement")
    page.click("#add-note")
    expect(page.locator("#notes")).to_contain_text("offer a replacement")

    page.click("#resolve")
    expect(page.locator("#toast")).to_contain_text("asked for a rating")
    rating = wait_for_text(bot_api, "How would you rate", "the rating question on Telegram")
    assert "1 (poor)" in rating and "5 (excellent)" in rating
    assert not any("offer a replacement" in text for text in telegram_texts(bot_api))
    expect(page.locator(f'#queue-mine .queue-item[data-conversation="{conversation_id}"]')
           ).to_have_count(0)

    # Emma taps five stars on Telegram; the assistant thanks her and the score is kept.
    asked = next(c for c in bot_api.sent(chat_id=CHAT) if "How would you rate" in
                 c.params["text"])
    five = asked.params["reply_markup"]["inline_keyboard"][0][0]
    assert five["text"].startswith("5")
    bot_api.push_callback(CHAT, five["callback_data"], message_id=asked.params["_message_id"])
    wait_for_text(bot_api, "5/5", "the thanks for the rating")
    with session_scope() as session:
        assert session.get(Conversation, conversation_id).satisfaction == 5


def test_tickets_show_sla_breaches_and_can_be_edited(telegram_gateway, context):
    base = telegram_gateway.url
    with session_scope() as session:
        owner = customers.get_by_email(session, email="emma.hughes@example.com")
        late = tickets.open(session, subject="Jacket <b>never</b> arrived", kind="complaint",
                            category="delivery", priority="high", customer_id=owner.id,
                            sla_due_at=utcnow() - timedelta(hours=3))
        ticket_id, reference = late.id, late.reference
    page = context.new_page()
    sign_in(page, base, ANNA)
    page.click("#tab-tickets")
    row = page.locator(f'#ticket-rows tr[data-id="{ticket_id}"]')
    expect(row).to_have_class("ticket-row priority-high breached")
    expect(row).to_contain_text("SLA breached")
    expect(row).to_contain_text("Jacket <b>never</b> arrived")
    row.click()
    form = page.locator("#ticket-edit")
    expect(form).to_be_visible()
    form.locator('select[name="status"]').select_option("pending")
    form.locator('select[name="priority"]').select_option("urgent")
    form.locator('select[name="assignee_id"]').select_option(label="Anna")
    page.click("#ticket-save")
    expect(page.locator("#toast")).to_contain_text(f"{reference} saved")
    with session_scope() as session:
        ticket = session.get(Ticket, ticket_id)
        assert (ticket.status.value, ticket.priority.value) == ("pending", "urgent")
        assert ticket.assignee_id is not None
    # Resolving without saying how is refused, with the reason shown.
    form.locator('select[name="status"]').select_option("resolved")
    page.click("#ticket-save")
    expect(page.locator("#ticket-error")).to_contain_text("resolution")


def test_a_marketer_is_turned_away_from_the_console(telegram_gateway, context):
    page = context.new_page()
    sign_in(page, telegram_gateway.url, MIA)
    # Signed in from /agent, a marketer lands on the marketing console instead...
    expect(page).to_have_url(f"{telegram_gateway.url}/marketing")
    # ...and opening the console itself says why not.
    page.goto(f"{telegram_gateway.url}/agent")
    expect(page.locator("body")).to_contain_text("needs the agent or admin role")
    assert page.locator("#transcript").count() == 0
