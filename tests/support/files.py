"""Real files for the attachment tests, made with Pillow: photos, a PDF, and bad ones."""

from __future__ import annotations

import io

from PIL import Image


def photo(fmt: str = "JPEG", size: tuple[int, int] = (64, 48), colour=(200, 40, 40)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, fmt)
    return buffer.getvalue()


def pdf() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (20, 20), (255, 255, 255)).save(buffer, "PDF")
    return buffer.getvalue()


def truncated_jpeg() -> bytes:
    whole = photo("JPEG", (400, 300), (10, 120, 200))
    return whole[: len(whole) // 2]


def bomb_png(side: int = 7_000) -> bytes:
    """A PNG of side x side pixels that is a few kilobytes: 49 million pixels unpacked."""
    buffer = io.BytesIO()
    Image.new("1", (side, side), 0).save(buffer, "PNG", optimize=True)
    return buffer.getvalue()


def gif() -> bytes:
    buffer = io.BytesIO()
    Image.new("P", (10, 10)).save(buffer, "GIF")
    return buffer.getvalue()


NOT_A_PHOTO = b"MZ\x90\x00" + b"this is a Windows program, named photo.jpg" * 10
