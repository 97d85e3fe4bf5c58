"""Everything for staff in the gateway: sign-in, the agent console page and websocket, and
the JSON API (handoffs, conversations, customers, tickets, staff). One call from create_app."""

from __future__ import annotations

from fastapi import FastAPI

from bot import auth
from bot.routes import agent, conversations, customers, handoffs, staff, tickets
from bot.routes import auth as auth_routes


def install(app: FastAPI) -> None:
    auth.install(app)
    for module in (auth_routes, agent, handoffs, conversations, customers, tickets, staff):
        app.include_router(module.router)
