"""Staff sign-in and roles for every staff page, API and websocket in the gateway.

Two ways in, one kind of session (crm_store `staff_sessions`):
  - browsers sign in at /login and get an HttpOnly, SameSite=Strict cookie; requests that
    change something must also carry the page's CSRF token (header `X-CSRF-Token`);
  - API clients `POST /api/auth/login` and send `Authorization: Bearer <token>`.
Tokens are random; the store keeps only an HMAC of each under the secret key
(KEFU_SECRET_KEY), so a copy of the database signs nobody in, and changing the key signs
everybody out.

Use in a route:
    staff: Annotated[Staff, Depends(require_staff("agent", "admin"))]      (APIs: 401/403)
    staff: Annotated[Staff, Depends(require_staff_page("agent", "admin"))]  (pages: to /login)
and `await staff_for_websocket(websocket, "agent", "admin")` in a websocket.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import quote, urlsplit

from fastapi import FastAPI, HTTPException, Request, WebSocket
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from bot import store
from crm_store.models import StaffUser
from crm_store.services import staff_sessions
from kefu_config.settings import Settings

logger = logging.getLogger(__name__)

ROLES = ("agent", "marketer", "admin")
# Who may do what; pages and APIs name these rather than spelling roles out.
SERVICE_ROLES = ("agent", "admin")
MARKETING_ROLES = ("marketer", "admin")
ADMIN_ROLES = ("admin",)

COOKIE_NAME = "kefu_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
MIN_SECRET_CHARS = 32
SECRET_FILE = "secret_key"

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).resolve().parent / "templates"))


@dataclass(frozen=True)
class Staff:
    """The signed-in staff member of one request."""

    id: int
    email: str
    name: str | None
    role: str
    # "cookie" (a browser) or "bearer" (an API client); CSRF checks apply to cookies only.
    via: str
    token: str
    csrf: str

    @property
    def display_name(self) -> str:
        return self.name or self.email.split("@")[0]

    @property
    def actor(self) -> str:
        """How the audit log names this person."""
        return f"staff:{self.id}"


@dataclass(frozen=True)
class Issued:
    token: str
    expires_at: datetime
    staff_id: int
    email: str
    name: str | None
    role: str


class SignInRefused(Exception):
    def __init__(self, locked_until: datetime | None) -> None:
        super().__init__("locked" if locked_until else "wrong email or password")
        self.locked_until = locked_until


# --- the secret key ------------------------------------------------------------------------------

def load_secret_key(settings: Settings) -> bytes:
    """KEFU_SECRET_KEY, or in development a random key kept in the data directory (0600)."""
    if settings.secret_key:
        if len(settings.secret_key) < MIN_SECRET_CHARS:
            raise ValueError(f"KEFU_SECRET_KEY must be at least {MIN_SECRET_CHARS} characters "
                             "(e.g. the output of: python -c 'import secrets; "
                             "print(secrets.token_urlsafe(48))')")
        return settings.secret_key.encode()
    path = settings.data_path / SECRET_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    # Written whole to a private temporary file, then linked into place: os.link fails if the
    # file exists, so two processes starting at once (gateway replicas) agree on one key, and
    # neither can read a file the other has created but not yet written.
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".secret_key.")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(key + "\n")
        os.link(temporary, path)
    except FileExistsError:
        if path.stat().st_mode & 0o077:
            logger.warning("%s is readable by other users; restricting it to 0600", path)
            path.chmod(0o600)
        key = path.read_text().strip()
        if len(key) < MIN_SECRET_CHARS:
            raise ValueError(f"{path} holds no usable key; delete it to make a new one")
        logger.info("KEFU_SECRET_KEY is unset; using the development key in %s", path)
        return key.encode()
    finally:
        os.unlink(temporary)
    logger.warning("KEFU_SECRET_KEY is unset; generated a development key in %s (0600). "
                   "Set KEFU_SECRET_KEY in production.", path)
    return key.encode()


# --- sessions ------------------------------------------------------------------------------------

class Auth:
    """Signs staff in and out and recognises their tokens. One per app (`get_auth`)."""

    def __init__(self, settings: Settings, key: bytes) -> None:
        self.settings = settings
        self._key = key

    def token_hash(self, token: str) -> str:
        return hmac.new(self._key, b"session:" + token.encode(), hashlib.sha256).hexdigest()

    def csrf_for(self, token: str) -> str:
        """The CSRF token that goes with a browser session (derived, so nothing to store)."""
        return hmac.new(self._key, b"csrf:" + token.encode(), hashlib.sha256).hexdigest()[:40]

    def lifetime(self, kind: str) -> timedelta:
        hours = self.settings.staff_session_hours if kind == "browser" \
            else self.settings.api_token_hours
        return timedelta(hours=hours)

    async def sign_in(self, email: str, password: str, kind: str) -> Issued:
        """A new session for these credentials; SignInRefused when wrong or locked out."""
        token = secrets.token_urlsafe(32)
        token_hash = self.token_hash(token)
        settings = self.settings

        def work(session) -> Issued | datetime | None:
            staff_sessions.purge_expired(session)
            result = staff_sessions.sign_in(
                session, email=email, password=password,
                max_failures=settings.login_max_failures,
                lockout=timedelta(minutes=settings.login_lockout_minutes))
            if result.user is None:
                return result.locked_until
            user: StaffUser = result.user
            opened = staff_sessions.open_session(session, staff_id=user.id,
                                                 token_hash=token_hash, kind=kind,
                                                 lifetime=self.lifetime(kind))
            return Issued(token, opened.expires_at, user.id, user.email, user.name,
                          user.role.value)

        outcome = await store.run(work)
        if not isinstance(outcome, Issued):
            raise SignInRefused(outcome)
        logger.info("staff %s signed in (%s)", outcome.staff_id, kind)
        return outcome

    async def staff_for(self, token: str, via: str) -> Staff | None:
        token_hash = self.token_hash(token)

        def work(session) -> tuple[int, str, str | None, str] | None:
            found = staff_sessions.active(session, token_hash=token_hash)
            if found is None:
                return None
            _, user = found
            return user.id, user.email, user.name, user.role.value

        found = await store.run(work)
        if found is None:
            return None
        staff_id, email, name, role = found
        return Staff(staff_id, email, name, role, via, token, self.csrf_for(token))

    async def sign_out(self, token: str) -> bool:
        token_hash = self.token_hash(token)
        return await store.run(
            lambda session: staff_sessions.close(session, token_hash=token_hash) is not None)


def get_auth(app: FastAPI) -> Auth:
    auth = getattr(app.state, "auth", None)
    if auth is None:
        settings: Settings = app.state.settings
        auth = app.state.auth = Auth(settings, load_secret_key(settings))
    return auth


def install(app: FastAPI) -> None:
    """Load the key at start (a bad KEFU_SECRET_KEY fails the start, not the first login) and
    turn page sign-in failures into redirects and readable pages."""
    get_auth(app)
    app.add_exception_handler(PageLoginRequired, _login_redirect)
    app.add_exception_handler(PageForbidden, _forbidden_page)


# --- dependencies --------------------------------------------------------------------------------

def _bearer(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return value.strip() or None


def _credentials(request: Request | WebSocket) -> tuple[str | None, str]:
    token = _bearer(request.headers.get("authorization"))
    if token:
        return token, "bearer"
    return request.cookies.get(COOKIE_NAME) or None, "cookie"


async def _authenticate(request: Request) -> Staff | None:
    token, via = _credentials(request)
    if not token or len(token) > 200:
        return None
    return await get_auth(request.app).staff_for(token, via)


def _role_check(staff: Staff, roles: tuple[str, ...]) -> bool:
    return not roles or staff.role in roles


def _roles_text(roles: tuple[str, ...]) -> str:
    return " or ".join(roles)


def require_staff(*roles: str) -> Callable[[Request], Awaitable[Staff]]:
    """API dependency: 401 without a valid session or token, 403 without one of `roles`, and
    403 for a browser request that changes something without the page's CSRF token."""
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown roles {sorted(unknown)}")

    async def dependency(request: Request) -> Staff:
        staff = await _authenticate(request)
        if staff is None:
            raise HTTPException(401, "sign in first: POST /api/auth/login, then send "
                                "'Authorization: Bearer <token>'",
                                headers={"WWW-Authenticate": "Bearer"})
        if staff.via == "cookie" and request.method not in SAFE_METHODS:
            given = request.headers.get(CSRF_HEADER, "")
            if not hmac.compare_digest(given.encode(), staff.csrf.encode()):
                raise HTTPException(403, f"missing or wrong {CSRF_HEADER} header")
        if not _role_check(staff, roles):
            raise HTTPException(403, f"this needs the {_roles_text(roles)} role; you are "
                                f"signed in as {staff.role}")
        request.state.staff = staff
        return staff

    return dependency


class PageLoginRequired(Exception):
    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


class PageForbidden(Exception):
    def __init__(self, staff: Staff, roles: tuple[str, ...]) -> None:
        super().__init__(staff.role)
        self.staff = staff
        self.roles = roles


def require_staff_page(*roles: str) -> Callable[[Request], Awaitable[Staff]]:
    """Page dependency: the sign-in page when nobody is signed in, a 403 page for a role
    that may not see it."""

    async def dependency(request: Request) -> Staff:
        staff = await _authenticate(request)
        if staff is None or staff.via != "cookie":
            raise PageLoginRequired(request.url.path)
        if not _role_check(staff, roles):
            raise PageForbidden(staff, roles)
        request.state.staff = staff
        return staff

    return dependency


async def _login_redirect(request: Request, exc: PageLoginRequired) -> Response:
    return RedirectResponse(f"/login?next={quote(exc.next_path)}", status_code=303)


async def _forbidden_page(request: Request, exc: PageForbidden) -> Response:
    response = TEMPLATES.TemplateResponse(
        request, "staff_forbidden.html",
        {"staff": exc.staff, "roles": _roles_text(exc.roles), "home": home_for(exc.staff.role)},
        status_code=403)
    secure_page_headers(response)
    return response


async def staff_for_websocket(websocket: WebSocket, *roles: str) -> Staff | None:
    """The staff member behind a websocket, or None (the caller closes it).

    Browsers send the session cookie with the handshake, from any site that opens the socket,
    so a cookie only counts when the Origin is this gateway itself."""
    token, via = _credentials(websocket)
    if not token or len(token) > 200:
        return None
    if via == "cookie":
        origin = websocket.headers.get("origin")
        if origin is not None and urlsplit(origin).netloc != websocket.headers.get("host"):
            logger.warning("staff websocket refused: origin %s is not this gateway", origin)
            return None
    staff = await get_auth(websocket.app).staff_for(token, via)
    if staff is None or not _role_check(staff, roles):
        return None
    return staff


# --- browser helpers -----------------------------------------------------------------------------

# Where each role starts: the page of its work.
HOMES = {"agent": "/agent", "marketer": "/marketing", "admin": "/dashboard"}
# The staff pages and the roles that may open them, as their routes' require_staff_page says
# (tests/staff/test_sign_in_landing.py checks the two agree).
STAFF_PAGES = {"/agent": SERVICE_ROLES, "/dashboard": SERVICE_ROLES, "/marketing": MARKETING_ROLES}


def home_for(role: str) -> str:
    return HOMES.get(role, "/agent")


def on_site(value: str | None) -> str | None:
    """Only a path on this site: a crafted link must not send a fresh login elsewhere."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return None


def landing_for(next_path: str | None, role: str) -> str:
    """Where a fresh sign-in goes: the page asked for when this role may see it, otherwise
    the role's own start page (a marketer sent from /agent lands on /marketing)."""
    target = on_site(next_path)
    if target is None:
        return home_for(role)
    needed = STAFF_PAGES.get(urlsplit(target).path.rstrip("/") or "/")
    if needed is not None and role not in needed:
        return home_for(role)
    return target


def set_session_cookie(response: Response, issued: Issued, settings: Settings) -> None:
    max_age = int(timedelta(hours=settings.staff_session_hours).total_seconds())
    response.set_cookie(COOKIE_NAME, issued.token, max_age=max_age, path="/", httponly=True,
                        samesite="strict", secure=settings.cookie_secure)


def clear_session_cookie(response: Response, settings: Settings) -> None:
    response.delete_cookie(COOKIE_NAME, path="/", httponly=True, samesite="strict",
                           secure=settings.cookie_secure)


# Staff pages load only their own scripts and styles; a message that slipped past escaping
# still could not run code or send data elsewhere.
CONTENT_SECURITY_POLICY = ("default-src 'self'; img-src 'self' https: data:; "
                           "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
                           "form-action 'self'; object-src 'none'")


def secure_page_headers(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response


def no_store(response: Response) -> None:
    """Dependency for APIs that return customers' data: nothing kept in caches."""
    response.headers["Cache-Control"] = "no-store"


def render_page(request: Request, template: str, context: dict, status_code: int = 200
                ) -> HTMLResponse:
    response = TEMPLATES.TemplateResponse(request, template, context, status_code=status_code)
    return secure_page_headers(response)
