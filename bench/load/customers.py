"""Simulated customers: one conversation at a time, over the REST channel or the web widget.

A REST customer posts each message to `/webhooks/rest/webhook` and reads the answer in the
response. A web customer speaks the widget's websocket protocol (bot/channels/web.py): `hello`,
then `message` frames with a client id; the server acknowledges each with the stored message's
id and delivers the bot's messages as `message` frames, which the customer acknowledges (`ack`)
as the widget does once it has shown them.

A web answer has no end marker (the bot may send several messages, delivered one by one after
the turn), so a web turn is answered when a message newer than the customer's own has arrived
and the answer contains what the turn expects; an answer that never does is taken as it stands
after WRONG_ANSWER_GRACE seconds. The store's ids are increasing, so every bot message belongs
to the newest customer message with a smaller id.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
import websockets

from bench.load.figures import TurnResult
from bench.load.scripts import KEFU_UNAVAILABLE, Turn

# How long a web turn that got an answer without the expected words waits for more messages.
WRONG_ANSWER_GRACE = 5.0


@dataclass
class ConversationRecord:
    """What one conversation sent and received, for the audit against the store."""

    channel: str  # the store's channel name: rest | web
    external_id: str  # REST sender, or web session id
    sent: list[str] = field(default_factory=list)
    # Per sent message: how many replies the customer received for it.
    replies: list[int] = field(default_factory=list)
    # Web only: the ids of the bot messages received, whichever turn they belong to.
    received_ids: set[int] = field(default_factory=set)


def _reply_text_and_cards(messages: list[dict[str, Any]]) -> tuple[str, int]:
    texts, cards = [], 0
    for m in messages:
        texts.append(m.get("text") or "")
        for button in m.get("buttons") or []:
            texts.append(button.get("title") or "")
        products = m.get("products") or (m.get("custom") or {}).get("products") or []
        cards += len(products)
        texts.extend(p.get("name", "") + " " + str(p.get("price", "")) for p in products)
    return "\n".join(t for t in texts if t), cards


async def rest_turn(client: httpx.AsyncClient, url: str, record: ConversationRecord,
                    turn: Turn) -> TurnResult:
    result = TurnResult(turn.kind, "rest", record.external_id, turn.text, None)
    record.sent.append(turn.text)
    record.replies.append(0)
    started = time.perf_counter()
    try:
        response = await client.post(url, json={"sender": record.external_id,
                                                "message": turn.text})
    except httpx.HTTPError as exc:
        result.error = f"rest: {type(exc).__name__}"
        return result
    elapsed = time.perf_counter() - started
    if response.status_code != 200:
        result.error = f"rest: HTTP {response.status_code} {response.text[:120]}"
        return result
    try:
        messages = response.json()
    except ValueError:
        result.error = "rest: the answer is not JSON"
        return result
    record.replies[-1] = len(messages)
    result.replies = len(messages)
    if messages:
        result.latency = elapsed
        _judge(result, turn, messages)
    return result


def _judge(result: TurnResult, turn: Turn, messages: list[dict[str, Any]]) -> None:
    text, cards = _reply_text_and_cards(messages)
    result.reply_text = text
    result.right = turn.answered_right(text, cards)
    result.unavailable = not result.right and KEFU_UNAVAILABLE in text


class WebChat:
    """One open widget: a websocket with a reader task that files every frame."""

    def __init__(self, ws_url: str, timeout: float) -> None:
        self.ws_url = ws_url
        self.timeout = timeout
        self.session: str | None = None
        self._ws: Any = None
        self._reader: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()
        self._acks: dict[str, int | None] = {}
        self._errors: dict[str | None, str] = {}
        # (arrival time, frame) of every bot/system/agent message.
        self._messages: list[tuple[float, dict[str, Any]]] = []
        self._closed: str | None = None

    async def open(self, record_factory) -> ConversationRecord:
        self._ws = await websockets.connect(self.ws_url, open_timeout=self.timeout,
                                            ping_interval=None, max_size=2 ** 20)
        await self._ws.send(json.dumps({"type": "hello", "session": None}))
        welcome = json.loads(await asyncio.wait_for(self._ws.recv(), self.timeout))
        if welcome.get("type") != "welcome":
            raise ConnectionError(f"no welcome: {welcome}")
        self.session = welcome["session"]
        self._reader = asyncio.create_task(self._read())
        return record_factory(self.session)

    async def _read(self) -> None:
        try:
            async for raw in self._ws:
                frame = json.loads(raw)
                kind = frame.get("type")
                if kind == "ack":
                    self._acks[frame.get("client_id")] = frame.get("id")
                elif kind == "message" and frame.get("sender") != "customer":
                    self._messages.append((time.perf_counter(), frame))
                elif kind == "error":
                    self._errors[frame.get("client_id")] = frame.get("reason", "error")
                self._changed.set()
        except websockets.ConnectionClosed as exc:
            self._closed = f"web: connection closed ({exc.rcvd.code if exc.rcvd else '?'})"
        finally:
            if self._closed is None:
                self._closed = "web: connection closed"
            self._changed.set()

    async def _until(self, ready, deadline: float) -> bool:
        """Wait for frames until `ready()` holds; False at the deadline or when closed."""
        while not ready():
            if self._closed is not None:
                return False
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                return False
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except asyncio.TimeoutError:
                return ready()
        return True

    async def turn(self, record: ConversationRecord, turn: Turn) -> TurnResult:
        result = TurnResult(turn.kind, "web", record.external_id, turn.text, None)
        client_id = uuid.uuid4().hex
        self._errors.pop(None, None)  # an earlier turn's frame-level error is not this one's
        started = time.perf_counter()
        deadline = started + self.timeout
        try:
            await self._ws.send(json.dumps({"type": "message", "client_id": client_id,
                                            "text": turn.text}))
        except websockets.ConnectionClosed:
            # Never sent, so nothing to look for in the store (the widget would keep it in
            # its outbox and send it after reconnecting).
            result.error = "web: connection closed before sending"
            return result
        record.sent.append(turn.text)
        record.replies.append(0)
        def failed() -> str | None:
            return self._errors.get(client_id) or self._errors.get(None)

        if not await self._until(lambda: client_id in self._acks or failed(), deadline):
            result.error = self._closed or "web: no ack within the timeout"
            return result
        if failed():
            result.error = f"web: error frame: {failed()}"
            return result
        stored_id = self._acks[client_id]

        def answer() -> list[tuple[float, dict[str, Any]]]:
            return [(at, m) for at, m in self._messages if (m.get("id") or 0) > (stored_id or 0)]

        def right() -> bool:
            messages = [m for _, m in answer()]
            return bool(messages) and turn.answered_right(*_reply_text_and_cards(messages))

        await self._until(lambda: bool(answer()) or failed(), deadline)
        if answer():
            await self._until(right, min(deadline, answer()[0][0] + WRONG_ANSWER_GRACE))
        got = answer()
        if not got:
            result.error = (f"web: error frame: {failed()}" if failed()
                            else self._closed or "web: no answer within the timeout")
            return result
        result.latency = got[-1][0] - started
        result.replies = record.replies[-1] = len(got)
        _judge(result, turn, [m for _, m in got])
        await self._ack(record)
        return result

    async def _ack(self, record: ConversationRecord) -> None:
        ids = [m["id"] for _, m in self._messages
               if m.get("id") is not None and m["id"] not in record.received_ids]
        record.received_ids.update(ids)
        if ids:
            try:
                await self._ws.send(json.dumps({"type": "ack", "ids": ids}))
            except websockets.ConnectionClosed:
                pass

    async def close(self, record: ConversationRecord | None) -> None:
        if record is not None and self._ws is not None and self._closed is None:
            await self._ack(record)
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            await asyncio.gather(self._reader, return_exceptions=True)


async def rest_conversation(client: httpx.AsyncClient, url: str, sender: str,
                            turns: list[Turn], think: float
                            ) -> tuple[ConversationRecord, list[TurnResult]]:
    record = ConversationRecord("rest", sender)
    results = []
    for i, turn in enumerate(turns):
        if i and think:
            await asyncio.sleep(think)  # the customer reading and typing
        results.append(await rest_turn(client, url, record, turn))
    return record, results


async def web_conversation(ws_url: str, turns: list[Turn], think: float, timeout: float
                           ) -> tuple[ConversationRecord | None, list[TurnResult]]:
    chat = WebChat(ws_url, timeout)
    record: ConversationRecord | None = None
    results: list[TurnResult] = []
    try:
        record = await chat.open(lambda session: ConversationRecord("web", session))
        for i, turn in enumerate(turns):
            if i and think:
                await asyncio.sleep(think)
            results.append(await chat.turn(record, turn))
    except (OSError, asyncio.TimeoutError, websockets.WebSocketException, ConnectionError) as exc:
        # Could not open the chat at all: every turn of this conversation is an error (the
        # messages were never sent, so nothing can be lost).
        error = f"web: could not open the chat: {type(exc).__name__} {exc}"[:200]
        results.extend(TurnResult(t.kind, "web", "-", t.text, None, error=error)
                       for t in turns[len(results):])
    finally:
        await chat.close(record)
    return record, results
