"""Handoffs: the queue of conversations waiting for a person, claim, transfer, resolve."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query

from bot import console_store as cs
from bot import store
from bot.auth import no_store
from bot.routes.deps import Console, ServiceStaff
from bot.routes.errors import http_errors
from bot.schemas import HandoffPublic, ResolveBody, ResolvedPublic, TransferBody

router = APIRouter(prefix="/api/handoffs", tags=["handoffs"], dependencies=[Depends(no_store)])

ERRORS = {401: {"description": "not signed in"}, 403: {"description": "not service staff"},
          404: {"description": "no such handoff"},
          409: {"description": "the handoff is not in a state that allows this"}}


@router.get("", response_model=list[HandoffPublic], responses={401: ERRORS[401],
                                                                403: ERRORS[403]})
async def list_handoffs(
    staff: ServiceStaff,
    status: Literal["waiting", "claimed", "resolved"] = "waiting",
    limit: Annotated[int, Query(ge=1, le=500)] = 200,
) -> list[HandoffPublic]:
    """Waiting: the queue, most urgent first, then longest waiting. Claimed and resolved:
    newest first."""
    return await store.run(cs.list_handoffs(status, limit))


@router.get("/{handoff_id}", response_model=HandoffPublic, responses=ERRORS)
async def get_handoff(handoff_id: int, staff: ServiceStaff) -> HandoffPublic:
    with http_errors():
        return await store.run(cs.get_handoff(handoff_id))


@router.post("/{handoff_id}/claim", response_model=HandoffPublic, responses=ERRORS)
async def claim(handoff_id: int, staff: ServiceStaff, console: Console) -> HandoffPublic:
    """Take the conversation. When two agents claim at once, the second gets 409."""
    with http_errors():
        return await console.claim(staff, handoff_id)


@router.post("/{handoff_id}/transfer", response_model=HandoffPublic,
             responses={**ERRORS, 422: {"description": "not an active agent"}})
async def transfer(handoff_id: int, body: TransferBody, staff: ServiceStaff,
                   console: Console) -> HandoffPublic:
    """Give a conversation you hold to another agent; the customer is told who continues (by
    display name, else 'a colleague')."""
    with http_errors():
        return await console.transfer(staff, handoff_id, body.staff_id)


@router.post("/{handoff_id}/resolve", response_model=ResolvedPublic, responses=ERRORS)
async def resolve(handoff_id: int, staff: ServiceStaff, console: Console,
                  body: ResolveBody | None = None) -> ResolvedPublic:
    """Done: the conversation goes back to the assistant, which asks the customer for a
    1-5 rating."""
    with http_errors():
        return await console.resolve(staff, handoff_id, body.note if body else None)
