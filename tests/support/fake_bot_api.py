"""A local Telegram Bot API server for tests: the real HTTP protocol on 127.0.0.1.

python-telegram-bot talks to it exactly as it talks to api.telegram.org
(`{url}/bot{token}/{method}`, form-encoded or JSON parameters, `{"ok": ..., "result": ...}`
answers). Tests push what users do (`push_text`, `push_callback`), read what the bot sent
(`sent()`), and inject the failures Telegram produces (`fail_next("sendMessage", 429,
retry_after=1)`, or a 500). When the bot registers a webhook, pushed updates are POSTed to
it with the secret-token header, as Telegram does; otherwise they wait for `getUpdates`.

Only the methods Kefu uses are implemented; any other method answers 404 like Telegram does
for unknown methods, so a test notices when the bot starts using something new.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

BOT_ID = 7_000_001
DEFAULT_TOKEN = f"{BOT_ID}:AAFakeTokenForKefuTests_0123456789abc"


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    status: int
    at: float = field(default_factory=time.monotonic)


@dataclass
class _Failure:
    status: int
    retry_after: int | None
    description: str | None
    times: int


@dataclass
class _Queued:
    update: dict[str, Any]
    delivered: bool = False


_UPDATE_IDS = itertools.count(1000)


class FakeBotApi:
    def __init__(self, token: str = DEFAULT_TOKEN, host: str = "127.0.0.1", port: int = 0) -> None:
        self.token = token
        self.bot_user = {"id": int(token.split(":")[0]), "is_bot": True, "first_name": "Kefu",
                         "username": "kefu_test_bot", "can_join_groups": False,
                         "can_read_all_group_messages": False, "supports_inline_queries": False}
        self.calls: list[Call] = []
        self.webhook: dict[str, Any] | None = None
        self.webhook_posts: list[tuple[dict[str, Any], int]] = []
        self._updates: list[_Queued] = []
        self._failures: dict[str, list[_Failure]] = {}
        self._cond = threading.Condition()
        # Shared by every fake server in this test process: like a real bot's, update ids only
        # grow, so a store a test module shares with another never sees the same update twice
        # (the gateway would drop it as a duplicate).
        self._update_ids = _UPDATE_IDS
        self._message_ids = itertools.count(1)
        self._callback_ids = itertools.count(1)
        self._closed = False
        # Files users sent: file_id -> (file_path, bytes), served as the real Bot API does
        # (getFile gives file_path; GET /file/bot<token>/<file_path> gives the bytes).
        self.files: dict[str, tuple[str, bytes]] = {}
        self._file_ids = itertools.count(1)
        self._server = ThreadingHTTPServer((host, port), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True,
                                        name="fake-bot-api")

    # --- lifecycle -------------------------------------------------------------------------

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeBotApi:
        self._thread.start()
        return self

    def stop(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeBotApi:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- what users do ---------------------------------------------------------------------

    def user(self, chat_id: int, first_name: str = "Test") -> dict[str, Any]:
        return {"id": chat_id, "is_bot": False, "first_name": first_name, "language_code": "en"}

    def push_text(self, chat_id: int, text: str, *, update_id: int | None = None) -> dict[str, Any]:
        """A user in a private chat sends `text` (commands get Telegram's bot_command entity)."""
        message: dict[str, Any] = {
            "message_id": next(self._message_ids), "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private", "first_name": "Test"},
            "from": self.user(chat_id), "text": text,
        }
        if text.startswith("/"):
            command = text.split()[0]
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
        return self.push_update({"update_id": self._next_update_id(update_id), "message": message})

    def add_file(self, data: bytes, suffix: str) -> dict[str, Any]:
        """Keep `data` as Telegram keeps an uploaded file; returns its file_id and
        file_unique_id (and file_size, as Telegram reports it)."""
        number = next(self._file_ids)
        file_id = f"F{number:06d}{'x' * 20}"
        folder = "photos" if suffix in (".jpg", ".png", ".webp") else "documents"
        with self._cond:
            self.files[file_id] = (f"{folder}/file_{number}{suffix}", data)
        return {"file_id": file_id, "file_unique_id": f"U{number:06d}", "file_size": len(data)}

    def _message(self, chat_id: int, **content: Any) -> dict[str, Any]:
        return {"message_id": next(self._message_ids), "date": int(time.time()),
                "chat": {"id": chat_id, "type": "private", "first_name": "Test"},
                "from": self.user(chat_id), **content}

    def push_photo(self, chat_id: int, data: bytes, *, width: int = 800, height: int = 600,
                   caption: str | None = None, suffix: str = ".jpg",
                   update_id: int | None = None) -> dict[str, Any]:
        """A user sends a photo: Telegram offers it in sizes (a thumbnail and the full one);
        here the thumbnail is a small file of its own and the last size is `data`."""
        thumb = self.add_file(b"thumbnail-not-used", suffix)
        full = self.add_file(data, suffix)
        photo = [{**thumb, "width": 90, "height": 67}, {**full, "width": width, "height": height}]
        content: dict[str, Any] = {"photo": photo}
        if caption:
            content["caption"] = caption
        return self.push_update({"update_id": self._next_update_id(update_id),
                                 "message": self._message(chat_id, **content)})

    def push_document(self, chat_id: int, data: bytes, *, file_name: str,
                      mime_type: str = "application/octet-stream",
                      update_id: int | None = None) -> dict[str, Any]:
        """A user sends a file as a document (any type, the name and type as their device
        said)."""
        suffix = "." + file_name.rsplit(".", 1)[-1] if "." in file_name else ""
        document = {**self.add_file(data, suffix), "file_name": file_name,
                    "mime_type": mime_type}
        return self.push_update({"update_id": self._next_update_id(update_id),
                                 "message": self._message(chat_id, document=document)})

    def push_callback(self, chat_id: int, data: str, *, message_id: int,
                      update_id: int | None = None) -> dict[str, Any]:
        """A user presses an inline-keyboard button with `data` under the bot's message."""
        bot_message = next((c.params for c in reversed(self.sent())
                            if c.params.get("_message_id") == message_id), {})
        query = {
            "id": str(next(self._callback_ids)), "from": self.user(chat_id),
            "chat_instance": f"ci{chat_id}", "data": data,
            "message": {"message_id": message_id, "date": int(time.time()),
                        "chat": {"id": chat_id, "type": "private", "first_name": "Test"},
                        "from": self.bot_user, "text": bot_message.get("text", "")},
        }
        return self.push_update({"update_id": self._next_update_id(update_id),
                                 "callback_query": query})

    def push_update(self, update: dict[str, Any]) -> dict[str, Any]:
        """Queue a raw update (push the same one twice to simulate Telegram redelivering it)."""
        with self._cond:
            webhook = dict(self.webhook) if self.webhook else None
            if webhook is None:
                self._updates.append(_Queued(update))
                self._cond.notify_all()
        if webhook is not None:
            # Telegram posts from its side; a thread keeps a test's event loop free to answer.
            threading.Thread(target=self._post_to_webhook, args=(webhook, update),
                             daemon=True).start()
        return update

    def _next_update_id(self, wanted: int | None) -> int:
        return wanted if wanted is not None else next(self._update_ids)

    def _post_to_webhook(self, webhook: dict[str, Any], update: dict[str, Any]) -> None:
        headers = {"Content-Type": "application/json"}
        if webhook.get("secret_token"):
            headers["X-Telegram-Bot-Api-Secret-Token"] = webhook["secret_token"]
        response = httpx.post(webhook["url"], content=json.dumps(update), headers=headers,
                              timeout=30)
        with self._cond:
            self.webhook_posts.append((update, response.status_code))

    # --- failures --------------------------------------------------------------------------

    def fail_next(self, method: str, status: int = 429, *, retry_after: int | None = None,
                  description: str | None = None, times: int = 1) -> None:
        """The next `times` calls of `method` fail with `status` (429 carries retry_after)."""
        if status == 429 and retry_after is None:
            retry_after = 1
        with self._cond:
            self._failures.setdefault(method, []).append(
                _Failure(status, retry_after, description, times))

    # --- what the bot did ------------------------------------------------------------------

    def sent(self, method: str = "sendMessage", *, chat_id: int | None = None,
             ok_only: bool = True) -> list[Call]:
        with self._cond:
            calls = list(self.calls)
        return [c for c in calls if c.method == method and (not ok_only or c.status == 200)
                and (chat_id is None or str(c.params.get("chat_id")) == str(chat_id))]

    def texts(self, chat_id: int | None = None) -> list[str]:
        return [c.params.get("text", "") for c in self.sent(chat_id=chat_id)]

    def wait_for(self, predicate: Callable[[], Any], timeout: float = 30.0,
                 what: str = "condition") -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = predicate()
            if result:
                return result
            time.sleep(0.05)
        raise AssertionError(f"fake Bot API: timed out after {timeout} s waiting for {what}; "
                             f"calls so far: {[(c.method, c.status) for c in self.calls]}")

    async def until(self, predicate: Callable[[], Any], timeout: float = 30.0,
                    what: str = "condition") -> Any:
        """`wait_for` for async tests: polls without blocking the event loop."""
        import asyncio

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = predicate()
            if result:
                return result
            await asyncio.sleep(0.05)
        raise AssertionError(f"fake Bot API: timed out after {timeout} s waiting for {what}; "
                             f"calls so far: {[(c.method, c.status) for c in self.calls]}")

    # --- the HTTP side ---------------------------------------------------------------------

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:  # keep test output quiet
                pass

            def do_GET(self) -> None:
                self._dispatch()

            def do_POST(self) -> None:
                self._dispatch()

            def _dispatch(self) -> None:
                parsed = urllib.parse.urlsplit(self.path)
                parts = parsed.path.strip("/").split("/")
                if len(parts) > 2 and parts[0] == "file" and parts[1].startswith("bot"):
                    # python-telegram-bot percent-encodes the token's colon here.
                    return self._file(urllib.parse.unquote(parts[1][3:]),
                                      urllib.parse.unquote("/".join(parts[2:])))
                if len(parts) != 2 or not parts[0].startswith("bot"):
                    return self._reply(404, {"ok": False, "error_code": 404,
                                             "description": "Not Found"})
                token, method = parts[0][3:], parts[1]
                params = dict(urllib.parse.parse_qsl(parsed.query))
                params.update(self._body_params())
                if token != api.token:
                    return self._reply(401, {"ok": False, "error_code": 401,
                                             "description": "Unauthorized"})
                status, body = api._call(method, params)
                self._reply(status, body)

            def _file(self, token: str, file_path: str) -> None:
                # https://core.telegram.org/bots/api#getfile: the bytes at
                # /file/bot<token>/<file_path>, for the path getFile gave.
                if token != api.token:
                    return self._reply(401, {"ok": False, "error_code": 401,
                                             "description": "Unauthorized"})
                with api._cond:
                    data = next((d for path, d in api.files.values() if path == file_path), None)
                    api.calls.append(Call("file", {"file_path": file_path},
                                          200 if data is not None else 404))
                if data is None:
                    return self._reply(404, {"ok": False, "error_code": 404,
                                             "description": "Not Found"})
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _body_params(self) -> dict[str, Any]:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                ctype = self.headers.get("Content-Type", "")
                if not raw:
                    return {}
                if ctype.startswith("application/json"):
                    return json.loads(raw)
                if ctype.startswith("application/x-www-form-urlencoded"):
                    return dict(urllib.parse.parse_qsl(raw.decode()))
                if ctype.startswith("multipart/form-data"):
                    message = BytesParser(policy=HTTP).parsebytes(
                        f"Content-Type: {ctype}\r\n\r\n".encode() + raw)
                    return {part.get_param("name", header="content-disposition"):
                            part.get_content() for part in message.iter_parts()}
                return {}

            def _reply(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the bot gave up on a long poll while shutting down

        return Handler

    def _call(self, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        params = {k: _decode_json_value(v) for k, v in params.items()}
        failure = self._take_failure(method)
        if failure is not None:
            body: dict[str, Any] = {"ok": False, "error_code": failure.status,
                                    "description": failure.description
                                    or HTTPStatus(failure.status).phrase}
            if failure.retry_after is not None:
                body["parameters"] = {"retry_after": failure.retry_after}
                body["description"] = f"Too Many Requests: retry after {failure.retry_after}"
            self._record(method, params, failure.status)
            return failure.status, body
        handler = getattr(self, f"_m_{method}", None)
        if handler is None:
            self._record(method, params, 404)
            return 404, {"ok": False, "error_code": 404, "description": "Not Found"}
        result = handler(params)
        if isinstance(result, tuple):  # (status, body) for a refused call
            self._record(method, params, result[0])
            return result
        return 200, {"ok": True, "result": result}

    def _take_failure(self, method: str) -> _Failure | None:
        with self._cond:
            queue = self._failures.get(method)
            if not queue:
                return None
            failure = queue[0]
            failure.times -= 1
            if failure.times <= 0:
                queue.pop(0)
            return failure

    def _record(self, method: str, params: dict[str, Any], status: int) -> None:
        with self._cond:
            self.calls.append(Call(method, params, status))

    # --- Bot API methods -------------------------------------------------------------------

    def _m_getFile(self, params: dict[str, Any]) -> Any:
        file_id = str(params.get("file_id", ""))
        with self._cond:
            found = self.files.get(file_id)
        if found is None:
            self._record("getFile", params, 400)
            return 400, {"ok": False, "error_code": 400,
                         "description": "Bad Request: invalid file_id"}
        self._record("getFile", params, 200)
        path, data = found
        return {"file_id": file_id, "file_unique_id": f"U{file_id[1:7]}",
                "file_size": len(data), "file_path": path}

    def _m_getMe(self, params: dict[str, Any]) -> dict[str, Any]:
        self._record("getMe", params, 200)
        return self.bot_user

    def _m_getUpdates(self, params: dict[str, Any]) -> Any:
        offset = int(params.get("offset") or 0)
        limit = int(params.get("limit") or 100)
        timeout = float(params.get("timeout") or 0)
        deadline = time.monotonic() + timeout
        with self._cond:
            if self.webhook is not None:
                self.calls.append(Call("getUpdates", params, 409))
                return 409, {"ok": False, "error_code": 409, "description":
                             "Conflict: can't use getUpdates method while webhook is active; "
                             "use deleteWebhook to delete the webhook first"}
            # Updates the bot has seen are confirmed by a higher offset; a queued copy that was
            # never delivered (a redelivery) goes out whatever its id.
            self._updates = [q for q in self._updates
                             if not (q.delivered and q.update["update_id"] < offset)]
            while True:
                ready = [q for q in self._updates
                         if not q.delivered or q.update["update_id"] >= offset][:limit]
                if ready or self._closed or time.monotonic() >= deadline:
                    break
                self._cond.wait(min(0.5, max(0.0, deadline - time.monotonic())))
            for q in ready:
                q.delivered = True
            self.calls.append(Call("getUpdates", params, 200))
            return [q.update for q in ready]

    def _bot_message(self, params: dict[str, Any], **extra: Any) -> dict[str, Any]:
        chat_id = int(params["chat_id"])
        message = {"message_id": next(self._message_ids), "date": int(time.time()),
                   "chat": {"id": chat_id, "type": "private", "first_name": "Test"},
                   "from": self.bot_user, **extra}
        if params.get("reply_markup"):
            message["reply_markup"] = params["reply_markup"]
        return message

    def _m_sendMessage(self, params: dict[str, Any]) -> Any:
        if not params.get("chat_id") or not str(params.get("text", "")).strip():
            return 400, {"ok": False, "error_code": 400,
                         "description": "Bad Request: message text is empty"}
        if len(params["text"]) > 4096:
            return 400, {"ok": False, "error_code": 400,
                         "description": "Bad Request: message is too long"}
        message = self._bot_message(params, text=params["text"])
        params["_message_id"] = message["message_id"]
        self._record("sendMessage", params, 200)
        return message

    def _m_sendChatAction(self, params: dict[str, Any]) -> bool:
        self._record("sendChatAction", params, 200)
        return True

    def _m_answerCallbackQuery(self, params: dict[str, Any]) -> bool:
        self._record("answerCallbackQuery", params, 200)
        return True

    def _m_editMessageReplyMarkup(self, params: dict[str, Any]) -> Any:
        self._record("editMessageReplyMarkup", params, 200)
        return self._bot_message(params, text="")

    def _m_setWebhook(self, params: dict[str, Any]) -> bool:
        with self._cond:
            self.webhook = {"url": params["url"], "secret_token": params.get("secret_token")}
        self._record("setWebhook", params, 200)
        return True

    def _m_deleteWebhook(self, params: dict[str, Any]) -> bool:
        with self._cond:
            self.webhook = None
        self._record("deleteWebhook", params, 200)
        return True

    def _m_getWebhookInfo(self, params: dict[str, Any]) -> dict[str, Any]:
        self._record("getWebhookInfo", params, 200)
        with self._cond:
            return {"url": (self.webhook or {}).get("url", ""), "has_custom_certificate": False,
                    "pending_update_count": len([q for q in self._updates if not q.delivered])}

    def _m_setMyCommands(self, params: dict[str, Any]) -> bool:
        self._record("setMyCommands", params, 200)
        return True

    def _m_close(self, params: dict[str, Any]) -> bool:
        self._record("close", params, 200)
        return True


def _decode_json_value(value: Any) -> Any:
    """Bot API clients send objects (reply_markup, allowed_updates) as JSON strings."""
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value
