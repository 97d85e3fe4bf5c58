"""Signed identity tokens: a shop that knows its logged-in customer vouches for their email.

The shop's server computes `hex(HMAC-SHA256(KEFU_SHOP_SECRET, normalised email))` and puts
the email and the token on the page (`<script src="/widget.js" data-email="…"
data-token="…">`). The gateway recomputes it; a match means the shop, which holds the secret,
said so — the chat is then verified for that customer without asking for an order number.
Without KEFU_SHOP_SECRET the feature is off and tokens are ignored.
"""

from __future__ import annotations

import hashlib
import hmac

from crm_store.errors import InvalidInput
from crm_store.normalise import normalise_email


def sign(secret: str, email: str) -> str:
    """What the shop's server computes (also used by tests and the demo)."""
    normalised = normalise_email(email)
    return hmac.new(secret.encode(), normalised.encode(), hashlib.sha256).hexdigest()


def verify(secret: str | None, email: str, token: str) -> str | None:
    """The normalised email when `token` is the shop's signature of it, else None."""
    if not secret or not email or not token:
        return None
    try:
        expected = sign(secret, email)
    except InvalidInput:
        return None
    if hmac.compare_digest(expected, token.strip().lower()):
        return normalise_email(email)
    return None
