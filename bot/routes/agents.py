"""Agents' availability for automatic assignment: each agent's own online/away status, and
for admins who is online and how many conversations each holds (crm_store.services.assignment).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from bot import console_store as cs
from bot import store
from bot.auth import no_store
from bot.routes.deps import AdminStaff, Console, ServiceStaff
from bot.routes.errors import http_errors
from bot.schemas import AgentPublic, AvailabilityBody, CapacityBody

router = APIRouter(prefix="/api/agents", tags=["agents"], dependencies=[Depends(no_store)])

NOT_SIGNED_IN = {401: {"description": "not signed in"}}


def _capacity(request: Request) -> int:
    return request.app.state.gateway.agent_capacity


@router.get("", response_model=list[AgentPublic],
            responses={**NOT_SIGNED_IN, 403: {"description": "not an admin"}})
async def list_agents(staff: AdminStaff, request: Request) -> list[AgentPublic]:
    """Every active agent and admin: online or away (since when), the conversations each
    holds, and their capacity. Admins only."""
    return await store.run(cs.agents(_capacity(request)))


@router.get("/me", response_model=AgentPublic,
            responses={**NOT_SIGNED_IN, 403: {"description": "not service staff"}})
async def my_status(staff: ServiceStaff, request: Request) -> AgentPublic:
    with http_errors():
        return await store.run(cs.agent(staff.id, _capacity(request)))


@router.put("/me", response_model=AgentPublic,
            responses={**NOT_SIGNED_IN, 403: {"description": "not service staff"}})
async def set_my_status(body: AvailabilityBody, staff: ServiceStaff,
                        console: Console) -> AgentPublic:
    """Online: waiting conversations are given to you automatically, up to your capacity.
    Away: none are, and those you hold go to a colleague with room or back to the queue
    (the customer is told which)."""
    with http_errors():
        return await console.set_availability(staff, body.status)


@router.put("/{staff_id}/capacity", response_model=AgentPublic,
            responses={**NOT_SIGNED_IN, 403: {"description": "not an admin"},
                       404: {"description": "no such agent"},
                       422: {"description": "not an active agent or admin"}})
async def set_capacity(staff_id: int, body: CapacityBody, staff: AdminStaff,
                       console: Console) -> AgentPublic:
    """How many conversations this agent is given at most; null: the default
    (KEFU_AGENT_CAPACITY). Admins only."""
    with http_errors():
        return await console.set_capacity(staff, staff_id, body.capacity)
