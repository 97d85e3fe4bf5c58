"""Everything for staff in the gateway: sign-in, the agent console page and websocket, and
the JSON API (handoffs, conversations, customers, tickets, search, staff). One call from create_app.

Every staff page (bot/templates/staff_page.html) is told how the shop writes dates, times
and money (`shop_format`: the policy's locale, time zone and currency) and loads
bot/static/format.js, the one helper the pages' scripts format them with (served with the
consoles' other public assets, at /marketing/static/format.js)."""

from __future__ import annotations

from fastapi import FastAPI

from bot import auth
from bot.routes import (
    agent,
    agents,
    conversations,
    customers,
    handoffs,
    search,
    staff,
    tickets,
)
from bot.routes import auth as auth_routes
from kefu_config.policy import load_policy


def shop_format() -> dict[str, str]:
    """What staff pages format with: {"locale": "en-GB", "time_zone": "Europe/London",
    "currency": "EUR"} from the shop policy."""
    shop = load_policy().shop
    return {"locale": shop.locale_tag, "time_zone": shop.timezone, "currency": shop.currency}


def install(app: FastAPI) -> None:
    auth.install(app)
    auth.TEMPLATES.env.globals["shop_format"] = shop_format
    for module in (auth_routes, agent, handoffs, conversations, customers, tickets, search,
                   staff, agents):
        app.include_router(module.router)
