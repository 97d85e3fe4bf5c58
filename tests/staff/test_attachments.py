"""Customers' photos and files through the gateway (issue 18), no dialogue needed: the web
chat's upload, Telegram photos and documents fetched from the (local) Bot API server, the
acknowledgement, staff seeing them in the transcript, and signed links only the right people
can open. Every refusal is checked to leave nothing stored."""

from __future__ import annotations

import itertools
import secrets
import time

import httpx
import pytest
from sqlalchemy import func, select

from crm_store.db import session_scope
from crm_store.models import Attachment, Conversation, Message, OrderStatus
from crm_store.services import complaints, conversations, handoffs, returns
from tests.crm_store import factories
from tests.staff.conftest import ANNA, MIA, gateway_settings
from tests.support import files as sample
from tests.support.gateway_server import GatewayServer

ACK = "Thanks, we've got your photo"
# Not 7_770_001 (test_console_browser.py's chat, in the same session-wide store).
_chats = itertools.count(7_790_001)


@pytest.fixture(scope="module")
def gateway(store_url, bot_api, tmp_path_factory):
    """A gateway with the web chat and Telegram, Rasa's port with nobody on it: photos and
    files never go to the dialogue."""
    settings = gateway_settings(store_url, tmp_path_factory.mktemp("gw-files"),
                                telegram_token=bot_api.token, telegram_api_url=bot_api.url,
                                attachment_customer_max=3)
    server = GatewayServer(settings).start()
    bot_api.wait_for(lambda: bot_api.sent("getUpdates"), what="the bot to start polling")
    yield server
    server.stop()


def new_session() -> str:
    return secrets.token_urlsafe(18)


def upload(server: GatewayServer, session: str, data: bytes, name: str = "parcel.jpg",
           content_type: str = "image/jpeg", caption: str | None = None) -> httpx.Response:
    form = {"session": session, "client_id": secrets.token_hex(6)}
    if caption:
        form["caption"] = caption
    return httpx.post(f"{server.url}/api/chat/attachments", data=form,
                      files={"file": (name, data, content_type)}, timeout=30)


def chat(channel: str, external_id: str) -> tuple[Conversation | None, list[Message]]:
    with session_scope() as session:
        conversation = session.scalar(select(Conversation).where(
            Conversation.channel == channel, Conversation.external_id == external_id))
        if conversation is None:
            return None, []
        return conversation, list(session.scalars(select(Message).where(
            Message.conversation_id == conversation.id).order_by(Message.id)))


def attachment_count() -> int:
    with session_scope() as session:
        return session.scalar(select(func.count()).select_from(Attachment))


def files_on_disk(server: GatewayServer) -> set[str]:
    root = server.settings.attachments_path
    return {p.name for p in root.rglob("*") if p.is_file()} if root.exists() else set()


def wait_for(predicate, what: str, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


# --- the web chat --------------------------------------------------------------------------

def test_a_web_customer_sends_a_photo_sees_it_and_gets_an_acknowledgement(gateway):
    session, data = new_session(), sample.photo("JPEG")
    response = upload(gateway, session, data, caption="the box was crushed")
    assert response.status_code == 201, response.text
    message = response.json()["message"]
    assert message["sender"] == "customer"
    assert message["text"] == "[photo] the box was crushed"
    assert message["attachment"]["type"] == "image/jpeg"
    assert message["attachment"]["name"] == "parcel.jpg"
    # The customer's own link shows them their photo.
    shown = httpx.get(gateway.url + message["attachment"]["url"])
    assert shown.status_code == 200 and shown.content == data
    assert shown.headers["content-type"] == "image/jpeg"
    _, stored = wait_for(lambda: (found := chat("web", session))[1][1:] and found,
                         "the acknowledgement")
    assert stored[0].payload["attachment"]["id"] == message["attachment"]["id"]
    assert stored[1].sender_kind.value == "system" and stored[1].text.startswith(ACK)


@pytest.mark.parametrize(("data", "name", "status", "words"), [
    (sample.NOT_A_PHOTO, "photo.jpg", 415, "I can only take a photo (JPEG, PNG or WebP) or a PDF"),
    (sample.gif(), "funny.gif", 415, "I can only take"),
    (sample.truncated_jpeg(), "cut.jpg", 422, "incomplete or damaged"),
    (sample.bomb_png(), "huge.png", 413, "too large to open"),
], ids=["program-named-jpg", "gif", "truncated", "decompression-bomb"])
def test_a_bad_file_is_refused_with_the_reason_and_nothing_is_stored(gateway, data, name,
                                                                     status, words):
    session, before, disk = new_session(), attachment_count(), files_on_disk(gateway)
    response = upload(gateway, session, data, name=name)
    assert response.status_code == status, response.text
    assert words in response.json()["detail"]
    assert attachment_count() == before
    assert chat("web", session)[1] == []
    assert files_on_disk(gateway) == disk


def test_a_file_over_the_size_limit_gets_413(gateway):
    before = attachment_count()
    big = sample.photo("JPEG") + b"\0" * (gateway.settings.attachment_max_bytes + 10)
    response = upload(gateway, new_session(), big)
    assert response.status_code == 413
    assert attachment_count() == before


def test_too_many_files_from_one_customer_are_refused_for_a_while(gateway):
    session, before = new_session(), attachment_count()
    for colour in range(3):
        assert upload(gateway, session, sample.photo("PNG", colour=(colour, 0, 0))
                      ).status_code == 201
    refused = upload(gateway, session, sample.photo("PNG", colour=(9, 9, 9)))
    assert refused.status_code == 429
    assert "more files than we can take" in refused.json()["detail"]
    assert refused.headers["retry-after"]
    assert attachment_count() == before + 3
    # Another customer is not held up.
    assert upload(gateway, new_session(), sample.photo("PNG")).status_code == 201


# --- who may open a file --------------------------------------------------------------------

@pytest.fixture(scope="module")
def sent_photo(gateway):
    session, data = new_session(), sample.photo("WEBP")
    response = upload(gateway, session, data, name="dent.webp", content_type="image/webp")
    assert response.status_code == 201, response.text
    return session, response.json()["message"], data


def test_staff_see_the_photo_in_the_transcript_and_only_they_can_open_their_link(
        gateway, sent_photo, as_staff):
    session, message, data = sent_photo
    conversation, _ = chat("web", session)
    anna = as_staff(gateway, ANNA)
    transcript = anna.ok("GET", f"/api/conversations/{conversation.id}")
    photo = next(m for m in transcript["messages"] if m["id"] == message["id"])
    assert photo["attachment"]["type"] == "image/webp" and photo["attachment"]["name"] == "dent.webp"
    link = photo["attachment"]["url"]
    assert anna.get(link).content == data
    # The same link without Anna's session, or with a marketer's: refused.
    assert httpx.get(gateway.url + link).status_code == 401
    mia = as_staff(gateway, MIA)
    assert mia.get(link).status_code == 403
    assert mia.get(f"/api/conversations/{conversation.id}").status_code == 403


def test_another_customer_an_altered_or_expired_link_cannot_open_a_file(gateway, sent_photo):
    session, message, _ = sent_photo
    signer = gateway.app.state.attachment_links
    attachment_id = message["attachment"]["id"]
    good = message["attachment"]["url"]
    assert httpx.get(gateway.url + good).status_code == 200
    # Another customer's chat, with a valid link of its own, asking for this file.
    other = upload(gateway, new_session(), sample.photo("PNG")).json()["message"]
    other_viewer = other["attachment"]["url"].split("v=")[1].split("&")[0]
    assert httpx.get(gateway.url + signer.url(attachment_id, other_viewer)).status_code == 404
    # Altered: another file's id under this signature, a changed signature.
    assert httpx.get(gateway.url + good.replace(f"/{attachment_id}?",
                                                f"/{other['attachment']['id']}?")
                     ).status_code == 403
    tampered = good[:-1] + ("0" if good[-1] != "0" else "1")
    assert httpx.get(gateway.url + tampered).status_code == 403
    viewer = good.split("v=")[1].split("&")[0]
    expired = signer.url(attachment_id, viewer, now=time.time() - 2 * signer.seconds)
    assert httpx.get(gateway.url + expired).status_code == 403


# --- Telegram ----------------------------------------------------------------------------------

def test_a_telegram_photo_is_downloaded_stored_and_acknowledged(gateway, bot_api):
    chat_id, data = next(_chats), sample.photo("JPEG", (120, 90))
    bot_api.push_photo(chat_id, data, width=120, height=90, caption="arrived like this")
    texts = bot_api.wait_for(lambda: bot_api.texts(chat_id), what="the acknowledgement")
    assert texts[0].startswith(ACK)
    _, stored = chat("telegram", str(chat_id))
    assert stored[0].text == "[photo] arrived like this"
    with session_scope() as session:
        row = session.scalar(select(Attachment).where(Attachment.message_id == stored[0].id))
    assert row.content_type == "image/jpeg" and row.size == len(data) and row.width == 120
    # Fetched the way the Bot API serves files: getFile, then /file/bot<token>/<file_path>.
    assert bot_api.sent("getFile") and bot_api.sent("file")


def test_a_telegram_pdf_is_stored_and_a_program_sent_as_a_document_is_refused(gateway, bot_api):
    chat_id = next(_chats)
    bot_api.push_document(chat_id, sample.pdf(), file_name="invoice.pdf",
                          mime_type="application/pdf")
    bot_api.wait_for(lambda: bot_api.texts(chat_id), what="the acknowledgement")
    assert bot_api.texts(chat_id)[0].startswith("Thanks, we've got your file")
    before = attachment_count()
    bot_api.push_document(chat_id, sample.NOT_A_PHOTO, file_name="photo.jpg",
                          mime_type="image/jpeg")
    texts = bot_api.wait_for(lambda: bot_api.texts(chat_id)[1:], what="the refusal")
    assert texts[0].startswith("Sorry, I can only take a photo (JPEG, PNG or WebP) or a PDF")
    assert attachment_count() == before
    _, stored = chat("telegram", str(chat_id))
    assert [m.text for m in stored if m.direction.value == "inbound"] == ["[file: invoice.pdf]"]


# --- evidence for an open complaint or return ---------------------------------------------------

def open_complaint(channel: str, external_id: str) -> tuple[int, str]:
    """A complaint opened in this chat, as action_open_complaint opens one."""
    with session_scope() as session:
        chat_id = conversations.get_or_start(session, channel=channel,
                                             external_id=external_id).id
        ticket, _ = complaints.file_complaint(session, details="my mug arrived damaged",
                                              customer_id=None, conversation_id=chat_id,
                                              channel=channel)
        return ticket.id, ticket.reference


def test_a_photo_after_a_complaint_is_added_to_it_and_staff_see_it_on_the_ticket(
        gateway, as_staff):
    session, data = new_session(), sample.photo("PNG")
    ticket_id, reference = open_complaint("web", session)
    response = upload(gateway, session, data, name="handle.png", content_type="image/png")
    assert response.status_code == 201, response.text
    assert response.json()["message"]["attachment"]["case"] == f"complaint {reference}"
    _, stored = wait_for(lambda: (found := chat("web", session))[1][-1].sender_kind.value
                         == "system" and found, "the acknowledgement")
    assert stored[-1].text == (f"Thanks, I've added your photo to complaint {reference} — "
                               "our team will see it there.")
    anna = as_staff(gateway, ANNA)
    [listed] = [t for t in anna.ok("GET", "/api/tickets?status=open")
                if t["id"] == ticket_id]
    [photo] = listed["attachments"]
    assert photo["name"] == "handle.png" and photo["type"] == "image/png"
    assert anna.get(photo["url"]).content == data
    [found] = anna.ok("GET", f"/api/search?q={reference}&kind=tickets")["tickets"]
    assert anna.get(found["attachments"][0]["url"]).content == data


def test_a_telegram_photo_after_a_return_is_added_to_the_return(gateway, bot_api):
    chat_id = next(_chats)
    with session_scope() as session:
        owner = factories.customer(session, f"ret-{chat_id}@example.com")
        item = factories.product(session, f"RET-{chat_id}")
        factories.order(session, f"R{chat_id}", owner, [(item, 1)],
                        status=OrderStatus.DELIVERED, shipped_days_ago=4, delivered_days_ago=2)
        conversation = conversations.get_or_start(session, channel="telegram",
                                                  external_id=str(chat_id))
        ret = returns.request(session, order_number=f"R{chat_id}",
                              email=f"ret-{chat_id}@example.com", reason="wrong colour sent",
                              conversation_id=conversation.id)
        return_id = ret.id
    bot_api.push_photo(chat_id, sample.photo("JPEG"), width=64, height=48)
    [text] = bot_api.wait_for(lambda: bot_api.texts(chat_id), what="the acknowledgement")
    assert text.startswith(f"Thanks, I've added your photo to return R-{return_id}")
    with session_scope() as session:
        assert session.scalar(select(Attachment.return_id).where(
            Attachment.conversation_id == conversation.id)) == return_id


# --- in a real browser: the widget, then the agent console -----------------------------------

@pytest.mark.browser
def test_a_photo_from_the_widget_is_seen_by_the_customer_and_the_agent(gateway, browser):
    from playwright.sync_api import expect

    from tests.staff.test_console_browser import sign_in

    def loaded(locator) -> bool:
        return locator.evaluate("img => img.complete && img.naturalWidth > 0")

    customer = browser.new_context()
    page = customer.new_page()
    page.goto(f"{gateway.url}/")
    page.click(".kefu-launcher")
    expect(page.locator(".kefu-status")).to_contain_text("online")
    page.locator(".kefu-file").set_input_files(files=[{
        "name": "parcel.png", "mimeType": "image/png",
        "buffer": sample.photo("PNG", (80, 60), (30, 160, 60))}])
    # A look before it goes.
    expect(page.locator(".kefu-preview-image")).to_be_visible()
    page.click(".kefu-preview-send")
    expect(page.locator(".kefu-preview")).to_be_hidden()
    photo = page.locator(".kefu-customer img.kefu-photo")
    expect(photo).to_be_visible()
    expect(page.locator(".kefu-system").last).to_contain_text(ACK)
    # After a reload the photo comes with the history, through the customer's signed link.
    page.reload()
    if page.locator(".kefu-panel").is_hidden():
        page.click(".kefu-launcher")
    photo = page.locator(".kefu-customer img.kefu-photo")
    expect(photo).to_be_visible()
    assert photo.get_attribute("src").startswith(f"{gateway.url}/attachments/")
    wait_for(lambda: loaded(photo), "the photo to load from its link")
    session = page.evaluate("localStorage.getItem('kefu.session')")
    conversation, _ = chat("web", session)
    customer.close()

    # The conversation goes to the agents' queue (as the dialogue's handoff does).
    with session_scope() as session:
        handoffs.hand_over(session, conversation_id=conversation.id, reason="damaged parcel")
    staff = browser.new_context()
    console = staff.new_page()
    sign_in(console, gateway.url, ANNA)
    console.locator(f'.queue-item[data-conversation="{conversation.id}"]').first.click()
    thumb = console.locator("#transcript img.thumb")
    expect(thumb).to_be_visible()
    wait_for(lambda: loaded(thumb), "the thumbnail to load from Anna's link")
    staff.close()
