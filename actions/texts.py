"""Small formatting helpers so every answer shows dates and money the same way."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

CURRENCY_SIGNS = {"EUR": "€", "GBP": "£", "USD": "$"}


def day(value: datetime | None) -> str:
    return value.strftime("%-d %b %Y") if value else "an unknown date"


def money(amount: Decimal | float, currency: str = "EUR") -> str:
    sign = CURRENCY_SIGNS.get(currency)
    return f"{sign}{amount:,.2f}" if sign else f"{amount:,.2f} {currency}"


def items_summary(items) -> str:
    names = [f"{item.name} ×{item.quantity}" if item.quantity > 1 else item.name
             for item in items]
    if len(names) > 3:
        names = names[:3] + [f"{len(items) - 3} more"]
    return ", ".join(names)
