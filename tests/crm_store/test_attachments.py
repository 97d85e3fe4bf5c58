"""Customers' photos and files in the store (issue 18): what is accepted by content, stored
once and whole or not at all, exported with the customer and erased with them. SQLite and
PostgreSQL (the `store` fixture)."""

from __future__ import annotations

import base64

import pytest
from sqlalchemy import func, select

from crm_store.db import session_scope
from crm_store.models import Attachment
from crm_store.privacy import export_customer, forget_customer
from crm_store.services import attachments, conversations
from crm_store.services.attachments import FileStore, Refused
from tests.crm_store import factories
from tests.support import files as sample

LIMITS = {"max_bytes": 10_000_000, "max_pixels": 40_000_000}


def stored_files(store: FileStore) -> list[str]:
    """Every file under the store, staged ones included."""
    return sorted(str(p.relative_to(store.root)) for p in store.root.rglob("*") if p.is_file())


@pytest.fixture
def files(tmp_path) -> FileStore:
    return FileStore(tmp_path / "attachments")


@pytest.mark.parametrize(("data", "kind"), [
    (sample.photo("JPEG"), "image/jpeg"), (sample.photo("PNG"), "image/png"),
    (sample.photo("WEBP"), "image/webp"), (sample.pdf(), "application/pdf")])
def test_photos_and_pdfs_are_taken_by_their_content(files, data, kind):
    staged = files.stage(data, **LIMITS)
    assert staged.checked.content_type == kind
    assert staged.checked.size == len(data)
    files.discard(staged)
    assert stored_files(files) == []


@pytest.mark.parametrize(("data", "code"), [
    (sample.NOT_A_PHOTO, "type"), (sample.gif(), "type"), (b"", "empty"),
    (sample.truncated_jpeg(), "broken"), (sample.bomb_png(), "pixels"),
    (b"%PDF-1.4\n" + b"0" * 2000, "broken")])
def test_bad_files_are_refused_with_a_reason_and_leave_nothing(files, data, code):
    with pytest.raises(Refused) as refused:
        files.stage(data, **LIMITS)
    assert refused.value.code == code
    assert str(refused.value)  # words for the customer
    assert stored_files(files) == []


def test_a_file_over_the_size_limit_is_refused_before_it_is_written(files):
    with pytest.raises(Refused) as refused:
        files.stage(sample.pdf(), max_bytes=1_000, max_pixels=40_000_000)
    assert refused.value.code == "size" and refused.value.status == 413
    assert "1 kB" in str(refused.value)
    assert not files.root.exists() or stored_files(files) == []


def _conversation(session, email: str, external_id: str):
    person = factories.customer(session, email)
    conversation = conversations.get_or_start(session, channel="web", external_id=external_id)
    conversation.customer_id = person.id
    session.flush()
    return person, conversation


def test_a_stored_file_lies_once_under_its_checksum(store, files):
    data = sample.photo("JPEG")
    with session_scope() as session:
        person, conversation = _conversation(session, "jo@example.com", "s" * 20)
        for _ in range(2):  # the same photo sent twice: two rows, one copy of the bytes
            staged = files.stage(data, **LIMITS)
            attachments.attach(session, files, staged, conversation_id=conversation.id,
                               channel="web", customer_id=person.id, name="C:\\phone\\box.jpg")
            files.discard(staged)
    with session_scope() as session:
        rows = list(session.scalars(select(Attachment)))
    assert len(rows) == 2 and rows[0].sha256 == rows[1].sha256
    assert rows[0].original_name == "box.jpg" and rows[0].width == 64
    assert stored_files(files) == [f"{rows[0].sha256[:2]}/{rows[0].sha256}"]
    assert files.read(rows[0].sha256) == data


def test_a_unit_of_work_that_fails_leaves_neither_row_nor_bytes(store, files):
    with pytest.raises(RuntimeError), session_scope() as session:
        person, conversation = _conversation(session, "al@example.com", "t" * 20)
        staged = files.stage(sample.photo("PNG"), **LIMITS)
        try:
            attachments.attach(session, files, staged, conversation_id=conversation.id,
                               channel="web", customer_id=person.id)
        finally:
            files.discard(staged)
        raise RuntimeError("the message could not be stored")
    with session_scope() as session:
        assert session.scalar(select(func.count()).select_from(Attachment)) == 0
    assert stored_files(files) == []


def test_export_has_the_files_and_forget_erases_rows_and_bytes(store, files):
    mine, shared = sample.photo("JPEG"), sample.photo("PNG")
    with session_scope() as session:
        jo, jo_chat = _conversation(session, "jo@example.com", "j" * 20)
        ann, ann_chat = _conversation(session, "ann@example.com", "a" * 20)
        for person, chat, data in ((jo, jo_chat, mine), (jo, jo_chat, shared),
                                   (ann, ann_chat, shared)):
            staged = files.stage(data, **LIMITS)
            attachments.attach(session, files, staged, conversation_id=chat.id, channel="web",
                               customer_id=person.id, name="parcel.jpg")
            files.discard(staged)
    with session_scope() as session:
        exported = export_customer(session, email="jo@example.com", files=files)
    assert [base64.b64decode(f["content_base64"]) for f in exported["files"]] == [mine, shared]
    assert exported["files"][0]["original_name"] == "parcel.jpg"

    with session_scope() as session:
        forget_customer(session, email="jo@example.com", files=files)
    with session_scope() as session:
        left = list(session.scalars(select(Attachment)))
    # Ann's copy of the same picture stays; Jo's own picture is gone, rows and bytes.
    assert [row.customer_id for row in left] == [ann.id]
    assert files.read(left[0].sha256) == shared
    assert stored_files(files) == [f"{left[0].sha256[:2]}/{left[0].sha256}"]
