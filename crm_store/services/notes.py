"""Private notes beside a conversation: what one agent tells the next; never sent to the
customer."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_store.errors import InvalidInput, NotFound
from crm_store.models import Conversation, ConversationNote, utcnow
from crm_store.services import audit

MAX_NOTE_CHARS = 5_000


def add(session: Session, *, conversation_id: int, staff_id: int, text: str) -> ConversationNote:
    text = (text or "").strip()
    if not text:
        raise InvalidInput("a note needs some text")
    if len(text) > MAX_NOTE_CHARS:
        raise InvalidInput(f"a note holds at most {MAX_NOTE_CHARS} characters")
    if session.get(Conversation, conversation_id) is None:
        raise NotFound(f"no conversation {conversation_id}")
    note = ConversationNote(conversation_id=conversation_id, staff_id=staff_id, text=text,
                            created_at=utcnow())
    session.add(note)
    session.flush()
    audit.record(session, actor=f"staff:{staff_id}", staff_id=staff_id, action="note.add",
                 entity="conversation", entity_id=conversation_id, details={"note_id": note.id})
    return note


def for_conversation(session: Session, *, conversation_id: int) -> list[ConversationNote]:
    return list(session.scalars(select(ConversationNote)
                                .where(ConversationNote.conversation_id == conversation_id)
                                .order_by(ConversationNote.created_at, ConversationNote.id)))
