"""Customers' photos and files at the gateway: taking one in from any channel, and signed,
expiring links to the bytes.

Taking one in (`receive`): the sender's limit (KEFU_ATTACHMENT_CUSTOMER_MAX per
KEFU_ATTACHMENT_CUSTOMER_WINDOW_SECONDS, per customer: every chat has a customer row, an
anonymous one too), then the file is staged and checked off the event loop
(crm_store.services.attachments), then the gateway stores the message that carries it and the
file in one unit of work. A refusal raises `Refused` with the reason in the customer's words
and an HTTP status for API callers; nothing is stored.

What the dialogue gets: nothing. A photo has no words for the NLU model, and a text like
"[photo]" would be guessed at; the gateway acknowledges it itself (bot/gateway.py) and the
message, with its file, is in the transcript staff read. (A later step can pass an intent
payload to forms that ask for a photo.)

Links: `/attachments/{id}?v=<viewer>&exp=<unix time>&sig=<HMAC-SHA256>`, keyed with the app's
secret key (KEFU_SECRET_KEY, bot/auth.py). The viewer is `c<conversation id>` (the customer's
widget: the link is the credential, and only works for a file of that conversation) or
`s<staff id>` (the agent console: the request must also come from that signed-in member of
service staff). Expired or altered links get 403.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import time
from typing import Any
from urllib.parse import urlencode

from bot import limits, store
from bot.gateway import Gateway, Handled, Inbound, OnStored
from crm_store.services import attachments as service
from crm_store.services.attachments import Refused
from crm_store.services.bucket_files import open_file_store
from kefu_config.settings import Settings

logger = logging.getLogger(__name__)

__all__ = ["LinkSigner", "Refused", "receive", "message_text"]


class LinkSigner:
    def __init__(self, key: bytes, minutes: float) -> None:
        self._key = key
        self.seconds = int(minutes * 60)

    def _sig(self, attachment_id: int, viewer: str, expires: int) -> str:
        message = f"attachment:{attachment_id}:{viewer}:{expires}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def url(self, attachment_id: int, viewer: str, now: float | None = None) -> str:
        expires = int((now if now is not None else time.time()) + self.seconds)
        query = urlencode({"v": viewer, "exp": expires,
                           "sig": self._sig(attachment_id, viewer, expires)})
        return f"/attachments/{attachment_id}?{query}"

    def valid(self, attachment_id: int, viewer: str, expires: int, sig: str) -> bool:
        if expires < time.time():
            return False
        return hmac.compare_digest(self._sig(attachment_id, viewer, expires).encode(),
                                   sig.encode())

    def for_customer(self, data: dict[str, Any], conversation_id: int) -> dict[str, Any]:
        """A message's JSON (ChatMessage.to_json) with a link the customer's chat may use."""
        return self._with_url(data, f"c{conversation_id}")

    def for_staff(self, data: dict[str, Any], staff_id: int) -> dict[str, Any]:
        return self._with_url(data, f"s{staff_id}")

    def tickets_for_staff(self, found: list[Any], staff_id: int) -> list[Any]:
        """TicketPublic models (bot/schemas.py) with their files' links signed for staff."""
        for ticket in found:
            ticket.attachments = [self.for_staff({"attachment": a}, staff_id)["attachment"]
                                  for a in ticket.attachments]
        return found

    def _with_url(self, data: dict[str, Any], viewer: str) -> dict[str, Any]:
        attachment = data.get("attachment")
        if not isinstance(attachment, dict) or not isinstance(attachment.get("id"), int):
            return data
        return {**data, "attachment": {**attachment,
                                       "url": self.url(attachment["id"], viewer)}}


def file_store(settings: Settings) -> service.FileStore:
    """The directory, or the S3-compatible bucket (crm_store/services/bucket_files.py)."""
    return open_file_store(settings)


def message_text(name: str, content_type: str, caption: str | None = None) -> str:
    """What the stored message says (transcripts, search, exports): the file, and any
    words the customer sent with it."""
    what = "[photo]" if content_type.startswith("image/") else f"[file: {name or 'document'}]"
    caption = (caption or "").strip()
    return f"{what} {caption}" if caption else what


async def receive(gateway: Gateway, limiters: limits.Limiters, settings: Settings, *,
                  channel: str, external_id: str, data: bytes, name: str,
                  dedupe_key: str | None, caption: str | None = None,
                  extra: dict[str, Any] | None = None,
                  on_stored: OnStored | None = None) -> Handled:
    """Take a customer's file in, or raise `Refused` (nothing stored)."""
    customer_id, _ = await store.run(store.identity_customer(channel, external_id))
    limit = limiters.attachments
    # Counted per chat and, once the chat has a customer, per customer (all their chats).
    # Every try counts, a refused file too: checking a picture costs the gateway work.
    keys = [(limit, f"{channel}:{external_id}")]
    if customer_id is not None:
        keys.append((limit, f"customer:{customer_id}"))
    refused = await limits.hit_all(*keys)
    if refused:
        wait = refused[1]
        raise Refused("rate", "that's more files than we can take at once; please wait "
                              f"{_minutes(wait)} and send it again", 429)
    files = file_store(settings)
    staged = await asyncio.to_thread(files.stage, data, max_bytes=settings.attachment_max_bytes,
                                     max_pixels=settings.attachment_max_pixels)
    try:
        inbound = Inbound(channel, external_id,
                          message_text(service.clean_name(name), staged.checked.content_type,
                                       caption),
                          dedupe_key=dedupe_key, extra=extra or {},
                          upload=store.Upload(files, staged, name))
        return await gateway.handle(inbound, on_stored=on_stored)
    finally:
        files.discard(staged)


def _minutes(seconds: float) -> str:
    minutes = max(1, -(-int(seconds) // 60))
    return "a minute" if minutes == 1 else f"{minutes} minutes"
