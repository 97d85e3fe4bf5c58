"""Rasa's tracker events, as its event broker publishes them, kept for analytics.

`record` takes one event dict exactly as Rasa's pika broker sends it ({"sender_id", "event",
"timestamp", ...}) and keeps the kinds analytics needs; `summary` counts them.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crm_store.models import Conversation, DialogueEvent
from kefu_config import clock, senders

# Rasa's own bookkeeping action after every turn: counting it would only count turns twice.
IGNORED_ACTIONS = {"action_listen", None, ""}


def _kind_and_name(event: dict[str, Any]) -> tuple[str, str, float | None] | None:
    name = event.get("event")
    if name == "user":
        intent = (event.get("parse_data") or {}).get("intent") or {}
        if not intent.get("name"):
            return None
        confidence = intent.get("confidence")
        return "intent", str(intent["name"]), \
            float(confidence) if isinstance(confidence, int | float) else None
    if name == "action" and event.get("name") not in IGNORED_ACTIONS:
        confidence = event.get("confidence")
        return "action", str(event["name"]), \
            float(confidence) if isinstance(confidence, int | float) else None
    if name == "action_execution_rejected":
        return "action_rejected", str(event.get("name") or "unknown"), None
    return None


def event_key(event: dict[str, Any]) -> str:
    """Identifies one tracker event across redeliveries (the broker delivers at least once)."""
    identity = json.dumps([event.get("sender_id"), event.get("event"), event.get("name"),
                           event.get("timestamp"), event.get("text")], default=str)
    return hashlib.sha256(identity.encode()).hexdigest()


def _conversation_id(session: Session, sender_id: str) -> int | None:
    parsed = senders.parse(sender_id)
    if parsed is None:
        return None
    channel, external_id = parsed
    return session.scalar(select(Conversation.id).where(
        Conversation.channel == channel, Conversation.external_id == external_id))


def record(session: Session, event: dict[str, Any]) -> DialogueEvent | None:
    """Keep `event` if analytics needs it; None when it is of another kind or already kept.

    Raises ValueError for something that is not a Rasa tracker event.
    """
    sender_id = event.get("sender_id")
    if not isinstance(sender_id, str) or not sender_id or not isinstance(event.get("event"), str):
        raise ValueError("not a Rasa tracker event (no sender_id or event)")
    found = _kind_and_name(event)
    if found is None:
        return None
    kind, name, confidence = found
    key = event_key(event)
    if session.scalar(select(DialogueEvent.id).where(DialogueEvent.event_key == key)):
        return None
    timestamp = event.get("timestamp")
    occurred_at = (datetime.fromtimestamp(float(timestamp), UTC)
                   if isinstance(timestamp, int | float) else clock.now())
    row = DialogueEvent(sender_id=sender_id[:240], conversation_id=_conversation_id(session,
                        sender_id), kind=kind, name=name[:200], confidence=confidence,
                        occurred_at=occurred_at, event_key=key)
    try:
        # A savepoint: a replica that kept the same event a moment ago loses only this row.
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        return None
    return row


def for_sender(session: Session, sender_id: str) -> list[DialogueEvent]:
    return list(session.scalars(select(DialogueEvent).where(DialogueEvent.sender_id == sender_id)
                                .order_by(DialogueEvent.occurred_at, DialogueEvent.id)))


def summary(session: Session, since: datetime | None = None) -> dict[str, dict[str, int]]:
    """{"intent": {"greet": 12, ...}, "action": {...}, "action_rejected": {...}}."""
    query = select(DialogueEvent.kind, DialogueEvent.name, func.count()) \
        .group_by(DialogueEvent.kind, DialogueEvent.name)
    if since is not None:
        query = query.where(DialogueEvent.occurred_at >= since)
    counts: dict[str, dict[str, int]] = {"intent": {}, "action": {}, "action_rejected": {}}
    for kind, name, count in session.execute(query):
        counts.setdefault(kind, {})[name] = count
    return counts
