"""The agent console: the page at /agent, its script and styles, and the staff websocket.

The page is a shell; bot/static/agent.js fills it from the JSON API and keeps it live over
`/ws/staff`, which forwards StaffBus events (customer messages, handoffs, notes, ticket
changes) to signed-in service staff:
  server -> client  {"type": "hello", "staff": {...}}, then each event as published,
                    {"type": "pong"}; {"type": "error", "reason"} before closing with 4401
                    (not signed in) or 4403 (wrong role)
  client -> server  {"type": "ping"}
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import FileResponse

from bot import auth
from bot.auth import SERVICE_ROLES, Staff, require_staff_page

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
# How often an open staff socket checks that its session is still valid (signed out,
# expired, account disabled).
RECHECK_SECONDS = 60.0

router = APIRouter(include_in_schema=False)

PageStaff = Annotated[Staff, Depends(require_staff_page(*SERVICE_ROLES))]


@router.get("/agent")
async def agent_page(request: Request, staff: PageStaff):
    return auth.render_page(request, "agent.html", {"staff": staff})


@router.get("/agent/static/{name}")
async def agent_static(name: str) -> FileResponse:
    files = {"agent.js": "application/javascript", "agent.css": "text/css"}
    if name not in files:
        raise HTTPException(404, "not found")
    return FileResponse(STATIC_DIR / name, media_type=files[name],
                        headers={"Cache-Control": "no-cache"})


@router.websocket("/ws/staff")
async def staff_socket(websocket: WebSocket) -> None:
    await websocket.accept()
    staff = await auth.staff_for_websocket(websocket)
    if staff is None or staff.role not in SERVICE_ROLES:
        code, reason = (4401, "sign in first") if staff is None else \
            (4403, "the agent console needs the agent or admin role")
        await websocket.send_text(json.dumps({"type": "error", "reason": reason}))
        await websocket.close(code=code)
        return
    bus = websocket.app.state.staff_bus
    async with bus.subscribe() as events:
        await websocket.send_text(json.dumps({"type": "hello", "staff": {
            "id": staff.id, "name": staff.name, "role": staff.role}}))
        forward = asyncio.create_task(_forward(websocket, events, staff.id))
        recheck = asyncio.create_task(_recheck(websocket, staff))
        try:
            await _receive(websocket)
        finally:
            for task in (forward, recheck):
                task.cancel()
            for task in (forward, recheck):
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task


async def _forward(websocket: WebSocket, events, staff_id: int) -> None:
    signer = websocket.app.state.attachment_links
    async for event in events:
        message = event.get("message") if event.get("type") == "message" else None
        if isinstance(message, dict) and message.get("attachment"):
            # A customer's photo: a link only this member of staff can open.
            event = {**event, "message": signer.for_staff(message, staff_id)}
        await websocket.send_text(json.dumps(event, default=str))


async def _receive(websocket: WebSocket) -> None:
    try:
        while True:
            raw = await websocket.receive_text()
            if len(raw) > 1000:
                continue
            try:
                frame = json.loads(raw)
            except ValueError:
                continue
            if isinstance(frame, dict) and frame.get("type") == "ping":
                await websocket.send_text('{"type": "pong"}')
    except (WebSocketDisconnect, RuntimeError):  # RuntimeError: we closed it (_recheck)
        return


async def _recheck(websocket: WebSocket, staff: Staff) -> None:
    while True:
        await asyncio.sleep(RECHECK_SECONDS)
        if await auth.get_auth(websocket.app).staff_for(staff.token, staff.via) is None:
            logger.info("closing staff socket of %s: the session ended", staff.id)
            with contextlib.suppress(Exception):
                await websocket.send_text(json.dumps({"type": "error",
                                                      "reason": "your session ended"}))
                await websocket.close(code=4401)
            return
