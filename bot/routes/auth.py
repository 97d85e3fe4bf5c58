"""Staff sign-in and sign-out: JSON for API clients, a form for browsers."""

from __future__ import annotations

import hmac
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Request, Response
from fastapi.responses import RedirectResponse

from bot import auth, limits
from bot.auth import SignInRefused, Staff, require_staff
from bot.schemas import LoginBody, StaffPublic, TokenPublic
from kefu_config import clock

router = APIRouter(tags=["auth"])

CurrentStaff = Annotated[Staff, Depends(require_staff())]


def _locked_detail(until: datetime) -> tuple[str, int]:
    seconds = max(1, int((until - clock.now()).total_seconds()))
    minutes = max(1, round(seconds / 60))
    return (f"too many failed sign-ins for this address; try again in about {minutes} "
            f"minute{'s' if minutes != 1 else ''}", seconds)


async def _ip_wait(request: Request) -> float:
    """Seconds this client IP must wait after too many failed sign-ins (any addresses)."""
    return await limits.limiters_for(request.app).login_ip.check(limits.client_ip(request))


async def _ip_failed(request: Request) -> None:
    await limits.limiters_for(request.app).login_ip.hit(limits.client_ip(request))


IP_LIMIT_REASON = "too many failed sign-ins from your network address"


@router.post("/api/auth/login", response_model=TokenPublic,
             responses={401: {"description": "wrong email or password"},
                        429: {"description": "locked after repeated failures (this address "
                                             "or this client IP); see Retry-After"}})
async def api_login(body: LoginBody, request: Request) -> TokenPublic:
    """A bearer token for the API (`Authorization: Bearer <token>`)."""
    if wait := await _ip_wait(request):
        raise limits.too_many(IP_LIMIT_REASON, wait)
    try:
        issued = await auth.get_auth(request.app).sign_in(body.email, body.password, "api")
    except SignInRefused as exc:
        await _ip_failed(request)
        if exc.locked_until is not None:
            detail, seconds = _locked_detail(exc.locked_until)
            raise HTTPException(429, detail, headers={"Retry-After": str(seconds)}) from exc
        raise HTTPException(401, "wrong email or password") from exc
    return TokenPublic(token=issued.token, expires_at=issued.expires_at,
                       staff=StaffPublic(id=issued.staff_id, email=issued.email,
                                         name=issued.name, role=issued.role))


@router.post("/api/auth/logout", status_code=204)
async def api_logout(staff: CurrentStaff, request: Request) -> Response:
    """End the session or token used for this request."""
    await auth.get_auth(request.app).sign_out(staff.token)
    response = Response(status_code=204)
    if staff.via == "cookie":
        auth.clear_session_cookie(response, request.app.state.settings)
    return response


@router.get("/api/auth/me", response_model=StaffPublic)
async def me(staff: CurrentStaff) -> StaffPublic:
    return StaffPublic(id=staff.id, email=staff.email, name=staff.name, role=staff.role)


# --- browsers ------------------------------------------------------------------------------------

@router.get("/login", include_in_schema=False)
async def login_page(request: Request, next: str | None = None):
    return auth.render_page(request, "login.html",
                            {"next": auth.on_site(next) or "", "error": None, "email": ""})


@router.post("/login", include_in_schema=False)
async def login_form(request: Request, email: Annotated[str, Form(max_length=320)] = "",
                     password: Annotated[str, Form(max_length=1024)] = "",
                     next: Annotated[str, Form(max_length=500)] = ""):
    if wait := await _ip_wait(request):
        response = auth.render_page(
            request, "login.html",
            {"next": next, "email": email,
             "error": f"Too many failed sign-ins from your network address; try again in "
                      f"{limits.retry_after(wait)} s."}, status_code=429)
        response.headers["Retry-After"] = limits.retry_after(wait)
        return response
    try:
        issued = await auth.get_auth(request.app).sign_in(email.strip(), password, "browser")
    except SignInRefused as exc:
        await _ip_failed(request)
        if exc.locked_until is not None:
            error, _ = _locked_detail(exc.locked_until)
            status = 429
        else:
            error, status = "Wrong email or password.", 401
        return auth.render_page(request, "login.html",
                                {"next": next, "error": error[0].upper() + error[1:],
                                 "email": email}, status_code=status)
    response = RedirectResponse(auth.landing_for(next, issued.role), status_code=303)
    auth.set_session_cookie(response, issued, request.app.state.settings)
    return response


@router.post("/logout", include_in_schema=False)
async def logout_form(request: Request, csrf: Annotated[str, Form(max_length=100)] = ""):
    """The console's sign-out button (a form carrying the page's CSRF token)."""
    token = request.cookies.get(auth.COOKIE_NAME)
    response = RedirectResponse("/login", status_code=303)
    if token:
        staff = await auth.get_auth(request.app).staff_for(token, "cookie")
        if staff is not None and hmac.compare_digest(csrf.encode(), staff.csrf.encode()):
            await auth.get_auth(request.app).sign_out(token)
            auth.clear_session_cookie(response, request.app.state.settings)
    return response
