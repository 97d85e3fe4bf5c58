"""The shop policy file (policy/shop.yml, or KEFU_POLICY_FILE): loaded and checked once.

Validated with pydantic so that a typo in the shop's file fails at start-up with the field's
name, not in the middle of a customer's conversation.
"""

from __future__ import annotations

import os
import re
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path
from zoneinfo import TZPATH, ZoneInfo

import yaml
from pydantic import BaseModel, field_validator, model_validator

from kefu_config.settings import REPO_ROOT

WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


class ShopInfo(BaseModel):
    name: str
    email: str
    phone: str
    address: str
    website: str
    currency: str = "EUR"
    timezone: str = "UTC"
    # How staff pages write dates, times and money (a BCP 47 tag: en-GB, de-DE, fr-CA). Left
    # out: English as written in the time zone's country (Europe/Berlin: en-DE), else en.
    locale: str | None = None

    @field_validator("locale")
    @classmethod
    def _locale_tag(cls, value: str | None) -> str | None:
        if value is not None and not _LOCALE.fullmatch(value):
            raise ValueError(f"locale must be a language tag such as en-GB, not {value!r}")
        return value

    @property
    def locale_tag(self) -> str:
        """The locale given, else one derived from the time zone's country."""
        if self.locale:
            return self.locale
        country = _zone_country(self.timezone)
        return f"en-{country}" if country else "en"


_LOCALE = re.compile(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*")


@lru_cache
def _zone_country(zone: str) -> str | None:
    """The ISO country of a time zone, from the tz database's zone.tab (None for UTC)."""
    for directory in TZPATH:
        table = Path(directory) / "zone.tab"
        if not table.is_file():
            continue
        for line in table.read_text(encoding="utf-8").splitlines():
            fields = line.split("\t")
            if not line.startswith("#") and len(fields) >= 3 and fields[2] == zone:
                return fields[0]
        return None
    return None


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
    # Working days to refund a charge taken twice: promised when a payment ticket is opened.
    duplicate_refund_days: int | None = None


class Returns(BaseModel):
    days: int
    conditions: str
    how: str
    refund_time: str
    exceptions: str = ""
    # What the customer does once a return is open (the label, the drop-off); `how` explains
    # how to start one, which reads wrong after it was started.
    after_opening: str = ""


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


# --- identifiers: how the shop's order numbers and ticket references are written ---------------

# Defaults that assume no one shop's format: marketplace ids (123-4567890-1234567), letters and
# digits with or without a dash (A1234, SO-88412), plain digits (90001; '#1001' too, as a leading
# '#' is always allowed).
DEFAULT_ORDER_PATTERNS = (r"\d{3}[-\s]\d{7}[-\s]\d{7}", r"[A-Z]{1,4}-?\d{3,20}", r"\d{3,20}")
# Kefu numbers its own tickets T-<number>.
DEFAULT_TICKET_PATTERNS = (r"T-?\d{1,10}",)
# An identifier is a whole word: not part of a longer word or number, an email or a path;
# a sentence's full stop or comma may follow it.
_BEFORE = r"(?<![\w@/.#-])#?\s?"
_AFTER = r"(?![\w@/-]|[.,]\w)"
# Addresses are taken out of a message before it is searched (digits in them are not ids).
_ADDRESS = re.compile(r"\S+@\S+|https?://\S+|www\.\S+", re.IGNORECASE)


class IdentifierFormat(BaseModel):
    """One kind of identifier: regexes for the value as customers see it printed (each matched as
    a whole word, ignoring case, with an optional leading '#'), and an example for the questions
    and hints the assistant gives ("it looks like A1234")."""

    patterns: list[str]
    example: str

    @field_validator("patterns")
    @classmethod
    def _patterns_compile(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("give at least one pattern")
        for pattern in value:
            try:
                compiled = re.compile(pattern, re.IGNORECASE)
            except re.error as exc:
                raise ValueError(f"pattern {pattern!r} is not a regular expression: {exc}") from exc
            if compiled.fullmatch(""):
                raise ValueError(f"pattern {pattern!r} matches an empty text")
        return value

    @model_validator(mode="after")
    def _example_matches(self) -> "IdentifierFormat":
        if not self.matches(self.example):
            raise ValueError(f"example {self.example!r} matches none of the patterns")
        return self

    def _searcher(self) -> re.Pattern:
        alternatives = "|".join(f"(?:{pattern})" for pattern in self.patterns)
        return re.compile(f"{_BEFORE}(?:{alternatives}){_AFTER}", re.IGNORECASE)

    def matches(self, value: str) -> bool:
        """Whether `value` on its own is written in one of the patterns."""
        value = (value or "").strip()
        value = value[1:].strip() if value.startswith("#") else value
        return any(re.fullmatch(pattern, value, re.IGNORECASE) for pattern in self.patterns)

    def find(self, text: str) -> list[str]:
        """Every identifier in `text`, as typed, in the order they appear."""
        text = _ADDRESS.sub(" ", text or "")
        return [match.group(0).strip() for match in self._searcher().finditer(text)]


class TicketReferenceFormat(IdentifierFormat):
    # While the conversation is about a ticket (its reference was asked for, or the customer asks
    # about a ticket), a bare number such as "#5532" is taken as that ticket's number.
    bare_numbers: bool = True


class Identifiers(BaseModel):
    order_number: IdentifierFormat = IdentifierFormat(patterns=list(DEFAULT_ORDER_PATTERNS),
                                                      example="#1001")
    ticket_reference: TicketReferenceFormat = TicketReferenceFormat(
        patterns=list(DEFAULT_TICKET_PATTERNS), example="T-1234")


class ShopPolicy(BaseModel):
    shop: ShopInfo
    # Per weekday "09:00-18:00", "00:00-24:00" (all day) or "closed".
    business_hours: dict[str, str]
    # Days the team is away whatever the weekday (public holidays), in the shop's time zone.
    holidays: list[date] = []
    delivery: Delivery
    payment: Payment
    returns: Returns
    account: Account
    tickets: Tickets
    marketing: Marketing = Marketing()
    identifiers: Identifiers = Identifiers()

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

    def span_on(self, day: date) -> tuple[time, time] | None:
        """The opening hours of one calendar day: its weekday's, unless it is a holiday."""
        return None if day in self.holidays else self.opening_span(WEEKDAYS[day.weekday()])

    def is_open(self, at: datetime) -> bool:
        local = at.astimezone(self.tz)
        span = self.span_on(local.date())
        # An end of 24:00 (time.max) includes the day's last instant.
        return span is not None and span[0] <= local.time() and (
            local.time() < span[1] or span[1] == time.max)

    def next_opening(self, at: datetime) -> datetime:
        """When staff are next at work, in the shop's time zone (`at` itself if open now)."""
        local = at.astimezone(self.tz)
        if self.is_open(local):
            return local
        # A year ahead covers any run of holidays a shop could list.
        for offset in range(366):
            day = local.date() + timedelta(days=offset)
            span = self.span_on(day)
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
        start_text, end_text = (part.strip() for part in span.split("-"))
        start = time.fromisoformat(start_text)
        end = time.max if end_text == "24:00" else time.fromisoformat(end_text)
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
