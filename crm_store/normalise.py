"""Turning what people type into the canonical values the store keys on."""

from __future__ import annotations

import re

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from crm_store.errors import InvalidInput

_ORDER_NUMBER = re.compile(r"^#?\s*([A-Za-z]{1,3})[-\s]?(\d{3,10})$")
_TICKET_REFERENCE = re.compile(r"^#?\s*[Tt][-\s]?(\d{1,10})$")


def normalise_email(raw: str) -> str:
    """Lower-cased and trimmed; rejects anything that is not an email address."""
    value = (raw or "").strip()
    if not value:
        raise InvalidInput("email is empty")
    if any(ch.isspace() for ch in value):
        raise InvalidInput(f"email {value!r} contains spaces")
    try:
        result = validate_email(value, check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidInput(f"email {value!r} is not valid: {exc}") from exc
    # Local parts are case-sensitive in theory, never in practice; shops treat them as one.
    return result.normalized.lower()


def normalise_phone(raw: str, *, default_region: str | None = None) -> tuple[str, bool]:
    """(E.164 number, True) when the number parses and is valid, else (trimmed input, False)."""
    value = (raw or "").strip()
    if not value:
        return "", True
    try:
        number = phonenumbers.parse(value, default_region)
    except phonenumbers.NumberParseException:
        return value, False
    if not phonenumbers.is_valid_number(number):
        return value, False
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), True


def normalise_order_number(raw: str) -> str:
    """'a1001', '#A1001', 'A-1001' -> 'A1001'. Unrecognised input comes back upper-cased."""
    value = (raw or "").strip()
    match = _ORDER_NUMBER.match(value)
    if match:
        return f"{match.group(1).upper()}{match.group(2)}"
    return value.upper()


def normalise_ticket_reference(raw: str) -> str:
    """'t-1042', 'T1042', '#T 1042' -> 'T-1042'."""
    value = (raw or "").strip()
    match = _TICKET_REFERENCE.match(value)
    if match:
        return f"T-{int(match.group(1))}"
    return value.upper()


def normalise_topic(raw: str) -> str:
    """Interest topics are lower-case words separated by single spaces ('Home Office' -> 'home office')."""
    return " ".join((raw or "").lower().replace("_", " ").split())
