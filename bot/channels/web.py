"""The web channel: the demo shop page, the embeddable widget, and its websocket.

Any shop page embeds the chat with `<script src="https://<gateway>/widget.js" defer></script>`
(optionally `data-email` and `data-token` for a signed identity, see bot/shop_identity.py).

Websocket protocol (`/ws/chat`, JSON text frames):
  client -> server
    {"type": "hello", "session": "<id or null>", "email"?: "...", "token"?: "..."}  (first)
    {"type": "message", "client_id": "<unique per message>", "text": "...", "payload"?: "..."}
    {"type": "ack", "ids": [<server message ids the widget has shown>]}
    {"type": "ping"}
  server -> client
    {"type": "welcome", "session": "...", "verified": bool,
     "identity": "verified|invalid|disabled|none", "max_chars": <longest message taken>,
     "history": [message, ...], "greeting": "..." | null, "quick_replies": [{"title", "payload"}]}
    {"type": "ack", "client_id": "...", "id": <stored id>, "duplicate": bool}
    {"type": "typing", "on": bool}
    {"type": "message", "id", "sender": "customer|bot|agent|system", "text", "at",
     "buttons"?, "products"?, "image"?, "client_id"?,
     "attachment"?: {"id", "type", "name", "size", "width", "height", "url"}}
    {"type": "error", "reason": "...", "client_id"?: "...", "retry_after"?: <seconds>}
    {"type": "pong"}

Photos and PDFs are not sent over the socket: the widget posts them (multipart: session,
client_id, file, caption?) to `POST /api/chat/attachments`, which answers with the stored
message; the chat's other tabs get it as a "message" frame, and the acknowledgement comes as
usual. "url" is a link to the file signed for this chat that expires (bot/attachments.py).

The session id (kept in the browser's localStorage) is the conversation's external id. The
widget resends a message until it is acknowledged; the server processes each client id once.
Messages sent while the widget was away are in the history it gets on (re)connect; the
widget acknowledges what it showed and those messages are marked delivered.

A new chat (no history) gets a greeting and quick replies that the widget shows without
storing them. A message refused with its client id (too long, empty, not text, too many at
once) is not stored and never will be: the widget keeps it, marked "Not sent", in the
browser; `retry_after` says the same message may be sent again after that many seconds.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import secrets
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

from fastapi import (
    APIRouter,
    File,
    Form,
    HTTPException,
    Query,
    Request,
    UploadFile,
    WebSocket,
    WebSocketDisconnect,
)
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy.exc import SQLAlchemyError

from bot import attachments, limits, shop_identity, store
from bot.gateway import Gateway, Inbound
from bot.messages import ChatMessage
from bot.outbound import Outcome
from bot.store import ConversationRef
from crm_store.services import products as product_service

logger = logging.getLogger(__name__)

CHANNEL = "web"
BOT_DIR = Path(__file__).resolve().parent.parent
STATIC_DIR = BOT_DIR / "static"
templates = Jinja2Templates(directory=str(BOT_DIR / "templates"))

SESSION_RE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
CLIENT_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MAX_FRAME_BYTES = 16_384
# The longest message any channel takes (bot/limits.py, KEFU_MAX_MESSAGE_CHARS); the frame
# model only bounds what is parsed, the message rule says why a message is refused.
MAX_TEXT_CHARS = 100_000
HISTORY_LIMIT = 100
HELLO_TIMEOUT = 15.0
# Per connection: more than this many messages in the window is someone scripting the widget.
RATE_WINDOW = 10.0
RATE_MAX = 20

# Shown by the widget on a new chat, never stored: what the assistant can help with.
GREETING = ("Hi! I'm Kefu, the shop's assistant. I can help with your orders, delivery, "
            "returns and refunds, payments and our products, or put you through to a person.")
QUICK_REPLIES = [
    {"title": "Track my order", "payload": "/track_order"},
    {"title": "Returns & refunds", "payload": "/return_item"},
    {"title": "Product advice", "payload": "/recommend_product"},
    {"title": "Talk to a person", "payload": "/human_handoff"},
]

router = APIRouter(tags=["web"])


# --- the shop page and its catalog -----------------------------------------------------------

class ShopProduct(BaseModel):
    """Catalog data only: what any visitor of the shop may see."""

    sku: str
    name: str
    category: str
    price: Decimal
    description: str
    in_stock: bool


def _catalog(category: str | None) -> tuple[list[ShopProduct], list[str]]:
    from crm_store.db import session_scope

    with session_scope() as session:
        items = [ShopProduct(sku=p.sku, name=p.name, category=p.category, price=p.price,
                             description=p.description, in_stock=p.in_stock)
                 for p in product_service.list_products(session, category=category)]
        return items, product_service.categories(session)


@router.get("/api/shop/products", response_model=list[ShopProduct])
async def shop_products(
    category: Annotated[str | None, Query(max_length=120)] = None,
) -> list[ShopProduct]:
    items, _ = await asyncio.to_thread(_catalog, category)
    return items


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
async def shop_page(request: Request,
                    category: Annotated[str | None, Query(max_length=120)] = None):
    try:
        items, categories = await asyncio.to_thread(_catalog, category)
    except SQLAlchemyError:
        logger.exception("the shop page could not read the catalog")
        return HTMLResponse("<h1>The shop is not ready</h1><p>The catalog cannot be read "
                            "right now (has <code>kefu prepare</code> run?).</p>",
                            status_code=503)
    return templates.TemplateResponse(request, "shop.html", {
        "products": items, "categories": categories, "current": category,
    })


@router.get("/widget.js", include_in_schema=False)
async def widget_js() -> FileResponse:
    return FileResponse(STATIC_DIR / "widget.js", media_type="text/javascript",
                        headers={"Cache-Control": "no-cache"})


@router.get("/widget.css", include_in_schema=False)
async def widget_css() -> FileResponse:
    return FileResponse(STATIC_DIR / "widget.css", media_type="text/css",
                        headers={"Cache-Control": "no-cache"})


@router.get("/static/shop.css", include_in_schema=False)
async def shop_css() -> FileResponse:
    return FileResponse(STATIC_DIR / "shop.css", media_type="text/css")


# --- live connections ---------------------------------------------------------------------------

class Connection:
    """One open widget. Sends are serialised: the dispatcher and the receive loop both send."""

    def __init__(self, websocket: WebSocket, session: str) -> None:
        self.websocket = websocket
        self.session = session
        # Names this connection across replicas (a broadcast to "the other tabs" skips it).
        self.token = secrets.token_hex(8)
        self._lock = asyncio.Lock()

    async def send(self, data: dict[str, Any]) -> bool:
        async with self._lock:
            try:
                await self.websocket.send_text(json.dumps(data))
                return True
            except (WebSocketDisconnect, RuntimeError, OSError) as exc:
                logger.debug("web session %s: send failed: %r", self.session, exc)
                return False



class WebConnections:
    """Open widgets per session (a customer may have the shop open in two tabs).

    With a relay (bot/fanout.py, when KEFU_REDIS_URL is set) the tabs may be open on different
    gateway replicas: a replica subscribes to a session's Redis channel while it holds a
    widget of that session, and every broadcast goes through Redis, whose answer (how many
    replicas are subscribed) says whether any widget was reached.
    """

    def __init__(self, relay: Any = None) -> None:
        self._by_session: dict[str, set[Connection]] = defaultdict(set)
        self._relay = relay

    @staticmethod
    def _channel(session: str) -> str:
        return f"web:{session}"

    async def add(self, connection: Connection) -> None:
        first = not self._by_session.get(connection.session)
        self._by_session[connection.session].add(connection)
        if first and self._relay is not None:
            session = connection.session

            async def relayed(envelope: dict[str, Any]) -> None:
                await self._broadcast_here(session, envelope["data"], envelope.get("exclude"))

            try:
                await self._relay.subscribe(self._channel(session), relayed)
            except Exception as exc:
                # Redis away: this widget still gets what this replica sends, and the rest
                # with its history on the next reconnect.
                logger.warning("web session %s: relay subscribe failed: %r", session, exc)

    async def remove(self, connection: Connection) -> None:
        connections = self._by_session.get(connection.session)
        if connections is None:
            return
        connections.discard(connection)
        if not connections:
            del self._by_session[connection.session]
            if self._relay is not None:
                try:
                    await self._relay.unsubscribe(self._channel(connection.session))
                except Exception as exc:  # Redis away: the subscription died with it
                    logger.warning("web session %s: unsubscribe failed: %r",
                                   connection.session, exc)

    def get(self, session: str) -> list[Connection]:
        return list(self._by_session.get(session, ()))

    async def _broadcast_here(self, session: str, data: dict[str, Any],
                              exclude: str | None = None) -> int:
        targets = [c for c in self.get(session) if c.token != exclude]
        results = await asyncio.gather(*(c.send(data) for c in targets))
        return sum(results)

    async def broadcast(self, session: str, data: dict[str, Any],
                        exclude: Connection | None = None) -> int:
        """Send to the session's widgets (all replicas), except `exclude`. Returns how many
        widgets (without a relay) or replicas (with one) it reached; 0: nobody has it open."""
        token = exclude.token if exclude is not None else None
        if self._relay is not None:
            try:
                return await self._relay.publish(self._channel(session),
                                                 {"data": data, "exclude": token})
            except Exception as exc:
                # Redis away: the widgets on this replica still get it; the others get it
                # with their history when they reconnect (it is stored).
                logger.warning("web session %s: relay failed (%r); local only", session, exc)
        return await self._broadcast_here(session, data, token)


def customer_json(app: Any, message: ChatMessage) -> dict[str, Any]:
    """A message as the customer's widget gets it: a file with a link signed for them."""
    return signed_for_customer(app.state.attachment_links, message)


def signed_for_customer(signer: attachments.LinkSigner | None,
                        message: ChatMessage) -> dict[str, Any]:
    data = message.to_json()
    return signer.for_customer(data, message.conversation_id) if signer else data


class WebSender:
    channel = CHANNEL

    def __init__(self, connections: WebConnections, signer: attachments.LinkSigner | None = None
                 ) -> None:
        self.connections = connections
        self.signer = signer

    async def send(self, conversation: ConversationRef, message: ChatMessage) -> Outcome:
        data = signed_for_customer(self.signer, message)
        if await self.connections.broadcast(conversation.external_id,
                                            {"type": "message", **data}):
            # Delivered once the widget acknowledges it.
            return Outcome.sent()
        return Outcome.deferred("no open chat; sent with the history when the customer returns")


# --- the websocket ------------------------------------------------------------------------------

class Hello(BaseModel):
    type: str
    session: str | None = None
    email: Annotated[str | None, Field(max_length=320)] = None
    token: Annotated[str | None, Field(max_length=128)] = None


class ClientMessage(BaseModel):
    type: str
    client_id: Annotated[str, Field(pattern=CLIENT_ID_RE.pattern)]
    text: Annotated[str, Field(min_length=1, max_length=MAX_TEXT_CHARS)]
    payload: Annotated[str | None, Field(max_length=500)] = None


class Ack(BaseModel):
    type: str
    ids: Annotated[list[int], Field(max_length=500)]


@router.websocket("/ws/chat")
async def chat_socket(websocket: WebSocket) -> None:
    await websocket.accept()
    app = websocket.app
    gateway: Gateway = app.state.gateway
    connections: WebConnections = app.state.web_connections
    try:
        hello = await _receive_hello(websocket)
    except (asyncio.TimeoutError, WebSocketDisconnect):
        return
    if hello is None:
        return
    session = hello.session if hello.session and SESSION_RE.match(hello.session) else \
        secrets.token_urlsafe(18)
    identity = await _apply_identity(app.state.settings.shop_secret, session, hello)
    conversation = await store.run(store.find_conversation(CHANNEL, session))
    history = (await store.run(store.history(conversation.id, HISTORY_LIMIT))
               if conversation else [])
    _, verified = await store.run(store.identity_customer(CHANNEL, session))
    connection = Connection(websocket, session)
    await connections.add(connection)
    try:
        await connection.send({
            "type": "welcome", "session": session, "verified": verified, "identity": identity,
            "max_chars": app.state.settings.max_message_chars,
            "history": [customer_json(app, m) for m in history],
            "greeting": None if history else GREETING,
            "quick_replies": [] if history else QUICK_REPLIES,
        })
        await _receive_loop(connection, gateway)
    except WebSocketDisconnect:
        pass
    finally:
        await connections.remove(connection)


async def _receive_hello(websocket: WebSocket) -> Hello | None:
    raw = await asyncio.wait_for(_receive_text(websocket), HELLO_TIMEOUT)
    try:
        hello = (Hello.model_validate_json(raw)
                 if raw is not None and len(raw) <= MAX_FRAME_BYTES else None)
    except ValidationError as exc:
        await _refuse(websocket, f"bad hello: {_reason(exc)}")
        return None
    if hello is None or hello.type != "hello":
        await _refuse(websocket, "the first frame must be {\"type\": \"hello\", ...}")
        return None
    return hello


async def _apply_identity(secret: str | None, session: str, hello: Hello) -> str:
    if not (hello.email and hello.token):
        return "none"
    if not secret:
        logger.info("web session %s sent an identity token but KEFU_SHOP_SECRET is unset", session)
        return "disabled"
    email = shop_identity.verify(secret, hello.email, hello.token)
    if email is None:
        logger.info("web session %s: identity token refused", session)
        return "invalid"
    customer_id = await store.run(store.link_verified_email(CHANNEL, session, email))
    logger.info("web session %s verified by the shop as customer %s", session, customer_id)
    return "verified"


async def _receive_loop(connection: Connection, gateway: Gateway) -> None:
    websocket = connection.websocket
    while True:
        raw = await _receive_text(websocket)
        if raw is None:
            await connection.send({"type": "error",
                                   "reason": "binary frames are not understood; send JSON text"})
            continue
        if len(raw.encode()) > MAX_FRAME_BYTES:
            await connection.send({"type": "error", "reason": "message too large"})
            continue
        try:
            frame = json.loads(raw)
            kind = frame.get("type") if isinstance(frame, dict) else None
        except ValueError:
            kind = None
        if kind == "message":
            await _on_message(connection, gateway, raw)
        elif kind == "ack":
            await _on_ack(connection, raw)
        elif kind == "ping":
            await connection.send({"type": "pong"})
        else:
            await connection.send({"type": "error", "reason": "unknown frame type"})


async def _on_message(connection: Connection, gateway: Gateway, raw: str) -> None:
    try:
        frame = ClientMessage.model_validate_json(raw)
    except ValidationError as exc:
        await connection.send({"type": "error", "reason": _reason(exc)})
        return
    # Refused with the client id: the widget drops it from its outbox instead of resending
    # a message that can never be stored (NUL characters, say).
    # The gateway's own limit, the one its welcome told the widget (max_chars).
    problem = limits.message_problem(frame.text,
                                     connection.websocket.app.state.settings.max_message_chars)
    if problem is not None:
        await connection.send({"type": "error", "client_id": frame.client_id,
                               "reason": f"Sorry, {problem}."})
        return
    limiters = limits.limiters_for(connection.websocket.app)
    per_connection = limiters.limit("web_connection", limits.rate(RATE_MAX, RATE_WINDOW))
    refused = await limits.hit_all((per_connection, connection.token),
                                   (limiters.web_ip, limits.client_ip(connection.websocket)))
    if refused:
        _, wait = refused
        seconds = int(limits.retry_after(wait))
        await connection.send({"type": "error", "client_id": frame.client_id,
                               "retry_after": seconds, "reason": _slow_down(seconds)})
        return
    session = connection.session
    typing = False

    async def stored(conversation: ConversationRef, message: ChatMessage) -> None:
        nonlocal typing
        await connection.send({"type": "ack", "client_id": frame.client_id, "id": message.id,
                               "duplicate": False})
        # Other tabs of the same chat (on any replica) show the customer's message too.
        await _registry(connection).broadcast(
            connection.session,
            {"type": "message", **customer_json(connection.websocket.app, message)},
            exclude=connection)
        if not conversation.human:
            typing = True
            await connection.send({"type": "typing", "on": True})

    inbound = Inbound(CHANNEL, session, frame.text.strip(),
                      dedupe_key=f"web:{session}:{frame.client_id}", rasa_text=frame.payload,
                      extra={"client_id": frame.client_id})
    try:
        handled = await gateway.handle(inbound, on_stored=stored)
    except Exception:
        # If it was not stored it was not acknowledged either: the widget keeps it in its
        # outbox and sends it again after its next reconnect.
        logger.exception("web session %s: message %s failed", session, frame.client_id)
        await connection.send({"type": "error",
                               "reason": "Sorry, something went wrong on our side. Please "
                                         "try again in a moment."})
        # Closing with "try again later" makes the widget reconnect (with backoff) and resend
        # its outbox after the welcome; an open socket would hold the message until a reload.
        await connection.websocket.close(code=1013, reason="try again later")
        raise WebSocketDisconnect(1013)
    finally:
        if typing:
            await connection.send({"type": "typing", "on": False})
    if handled.duplicate:
        await connection.send({"type": "ack", "client_id": frame.client_id, "id": None,
                               "duplicate": True})


# --- photos and files --------------------------------------------------------------------------

UPLOAD_PATH = "/api/chat/attachments"


@router.post(UPLOAD_PATH, status_code=201, tags=["web"], responses={
    400: {"description": "no such chat session, or a bad client id"},
    413: {"description": "the file (or its picture) is too large"},
    415: {"description": "not a JPEG, PNG or WebP photo or a PDF"},
    422: {"description": "the file is damaged or incomplete"},
    429: {"description": "too many files from this customer; Retry-After"}})
async def upload_attachment(
    request: Request,
    session: Annotated[str, Form(max_length=64)],
    client_id: Annotated[str, Form(max_length=64)],
    file: Annotated[UploadFile, File()],
    caption: Annotated[str | None, Form(max_length=MAX_TEXT_CHARS)] = None,
) -> JSONResponse:
    """A photo or PDF from the chat widget, sent as a message of the chat `session`.

    The answer is the stored message (with a link to the file signed for this chat) or, for a
    file that is refused, `{"detail": <the reason, for the customer>, "code": ...}`; nothing is
    stored then. The bot's acknowledgement arrives on the chat's websocket."""
    if not SESSION_RE.match(session) or not CLIENT_ID_RE.match(client_id):
        raise HTTPException(400, "unknown chat session or bad client id")
    app = request.app
    settings = app.state.settings
    if caption and (problem := limits.message_problem(caption, settings.max_message_chars)):
        raise HTTPException(422, f"Sorry, {problem}.")
    data = await file.read(settings.attachment_max_bytes + 1)

    async def stored(_conversation: ConversationRef, message: ChatMessage) -> None:
        # The customer's other tabs show it too (this one shows the answer below).
        await app.state.web_connections.broadcast(
            session, {"type": "message", **customer_json(app, message)})

    try:
        handled = await attachments.receive(
            app.state.gateway, limits.limiters_for(app), settings, channel=CHANNEL,
            external_id=session, data=data, name=file.filename or "", caption=caption,
            dedupe_key=f"web:{session}:{client_id}", extra={"client_id": client_id},
            on_stored=stored)
    except attachments.Refused as refused:
        headers = {"Retry-After": "60"} if refused.code == "rate" else None
        return JSONResponse({"detail": f"Sorry, {refused.reason}.", "code": refused.code},
                            status_code=refused.status, headers=headers)
    if handled.message is None:
        return JSONResponse({"duplicate": True, "message": None}, status_code=200)
    return JSONResponse({"duplicate": False, "message": customer_json(app, handled.message)},
                        status_code=201)


def _slow_down(seconds: int) -> str:
    """The rate-limit refusal, in words for the customer."""
    if seconds < 60:
        wait = "a second" if seconds == 1 else f"{seconds} seconds"
    else:
        minutes = -(-seconds // 60)
        wait = "a minute" if minutes == 1 else f"{minutes} minutes"
    return (f"Sorry, that's more messages than we can take at once. Please wait {wait}, "
            "then send this one again.")


async def _receive_text(websocket: WebSocket) -> str | None:
    """The next text frame; None for a binary one (answered, not fatal)."""
    message = await websocket.receive()
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", 1000))
    if message.get("text") is not None:
        return message["text"]
    return None


def _registry(connection: Connection) -> WebConnections:
    return connection.websocket.app.state.web_connections


async def _on_ack(connection: Connection, raw: str) -> None:
    try:
        frame = Ack.model_validate_json(raw)
    except ValidationError as exc:
        await connection.send({"type": "error", "reason": _reason(exc)})
        return
    conversation = await store.run(store.find_conversation(CHANNEL, connection.session))
    if conversation is not None and frame.ids:
        await store.run(store.mark_delivered(conversation.id, frame.ids))


async def _refuse(websocket: WebSocket, reason: str) -> None:
    await websocket.send_text(json.dumps({"type": "error", "reason": reason}))
    await websocket.close(code=1008, reason=reason[:120])


def _reason(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'frame'}: {e['msg']}"
                     for e in exc.errors())
