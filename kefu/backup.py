"""`kefu backup FILE` and `kefu restore FILE` on the default profile: one archive with everything
a shop needs to come back on another machine.

The archive (a gzipped tar, mode 0600: it holds personal data and the secret key) contains
- `manifest.json`: archive format, the store's Alembic revision, when it was made, and the
  SHA-256 and size of every other member;
- `kefu.db`: the SQLite customer store, copied with SQLite's online backup API from one
  snapshot while Kefu keeps running (crm_store/backup.py);
- `knowledge/meta.json` and the FAISS file it names: the product index, copied under the
  index's write lock so the two always belong together;
- `secret_key`: the generated key that signs staff sessions and API tokens (bot/auth.py),
  unless KEFU_SECRET_KEY comes from the environment (then the archive says so and the key
  must be kept with the deployment's environment);
- `review/nlu_review.yml` when the dashboard has written one into the data directory;
- `attachments/<sha[:2]>/<sha>`: customers' photos and files (crm_store/services/attachments.py),
  copied after the store's snapshot. Their bytes are written before the row that names them is
  committed and never change, so every file the snapshot names is there; one erased between the
  snapshot and the copy (`kefu customer forget`) is simply missing, as it should be.

The index may be a moment older or newer than the store's snapshot; `kefu prepare` after a
restore brings it in line with the restored catalog, embedding only what differs.

Restoring checks everything (archive readable, every checksum, a store SQLite finds intact, a
schema this Kefu knows) in a staging directory before anything in the data directory changes.
The production profile keeps its data in PostgreSQL: docs/deploy.md ("Backup and restore").
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tarfile
import tempfile
import zlib
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from crm_store.backup import StoreBackupError, check_copy, check_revision, copy_sqlite, sqlite_path
from kefu_config import clock
from kefu_config.settings import Settings

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
STORE_MEMBER = "kefu.db"
KNOWLEDGE_DIR = "knowledge"
# bot/auth.py keeps the generated key here (SECRET_FILE); the name is part of the data
# directory's layout, so it is spelt out rather than imported from the channel layer's module.
SECRET_MEMBER = "secret_key"
REVIEW_MEMBER = "review/nlu_review.yml"
# Customers' files, restored into KEFU_ATTACHMENTS_DIR (by default <data>/attachments).
ATTACHMENTS_DIR = "attachments"

Echo = Callable[[str], None]


class BackupError(RuntimeError):
    """A backup or restore that was refused or failed; nothing was written."""


class NotApplicable(BackupError):
    """The customer store is not a SQLite file (the production profile)."""


def _not_applicable(command: str) -> NotApplicable:
    return NotApplicable(
        f"kefu {command} covers the default profile's SQLite store; this configuration keeps "
        "the customer store in PostgreSQL. Back it up with pg_dump and restore it with "
        "pg_restore, with the product index and the secret key: docs/deploy.md, section "
        "\"Backup and restore\".")


def _store_file(settings: Settings, command: str) -> Path:
    path = sqlite_path(settings.resolved_database_url)
    if settings.profile == "production" or path is None:
        raise _not_applicable(command)
    return path


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _mb(size: int) -> str:
    return f"{size / 1e6:.1f} MB"


def _store_progress(echo: Echo) -> Callable[[int, int], None]:
    """A line at every tenth of the copy (only for stores of more than one step)."""
    shown = {"tenth": 0}

    def report(done: int, total: int) -> None:
        tenth = done * 10 // total if total else 10
        if tenth > shown["tenth"] and done < total:
            shown["tenth"] = tenth
            echo(f"  customer store: {done * 100 // total}% ({done} of {total} pages)")

    return report


@dataclass
class BackupResult:
    path: Path
    manifest: dict
    notes: list[str] = field(default_factory=list)


# ---- backup ---------------------------------------------------------------------------------

def create_backup(settings: Settings, file: Path, echo: Echo = lambda _line: None) -> BackupResult:
    """Write the archive to `file` (which must not exist yet); consistent while Kefu runs."""
    store = _store_file(settings, "backup")
    file = file.resolve()
    if file.exists():
        raise BackupError(f"{file} exists; choose another name (a backup never overwrites)")
    if not file.parent.is_dir():
        raise BackupError(f"{file.parent} is not a directory")
    data = settings.data_path
    notes: list[str] = []
    staging = Path(tempfile.mkdtemp(prefix=".kefu-backup-", dir=file.parent))
    try:
        size = _mb(store.stat().st_size) if store.exists() else "?"
        echo(f"customer store: copying {store} ({size}) ...")
        try:
            revision = copy_sqlite(store, staging / STORE_MEMBER, _store_progress(echo))
        except StoreBackupError as exc:
            raise BackupError(str(exc)) from exc
        members = [STORE_MEMBER]
        echo(f"customer store: copied, schema revision {revision or 'none'}")

        members += _copy_index(data / KNOWLEDGE_DIR, staging, echo, notes)

        if settings.secret_key:
            notes.append("secret key: KEFU_SECRET_KEY is set in the environment, so no key file "
                         "is archived; keep that value with the deployment's environment")
        elif (data / SECRET_MEMBER).is_file():
            shutil.copy2(data / SECRET_MEMBER, staging / SECRET_MEMBER)
            members.append(SECRET_MEMBER)
        else:
            notes.append("secret key: none generated yet (the gateway makes one when it starts)")

        if (data / REVIEW_MEMBER).is_file():
            (staging / REVIEW_MEMBER).parent.mkdir(parents=True)
            shutil.copy2(data / REVIEW_MEMBER, staging / REVIEW_MEMBER)
            members.append(REVIEW_MEMBER)

        if settings.attachments_s3_bucket:
            notes.append(f"customers' files: kept in the bucket {settings.attachments_s3_bucket}"
                         ", not in this archive; back the bucket up with its own versioning "
                         "or replication")
        else:
            members += _copy_attachments(settings.attachments_path, staging, echo)

        manifest = {
            "format": FORMAT_VERSION,
            "created_at": clock.now().isoformat(timespec="seconds"),
            "alembic_revision": revision,
            "files": {name: {"sha256": _sha256(staging / name),
                             "bytes": (staging / name).stat().st_size} for name in members},
        }
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
        _write_archive(staging, [MANIFEST, *members], file, echo)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    for note in notes:
        echo(note)
    echo(f"backup written: {file} ({_mb(file.stat().st_size)})")
    return BackupResult(file, manifest, notes)


def _copy_index(directory: Path, staging: Path, echo: Echo, notes: list[str]) -> list[str]:
    """meta.json and the FAISS file it names, under the index's write lock (a sync running at
    the same moment waits a second rather than replacing the file between the two copies)."""
    from knowledge.index_store import META_FILE, write_lock

    if not (directory / META_FILE).is_file():
        notes.append("product index: none in the data directory; `kefu prepare` builds one "
                     "after a restore")
        return []
    target = staging / KNOWLEDGE_DIR
    target.mkdir()
    with write_lock(directory):
        meta_bytes = (directory / META_FILE).read_bytes()
        index_file = json.loads(meta_bytes)["index_file"]
        size = (directory / index_file).stat().st_size
        echo(f"product index: copying {index_file} ({_mb(size)}) ...")
        shutil.copy2(directory / index_file, target / index_file)
        (target / META_FILE).write_bytes(meta_bytes)
    return [f"{KNOWLEDGE_DIR}/{META_FILE}", f"{KNOWLEDGE_DIR}/{index_file}"]


def _copy_attachments(root: Path, staging: Path, echo: Echo) -> list[str]:
    """Every stored file (`<root>/<sha[:2]>/<sha>`); not uploads still being checked."""
    found = sorted(p for p in root.glob("??/*") if p.is_file()) if root.is_dir() else []
    if not found:
        return []
    total = sum(p.stat().st_size for p in found)
    echo(f"customers' files: copying {len(found)} ({_mb(total)}) ...")
    members = []
    for number, path in enumerate(found, 1):
        name = f"{ATTACHMENTS_DIR}/{path.parent.name}/{path.name}"
        (staging / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, staging / name)
        members.append(name)
        if number % 1000 == 0:
            echo(f"customers' files: {number}/{len(found)}")
    return members


def _write_archive(staging: Path, members: list[str], file: Path, echo: Echo) -> None:
    """gzip'd tar, written beside `file` and renamed into place: never half an archive."""
    fd, temporary = tempfile.mkstemp(prefix=f".{file.name}.", dir=file.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz") as tar:
            for name in members:
                size = (staging / name).stat().st_size
                if size >= 10_000_000:
                    echo(f"archive: compressing {name} ({_mb(size)}) ...")
                info = tar.gettarinfo(staging / name, arcname=name)
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                info.mode = 0o600
                with (staging / name).open("rb") as fh:
                    tar.addfile(info, fh)
        os.replace(temporary, file)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


# ---- restore --------------------------------------------------------------------------------

@dataclass
class RestoreResult:
    data_dir: Path
    manifest: dict
    restored: list[str]


def _corrupt(file: Path, why: str) -> BackupError:
    return BackupError(f"{file} is not a usable Kefu backup: {why}. Nothing was restored.")


def _member_path(name: str) -> PurePosixPath | None:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or not path.parts:
        return None
    return path


@contextmanager
def _open_archive(file: Path):
    try:
        tar = tarfile.open(file, mode="r:*")
    except FileNotFoundError as exc:
        raise BackupError(f"{file}: no such file") from exc
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise _corrupt(file, f"cannot be read as an archive ({exc})") from exc
    try:
        yield tar
    finally:
        tar.close()


def read_manifest(file: Path) -> dict:
    """The archive's manifest, checked for shape (not yet against the files)."""
    with _open_archive(file) as tar:
        return _manifest(tar, file)


def _manifest(tar: tarfile.TarFile, file: Path) -> dict:
    try:
        member = tar.getmember(MANIFEST)
        manifest = json.loads(tar.extractfile(member).read())
    except KeyError as exc:
        raise _corrupt(file, f"it has no {MANIFEST}") from exc
    except (tarfile.TarError, OSError, EOFError, zlib.error, ValueError, AttributeError) as exc:
        raise _corrupt(file, f"its {MANIFEST} cannot be read ({exc})") from exc
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict) \
            or not isinstance(manifest.get("format"), int):
        raise _corrupt(file, f"its {MANIFEST} is not a Kefu backup manifest")
    if manifest["format"] > FORMAT_VERSION:
        raise BackupError(f"{file} has archive format {manifest['format']}; this Kefu reads "
                          f"format {FORMAT_VERSION} and older. Restore it with a newer Kefu. "
                          "Nothing was restored.")
    if STORE_MEMBER not in manifest["files"]:
        raise _corrupt(file, "it holds no customer store")
    return manifest


def _extract_checked(tar: tarfile.TarFile, file: Path, manifest: dict, staging: Path,
                     echo: Echo) -> None:
    """Every member the manifest lists, and nothing else, with the checksum it lists."""
    expected = manifest["files"]
    seen: set[str] = set()
    try:
        for member in tar:
            if member.name == MANIFEST:
                continue
            path = _member_path(member.name)
            if path is None or not member.isfile() or member.name not in expected:
                raise _corrupt(file, f"it holds an unexpected entry {member.name!r}")
            if member.size >= 10_000_000:
                echo(f"  extracting {member.name} ({_mb(member.size)}) ...")
            target = staging.joinpath(*path.parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            digest = hashlib.sha256()
            with tar.extractfile(member) as src, target.open("wb") as dst:
                for chunk in iter(lambda: src.read(1 << 20), b""):
                    digest.update(chunk)
                    dst.write(chunk)
            if digest.hexdigest() != expected[member.name].get("sha256"):
                raise _corrupt(file, f"checksum mismatch for {member.name} (the archive was "
                                     "damaged or altered)")
            seen.add(member.name)
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise _corrupt(file, f"it cannot be read to the end ({exc})") from exc
    missing = sorted(set(expected) - seen)
    if missing:
        raise _corrupt(file, f"it lacks {', '.join(missing)}")


def _occupied(data: Path, store: Path) -> list[str]:
    found = sorted(p.name for p in data.iterdir()) if data.is_dir() else []
    if store.exists() and not store.is_relative_to(data):
        found.append(str(store))
    return found


def restore_backup(settings: Settings, file: Path, *, force: bool = False,
                   echo: Echo = lambda _line: None) -> RestoreResult:
    """Check the whole archive in a staging directory, then put its files in place."""
    store = _store_file(settings, "restore")
    data = settings.data_path
    occupied = _occupied(data, store)
    if occupied and not force:
        shown = ", ".join(occupied[:6]) + (" ..." if len(occupied) > 6 else "")
        raise BackupError(f"the data directory {data} is not empty ({shown}); restore into an "
                          "empty one, or pass --force to replace its store, product index and "
                          "secret key (stop Kefu first). Nothing was restored.")
    file = file.resolve()
    # Staged beside the data directory (the files are then renamed into place), or in the
    # system's temporary directory while even its parent does not exist yet.
    staging = Path(tempfile.mkdtemp(prefix=".kefu-restore-",
                                    dir=data.parent if data.parent.is_dir() else None))
    try:
        echo(f"reading {file} ...")
        with _open_archive(file) as tar:
            manifest = _manifest(tar, file)
            _extract_checked(tar, file, manifest, staging, echo)
        echo("checksums match; checking the customer store ...")
        try:
            revision = check_copy(staging / STORE_MEMBER)
            check_revision(revision)
        except StoreBackupError as exc:
            raise BackupError(f"{exc}. Nothing was restored.") from exc
        if revision != manifest.get("alembic_revision"):
            raise _corrupt(file, f"its store is at revision {revision}, its manifest says "
                                 f"{manifest.get('alembic_revision')}")
        index_members = [name for name in manifest["files"]
                         if name.startswith(f"{KNOWLEDGE_DIR}/")]
        if index_members:
            _check_index(staging / KNOWLEDGE_DIR, file)

        echo("archive checked; putting its files in place ...")
        data.mkdir(parents=True, exist_ok=True)
        if force:
            _clear_for_restore(data, store, has_secret=SECRET_MEMBER in manifest["files"])
            # The replaced store's customers' files are no one's now.
            shutil.rmtree(settings.attachments_path, ignore_errors=True)
        restored = _move_into_place(staging, data, store, manifest, index_members)
        restored += _move_attachments(staging, settings.attachments_path, manifest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    echo(f"restored into {data}: {', '.join(restored)} (backup of {manifest.get('created_at')}, "
         f"schema revision {revision or 'none'})")
    echo("next: `kefu prepare` (migrates the store if it is older, brings the product index "
         "up to date; the demo shop is not loaded into a restored store), then `kefu run`")
    return RestoreResult(data, manifest, restored)


def _check_index(directory: Path, file: Path) -> None:
    from knowledge.index_store import META_FILE

    try:
        meta = json.loads((directory / META_FILE).read_text(encoding="utf-8"))
        index_file = meta["index_file"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise _corrupt(file, f"its product index has no usable {META_FILE} ({exc})") from exc
    if not (directory / index_file).is_file():
        raise _corrupt(file, f"its product index lacks {index_file}")


def _clear_for_restore(data: Path, store: Path, *, has_secret: bool) -> None:
    """--force: remove what the archive replaces. The store's -wal and -shm go with it (an old
    WAL beside a restored database would be replayed into it), and so does the old product
    index, even when the archive has none: it described the replaced catalog."""
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{store}{suffix}").unlink(missing_ok=True)
    shutil.rmtree(data / KNOWLEDGE_DIR, ignore_errors=True)
    if has_secret:
        (data / SECRET_MEMBER).unlink(missing_ok=True)


def _move_into_place(staging: Path, data: Path, store: Path, manifest: dict,
                     index_members: list[str]) -> list[str]:
    restored = []
    store.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(staging / STORE_MEMBER, store)
    restored.append("customer store")
    if index_members:
        from knowledge.index_store import META_FILE

        target = data / KNOWLEDGE_DIR
        target.mkdir(exist_ok=True)
        # The FAISS file first, meta.json (which names it) last, as the index itself writes.
        for name in sorted(index_members, key=lambda n: n.endswith(META_FILE)):
            shutil.move(staging / name, data / name)
        restored.append("product index")
    if SECRET_MEMBER in manifest["files"]:
        shutil.move(staging / SECRET_MEMBER, data / SECRET_MEMBER)
        (data / SECRET_MEMBER).chmod(0o600)
        restored.append("secret key")
    if REVIEW_MEMBER in manifest["files"]:
        (data / REVIEW_MEMBER).parent.mkdir(parents=True, exist_ok=True)
        shutil.move(staging / REVIEW_MEMBER, data / REVIEW_MEMBER)
        restored.append("NLU review file")
    return restored


def _move_attachments(staging: Path, root: Path, manifest: dict) -> list[str]:
    """Customers' files into the attachments directory; a file already there under the same
    checksum holds the same bytes and stays."""
    names = [name for name in manifest["files"] if name.startswith(f"{ATTACHMENTS_DIR}/")]
    for name in names:
        target = root.joinpath(*PurePosixPath(name).parts[1:])
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists():
            shutil.move(staging / name, target)
    return [f"{len(names)} customers' files"] if names else []
