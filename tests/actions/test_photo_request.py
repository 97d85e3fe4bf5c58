"""Issue 18: the complaint and return flows ask for a photo when the item arrived damaged or is
the wrong one — after the complaint/return is open, with a "No photo" way out — and a photo the
customer sent just before is added to it instead of being asked for again."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from actions.complaints import ActionOpenComplaint
from actions.returns import ActionOpenReturn
from crm_store.db import session_scope
from crm_store.models import Attachment, ReturnRequest, Ticket
from crm_store.services import attachments, conversations
from crm_store.services.attachments import FileStore
from tests.actions.conftest import said, tracker
from tests.support import files as sample

SENDER = "web:photo-chat"


def open_complaint(dispatcher, details: str, resolution: str = "a replacement"):
    asyncio.run(ActionOpenComplaint().run(dispatcher, tracker(sender=SENDER, slots={
        "complaint_details": details, "complaint_order": "none",
        "complaint_resolution": resolution}), {}))
    with session_scope() as session:
        return session.scalar(select(Ticket).order_by(Ticket.id.desc()))


def open_return(dispatcher, shop, reason: str):
    asyncio.run(ActionOpenReturn().run(dispatcher, tracker(sender=SENDER, slots={
        "order_id": "A2003", "email": "john@example.com", "customer_id": str(shop["john"]),
        "return_reason": reason}), {}))
    with session_scope() as session:
        return session.scalar(select(ReturnRequest))


def test_a_damaged_item_complaint_asks_for_a_photo_with_a_no_photo_button(shop, dispatcher):
    ticket = open_complaint(dispatcher, "my mug arrived damaged, the handle is cracked")
    opened, ask = dispatcher.messages
    assert f"I've opened complaint {ticket.reference}" in opened["text"]
    assert "send a photo" in ask["text"] and f"complaint {ticket.reference}" in ask["text"]
    assert "No photo? That's fine too." in ask["text"]
    assert ask["buttons"] == [{"title": "No photo", "payload": "/deny"}]


def test_an_urgent_one_asks_without_a_second_no(shop, dispatcher):
    open_complaint(dispatcher, "the heater arrived damaged and smells of smoke, it's unsafe")
    _, ask, urgent = dispatcher.messages
    assert "send a photo" in ask["text"] and not ask.get("buttons")
    assert [b["payload"] for b in urgent["buttons"]] == ["/human_handoff", "/deny"]


def test_a_late_parcel_is_not_asked_for_a_photo(shop, dispatcher):
    open_complaint(dispatcher, "my parcel is two weeks late")
    assert not any("photo" in text for text in said(dispatcher))


def test_a_wrong_item_return_asks_for_a_photo(shop, dispatcher):
    ret = open_return(dispatcher, shop, "you sent me the wrong colour")
    opened, ask = dispatcher.messages
    assert opened["text"].startswith(f"Your return R-{ret.id} for order A2003 is open.")
    assert f"return R-{ret.id}" in ask["text"]
    assert ask["buttons"] == [{"title": "No photo", "payload": "/deny"}]
    with session_scope() as session:
        assert session.get(ReturnRequest, ret.id).conversation_id == conversations.get_or_start(
            session, channel="web", external_id="photo-chat").id


def test_a_return_that_does_not_fit_is_not_asked_for_a_photo(shop, dispatcher):
    open_return(dispatcher, shop, "doesn't fit")
    assert said(dispatcher)[1:] == []


def test_a_photo_sent_just_before_is_added_not_asked_for(shop, dispatcher, tmp_path):
    files = FileStore(tmp_path / "attachments")
    staged = files.stage(sample.photo(), max_bytes=10_000_000, max_pixels=40_000_000)
    with session_scope() as session:
        chat = conversations.get_or_start(session, channel="web", external_id="photo-chat")
        attachments.attach(session, files, staged, conversation_id=chat.id, channel="web",
                           customer_id=None)
    files.discard(staged)
    ticket = open_complaint(dispatcher, "the lamp arrived broken")
    assert said(dispatcher)[1] == f"I've added the photo you sent to complaint {ticket.reference}."
    assert len(dispatcher.messages) == 2
    with session_scope() as session:
        assert session.scalar(select(Attachment.ticket_id)) == ticket.id
