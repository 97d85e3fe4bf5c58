"""Small text helpers: what the customer typed, and dates and money shown the same way in
every answer."""

from __future__ import annotations

from datetime import datetime

from rasa_sdk import Tracker

from kefu_config.money import money  # noqa: F401 - the actions write money with it


def typed(text: str | None) -> str:
    """What the customer typed; '' for a button payload ('/affirm')."""
    text = text or ""
    return "" if text.lstrip().startswith("/") else text


def latest_text(tracker: Tracker) -> str:
    """What the customer typed last; '' for a button payload ('/affirm')."""
    return typed((tracker.latest_message or {}).get("text"))


def day(value: datetime | None) -> str:
    return value.strftime("%-d %b %Y") if value else "an unknown date"


def items_summary(items) -> str:
    names = [f"{item.name} ×{item.quantity}" if item.quantity > 1 else item.name
             for item in items]
    if len(names) > 3:
        names = names[:3] + [f"{len(items) - 3} more"]
    return ", ".join(names)
