"""What Rasa did in each conversation, as its event broker reported it (production profile).

Rasa publishes every tracker event to RabbitMQ; the gateways consume them
(bot/rasa_events.py) and keep the ones analytics needs: the intent of each customer turn, each
action Rasa ran, and each action that was rejected. The dashboard reads them from here instead
of polling Rasa's trackers.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from crm_store.models.base import Base


class DialogueEvent(Base):
    __tablename__ = "dialogue_events"
    __table_args__ = (Index("ix_dialogue_events_kind_at", "kind", "occurred_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # Rasa's sender id, "<channel>:<external id>" (bot/gateway.py).
    sender_id: Mapped[str] = mapped_column(String(240), index=True)
    # Null when the conversation is not (or no longer) in the store.
    conversation_id: Mapped[int | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(32))  # intent | action | action_rejected
    name: Mapped[str] = mapped_column(String(200))
    confidence: Mapped[float | None] = mapped_column(Float)
    occurred_at: Mapped[datetime]
    # The broker delivers at least once: a redelivered event has the same key and is skipped.
    event_key: Mapped[str] = mapped_column(String(64), unique=True)
