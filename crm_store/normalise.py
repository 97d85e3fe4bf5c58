"""Turning what people type into the canonical values the store keys on."""

from __future__ import annotations

import re

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from crm_store.errors import InvalidInput

# Order numbers (applied after upper-casing; see normalise_order_number).
_LETTER_CODE = re.compile(r"^([A-Z]{1,4})[-\s]?(\d{3,20})$")
_DIGIT_GROUPS = re.compile(r"^\d+(?:[-\s]+\d+)+$")
# What the store accepts as an order number once normalised (the importer's rule too).
ORDER_NUMBER_SHAPE = re.compile(r"^[A-Z0-9][A-Z0-9-]{0,31}$")
# Kefu numbers its own tickets T-<number>; a bare number ('#5532') is that ticket's number.
_TICKET_REFERENCE = re.compile(r"^#?\s*(?:[Tt][-\s]?)?(\d{1,10})$")


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
    """The one spelling of an order number that the store keys on, at import and in chat.

    Shop-agnostic: trimmed, a leading '#' dropped, letters upper-cased; then
    - letters then digits lose the separator: 'a1001', '#A1001', 'A-1001' -> 'A1001',
      'so-88412' -> 'SO88412';
    - groups of digits keep a dash between them (marketplace ids):
      '123-4567890-1234567' and '123 4567890 1234567' -> '123-4567890-1234567';
    - digits stay as they are, leading zeros too: '#90001' -> '90001', '00123' -> '00123'.
    Anything else comes back trimmed, without the '#', upper-cased.
    """
    value = (raw or "").strip().upper()
    if value.startswith("#"):
        value = value[1:].strip()
    match = _LETTER_CODE.match(value)
    if match:
        return f"{match.group(1)}{match.group(2)}"
    if _DIGIT_GROUPS.match(value):
        return "-".join(re.split(r"[-\s]+", value))
    return value


def looks_like_order_number(value: str) -> bool:
    """A normalised value the store could hold as an order number (letters, digits, '-', and at
    least one digit). Whether such an order exists is for the store to say, not the format."""
    return bool(ORDER_NUMBER_SHAPE.match(value or "")) and any(ch.isdigit() for ch in value)


def normalise_ticket_reference(raw: str) -> str:
    """'t-1042', 'T1042', '#T 1042', '#1042', '1042' -> 'T-1042' (Kefu's own references)."""
    value = (raw or "").strip()
    match = _TICKET_REFERENCE.match(value)
    if match:
        return f"T-{int(match.group(1))}"
    return value.upper()


def normalise_topic(raw: str) -> str:
    """Interest topics are lower-case words separated by single spaces ('Home Office' -> 'home office')."""
    return " ".join((raw or "").lower().replace("_", " ").split())
