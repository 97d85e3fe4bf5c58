"""Talks to the Rasa server through Kefu's channel (rasa_channels/kefu_channel.py).

The only place the gateway knows Rasa's address and payloads.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import httpx

from kefu_config.rasa_api import conversation_path

logger = logging.getLogger(__name__)

# What a failed request to Rasa can raise. httpx's own errors, a body that is not JSON, and
# AttributeError: when the peer resets a connection right after it was opened (Rasa going
# down behind a proxy or balancer), httpcore asks anyio for the socket's details and anyio's
# `extra_attributes` calls getpeername() on a socket that is already gone ("'NoneType' object
# has no attribute 'getpeername'", seen in tests/faults/test_rasa_restart.py). The customer
# must be told either way.
_UNREACHABLE = (httpx.HTTPError, ValueError, AttributeError)

# What a customer reads when Rasa cannot answer right now. Nothing is lost: the gateway has
# stored the message and the customer can simply continue.
UNAVAILABLE_TEXT = (
    "Sorry, I can't answer right now. Please try again shortly — your message was received."
)


@dataclass
class RasaReply:
    messages: list[dict[str, Any]]
    ok: bool
    intent: str | None = None
    confidence: float | None = None
    error: str | None = None
    # The assistant could not handle the message (see rasa_channels/kefu_channel.py).
    fallback: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


class RasaClient:
    def __init__(self, base_url: str, timeout: float) -> None:
        self._client = httpx.AsyncClient(base_url=base_url, timeout=timeout)

    async def send(self, sender: str, text: str, *, channel: str = "rest",
                   metadata: dict | None = None) -> RasaReply:
        payload: dict[str, Any] = {"sender": sender, "message": text, "input_channel": channel}
        if metadata:
            payload["metadata"] = metadata
        try:
            response = await self._client.post("/webhooks/kefu/webhook", json=payload)
            response.raise_for_status()
            body = response.json()
        except _UNREACHABLE as exc:
            logger.warning("Rasa did not answer for sender %s: %r", sender, exc)
            return self._unavailable(sender, error=type(exc).__name__)
        if body.get("error"):
            # Something inside Rasa failed (typically the action server): say so politely.
            logger.warning("Rasa failed for sender %s: %s", sender, body["error"])
            return self._unavailable(sender, error=body["error"], intent=body.get("intent"),
                                     confidence=body.get("confidence"))
        return RasaReply(messages=body.get("messages", []), ok=True,
                         intent=body.get("intent"), confidence=body.get("confidence"),
                         fallback=bool(body.get("fallback")))

    async def trigger_intent(self, sender: str, intent: str,
                             entities: dict[str, Any] | None = None) -> RasaReply:
        """Tell the dialogue something happened outside the chat (an `EXTERNAL_*` intent, e.g.
        staff resolved the conversation). The bot's answer comes back in the reply; it is not
        delivered by Rasa. Nothing is said to the customer when Rasa cannot be reached."""
        try:
            response = await self._client.post(
                f"{conversation_path(sender)}/trigger_intent",
                params={"output_channel": "latest"},
                json={"name": intent, "entities": entities or {}})
            response.raise_for_status()
            body = response.json()
        except _UNREACHABLE as exc:
            logger.warning("Rasa did not take %s for sender %s: %r", intent, sender, exc)
            return RasaReply(messages=[], ok=False, error=type(exc).__name__)
        return RasaReply(messages=body.get("messages") or [], ok=True, intent=intent)

    @staticmethod
    def _unavailable(sender: str, **kwargs: Any) -> RasaReply:
        return RasaReply(messages=[{"recipient_id": sender, "text": UNAVAILABLE_TEXT}],
                         ok=False, **kwargs)

    async def healthy(self) -> bool:
        try:
            return (await self._client.get("/", timeout=2.0)).status_code == 200
        except httpx.HTTPError:
            return False

    async def aclose(self) -> None:
        await self._client.aclose()
