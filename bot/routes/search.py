"""Staff search: conversations by what was said in them, customers by name, email, phone or
an order of theirs, tickets by reference, words or their order (crm_store.services.search)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from bot import console_store as cs
from bot import store
from bot.auth import no_store
from bot.routes.deps import ServiceStaff
from bot.routes.errors import http_errors
from bot.schemas import SearchPublic
from crm_store.services import search as search_service

router = APIRouter(prefix="/api/search", tags=["search"], dependencies=[Depends(no_store)])


@router.get("", response_model=SearchPublic,
            responses={401: {"description": "not signed in"},
                       403: {"description": "not service staff"},
                       422: {"description": "an empty, too long or unsearchable query, an "
                                            "unknown kind or a limit out of range"}})
async def search(
    request: Request, staff: ServiceStaff,
    q: Annotated[str, Query(description="words, an order number, an email address, a phone "
                                        "number or a ticket reference")],
    kind: Annotated[list[str] | None, Query(description="conversations, customers, tickets "
                                                        "(default: all three)")] = None,
    limit: Annotated[int, Query(ge=1, le=search_service.MAX_LIMIT,
                                description="at most this many of each kind")] = 10,
) -> SearchPublic:
    """Newest first within each kind. Every word must match, whole; an order number, email
    address or ticket reference is matched as typed ('#A1178', '123-4567890-1234567')."""
    with http_errors():
        found = await store.run(cs.search_all(
            q, kind or list(search_service.KINDS), limit,
            request.app.state.settings.default_phone_region))
    request.app.state.attachment_links.tickets_for_staff(found.tickets, staff.id)
    return found
