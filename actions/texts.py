"""Small formatting helpers so every answer shows dates and money the same way."""

from __future__ import annotations

from datetime import datetime

from kefu_config.money import money  # noqa: F401 - the actions write money with it


def day(value: datetime | None) -> str:
    return value.strftime("%-d %b %Y") if value else "an unknown date"


def items_summary(items) -> str:
    names = [f"{item.name} ×{item.quantity}" if item.quantity > 1 else item.name
             for item in items]
    if len(names) > 3:
        names = names[:3] + [f"{len(items) - 3} more"]
    return ", ".join(names)
