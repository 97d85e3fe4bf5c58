"""A customer's whole context for service staff: profile, interests, orders, tickets."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from bot import console_store as cs
from bot import store
from bot.auth import no_store
from bot.routes.deps import ServiceStaff
from bot.routes.errors import http_errors
from bot.schemas import CustomerPublic

router = APIRouter(prefix="/api/customers", tags=["customers"], dependencies=[Depends(no_store)])


@router.get("/{customer_id}", response_model=CustomerPublic,
            responses={401: {"description": "not signed in"},
                       403: {"description": "not service staff"},
                       404: {"description": "no such customer"}})
async def get_customer(customer_id: int, staff: ServiceStaff) -> CustomerPublic:
    with http_errors():
        return await store.run(cs.customer_public(customer_id, cs.Actor(staff.id, staff.role)))
