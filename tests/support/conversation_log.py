"""What crm_store kept of one channel conversation, for tests that check nothing was lost."""

from __future__ import annotations

from sqlalchemy import select

from crm_store.db import session_scope
from crm_store.models import Conversation, Direction, Message


def messages(channel: str, external_id: str, url: str | None = None) -> list[Message]:
    """The conversation's messages in order; [] when there is no such conversation."""
    with session_scope(url) as session:
        conversation = session.scalar(select(Conversation).where(
            Conversation.channel == channel, Conversation.external_id == external_id))
        if conversation is None:
            return []
        return list(session.scalars(select(Message).where(
            Message.conversation_id == conversation.id).order_by(Message.id)))


def inbound_texts(channel: str, external_id: str, url: str | None = None) -> list[str]:
    return [m.text for m in messages(channel, external_id, url)
            if m.direction == Direction.INBOUND]
