from __future__ import annotations

from fastapi import APIRouter, Request

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz(request: Request) -> dict[str, object]:
    # The gateway itself is up; Rasa's state is reported, not required, so that a restarting
    # Rasa does not make a load balancer drop the gateway (customers still get a polite reply).
    body: dict[str, object] = {"status": "ok", "rasa": await request.app.state.rasa.healthy()}
    telegram = getattr(request.app.state, "telegram", None)
    if telegram is not None:
        body["telegram"] = "up" if telegram.ready.is_set() else "connecting"
    return body
