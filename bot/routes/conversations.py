"""Conversations for service staff: the transcript (the assistant's part included), replies
to the customer on their channel, and private notes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from bot import canned, store
from bot import console_store as cs
from bot.auth import no_store
from bot.routes.deps import Console, ServiceStaff
from bot.routes.errors import http_errors
from bot.schemas import (
    CannedResponse,
    ConversationPublic,
    MessageCreate,
    MessagePublic,
    NoteCreate,
    NotePublic,
)
from kefu_config.policy import load_policy

router = APIRouter(prefix="/api", tags=["conversations"], dependencies=[Depends(no_store)])

ERRORS = {401: {"description": "not signed in"}, 403: {"description": "not service staff"},
          404: {"description": "no such conversation"}}


@router.get("/conversations/{conversation_id}", response_model=ConversationPublic,
            responses=ERRORS)
async def get_conversation(
    conversation_id: int, staff: ServiceStaff, request: Request,
    limit: Annotated[int, Query(ge=1, le=cs.TRANSCRIPT_LIMIT)] = cs.TRANSCRIPT_LIMIT,
) -> ConversationPublic:
    """The transcript (last `limit` messages, oldest first), the handoff and the notes."""
    with http_errors():
        public = await store.run(cs.conversation_public(conversation_id,
                                                        cs.Actor(staff.id, staff.role), limit))
    # Customers' photos: links that only this member of staff can open, for a while.
    signer = request.app.state.attachment_links
    for message in public.messages:
        if message.attachment:
            message.attachment = signer.for_staff({"attachment": message.attachment},
                                                  staff.id)["attachment"]
    return public


@router.post("/conversations/{conversation_id}/messages", status_code=201,
             response_model=MessagePublic,
             responses={**ERRORS, 409: {"description": "you do not hold this conversation"}})
async def reply(conversation_id: int, body: MessageCreate, staff: ServiceStaff,
                console: Console) -> MessagePublic:
    """An agent's reply, delivered on the customer's channel (stored first, retried)."""
    with http_errors():
        return await console.reply(staff, conversation_id, body.text)


@router.post("/conversations/{conversation_id}/notes", status_code=201,
             response_model=NotePublic, responses=ERRORS)
async def add_note(conversation_id: int, body: NoteCreate, staff: ServiceStaff,
                   console: Console) -> NotePublic:
    """A private note for the team; never sent to the customer."""
    with http_errors():
        return await console.note(staff, conversation_id, body.text)


@router.get("/canned-responses", response_model=list[CannedResponse],
            responses={401: ERRORS[401], 403: ERRORS[403]})
async def canned_responses(request: Request, staff: ServiceStaff,
                           first_name: Annotated[str | None, Query(max_length=80)] = None
                           ) -> list[CannedResponse]:
    """Ready-made replies with {agent} and {shop} filled in (and {first_name} if given)."""
    return canned.render(request.app.state.settings.canned_responses_file,
                         first_name=first_name, agent=staff.name or "the team",
                         shop=load_policy().shop.name)
