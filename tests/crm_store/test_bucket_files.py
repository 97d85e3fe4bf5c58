"""Customers' files in an S3-compatible bucket (issue 18's production option): the same
all-or-nothing storing, reading, export and erasure as on disk, through the real boto3 client
against a local S3 server (tests/support/s3_server.py); and the web chat's upload and signed
link with a gateway configured for the bucket."""

from __future__ import annotations

import secrets

import httpx
import pytest
from sqlalchemy import select

from crm_store.db import session_scope
from crm_store.errors import NotFound
from crm_store.models import Attachment
from crm_store.privacy import export_customer, forget_customer
from crm_store.services import attachments, conversations
from crm_store.services.bucket_files import BucketFileStore, open_file_store
from kefu_config.settings import Settings
from tests.conftest import free_port
from tests.crm_store import factories
from tests.support import files as sample
from tests.support.gateway_server import GatewayServer
from tests.support.s3_server import CREDENTIALS, s3_server

LIMITS = {"max_bytes": 10_000_000, "max_pixels": 40_000_000}


@pytest.fixture(scope="module")
def s3():
    with s3_server() as server:
        yield server


@pytest.fixture
def credentials(monkeypatch):
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def bucket(s3, credentials, tmp_path):
    name = s3.new_bucket(f"kefu-{secrets.token_hex(4)}")
    settings = Settings(data_dir=tmp_path, attachments_s3_bucket=name,
                        attachments_s3_endpoint=s3.endpoint, attachments_s3_prefix="files/")
    store = open_file_store(settings)
    assert isinstance(store, BucketFileStore)
    return name, store


def send(session, files, data: bytes, customer_id: int | None = None) -> Attachment:
    chat = conversations.get_or_start(session, channel="web", external_id="bucket-chat")
    staged = files.stage(data, **LIMITS)
    try:
        return attachments.attach(session, files, staged, conversation_id=chat.id,
                                  channel="web", customer_id=customer_id)
    finally:
        files.discard(staged)


def test_a_file_goes_to_the_bucket_once_and_only_when_its_row_commits(store, s3, bucket):
    name, files = bucket
    photo = sample.photo("PNG")
    with session_scope() as session:
        sha = send(session, files, photo).sha256
    assert s3.keys(name) == [f"files/{sha[:2]}/{sha}"]
    assert files.read(sha) == photo
    # The same bytes again: one object; a rolled-back upload of new bytes leaves none.
    with session_scope() as session:
        send(session, files, photo)
    with pytest.raises(RuntimeError), session_scope() as session:
        send(session, files, sample.pdf())
        raise RuntimeError("the unit of work fails after the file was placed")
    assert s3.keys(name) == [f"files/{sha[:2]}/{sha}"]
    # A rolled-back duplicate does not take the first upload's object with it.
    with pytest.raises(RuntimeError), session_scope() as session:
        send(session, files, photo)
        raise RuntimeError("fails")
    assert files.read(sha) == photo
    # Nothing staged is left on disk.
    assert not [p for p in files.root.rglob("*") if p.is_file()]
    with pytest.raises(NotFound):
        files.read("0" * 64)


def test_export_and_forget_read_and_erase_the_bucket(store, bucket):
    name, files = bucket
    with session_scope() as session:
        person = factories.customer(session, "bucket@example.com")
        sha = send(session, files, sample.photo("JPEG"), customer_id=person.id).sha256
    with session_scope() as session:
        exported = export_customer(session, email="bucket@example.com", files=files)
    assert [f["sha256"] for f in exported["files"]] == [sha]
    assert exported["files"][0]["content_base64"]
    with session_scope() as session:
        forget_customer(session, email="bucket@example.com", files=files)
    with session_scope() as session:
        assert session.scalar(select(Attachment)) is None
    with pytest.raises(NotFound):
        files.read(sha)


def test_the_web_chat_uploads_to_the_bucket_and_the_link_reads_from_it(tmp_path, s3,
                                                                       credentials):
    from tests.support.demo_store import fresh_store

    fresh_store(tmp_path)
    name = s3.new_bucket(f"kefu-{secrets.token_hex(4)}")
    settings = Settings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'kefu.db'}",
                        gateway_port=free_port(), rasa_port=free_port(),
                        action_port=free_port(), attachments_s3_bucket=name,
                        attachments_s3_endpoint=s3.endpoint)
    server = GatewayServer(settings).start()
    try:
        data = sample.photo("WEBP")
        response = httpx.post(f"{server.url}/api/chat/attachments",
                              data={"session": secrets.token_urlsafe(18), "client_id": "c1"},
                              files={"file": ("dent.webp", data, "image/webp")}, timeout=30)
        assert response.status_code == 201, response.text
        with session_scope() as session:
            sha = session.scalar(select(Attachment.sha256))
        assert s3.keys(name) == [f"{sha[:2]}/{sha}"]
        link = response.json()["message"]["attachment"]["url"]
        shown = httpx.get(server.url + link, timeout=30)
        assert shown.status_code == 200 and shown.content == data
        assert not (tmp_path / "attachments").exists() or not [
            p for p in (tmp_path / "attachments").rglob("*") if p.is_file()]
    finally:
        server.stop()
