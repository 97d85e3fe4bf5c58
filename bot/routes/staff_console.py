"""Everything for staff in the gateway: sign-in, the agent console page and websocket, and
the JSON API (handoffs, conversations, customers, tickets, staff). One call from create_app.

Every staff page (bot/templates/staff_page.html) is told how the shop writes dates, times
and money (`shop_format`: the policy's locale, time zone and currency) and loads
/staff/static/format.js, the one helper the pages' scripts format them with."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse

from bot import auth
from bot.routes import agent, conversations, customers, handoffs, staff, tickets
from bot.routes import auth as auth_routes
from kefu_config.policy import load_policy

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"

static_router = APIRouter(include_in_schema=False)


def shop_format() -> dict[str, str]:
    """What staff pages format with: {"locale": "en-GB", "time_zone": "Europe/London",
    "currency": "EUR"} from the shop policy."""
    shop = load_policy().shop
    return {"locale": shop.locale_tag, "time_zone": shop.timezone, "currency": shop.currency}


@static_router.get("/staff/static/format.js")
async def format_script() -> FileResponse:
    return FileResponse(STATIC_DIR / "format.js", media_type="application/javascript",
                        headers={"Cache-Control": "no-cache"})


def install(app: FastAPI) -> None:
    auth.install(app)
    auth.TEMPLATES.env.globals["shop_format"] = shop_format
    app.include_router(static_router)
    for module in (auth_routes, agent, handoffs, conversations, customers, tickets, staff):
        app.include_router(module.router)
