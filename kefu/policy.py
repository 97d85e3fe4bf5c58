"""The shop policy file (policy/shop.yml, or KEFU_POLICY_FILE): loaded and checked once.

Validated with pydantic so that a typo in the shop's file fails at start-up with the field's
name, not in the middle of a customer's conversation.
"""

from __future__ import annotations

import os
from datetime import datetime, time, timedelta
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml
from pydantic import BaseModel, field_validator

from kefu.settings import REPO_ROOT

WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


class ShopInfo(BaseModel):
    name: str
    email: str
    phone: str
    address: str
    website: str
    currency: str = "EUR"
    timezone: str = "UTC"


class DeliveryOption(BaseModel):
    name: str
    price: float
    days: str


class Delivery(BaseModel):
    options: list[DeliveryOption]
    free_over: float | None = None
    countries: str
    note: str = ""


class Payment(BaseModel):
    methods: list[str]
    issue_help: str


class Returns(BaseModel):
    days: int
    conditions: str
    how: str
    refund_time: str
    exceptions: str = ""


class Account(BaseModel):
    topics: dict[str, str]


class Tickets(BaseModel):
    sla_hours: dict[str, float]


class Marketing(BaseModel):
    """How often and when customers may be sent campaigns and new-product notifications."""

    # At most one campaign or notification per customer within this many days.
    cap_days: float = 3
    # No sends inside this span of the shop's local time ("21:00-09:00" spans midnight).
    quiet_hours: str = "21:00-09:00"
    # A new product notifies a customer whose interest is at least this similar (cosine).
    match_threshold: float = 0.35

    @field_validator("quiet_hours")
    @classmethod
    def _quiet_parse(cls, value: str) -> str:
        _parse_quiet(value)
        return value

    def quiet_span(self) -> tuple[time, time]:
        return _parse_quiet(self.quiet_hours)


def _parse_quiet(span: str) -> tuple[time, time]:
    try:
        start, end = (time.fromisoformat(part.strip()) for part in span.split("-"))
    except ValueError as exc:
        raise ValueError(f"quiet hours must look like 21:00-09:00, not {span!r}") from exc
    if start == end:
        raise ValueError(f"quiet hours {span!r} start and end at the same time")
    return start, end


class ShopPolicy(BaseModel):
    shop: ShopInfo
    business_hours: dict[str, str]
    delivery: Delivery
    payment: Payment
    returns: Returns
    account: Account
    tickets: Tickets
    marketing: Marketing = Marketing()

    @field_validator("business_hours")
    @classmethod
    def _hours_parse(cls, value: dict[str, str]) -> dict[str, str]:
        for day, span in value.items():
            if day not in WEEKDAYS:
                raise ValueError(f"unknown weekday {day!r}")
            if span != "closed":
                _parse_span(span)
        return value

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.shop.timezone)

    def opening_span(self, day: str) -> tuple[time, time] | None:
        span = self.business_hours.get(day, "closed")
        return None if span == "closed" else _parse_span(span)

    def is_open(self, at: datetime) -> bool:
        local = at.astimezone(self.tz)
        span = self.opening_span(WEEKDAYS[local.weekday()])
        return span is not None and span[0] <= local.time() < span[1]

    def next_opening(self, at: datetime) -> datetime:
        """When staff are next at work, in the shop's time zone (`at` itself if open now)."""
        local = at.astimezone(self.tz)
        if self.is_open(local):
            return local
        for offset in range(8):
            day = (local + timedelta(days=offset)).date()
            span = self.opening_span(WEEKDAYS[day.weekday()])
            if span is None:
                continue
            opens = datetime.combine(day, span[0], tzinfo=self.tz)
            if opens > local:
                return opens
        raise ValueError("the policy file has no business hours at all")

    def hours_text(self) -> str:
        return "; ".join(f"{day.capitalize()} {self.business_hours.get(day, 'closed')}"
                         for day in WEEKDAYS)


def _parse_span(span: str) -> tuple[time, time]:
    try:
        start, end = (time.fromisoformat(part.strip()) for part in span.split("-"))
    except ValueError as exc:
        raise ValueError(f"business hours must look like 09:00-18:00, not {span!r}") from exc
    if start >= end:
        raise ValueError(f"business hours {span!r} end before they start")
    return start, end


def policy_path() -> Path:
    return Path(os.environ.get("KEFU_POLICY_FILE", REPO_ROOT / "policy" / "shop.yml"))


@lru_cache
def load_policy(path: Path | None = None) -> ShopPolicy:
    path = path or policy_path()
    with path.open(encoding="utf-8") as fh:
        return ShopPolicy.model_validate(yaml.safe_load(fh))
