"""The channel the gateway talks to: Rasa's REST payloads plus what the gateway must record.

Rasa's stock REST channel answers with the bot's messages only, and answers `[]` when
something failed inside Rasa (for example the action server being down). The gateway needs
more: the intent and confidence of the customer's message for the conversation log, and
whether Rasa failed, so it can tell the customer to try again instead of staying silent.
"""

from __future__ import annotations

import logging
from asyncio import CancelledError
from typing import Any, Awaitable, Callable, Dict, Optional, Text

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from rasa.shared.core.events import ActionExecuted, UserUttered
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

logger = logging.getLogger(__name__)


class KefuRestInput(RestInput):
    @classmethod
    def name(cls) -> Text:
        return "kefu"

    def blueprint(
        self, on_new_message: Callable[[UserMessage], Awaitable[None]]
    ) -> Blueprint:
        webhook = Blueprint("kefu_webhook", __name__)

        @webhook.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            body = request.json or {}
            sender_id = body.get("sender")
            text = body.get("message")
            if not isinstance(sender_id, str) or not isinstance(text, str):
                return response.json(
                    {"error": "'sender' and 'message' must be strings"}, status=400
                )
            input_channel = body.get("input_channel") or self.name()
            metadata: Optional[Dict[Text, Any]] = body.get("metadata")
            collector = CollectingOutputChannel()
            error: Optional[str] = None
            try:
                await on_new_message(
                    UserMessage(text, collector, sender_id,
                                input_channel=input_channel, metadata=metadata)
                )
            except CancelledError:
                error = "timeout"
            except Exception as exc:  # Rasa's own REST channel swallows these too
                logger.exception("Kefu channel: message from %s failed", sender_id)
                error = type(exc).__name__
            intent, confidence, fallback = await _understanding(request, sender_id)
            return response.json({
                "messages": collector.messages,
                "intent": intent,
                "confidence": confidence,
                # The assistant could not handle this message (low NLU confidence, or no good
                # next step): staff review these.
                "fallback": fallback,
                "error": error,
            })

        return webhook


FALLBACK_ACTIONS = {"action_kefu_fallback", "action_default_fallback"}


async def _understanding(
    request: Request, sender_id: str
) -> tuple[Optional[str], Optional[float], bool]:
    """Intent and confidence of the message just handled, and whether it hit the fallback.

    Read from the raw event list, not `tracker.latest_message`: the fallback reverts the
    customer's turn, after which `latest_message` is the message before this one.
    """
    agent = getattr(request.app.ctx, "agent", None)
    if agent is None or agent.tracker_store is None:
        return None, None, False
    try:
        tracker = await agent.tracker_store.retrieve(sender_id)
    except Exception:  # the log entry is a nice-to-have; the reply matters more
        logger.exception("could not read the tracker of %s", sender_id)
        return None, None, False
    if tracker is None:
        return None, None, False
    actions_after: list[str] = []
    for event in reversed(tracker.events):
        if isinstance(event, UserUttered):
            intent = event.intent or {}
            return (intent.get("name"), intent.get("confidence"),
                    bool(FALLBACK_ACTIONS & set(actions_after)))
        if isinstance(event, ActionExecuted) and event.action_name:
            actions_after.append(event.action_name)
    return None, None, False
