"""The channel the gateway talks to: Rasa's REST payloads plus what the gateway must record.

Rasa's stock REST channel answers with the bot's messages only, and answers `[]` when
something failed inside Rasa. The gateway needs more: the intent and confidence of the
customer's message for the conversation log, and whether Rasa failed, so it can tell the
customer to try again instead of staying silent.

The action server failing is the case that matters most, and Rasa 3.6 hides it: the
processor catches the error ("Bot will continue, but the actions events are lost"), carries on
and the turn ends normally, often with no reply at all. So this channel watches the action
endpoint during each turn (`_WatchedActionEndpoint`); when a call failed, it answers with
`error: "action_server_failed"` and takes the customer's turn back out of the dialogue
(`UserUtteranceReverted`), so that the same message, sent again once the action server is
back, is understood as if the failed attempt never happened.
"""

from __future__ import annotations

import logging
from asyncio import CancelledError
from contextvars import ContextVar
from typing import Any, Awaitable, Callable, Dict, List, Optional, Text

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.events import (
    ActionExecuted,
    ActiveLoop,
    SlotSet,
    UserUtteranceReverted,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from rasa_channels import action_validation

logger = logging.getLogger(__name__)

# Rasa loads this channel at start-up (credentials.yml), before the first action call.
action_validation.install()

# Calls to the action server that failed during the turn this task is handling.
_failed_actions: ContextVar[Optional[List[str]]] = ContextVar("kefu_failed_actions",
                                                             default=None)


class _WatchedActionEndpoint:
    """Rasa's action endpoint (an EndpointConfig), noting every call that fails during a
    turn. Everything but `request` is the wrapped endpoint's."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        if name == "_inner":  # copy/pickle probe before __init__ ran
            raise AttributeError(name)
        return getattr(self._inner, name)

    async def request(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return await self._inner.request(*args, **kwargs)
        except Exception as exc:
            # 400 is an action rejecting its own execution (a form's validation): dialogue
            # as usual, not a failure. Anything else — refused connection, timeout, 5xx,
            # 404 unknown action — loses the action's events.
            if getattr(exc, "status", None) != 400:
                failures = _failed_actions.get()
                if failures is not None:
                    action = (kwargs.get("json") or {}).get("next_action") or "?"
                    failures.append(f"{action}: {type(exc).__name__}: {exc}")
            raise


# The tracker as Rasa saved it at the end of the turn this task is handling.
_saved_tracker: ContextVar[Optional[List[DialogueStateTracker]]] = ContextVar(
    "kefu_saved_tracker", default=None)


class _RememberingTrackerStore:
    """The processor's tracker store, keeping the tracker it saves during a turn so the
    channel reads the turn's intent from it instead of loading the whole tracker again
    (bench/profile_turn.py: a second retrieve per turn, ~5% of Rasa's CPU). Everything but
    `save` is the wrapped store's."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        if name == "_inner":
            raise AttributeError(name)
        return getattr(self._inner, name)

    async def save(self, tracker: DialogueStateTracker) -> None:
        await self._inner.save(tracker)
        saved = _saved_tracker.get()
        if saved is not None:
            saved[:] = [tracker]


def _remember_saved_trackers(agent: Any) -> None:
    processor = agent.processor
    store = getattr(processor, "tracker_store", None)
    if store is not None and not isinstance(store, _RememberingTrackerStore):
        processor.tracker_store = _RememberingTrackerStore(store)


def _watch_action_endpoint(agent: Any) -> None:
    """Wraps the processor's action endpoint once (again after a model reload, which makes
    a new processor)."""
    processor = agent.processor
    endpoint = getattr(processor, "action_endpoint", None)
    if endpoint is not None and not isinstance(endpoint, _WatchedActionEndpoint):
        processor.action_endpoint = _WatchedActionEndpoint(endpoint)


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
            agent = getattr(request.app.ctx, "agent", None)
            if agent is None or not agent.is_ready():
                # Rasa would "ignore" the message and answer nothing.
                return response.json({"messages": [], "intent": None, "confidence": None,
                                      "fallback": False, "error": "model_not_loaded"})
            _watch_action_endpoint(agent)
            _remember_saved_trackers(agent)
            collector = CollectingOutputChannel()
            error: Optional[str] = None
            failed_actions: List[str] = []
            saved: List[DialogueStateTracker] = []
            token = _failed_actions.set(failed_actions)
            saved_token = _saved_tracker.set(saved)
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
            finally:
                _failed_actions.reset(token)
                _saved_tracker.reset(saved_token)
            intent, confidence, fallback = await _understanding(
                request, sender_id, saved[0] if saved else None)
            if failed_actions and error is None:
                logger.warning("Kefu channel: the action server failed for %s (%s); the "
                               "turn is taken back", sender_id, "; ".join(failed_actions))
                error = "action_server_failed"
                await _revert_turn(agent, sender_id)
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


async def _revert_turn(agent: Any, sender_id: str) -> None:
    """Take the customer's last turn back out of the dialogue, so that sending the same
    message again continues the conversation as if the failed attempt never happened.

    Usually `UserUtteranceReverted`, as Rasa's own `action_back` does. But inside an active
    form Rasa has already folded the turn into the form's previous step (`applied_events`
    drops its user message when the form runs again), and reverting would undo that earlier
    step too; there, the slots and the active form are set back to what they were before the
    turn instead. Either way the bot then listens. When the turn began a new session nothing
    is left, and the next message starts the session afresh (action_session_start again).
    """
    try:
        async with agent.lock_store.lock(sender_id):
            tracker = await agent.tracker_store.retrieve(sender_id)
            if tracker is None:
                return
            events = list(tracker.events)
            turn = next((i for i in range(len(events) - 1, -1, -1)
                         if isinstance(events[i], UserUttered)), None)
            if turn is None:
                return
            if any(event is events[turn] for event in tracker.applied_events()):
                tracker.update(UserUtteranceReverted())
            else:
                before = DialogueStateTracker.from_events(sender_id, events[:turn],
                                                          slots=agent.domain.slots)
                for name, value in before.current_slot_values().items():
                    if tracker.get_slot(name) != value:
                        tracker.update(SlotSet(name, value))
                if before.active_loop_name != tracker.active_loop_name:
                    tracker.update(ActiveLoop(before.active_loop_name))
            applied = tracker.applied_events()
            last_action = next((e.action_name for e in reversed(applied)
                                if isinstance(e, ActionExecuted)), None)
            if applied and last_action != ACTION_LISTEN_NAME:
                tracker.update(ActionExecuted(ACTION_LISTEN_NAME))
            await agent.tracker_store.save(tracker)
    except Exception:  # the customer still gets "try again"; the log says what is left
        logger.exception("could not take back the failed turn of %s", sender_id)


async def _understanding(
    request: Request, sender_id: str, tracker: Optional[DialogueStateTracker] = None
) -> tuple[Optional[str], Optional[float], bool]:
    """Intent and confidence of the message just handled, and whether it hit the fallback,
    from the tracker saved at the end of the turn (loaded again only if none was).

    Read from the raw event list, not `tracker.latest_message`: the fallback reverts the
    customer's turn, after which `latest_message` is the message before this one.
    """
    agent = getattr(request.app.ctx, "agent", None)
    if tracker is None:
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
