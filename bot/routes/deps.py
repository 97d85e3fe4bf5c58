"""Shared dependencies of the staff routes (`Annotated` aliases, the console)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from bot.auth import ADMIN_ROLES, MARKETING_ROLES, SERVICE_ROLES, Staff, require_staff
from bot.console import AgentConsole

# Service staff: the agent console, transcripts, customers' details and tickets.
ServiceStaff = Annotated[Staff, Depends(require_staff(*SERVICE_ROLES))]
MarketingStaff = Annotated[Staff, Depends(require_staff(*MARKETING_ROLES))]
AdminStaff = Annotated[Staff, Depends(require_staff(*ADMIN_ROLES))]


def get_console(request: Request) -> AgentConsole:
    state = request.app.state
    console = getattr(state, "console", None)
    if console is None:
        console = state.console = AgentConsole(state.gateway, state.rasa, state.staff_bus)
    return console


Console = Annotated[AgentConsole, Depends(get_console)]
