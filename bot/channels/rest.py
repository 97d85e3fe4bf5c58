"""Rasa's REST channel payloads, served by the gateway for integrations and tests.

`POST /webhooks/rest/webhook` takes `{"sender", "message", "metadata"?, "message_id"?}` and
answers with the bot's messages as Rasa's REST channel does (`recipient_id`, `text`,
`buttons`, `image`, `custom`). A repeated `message_id` from the same sender is processed once
(the repeat gets `[]`). Messages that reach a REST sender later — an agent's reply in human
mode, a notification — wait until the integration fetches them with
`GET /webhooks/rest/messages?sender=...`. With KEFU_REST_TOKEN set, both need
`Authorization: Bearer <token>`.
"""

from __future__ import annotations

import hmac
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel, BeforeValidator, Field

from bot import limits, store
from bot.gateway import Gateway, Inbound
from bot.messages import ChatMessage
from bot.outbound import Outcome
from bot.store import ConversationRef
from kefu_config.settings import get_settings

CHANNEL = "rest"

router = APIRouter(prefix="/webhooks/rest", tags=["channels"])


def require_token(request: Request) -> None:
    expected = request.app.state.settings.rest_token
    if not expected:
        return
    given = request.headers.get("Authorization", "")
    if not hmac.compare_digest(given.encode(), f"Bearer {expected}".encode()):
        raise HTTPException(401, "the REST channel needs 'Authorization: Bearer <token>'",
                            headers={"WWW-Authenticate": "Bearer"})


def _customer_text(value: Any) -> Any:
    # The same rule as the web widget and Telegram (bot/limits.py), with the same words.
    if isinstance(value, str) and (problem := limits.message_problem(value)):
        raise ValueError(problem)
    return value


def _identifier(value: Any) -> Any:
    # Sender and message ids are stored as keys: printable text only.
    if isinstance(value, str) and limits.has_control_characters(value):
        raise ValueError("must not contain control characters")
    return value


Identifier = Annotated[str, BeforeValidator(_identifier), Field(min_length=1, max_length=128)]


class RestMessage(BaseModel):
    sender: Identifier
    message: Annotated[str, BeforeValidator(_customer_text),
                       Field(max_length=get_settings().max_message_chars)]
    metadata: dict[str, Any] | None = None
    # The integration's id for this message; a retried request with it is processed once.
    message_id: Identifier | None = None


class BotMessage(BaseModel, extra="allow"):
    recipient_id: str
    text: str | None = None


def rasa_shape(recipient: str, message: ChatMessage) -> dict[str, Any]:
    content = message.content
    data: dict[str, Any] = {"recipient_id": recipient}
    # With cards, the text lists them too: an integration that shows only text misses nothing.
    if text := content.text_with_products():
        data["text"] = text
    if content.buttons:
        data["buttons"] = [b.to_json() for b in content.buttons]
    if content.image:
        data["image"] = content.image
    if content.products:
        data["custom"] = {"type": "products",
                          "products": [p.to_json() for p in content.products]}
    if message.sender != "bot":
        data["sender"] = message.sender
    return data


async def _check_rate(request: Request, sender: str) -> None:
    """429 for a client IP or a sender over its limit; a refused message is not stored."""
    limiters = limits.limiters_for(request.app)
    refused = await limits.hit_all((limiters.rest_ip, limits.client_ip(request)),
                                   (limiters.rest_sender, sender))
    if refused is None:
        return
    limit, wait = refused
    if limit is limiters.rest_ip:
        raise limits.too_many("too many messages from this address", wait)
    raise limits.too_many(f"too many messages from sender {sender!r}", wait)


@router.post("/webhook", response_model=list[BotMessage], response_model_exclude_none=True,
             dependencies=[Depends(require_token)],
             responses={413: {"description": "request body too large"},
                        429: {"description": "too many messages; see Retry-After"}})
async def rest_webhook(body: RestMessage, request: Request) -> list[dict[str, Any]]:
    await _check_rate(request, body.sender)
    gateway: Gateway = request.app.state.gateway
    # Metadata from the integration is passed on, but cannot pose as the gateway's own keys.
    metadata = {k: v for k, v in (body.metadata or {}).items()
                if k not in ("channel", "customer_id")}
    handled = await gateway.handle(Inbound(
        CHANNEL, body.sender, body.message, metadata=metadata,
        dedupe_key=f"rest:{body.sender}:{body.message_id}" if body.message_id else None))
    if handled.replies:
        # The answer is this response: delivered.
        await store.run(store.mark_delivered(handled.conversation.id,
                                             [m.id for m in handled.replies]))
    return [rasa_shape(body.sender, m) for m in handled.replies]


@router.get("/messages", response_model=list[BotMessage], response_model_exclude_none=True,
            dependencies=[Depends(require_token)])
async def rest_messages(
    sender: Annotated[str, Query(min_length=1, max_length=128), BeforeValidator(_identifier)],
) -> list[dict[str, Any]]:
    """Messages for this sender that arrived outside a request (agent replies), once each."""
    conversation = await store.run(store.find_conversation(CHANNEL, sender))
    if conversation is None:
        return []
    pending = await store.run(store.pending(conversation.id))
    if pending:
        await store.run(store.mark_delivered(conversation.id, [m.id for m in pending]))
    return [rasa_shape(sender, m) for m in pending]


class RestSender:
    """REST integrations pull: a message waits until it is returned by one of the routes."""

    channel = CHANNEL

    async def send(self, conversation: ConversationRef, message: ChatMessage) -> Outcome:
        return Outcome.deferred("waiting for the integration to fetch it")
