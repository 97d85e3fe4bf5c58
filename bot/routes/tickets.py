"""Tickets for service staff: a filtered list with SLA deadlines, and edits."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request

from bot import console_store as cs
from bot import store
from bot.auth import no_store
from bot.routes.deps import Console, ServiceStaff
from bot.routes.errors import http_errors
from bot.schemas import TicketPublic, TicketUpdate

router = APIRouter(prefix="/api/tickets", tags=["tickets"], dependencies=[Depends(no_store)])


@router.get("", response_model=list[TicketPublic],
            responses={401: {"description": "not signed in"},
                       403: {"description": "not service staff"},
                       422: {"description": "an unknown filter value"}})
async def list_tickets(
    request: Request,
    staff: ServiceStaff,
    status: Annotated[list[str] | None, Query(description="open, pending, resolved, closed")
                      ] = None,
    priority: Annotated[list[str] | None, Query(description="low, normal, high, urgent")] = None,
    kind: Annotated[list[str] | None, Query()] = None,
    category: Annotated[list[str] | None, Query()] = None,
    assignee: Annotated[str | None, Query(description="'me', 'unassigned' or a staff id")
                        ] = None,
    breached: Annotated[bool | None, Query(description="only tickets that missed (true) or "
                                                       "kept (false) their SLA")] = None,
    customer_id: int | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 200,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[TicketPublic]:
    """Matching tickets, the most urgent SLA deadline first, each with the customer's photos
    and files added to it (links signed for you, expiring)."""
    filters: dict = {"statuses": status, "priorities": priority, "kinds": kind,
                     "categories": category, "breached": breached, "customer_id": customer_id}
    if assignee == "me":
        filters["assignee_id"] = staff.id
    elif assignee == "unassigned":
        filters["unassigned"] = True
    elif assignee:
        if not assignee.isdigit():
            raise HTTPException(422, "assignee is 'me', 'unassigned' or a staff id")
        filters["assignee_id"] = int(assignee)
    with http_errors():
        found = await store.run(cs.list_tickets(filters, limit, offset))
    return request.app.state.attachment_links.tickets_for_staff(found, staff.id)


@router.patch("/{ticket_id}", response_model=TicketPublic,
              responses={401: {"description": "not signed in"},
                         403: {"description": "not service staff"},
                         404: {"description": "no such ticket"},
                         422: {"description": "a bad value, or nothing to change"}})
async def update_ticket(ticket_id: int, body: TicketUpdate, staff: ServiceStaff,
                        console: Console, request: Request) -> TicketPublic:
    """Change status, priority, assignee or resolution (only the fields sent). Resolving needs
    a resolution; the customer is then told it, with the ticket's reference, in their most
    recently active conversation, and asked there to rate how it was handled."""
    changes = {name: getattr(body, name) for name in body.model_fields_set}
    for name in ("status", "priority"):
        if name in changes and changes[name] is None:
            raise HTTPException(422, f"{name} cannot be null")
    if not changes:
        raise HTTPException(422, "nothing to change: send status, priority, assignee_id or "
                            "resolution")
    with http_errors():
        ticket, newly_resolved = await store.run(
            cs.update_ticket(ticket_id, cs.Actor(staff.id, staff.role), changes))
    await console.ticket_updated(staff, ticket, newly_resolved)
    return request.app.state.attachment_links.tickets_for_staff([ticket], staff.id)[0]
