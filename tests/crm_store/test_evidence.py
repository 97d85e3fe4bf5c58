"""Photos as evidence (issue 18): a photo belongs to the complaint or return the same chat
opened, whether it came shortly before or after; never to another chat's, a closed one's or an
old one's. SQLite and PostgreSQL (the `store` fixture)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from crm_store.db import session_scope
from crm_store.models import (
    Attachment,
    OrderStatus,
    ReturnStatus,
    TicketKind,
    utcnow,
)
from crm_store.services import attachments, complaints, conversations, evidence, returns, tickets
from crm_store.services.attachments import FileStore
from tests.crm_store import factories
from tests.support import files as sample

LIMITS = {"max_bytes": 10_000_000, "max_pixels": 40_000_000}


@pytest.mark.parametrize("text", [
    "my mug arrived damaged", "the screen is CRACKED", "box was crushed and the lid scratched",
    "you sent me the wrong item", "wrong colour, I ordered green", "this is not what i ordered",
    "the jacket has a ripped seam", "it leaks", "the handle is bent", "a missing part"])
def test_damage_and_wrong_items_ask_for_a_photo(text):
    assert evidence.wants_photo(text)


@pytest.mark.parametrize("text", [
    "doesn't fit", "changed my mind", "my parcel is late", "I was charged twice",
    "the agent was rude", "", None, "wrongly charged", "bentley", "a torrent of emails"])
def test_other_reasons_do_not(text):
    assert not evidence.wants_photo(text)


@pytest.fixture
def files(tmp_path) -> FileStore:
    return FileStore(tmp_path / "attachments")


def send_photo(session, files: FileStore, conversation_id: int, *, minutes_ago: float = 0,
               kind: str = "JPEG") -> Attachment:
    staged = files.stage(sample.pdf() if kind == "PDF" else sample.photo(kind), **LIMITS)
    try:
        row = attachments.attach(session, files, staged, conversation_id=conversation_id,
                                 channel="web", customer_id=None)
    finally:
        files.discard(staged)
    row.created_at = utcnow() - timedelta(minutes=minutes_ago)
    session.flush()
    return row


def chat(session, external_id: str) -> int:
    return conversations.get_or_start(session, channel="web", external_id=external_id).id


def complaint(session, conversation_id: int, text: str = "my mug arrived damaged"):
    ticket, _ = complaints.file_complaint(session, details=text, customer_id=None,
                                          conversation_id=conversation_id, channel="web")
    return ticket


def test_photos_sent_shortly_before_the_complaint_are_added_to_it(store, files):
    with session_scope() as session:
        here, elsewhere = chat(session, "ev-1"), chat(session, "ev-2")
        recent = send_photo(session, files, here, minutes_ago=20)
        pdf = send_photo(session, files, here, minutes_ago=5, kind="PDF")
        old = send_photo(session, files, here, minutes_ago=90)
        other_chat = send_photo(session, files, elsewhere, minutes_ago=5)
        ticket = complaint(session, here)
        added = evidence.link_earlier(session, ticket, conversation_id=here)
        assert [row.id for row in added] == [recent.id, pdf.id]
        assert evidence.label(ticket) == f"complaint {ticket.reference}"
        assert [row.id for row in evidence.for_tickets(session, [ticket.id])[ticket.id]] == \
            [recent.id, pdf.id]
        assert old.ticket_id is None and other_chat.ticket_id is None
        # A second complaint does not take the first one's photos.
        second = complaint(session, here, "and the lid is cracked")
        assert evidence.link_earlier(session, second, conversation_id=here) == []


def test_a_photo_sent_after_goes_to_the_chats_newest_open_complaint_or_return(store, files):
    with session_scope() as session:
        owner = factories.customer(session, "ev@example.com")
        item = factories.product(session, "EV-1")
        factories.order(session, "EV1001", owner, [(item, 1)], status=OrderStatus.DELIVERED,
                        shipped_days_ago=4, delivered_days_ago=2)
        here = chat(session, "ev-3")
        assert evidence.link_new(session, send_photo(session, files, here)) is None
        ticket = complaint(session, here)
        photo = send_photo(session, files, here)
        assert evidence.link_new(session, photo) == f"complaint {ticket.reference}"
        assert photo.ticket_id == ticket.id and photo.return_id is None
        ret = returns.request(session, order_number="EV1001", email="ev@example.com",
                              reason="wrong colour", conversation_id=here)
        ret.created_at = utcnow() + timedelta(seconds=1)  # opened after the complaint
        session.flush()
        photo = send_photo(session, files, here)
        assert evidence.link_new(session, photo) == f"return R-{ret.id}"
        assert photo.return_id == ret.id and photo.ticket_id is None
        # Closed: the complaint is the open case again; resolved too: nothing.
        returns.advance(session, return_id=ret.id, status=ReturnStatus.REJECTED,
                        actor="staff:test")
        assert evidence.open_case(session, conversation_id=here).id == ticket.id
        tickets.resolve(session, ticket_id=ticket.id, resolution="replaced",
                        actor="staff:test")
        assert evidence.link_new(session, send_photo(session, files, here)) is None


def test_an_old_complaint_or_feedback_takes_no_new_photos(store, files):
    with session_scope() as session:
        here = chat(session, "ev-4")
        ticket = complaint(session, here)
        ticket.created_at = utcnow() - evidence.AFTER - timedelta(minutes=1)
        tickets.open(session, subject="More colours please", kind=TicketKind.FEEDBACK,
                     conversation_id=here, actor="bot")
        session.flush()
        assert evidence.link_new(session, send_photo(session, files, here)) is None
