"""Who is on the team (for transfers and ticket assignment)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query

from bot import console_store as cs
from bot import store
from bot.routes.deps import ServiceStaff
from bot.schemas import StaffPublic

router = APIRouter(prefix="/api/staff", tags=["staff"])


@router.get("", response_model=list[StaffPublic],
            responses={401: {"description": "not signed in"},
                       403: {"description": "not service staff"}})
async def list_staff(staff: ServiceStaff,
                     role: list[Literal["agent", "marketer", "admin"]] = Query(
                         default=["agent", "admin"])) -> list[StaffPublic]:
    """Active staff with these roles (default: those who can take conversations)."""
    return await store.run(cs.staff_list(role))
