"""`kefu backup` / `kefu restore` (kefu/backup.py, crm_store/backup.py) on the default profile.

Each test gets a shop of its own in a temporary data directory: a migrated SQLite store with
products, customers, orders and tickets, a product index of the same catalog (the real bundled
model, loaded once: tests/knowledge/conftest.py), and a generated secret key. The last tests
run the commands as a shop would (`kefu backup`, `kefu restore`, `kefu prepare`, `kefu
knowledge search`) and put the gateway on a restored data directory.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tarfile
import threading
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from bot.auth import load_secret_key
from crm_store import backup as store_backup
from crm_store import db, migrate
from crm_store.models import Attachment, Customer, Order, Product, Ticket
from crm_store.services import attachments, conversations, customers, staff, tickets
from crm_store.services.attachments import FileStore
from kefu.backup import BackupError, NotApplicable, create_backup, read_manifest, restore_backup
from kefu.demo import load_if_empty
from kefu_config.settings import REPO_ROOT, Settings, get_settings
from knowledge.service import KnowledgeService
from tests.conftest import free_port
from tests.crm_store import factories
from tests.knowledge.conftest import CATALOG, embedder  # noqa: F401 - the shared model fixture
from tests.support import files as sample
from tests.support.gateway_server import GatewayServer

KEFU = Path(sys.executable).parent / "kefu"
CLEARED_ENV = ("KEFU_DATABASE_URL", "KEFU_PROFILE", "KEFU_SECRET_KEY", "KEFU_REPLICAS")


def use_data_dir(monkeypatch, data: Path):
    """Point settings and the store at `data`, as KEFU_DATA_DIR would."""
    monkeypatch.setenv("KEFU_DATA_DIR", str(data))
    get_settings.cache_clear()
    db.reset_engine()
    return get_settings()


@pytest.fixture(autouse=True)
def _clean_settings(monkeypatch):
    for name in CLEARED_ENV:
        monkeypatch.delenv(name, raising=False)
    yield
    db.reset_engine()
    get_settings.cache_clear()


def fill_store() -> None:
    with db.session_scope() as session:
        products = {}
        for item in CATALOG:
            products[item.sku] = Product(sku=item.sku, name=item.name, category=item.category,
                                         price=item.price, description=item.description,
                                         stock=item.stock, tags=list(item.tags))
            session.add(products[item.sku])
        session.flush()
        for n in range(5):
            person = factories.customer(session, f"buyer{n}@example.com", name=f"Buyer {n}")
            placed = factories.order(session, f"KF-{1000 + n}", person,
                                     [(products["HIK-001"], 1), (products["KIT-002"], n + 1)])
            tickets.open(session, subject=f"Where is KF-{1000 + n}?", customer_id=person.id,
                         order_id=placed.id, category="delivery")


@pytest.fixture
def shop(tmp_path, monkeypatch, embedder):  # noqa: F811
    settings = use_data_dir(monkeypatch, tmp_path / "shop")
    migrate.upgrade()
    fill_store()
    KnowledgeService(settings.data_path / "knowledge").build(CATALOG, source="test")
    load_secret_key(settings)
    return settings


def snapshot_of_store() -> dict[str, list[tuple]]:
    """Every customer, order (with its lines) and ticket, as plain values."""
    with db.session_scope() as session:
        return {
            "customers": [(c.email, c.name) for c in
                          session.scalars(select(Customer).order_by(Customer.email))],
            "orders": [(o.order_number, o.status.value, str(o.total),
                        sorted((line.product_id, line.quantity) for line in o.lines))
                       for o in session.scalars(select(Order).order_by(Order.order_number))],
            "tickets": [(t.reference, t.subject, t.status.value, t.order_id) for t in
                        session.scalars(select(Ticket).order_by(Ticket.reference))],
        }


def listing(directory: Path) -> dict[str, str]:
    """Every file under `directory` with its checksum (what "nothing written" compares)."""
    if not directory.exists():
        return {}
    return {str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(directory.rglob("*")) if p.is_file()}


def rewrite_archive(source: Path, target: Path, *, replace: dict[str, bytes] | None = None,
                    manifest: dict | None = None) -> None:
    """A copy of an archive with some members' bytes (and optionally the manifest) replaced."""
    replace = dict(replace or {})
    if manifest is not None:
        replace["manifest.json"] = json.dumps(manifest).encode()
    with tarfile.open(source) as src, tarfile.open(target, "w:gz") as dst:
        for member in src:
            data = replace.get(member.name, src.extractfile(member).read())
            member.size = len(data)
            dst.addfile(member, io.BytesIO(data))


# ---- backup ------------------------------------------------------------------------------------

def test_backup_while_another_thread_writes_is_a_consistent_snapshot(shop, tmp_path, monkeypatch):
    # Two pages a step and a pause at each progress line: the copy takes many steps, and the
    # writer commits between them.
    monkeypatch.setattr(store_backup, "PAGES_PER_STEP", 2)
    committed: list[str] = []
    stop = threading.Event()
    failures: list[BaseException] = []

    def writer() -> None:
        try:
            n = 0
            while not stop.is_set():
                email = f"live{n}@example.com"
                with db.session_scope() as session:
                    customers.get_or_create_by_email(session, email=email)
                committed.append(email)
                n += 1
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            failures.append(exc)

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    try:
        while len(committed) < 50:
            time.sleep(0.01)
        before = list(committed)
        lines: list[str] = []

        def echo(line: str) -> None:
            lines.append(line)
            time.sleep(0.05)

        archive = tmp_path / "live.tar.gz"
        create_backup(shop, archive, echo=echo)
        during = len(committed) - len(before)
    finally:
        stop.set()
        thread.join(10)
    assert not failures, failures
    assert during > 0, "the writer never committed while the backup ran"
    assert any("customer store: " in line and "%" in line for line in lines), lines

    with tarfile.open(archive) as tar:
        tar.extract("kefu.db", tmp_path / "unpacked", filter="data")
    copy = sqlite3.connect(tmp_path / "unpacked" / "kefu.db")
    assert copy.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    emails = {row[0] for row in copy.execute("SELECT email FROM customers")}
    assert set(before) <= emails
    assert copy.execute("PRAGMA journal_mode").fetchone() == ("delete",)
    copy.close()


def test_the_manifest_lists_revision_time_and_checksums(shop, tmp_path):
    archive = tmp_path / "b.tar.gz"
    create_backup(shop, archive)
    manifest = read_manifest(archive)
    assert manifest["format"] == 1
    assert manifest["alembic_revision"] == migrate.head_revision()
    assert manifest["created_at"]
    meta = json.loads((shop.data_path / "knowledge" / "meta.json").read_text())
    assert set(manifest["files"]) == {"kefu.db", "secret_key", "knowledge/meta.json",
                                      f"knowledge/{meta['index_file']}"}
    with tarfile.open(archive) as tar:
        for name, entry in manifest["files"].items():
            data = tar.extractfile(name).read()
            assert hashlib.sha256(data).hexdigest() == entry["sha256"]
            assert len(data) == entry["bytes"]
    assert archive.stat().st_mode & 0o077 == 0  # personal data and the secret key inside


def test_backup_never_overwrites_a_file(shop, tmp_path):
    archive = tmp_path / "b.tar.gz"
    archive.write_text("keep me")
    with pytest.raises(BackupError, match="exists"):
        create_backup(shop, archive)
    assert archive.read_text() == "keep me"


# ---- restore -----------------------------------------------------------------------------------

def test_restore_into_an_empty_directory_gives_the_same_shop(shop, tmp_path, monkeypatch):
    before = snapshot_of_store()
    key = load_secret_key(shop)
    archive = tmp_path / "b.tar.gz"
    create_backup(shop, archive)

    restored = use_data_dir(monkeypatch, tmp_path / "new-machine" / "var")
    lines: list[str] = []
    restore_backup(restored, archive, echo=lines.append)
    assert any("kefu prepare" in line for line in lines), lines

    assert migrate.current_revision() == migrate.head_revision()
    assert snapshot_of_store() == before
    assert load_secret_key(restored) == key
    assert (restored.data_path / "secret_key").stat().st_mode & 0o077 == 0
    # `kefu prepare` leaves a restored store alone: it has a catalog.
    assert load_if_empty().loaded is False
    hits = KnowledgeService(restored.data_path / "knowledge").search("waterproof rain jacket", k=3)
    assert hits and hits[0].item.sku == "HIK-001"


def test_customers_files_come_back_with_the_shop_and_force_drops_the_replaced_ones(
        shop, tmp_path, monkeypatch):
    files = FileStore(shop.attachments_path)
    photo, document = sample.photo("PNG"), sample.pdf()
    with db.session_scope() as session:
        chat = conversations.get_or_start(session, channel="web", external_id="backup-chat")
        for data in (photo, document):
            staged = files.stage(data, max_bytes=10_000_000, max_pixels=40_000_000)
            attachments.attach(session, files, staged, conversation_id=chat.id, channel="web",
                               customer_id=None)
            files.discard(staged)
    archive = tmp_path / "b.tar.gz"
    lines: list[str] = []
    create_backup(shop, archive, echo=lines.append)
    assert "customers' files: copying 2 (0.0 MB) ..." in lines
    # A file sent after the backup belongs to the store a forced restore replaces.
    later = files.stage(sample.photo("JPEG"), max_bytes=10_000_000, max_pixels=40_000_000)
    files.place(later)
    files.discard(later)
    db.reset_engine()

    restore_backup(shop, archive, force=True)
    with db.session_scope() as session:
        shas = [row.sha256 for row in session.scalars(select(Attachment).order_by(Attachment.id))]
    assert [files.read(sha) for sha in shas] == [photo, document]
    assert sorted(p.name for p in shop.attachments_path.glob("??/*")) == sorted(shas)

    elsewhere = use_data_dir(monkeypatch, tmp_path / "new-machine" / "var")
    restore_backup(elsewhere, archive)
    assert [FileStore(elsewhere.attachments_path).read(sha) for sha in shas] == [photo, document]


def test_restore_refuses_a_directory_that_is_not_empty(shop, tmp_path):
    archive = tmp_path / "b.tar.gz"
    create_backup(shop, archive)
    before = listing(shop.data_path)
    with pytest.raises(BackupError, match="not empty.*--force"):
        restore_backup(shop, archive)
    assert listing(shop.data_path) == before


def test_force_replaces_the_store_the_index_and_the_key(shop, tmp_path, monkeypatch):
    expected = snapshot_of_store()
    key = load_secret_key(shop)
    archive = tmp_path / "b.tar.gz"
    create_backup(shop, archive)
    with db.session_scope() as session:
        customers.get_or_create_by_email(session, email="after-the-backup@example.com")
    (shop.data_path / "secret_key").unlink()
    load_secret_key(shop)  # a new key, as after losing the old one
    db.reset_engine()  # the shop is stopped before a forced restore

    restore_backup(shop, archive, force=True)
    assert not (shop.data_path / "kefu.db-wal").exists()
    assert snapshot_of_store() == expected
    assert load_secret_key(shop) == key


def _refused(settings, archive: Path, match: str) -> None:
    parent = settings.data_path.parent
    before = listing(parent)
    with pytest.raises(BackupError, match=match):
        restore_backup(settings, archive)
    assert listing(parent) == before, "a refused restore wrote something"
    assert not list(parent.glob(".kefu-restore-*"))


@pytest.fixture
def good_archive(shop, tmp_path, monkeypatch) -> tuple[Path, object]:
    """(an archive of the shop, settings for an empty data directory to restore it into)."""
    archive = tmp_path / "good.tar.gz"
    create_backup(shop, archive)
    target = tmp_path / "target"
    target.mkdir()
    return archive, use_data_dir(monkeypatch, target / "var")


def test_restore_refuses_a_file_that_is_not_an_archive(good_archive, tmp_path):
    _, settings = good_archive
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"\x1f\x8b this is not gzip at all" * 100)
    _refused(settings, junk, "not a usable Kefu backup")


def test_a_refused_restore_creates_no_directories(tmp_path, monkeypatch):
    settings = use_data_dir(monkeypatch, tmp_path / "new" / "machine" / "var")
    junk = tmp_path / "junk.tar.gz"
    junk.write_text("junk")
    with pytest.raises(BackupError, match="not a usable Kefu backup"):
        restore_backup(settings, junk)
    assert not (tmp_path / "new").exists()


def test_restore_refuses_a_truncated_archive(good_archive, tmp_path):
    archive, settings = good_archive
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    _refused(settings, cut, "not a usable Kefu backup")


def test_restore_refuses_an_archive_without_a_manifest(good_archive, tmp_path):
    archive, settings = good_archive
    bare = tmp_path / "bare.tar.gz"
    with tarfile.open(archive) as src, tarfile.open(bare, "w:gz") as dst:
        for member in src:
            if member.name != "manifest.json":
                dst.addfile(member, src.extractfile(member))
    _refused(settings, bare, "no manifest.json")


def test_restore_refuses_a_checksum_mismatch(good_archive, tmp_path):
    archive, settings = good_archive
    with tarfile.open(archive) as tar:
        store = bytearray(tar.extractfile("kefu.db").read())
    store[-100] ^= 0xFF
    altered = tmp_path / "altered.tar.gz"
    rewrite_archive(archive, altered, replace={"kefu.db": bytes(store)})
    _refused(settings, altered, "checksum mismatch for kefu.db")


def _with_revision(archive: Path, target: Path, revision: str) -> None:
    """The archive with its store (and manifest, checksums and all) at another revision."""
    work = target.parent / f"{target.stem}-work"
    with tarfile.open(archive) as tar:
        tar.extractall(work, filter="data")
    connection = sqlite3.connect(work / "kefu.db")
    connection.execute("UPDATE alembic_version SET version_num = ?", (revision,))
    connection.commit()
    connection.close()
    manifest = json.loads((work / "manifest.json").read_text())
    data = (work / "kefu.db").read_bytes()
    manifest["alembic_revision"] = revision
    manifest["files"]["kefu.db"] = {"sha256": hashlib.sha256(data).hexdigest(),
                                    "bytes": len(data)}
    rewrite_archive(archive, target, replace={"kefu.db": data}, manifest=manifest)
    shutil.rmtree(work)


def test_restore_refuses_an_archive_from_a_newer_schema(good_archive, tmp_path):
    archive, settings = good_archive
    newer = tmp_path / "newer.tar.gz"
    _with_revision(archive, newer, "9999")
    _refused(settings, newer, "revision 9999.*newer Kefu")


def test_restore_refuses_a_newer_archive_format(good_archive, tmp_path):
    archive, settings = good_archive
    manifest = read_manifest(archive)
    manifest["format"] = 2
    future = tmp_path / "future.tar.gz"
    rewrite_archive(archive, future, manifest=manifest)
    _refused(settings, future, "archive format 2")


def test_restore_refuses_a_damaged_store_with_matching_checksums(good_archive, tmp_path):
    archive, settings = good_archive
    manifest = read_manifest(archive)
    data = b"not a database" * 1000
    manifest["files"]["kefu.db"] = {"sha256": hashlib.sha256(data).hexdigest(),
                                    "bytes": len(data)}
    broken = tmp_path / "broken.tar.gz"
    rewrite_archive(archive, broken, replace={"kefu.db": data}, manifest=manifest)
    _refused(settings, broken, "not a SQLite database")


def test_an_older_schema_is_restored_for_prepare_to_upgrade(good_archive, tmp_path):
    archive, settings = good_archive
    older = tmp_path / "older.tar.gz"
    _with_revision(archive, older, "0006")  # only the version row: enough for the check
    restore_backup(settings, older)
    assert migrate.current_revision() == "0006"


# ---- the command line --------------------------------------------------------------------------

def test_backup_on_the_production_profile_points_at_the_deploy_docs(tmp_path, monkeypatch):
    from kefu.cli import app

    monkeypatch.setenv("KEFU_PROFILE", "production")
    use_data_dir(monkeypatch, tmp_path / "var")
    for args in (["backup", str(tmp_path / "b.tar.gz")], ["restore", str(tmp_path / "b.tar.gz")]):
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 2, result.output
        assert "PostgreSQL" in result.output and "docs/deploy.md" in result.output
    assert not (tmp_path / "b.tar.gz").exists()
    with pytest.raises(NotApplicable):
        create_backup(get_settings(), tmp_path / "b.tar.gz")


def test_restore_refusal_on_the_command_line_exits_non_zero(good_archive, tmp_path):
    from kefu.cli import app

    junk = tmp_path / "junk.tar.gz"
    junk.write_text("junk")
    result = CliRunner().invoke(app, ["restore", str(junk)])
    assert result.exit_code == 1
    assert "restore refused" in result.output and "Nothing was restored" in result.output


def kefu(*args: str, data: Path) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if key not in CLEARED_ENV}
    env.update(KEFU_DATA_DIR=str(data), HF_HUB_OFFLINE="1")
    return subprocess.run([str(KEFU), *args], cwd=REPO_ROOT, env=env, capture_output=True,
                          text=True, timeout=300)


def test_restored_shop_prepares_and_answers_product_questions(shop, tmp_path):
    """The commands a shop runs: backup, restore on a new machine, prepare, search."""
    archive = tmp_path / "shop.tar.gz"
    done = kefu("backup", str(archive), data=shop.data_path)
    assert done.returncode == 0, done.stderr
    assert "backup written" in done.stdout

    fresh = tmp_path / "fresh" / "var"
    done = kefu("restore", str(archive), data=fresh)
    assert done.returncode == 0, done.stderr
    done = kefu("prepare", data=fresh)
    assert done.returncode == 0, done.stderr
    assert "demo shop not loaded" in done.stdout
    assert "product index:" in done.stdout
    done = kefu("knowledge", "search", "waterproof rain jacket", "--json", "-k", "1", data=fresh)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1])["results"][0]["sku"] == "HIK-001"


def test_a_restored_shop_serves_staff_signed_in_before_the_backup(shop, tmp_path, monkeypatch):
    """The gateway on the restored data directory: a staff API token issued before the backup
    (its session is in the store, its signature from the secret key) still opens a customer's
    profile with the same orders and tickets."""
    with db.session_scope() as session:
        staff.create_user(session, email="anna@shop.example", password="correct horse battery",
                          role="agent", name="Anna")
        buyer = customers.get_by_email(session, email="buyer3@example.com").id

    def gateway_on(settings) -> GatewayServer:
        return GatewayServer(Settings(data_dir=settings.data_path, gateway_port=free_port(),
                                      rasa_port=free_port(), action_port=free_port()))

    archive = tmp_path / "running.tar.gz"
    with gateway_on(shop) as server:
        login = httpx.post(f"{server.url}/api/auth/login",
                           json={"email": "anna@shop.example", "password": "correct horse battery"})
        assert login.status_code == 200, login.text
        headers = {"Authorization": f"Bearer {login.json()['token']}"}
        profile = httpx.get(f"{server.url}/api/customers/{buyer}", headers=headers)
        assert profile.status_code == 200, profile.text
        create_backup(shop, archive)  # while the gateway runs
    db.reset_engine()

    restored = use_data_dir(monkeypatch, tmp_path / "restored" / "var")
    restore_backup(restored, archive)
    with gateway_on(restored) as server:
        again = httpx.get(f"{server.url}/api/customers/{buyer}", headers=headers)
        assert again.status_code == 200, again.text
        assert again.json() == profile.json()
        assert [o["order_number"] for o in again.json()["orders"]] == ["KF-1003"]
        assert len(again.json()["tickets"]) == 1
