"""Issue 18 end to end: a customer complains that an item arrived damaged — on Telegram (the
real python-telegram-bot against the local Bot API server) and in the web widget (a real
browser) — the real Rasa and action server open the complaint and ask for a photo, the photo is
added to the complaint, the conversation goes to the agent who is online, and she sees the
photo in the transcript and on the ticket, and answers."""

from __future__ import annotations

import itertools

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from crm_store.db import session_scope
from crm_store.models import Attachment, Conversation
from crm_store.services import tickets
from tests.staff.conftest import ANNA, everyone_away_and_nothing_waiting
from tests.staff.test_console_browser import sign_in
from tests.support import files as sample

pytestmark = pytest.mark.browser

REPLY_TIMEOUT = 90
COMPLAINT = "I want to make a complaint, the mug I got arrived damaged and the handle is cracked"
PHOTO_ASK = "send a photo of it here"
# Not the chats of the other staff modules in the same session-wide store.
_chats = itertools.count(7_795_001)


@pytest.fixture
def anna_online(telegram_gateway, as_staff):
    """Anna is online (automatic assignment); afterwards everyone is away and her
    conversations are closed, so no later test in the shared store finds her there."""
    anna = as_staff(telegram_gateway, ANNA)
    anna.ok("PUT", "/api/agents/me", json={"status": "online"})
    yield anna
    everyone_away_and_nothing_waiting()


def test_a_telegram_photo_of_a_damaged_item_reaches_the_complaint_and_the_agent(
        telegram_gateway, bot_api, anna_online, browser):
    gateway = telegram_gateway
    chat_id = next(_chats)

    def wait_for(needle: str, what: str) -> str:
        return bot_api.wait_for(lambda: next((t for t in bot_api.texts(chat_id) if needle in t),
                                             None), timeout=REPLY_TIMEOUT, what=what)

    bot_api.push_text(chat_id, COMPLAINT)
    wait_for("particular order", "the question about the order")
    bot_api.push_text(chat_id, "no")
    wait_for("How would you like", "the question about the resolution")
    bot_api.push_text(chat_id, "a new mug please")
    opened = wait_for("I've opened complaint", "the complaint")
    reference = opened.split("complaint ")[1].split(" ")[0]
    ask = wait_for(PHOTO_ASK, "the request for a photo")
    assert f"complaint {reference}" in ask
    data = sample.photo("JPEG", (120, 90), (180, 60, 40))
    bot_api.push_photo(chat_id, data, width=120, height=90)
    wait_for(f"added your photo to complaint {reference}", "the photo acknowledged")
    with session_scope() as session:
        ticket = tickets.get_by_reference(session, reference=reference)
        [photo] = session.scalars(select(Attachment).where(Attachment.ticket_id == ticket.id))
        assert photo.size == len(data) and photo.channel == "telegram"
        ticket_id = ticket.id
        conversation_id = session.scalar(select(Conversation.id).where(
            Conversation.channel == "telegram", Conversation.external_id == str(chat_id)))

    # A person, please: Anna is online, so it goes straight to her.
    bot_api.push_text(chat_id, "/human")
    wait_for("Anna", "Anna joining")
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    sign_in(page, gateway.url, ANNA)
    page.locator(f'#queue-mine .queue-item[data-conversation="{conversation_id}"]').click()
    transcript = page.locator("#transcript")
    thumb = transcript.locator(".attachment img.thumb")
    expect(thumb).to_be_visible()
    expect(transcript).to_contain_text(f"Added to complaint {reference}")
    assert thumb.evaluate("img => img.complete && img.naturalWidth === 120")
    page.fill("#reply-text", "Thanks for the photo — a new mug goes out today.")
    page.press("#reply-text", "Enter")
    wait_for("a new mug goes out today", "Anna's answer on Telegram")

    # And on the ticket itself.
    page.click("#tab-tickets")
    page.locator(f'#ticket-rows tr[data-id="{ticket_id}"]').click()
    on_ticket = page.locator("#ticket-edit-files img.thumb")
    expect(on_ticket).to_be_visible()
    assert on_ticket.evaluate("img => img.complete && img.naturalWidth === 120")
    context.close()


def test_a_widget_photo_of_a_damaged_item_is_added_to_the_complaint(telegram_gateway, browser):
    gateway = telegram_gateway
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{gateway.url}/")
    page.click(".kefu-launcher")
    expect(page.locator(".kefu-status")).to_contain_text("online")
    bot = page.locator(".kefu-bot")

    def say(text: str, then: str) -> None:
        page.fill(".kefu-input", text)
        page.click(".kefu-send")
        expect(bot.filter(has_text=then).last).to_be_visible(timeout=REPLY_TIMEOUT * 1000)

    say(COMPLAINT, "particular order")
    say("no", "How would you like")
    say("a new mug please", PHOTO_ASK)
    reference = bot.filter(has_text="I've opened complaint").last.inner_text() \
        .split("complaint ")[1].split(" ")[0]
    page.locator(".kefu-file").set_input_files(files=[{
        "name": "mug.png", "mimeType": "image/png", "buffer": sample.photo("PNG", (80, 60))}])
    page.click(".kefu-preview-send")
    expect(page.locator(".kefu-customer img.kefu-photo")).to_be_visible()
    expect(page.locator(".kefu-system").last).to_contain_text(
        f"I've added your photo to complaint {reference}")
    with session_scope() as session:
        ticket = tickets.get_by_reference(session, reference=reference)
        [photo] = session.scalars(select(Attachment).where(Attachment.ticket_id == ticket.id))
        assert photo.original_name == "mug.png" and photo.channel == "web"
    context.close()
