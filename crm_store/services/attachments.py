"""Photos and files customers send: what is accepted, where the bytes lie, who they belong to.

Accepted, by their content (magic bytes, then Pillow for images), never by their name:
JPEG, PNG and WebP images and PDF documents, up to KEFU_ATTACHMENT_MAX_BYTES (10 MB). GIF is
refused: animations are not evidence of a damaged parcel, and every phone takes JPEG (or
HEIC, which phones and Telegram convert to JPEG when they send it). An image must decode whole
(`Image.verify` and a full `load`, so a truncated upload is refused) and have at most
KEFU_ATTACHMENT_MAX_PIXELS pixels, checked from its header before it is decoded (a
decompression bomb is a small file that unpacks to gigabytes; Pillow's own guard,
`Image.MAX_IMAGE_PIXELS`, is set to the same number and its `DecompressionBombError` is
refused the same way). A PDF must start with `%PDF-` and end with `%%EOF`.

The bytes are kept once per content, named by their SHA-256 (`<dir>/ab/abcdef…`), outside the
database; rows (`Attachment`) say whose they are. Storing is all or nothing:

1. `FileStore.stage(data)` writes the upload to a temporary name in the same directory tree
   and checks it (no transaction open meanwhile); a refusal (`Refused`) deletes it;
2. `attach(session, ...)`, inside the caller's unit of work (the one that stores the message
   it came with), inserts the row and links the staged file into place under its checksum;
   if the unit of work rolls back, a file it placed is removed again;
3. `FileStore.discard(staged)` in the caller's `finally` removes the temporary name.

`forget(session, ...)` deletes rows, and the bytes no row refers to any more once the unit of
work has committed.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, UnidentifiedImageError
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from crm_store.errors import InvalidInput, NotFound
from crm_store.models import Attachment

logger = logging.getLogger(__name__)

PDF = "application/pdf"
# Pillow's format name -> the type we store.
IMAGE_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
ACCEPTED = (*IMAGE_TYPES.values(), PDF)
ACCEPTED_WORDS = "a photo (JPEG, PNG or WebP) or a PDF"


class Refused(InvalidInput):
    """A file that is not taken; `str()` is the reason in words for the customer, `code` the
    reason for an API caller (`type`, `size`, `broken`, `pixels`, `empty`)."""

    def __init__(self, code: str, reason: str, status: int = 422) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.status = status


@dataclass(frozen=True)
class Checked:
    content_type: str
    size: int
    sha256: str
    width: int | None = None
    height: int | None = None

    @property
    def is_image(self) -> bool:
        return self.content_type.startswith("image/")


@dataclass(frozen=True)
class Staged:
    path: Path
    checked: Checked


def sniff(head: bytes) -> str | None:
    """The type the first bytes announce, if it is one we accept."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith(b"%PDF-"):
        return PDF
    return None


def too_big(size: int, max_bytes: int) -> Refused:
    mb = max_bytes / 1_000_000
    limit = f"{mb:g} MB" if mb >= 1 else f"{max_bytes // 1000} kB"
    return Refused("size", f"that file is too large ({size / 1_000_000:.1f} MB); please send "
                           f"one of at most {limit}", 413)


def check(path: Path, *, max_bytes: int, max_pixels: int) -> Checked:
    """What the file at `path` is, or `Refused` with why it is not taken."""
    size = path.stat().st_size
    if size == 0:
        raise Refused("empty", "that file is empty")
    if size > max_bytes:
        raise too_big(size, max_bytes)
    with path.open("rb") as handle:
        head = handle.read(16)
    kind = sniff(head)
    if kind is None:
        raise Refused("type", f"I can only take {ACCEPTED_WORDS}; that file is something "
                              "else", 415)
    width = height = None
    if kind == PDF:
        with path.open("rb") as handle:
            handle.seek(max(0, size - 1024))
            if b"%%EOF" not in handle.read():
                raise Refused("broken", "that PDF seems to be incomplete or damaged; please "
                                        "send it again")
    else:
        width, height = _check_image(path, kind, max_pixels)
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return Checked(kind, size, digest.hexdigest(), width, height)


def _check_image(path: Path, kind: str, max_pixels: int) -> tuple[int, int]:
    broken = Refused("broken", "that picture seems to be incomplete or damaged; please send "
                               "it again")
    bomb = Refused("pixels", "that picture is too large to open (too many pixels); please "
                             "send a smaller photo or a screenshot", 413)
    # Pillow's guard at our number: over it a warning (an error here), over twice an error.
    Image.MAX_IMAGE_PIXELS = max_pixels
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                if IMAGE_TYPES.get(image.format or "") != kind:
                    raise broken
                width, height = image.size
                # From the header, before a single pixel is decoded.
                if width * height > max_pixels:
                    raise bomb
                image.verify()
            # verify() checks the structure; only decoding every pixel finds a cut-off file.
            with Image.open(path) as image:
                image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise bomb from None
    except Refused:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
        logger.info("image refused: %r", exc)
        raise broken from None
    return width, height


class FileStore:
    """The bytes, once per content: `<root>/<sha[:2]>/<sha>`; uploads are staged in
    `<root>/.incoming` (the same file system, so placing one is a link, never a copy)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path_for(self, sha256: str) -> Path:
        if len(sha256) != 64 or not all(c in "0123456789abcdef" for c in sha256):
            raise InvalidInput("not a SHA-256 checksum")
        return self.root / sha256[:2] / sha256

    def stage(self, data: bytes, *, max_bytes: int, max_pixels: int) -> Staged:
        """Write `data` under a temporary name and check it; `Refused` leaves nothing."""
        if len(data) > max_bytes:
            raise too_big(len(data), max_bytes)
        incoming = self.root / ".incoming"
        incoming.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=incoming, prefix="upload-", suffix=".part")
        path = Path(name)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            return Staged(path, check(path, max_bytes=max_bytes, max_pixels=max_pixels))
        except BaseException:
            path.unlink(missing_ok=True)
            raise

    def discard(self, staged: Staged | None) -> None:
        if staged is not None:
            staged.path.unlink(missing_ok=True)

    def place(self, staged: Staged) -> bool:
        """Link the staged file in under its checksum; False if those bytes were there."""
        target = self.path_for(staged.checked.sha256)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(staged.path, target)
        except FileExistsError:
            return False
        return True

    def read(self, sha256: str) -> bytes:
        path = self.path_for(sha256)
        if not path.is_file():
            raise NotFound("the file's bytes are missing")
        return path.read_bytes()

    def remove(self, sha256: str) -> None:
        self.path_for(sha256).unlink(missing_ok=True)


def attach(session: Session, files: FileStore, staged: Staged, *, conversation_id: int,
           channel: str, customer_id: int | None, message_id: int | None = None,
           name: str = "") -> Attachment:
    """The row for a staged, checked file, and the file in place, in the caller's unit of
    work: a rollback removes the file again (unless the same bytes were there before)."""
    checked = staged.checked
    attachment = Attachment(
        conversation_id=conversation_id, message_id=message_id, customer_id=customer_id,
        channel=channel, content_type=checked.content_type, size=checked.size,
        sha256=checked.sha256, original_name=clean_name(name), width=checked.width,
        height=checked.height)
    session.add(attachment)
    session.flush()
    if files.place(staged):
        sha = checked.sha256

        def undo(_session: Session, _previous=None) -> None:
            # The bytes were new with this unit of work, which did not commit.
            if not session.info.get("attachments_committed"):
                files.remove(sha)
                logger.info("rolled back: removed %s", sha)

        event.listen(session, "after_rollback", undo, once=True)
        event.listen(session, "after_commit",
                     lambda _s: session.info.__setitem__("attachments_committed", True),
                     once=True)
    return attachment


def clean_name(name: str | None) -> str:
    """The device's file name without a path or control characters, at most 255 long."""
    name = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if c.isprintable())
    return name.strip()[:255]


def get(session: Session, attachment_id: int) -> Attachment:
    attachment = session.get(Attachment, attachment_id)
    if attachment is None:
        raise NotFound(f"no attachment {attachment_id}")
    return attachment


def for_customer(session: Session, *, customer_id: int,
                 conversation_ids: list[int] | None = None) -> list[Attachment]:
    """The customer's files: theirs by customer id, or sent in their conversations."""
    condition = Attachment.customer_id == customer_id
    if conversation_ids:
        condition = condition | Attachment.conversation_id.in_(conversation_ids)
    return list(session.scalars(select(Attachment).where(condition).order_by(Attachment.id)))


def forget(session: Session, files: FileStore, rows: list[Attachment]) -> int:
    """Delete these rows now and, once the unit of work commits, the bytes no other row
    refers to. Returns how many rows."""
    if not rows:
        return 0
    checksums = {row.sha256 for row in rows}
    for row in rows:
        session.delete(row)
    session.flush()
    still_used = set(session.scalars(select(Attachment.sha256).distinct()
                                     .where(Attachment.sha256.in_(checksums))))
    orphans = checksums - still_used

    def remove(_session: Session) -> None:
        for sha in orphans:
            files.remove(sha)

    event.listen(session, "after_commit", remove, once=True)
    return len(rows)
