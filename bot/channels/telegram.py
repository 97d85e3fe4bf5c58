"""The Telegram channel: python-telegram-bot 22 inside the gateway's event loop.

Long polling by default; webhook mode when KEFU_TELEGRAM_WEBHOOK_URL is set (Telegram posts
to /webhooks/telegram and must present KEFU_TELEGRAM_WEBHOOK_SECRET in the
X-Telegram-Bot-Api-Secret-Token header; anything else gets 403). The Bot API server comes
from KEFU_TELEGRAM_API_URL, so a local server can stand in for api.telegram.org. Without
KEFU_TELEGRAM_TOKEN the channel is off.

Every update is stored once (its update id is the message's dedupe key) before it is
answered, and Telegram is told it arrived only once it is stored: in polling mode the offset
moves past an update only then (Kefu polls itself; python-telegram-bot's Updater confirms
updates as soon as it fetches them, so an update fetched while the database was down would be
lost), in webhook mode the POST is answered 200 only then (otherwise 503, and Telegram sends
it again). A repeat of an update already stored is not stored or answered again.

Replies go through the gateway's outbound dispatcher and `TelegramSender`, which keeps
Telegram's limits (about 1 message a second per chat, a `limits` count shared by the replicas;
30 a second overall, python-telegram-bot's AIORateLimiter) and turns Telegram's errors into
retry (429 with its retry_after, 5xx, network) or failure (blocked, bad request).
Buttons become inline keyboards whose callback data points at the stored message
("b:<message id>:<button index>"), so payloads of any length survive Telegram's 64 bytes.
"""

from __future__ import annotations

import asyncio
import functools
import hmac
import io
import json
import logging
import re
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ChatAction, MessageLimit
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, wait_exponential

from bot import attachments, limits, store
from bot.gateway import Gateway, Inbound
from bot.messages import ChatMessage
from bot.outbound import Outcome
from bot.store import ConversationRef
from kefu_config.settings import Settings

logger = logging.getLogger(__name__)

CHANNEL = "telegram"
WEBHOOK_PATH = "/webhooks/telegram"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
ALLOWED_UPDATES = ["message", "callback_query"]
COMMANDS = ("start", "help", "human", "stop", "link")
MAX_UPDATE_BYTES = 1_000_000
_CALLBACK = re.compile(r"^b:(\d{1,18}):(\d{1,2})$")
SENDER_LABEL = {"agent": "Team member"}
# Long-polling wait per getUpdates call.
POLL_TIMEOUT = timedelta(seconds=10)
# A webhook POST waits this long for its update to be stored; Telegram gives up at 60 s.
WEBHOOK_STORE_TIMEOUT = 45.0
# Between polls after an update could not be stored (the database is down): it comes again.
UNSTORED_BACKOFF = (1.0, 10.0)

Handler = Callable[[Any, Update, ContextTypes.DEFAULT_TYPE], Awaitable[None]]


def receipted(handler: Handler) -> Handler:
    """Settles the update's receipt when the handler is done: stored (or nothing to store)
    when it returns, not stored when it raises before a `stored` callback settled it."""

    @functools.wraps(handler)
    async def wrapper(channel: TelegramChannel, update: Update,
                      context: ContextTypes.DEFAULT_TYPE) -> None:
        try:
            await handler(channel, update, context)
        except Exception:
            channel.settle(update, stored=False)
            raise
        channel.settle(update, stored=True)

    return wrapper


def _log_retry(what: str) -> Callable[[RetryCallState], None]:
    def log(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        logger.warning("%s: %s; retrying in %.0f s", what, error,
                       state.next_action.sleep if state.next_action else 0)
    return log


def reconnecting(what: str) -> AsyncRetrying:
    """Retries a call to Telegram that failed on Telegram's side or the network's: after 1 s,
    then twice as long each time up to a minute, for as long as it takes (cancelling stops
    it)."""
    return AsyncRetrying(retry=retry_if_exception_type((TelegramError, OSError)),
                         wait=wait_exponential(multiplier=1, max=60),
                         before_sleep=_log_retry(what))


def retry_after_seconds(exc: RetryAfter) -> float:
    value = getattr(exc, "_retry_after", None)
    if value is None:
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def render(message: ChatMessage) -> tuple[list[str], InlineKeyboardMarkup | None]:
    """Telegram text chunks (4096 characters each) and the keyboard for the last one."""
    text = message.content.plain_text() or " "
    label = SENDER_LABEL.get(message.sender)
    if label:
        text = f"{label}:\n{text}"
    limit = MessageLimit.MAX_TEXT_LENGTH
    chunks = [text[i:i + limit] for i in range(0, len(text), limit)]
    keyboard = None
    buttons = message.content.buttons
    if buttons:
        rows = [[InlineKeyboardButton(b.title, callback_data=f"b:{message.id}:{i}")
                 for i, b in list(enumerate(buttons))[start:start + 2]]
                for start in range(0, len(buttons), 2)]
        keyboard = InlineKeyboardMarkup(rows)
    return chunks, keyboard


class TelegramSender:
    channel = CHANNEL

    def __init__(self, application: Application, chat_limit: limits.Limit) -> None:
        self.application = application
        # Telegram's limit per chat (counted in the limiters' storage, so replicas share it);
        # the limit overall is the Application's AIORateLimiter.
        self.chat_limit = chat_limit

    async def send(self, conversation: ConversationRef, message: ChatMessage) -> Outcome:
        try:
            chat_id = int(conversation.external_id)
        except ValueError:
            return Outcome.failed(f"not a Telegram chat id: {conversation.external_id!r}")
        chunks, keyboard = render(message)
        try:
            for index, chunk in enumerate(chunks):
                await self.chat_limit.wait_turn(str(chat_id))
                await self.application.bot.send_message(
                    chat_id=chat_id, text=chunk,
                    reply_markup=keyboard if index == len(chunks) - 1 else None)
        except RetryAfter as exc:
            return Outcome.retry(f"429 flood control: {exc}", after=retry_after_seconds(exc))
        except (BadRequest, ChatMigrated) as exc:  # BadRequest is a NetworkError: check first
            return Outcome.failed(f"refused by Telegram: {exc}")
        except Forbidden as exc:
            return Outcome.failed(f"the customer blocked the bot: {exc}")
        except NetworkError as exc:  # 5xx, timeouts, connection errors
            return Outcome.retry(f"network/server error: {exc}")
        except TelegramError as exc:
            return Outcome.retry(f"Telegram error: {exc}")
        return Outcome.delivered()


class TelegramChannel:
    def __init__(self, settings: Settings, gateway: Gateway, limiters: limits.Limiters) -> None:
        if not settings.telegram_token:
            raise ValueError("the Telegram channel needs KEFU_TELEGRAM_TOKEN")
        self.settings = settings
        self.gateway = gateway
        self.webhook_mode = bool(settings.telegram_webhook_url)
        if self.webhook_mode and not settings.telegram_webhook_secret:
            raise ValueError("KEFU_TELEGRAM_WEBHOOK_URL needs KEFU_TELEGRAM_WEBHOOK_SECRET: "
                             "without it anyone could post fake updates")
        self.bot_id = settings.telegram_token.split(":", 1)[0]
        api = settings.telegram_api_url.rstrip("/")
        builder = (ApplicationBuilder().token(settings.telegram_token)
                   .base_url(f"{api}/bot").base_file_url(f"{api}/file/bot")
                   # Updates of different chats are handled side by side; the gateway keeps
                   # one chat's messages in order.
                   .concurrent_updates(64)
                   # Telegram's limit for the whole bot (and per group). No retries of its
                   # own: a 429 goes back to the outbound dispatcher, which sends again after
                   # Telegram's retry_after and counts the attempt.
                   .rate_limiter(AIORateLimiter(overall_max_rate=settings.telegram_global_rate,
                                                overall_time_period=1, max_retries=0)))
        # No Updater: Kefu polls itself so that an update is confirmed only once stored.
        builder = builder.updater(None)
        self.application: Application = builder.build()
        self.sender = TelegramSender(self.application, limiters.telegram_chat)
        self.limiters = limiters
        self._add_handlers()
        self._runner: asyncio.Task[None] | None = None
        self.ready = asyncio.Event()
        # update id -> resolves True once the update is stored (or needs no storing), False
        # when it could not be: Telegram must then deliver it again.
        self._receipts: dict[int, asyncio.Future[bool]] = {}
        self._processing: set[asyncio.Task[None]] = set()

    # --- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        """Connects in the background: Telegram being unreachable must not stop the web chat."""
        self._runner = asyncio.create_task(self._connect(), name="telegram-connect")

    async def _connect(self) -> None:
        await reconnecting("Telegram not reachable")(self._bring_up)
        if not self.webhook_mode:
            await self._poll()

    async def _bring_up(self) -> None:
        if not self.application._initialized:  # noqa: SLF001 (no public flag)
            await self.application.initialize()
        if not self.application.running:
            await self.application.start()
        if self.webhook_mode:
            await self.application.bot.set_webhook(
                url=self.settings.telegram_webhook_url,
                secret_token=self.settings.telegram_webhook_secret,
                allowed_updates=ALLOWED_UPDATES)
        else:
            # getUpdates is refused while a webhook is set.
            await self.application.bot.delete_webhook()
        logger.info("Telegram channel up (%s, bot id %s, %s)",
                    "webhook" if self.webhook_mode else "long polling", self.bot_id,
                    self.settings.telegram_api_url)
        self.ready.set()

    async def _poll(self) -> None:
        """Long polling that confirms an update (moves the offset past it) only once it is
        stored. Updates of a batch are handled side by side; the next poll waits until each of
        them is stored or has failed. A failed one and those after it come again (the ones
        already stored are then recognised as repeats)."""
        offset: int | None = None
        unstored_delay = UNSTORED_BACKOFF[0]
        # NetworkError covers 5xx and timeouts; Conflict a webhook or another poller.
        fetch = reconnecting("Telegram polling")
        while True:
            updates = await fetch(self.application.bot.get_updates, offset=offset,
                                  timeout=POLL_TIMEOUT, allowed_updates=ALLOWED_UPDATES)
            if not updates:
                continue
            stored = await asyncio.gather(*(self.process(update) for update in updates))
            for update, ok in zip(updates, stored):
                if not ok:
                    break
                offset = update.update_id + 1
            if all(stored):
                unstored_delay = UNSTORED_BACKOFF[0]
            else:
                logger.warning("Telegram: %s of %s update(s) not stored; fetching them again "
                               "in %.0f s", stored.count(False), len(stored), unstored_delay)
                await asyncio.sleep(unstored_delay)
                unstored_delay = min(UNSTORED_BACKOFF[1], unstored_delay * 2)

    async def process(self, update: Update) -> bool:
        """Hand `update` to the handlers; True once it is stored (or needs no storing), False
        if it could not be stored. Handling (asking Rasa, replying) goes on in the background.
        An update already in hand (fetched or posted again meanwhile) is not handled twice."""
        receipt = self._receipts.get(update.update_id)
        if receipt is None:
            receipt = self._receipts[update.update_id] = \
                asyncio.get_running_loop().create_future()
            task = asyncio.create_task(self._handle(update, receipt),
                                       name=f"telegram-update-{update.update_id}")
            self._processing.add(task)
            task.add_done_callback(self._processing.discard)
        return await asyncio.shield(receipt)

    async def _handle(self, update: Update, receipt: asyncio.Future[bool]) -> None:
        app = self.application
        try:
            # The update processor keeps concurrent_updates' limit.
            await app.update_processor.process_update(update, app.process_update(update))
        finally:
            # No handler settled it: nothing to store (an update kind Kefu ignores).
            if not receipt.done():
                receipt.set_result(True)
            self._receipts.pop(update.update_id, None)

    def settle(self, update: Update, *, stored: bool) -> None:
        """Record whether `update` is safely stored; the first word counts."""
        receipt = self._receipts.get(update.update_id)
        if receipt is not None and not receipt.done():
            receipt.set_result(stored)

    async def stop(self) -> None:
        if self._runner is not None:
            self._runner.cancel()
            await asyncio.gather(self._runner, return_exceptions=True)
        if self._processing:
            # Let updates in hand finish (an unfinished one was not confirmed and comes again).
            _, unfinished = await asyncio.wait(set(self._processing), timeout=10.0)
            for task in unfinished:
                task.cancel()
            await asyncio.gather(*unfinished, return_exceptions=True)
        try:
            if self.application.running:
                await self.application.stop()
            if self.application._initialized:  # noqa: SLF001
                await self.application.shutdown()
        except (TelegramError, OSError, RuntimeError) as exc:
            logger.warning("stopping the Telegram channel: %s", exc)

    # --- handlers ------------------------------------------------------------------------------

    def _add_handlers(self) -> None:
        app = self.application
        for command in COMMANDS:
            app.add_handler(CommandHandler(command, self.on_text))
        app.add_handler(MessageHandler(filters.UpdateType.MESSAGE & filters.TEXT, self.on_text))
        app.add_handler(CallbackQueryHandler(self.on_button))
        app.add_handler(MessageHandler(filters.UpdateType.MESSAGE
                                       & (filters.PHOTO | filters.Document.ALL),
                                       self.on_attachment))
        app.add_handler(MessageHandler(filters.UpdateType.MESSAGE & ~filters.TEXT,
                                       self.on_unsupported))
        app.add_error_handler(self.on_error)

    def _dedupe_key(self, update: Update) -> str:
        return f"telegram:{self.bot_id}:update:{update.update_id}"

    @receipted
    async def on_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message, chat = update.effective_message, update.effective_chat
        if message is None or chat is None or not message.text:
            return
        # The same rule as every channel (bot/limits.py): Telegram allows 4,096 characters.
        problem = limits.message_problem(message.text)
        if problem is not None:
            conversation = await store.run(store.start_conversation(CHANNEL, str(chat.id)))
            await self.gateway.deliver(conversation_id=conversation.id, sender="system",
                                       text=f"Sorry, {problem}.")
            return
        inbound = Inbound(CHANNEL, str(chat.id), message.text,
                          dedupe_key=self._dedupe_key(update),
                          metadata={"telegram_language": getattr(update.effective_user,
                                                                 "language_code", None)})

        async def stored(conversation: ConversationRef, _message: ChatMessage) -> None:
            self.settle(update, stored=True)  # Telegram may forget it now
            if not conversation.human:
                await self._typing(chat.id)

        await self.gateway.handle(inbound, on_stored=stored)

    @receipted
    async def on_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query, chat = update.callback_query, update.effective_chat
        if query is None or chat is None:
            return
        match = _CALLBACK.match(query.data or "")
        conversation = await store.run(store.find_conversation(CHANNEL, str(chat.id)))
        button = None
        if match and conversation is not None:
            button = await store.run(store.button(int(match.group(1)), int(match.group(2)),
                                                  conversation.id))
        if button is None:
            await self._answer(query, "This button is no longer available.")
            return
        inbound = Inbound(CHANNEL, str(chat.id), button.title, rasa_text=button.payload,
                          dedupe_key=self._dedupe_key(update))

        async def stored(conversation: ConversationRef, _message: ChatMessage) -> None:
            # Answered once, after the press is safely stored; the keyboard goes away so the
            # same choice is not sent twice.
            self.settle(update, stored=True)
            await self._answer(query)
            try:
                await query.edit_message_reply_markup(reply_markup=None)
            except TelegramError as exc:
                logger.debug("could not remove the keyboard: %s", exc)
            if not conversation.human:
                await self._typing(chat.id)

        await self.gateway.handle(inbound, on_stored=stored)

    @receipted
    async def on_attachment(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A photo (the largest size Telegram offers) or a file sent as a document: fetched
        from the Bot API server (getFile, then /file/bot<token>/<path>), checked and stored
        with its message (bot/attachments.py). A download that fails raises, so the update is
        not confirmed and Telegram sends it again."""
        message, chat = update.effective_message, update.effective_chat
        if message is None or chat is None:
            return
        item = message.photo[-1] if message.photo else message.document
        if item is None:
            return
        name = "" if message.photo else (getattr(item, "file_name", None) or "")
        settings = self.settings
        if item.file_size and item.file_size > settings.attachment_max_bytes:
            # Not even downloaded.
            await self._refuse_file(chat.id, attachments.service.too_big(
                item.file_size, settings.attachment_max_bytes).reason)
            return
        telegram_file = await item.get_file()
        buffer = io.BytesIO()
        await telegram_file.download_to_memory(buffer)

        async def stored(conversation: ConversationRef, _message: ChatMessage) -> None:
            self.settle(update, stored=True)

        try:
            await attachments.receive(
                self.gateway, self.limiters, settings, channel=CHANNEL,
                external_id=str(chat.id), data=buffer.getvalue(), name=name,
                caption=message.caption, dedupe_key=self._dedupe_key(update),
                on_stored=stored)
        except attachments.Refused as refused:
            await self._refuse_file(chat.id, refused.reason)

    async def _refuse_file(self, chat_id: int, reason: str) -> None:
        conversation = await store.run(store.start_conversation(CHANNEL, str(chat_id)))
        await self.gateway.deliver(conversation_id=conversation.id, sender="system",
                                   text=f"Sorry, {reason}.")

    @receipted
    async def on_unsupported(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat = update.effective_chat
        if chat is None:
            return
        conversation = await store.run(store.start_conversation(CHANNEL, str(chat.id)))
        await self.gateway.deliver(conversation_id=conversation.id, sender="system",
                                   text="Sorry, I can only read text, photos and PDF files. "
                                        "Please type your question.")

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        if isinstance(context.error, store.StoreUnavailable):
            # Expected during a database outage: the update was not confirmed, it comes again.
            logger.warning("Telegram update %s not stored: %s",
                           getattr(update, "update_id", "?"), context.error.detail)
            return
        logger.error("Telegram update %s failed", getattr(update, "update_id", "?"),
                     exc_info=context.error)

    async def _answer(self, query: Any, text: str | None = None) -> None:
        try:
            await query.answer(text)
        except TelegramError as exc:
            logger.debug("answerCallbackQuery failed: %s", exc)

    async def _typing(self, chat_id: int) -> None:
        try:
            await self.application.bot.send_chat_action(chat_id, ChatAction.TYPING)
        except TelegramError as exc:  # a nicety; never worth failing the message for
            logger.debug("sendChatAction failed: %s", exc)

    # --- webhook -------------------------------------------------------------------------------

    async def receive_webhook(self, request: Request) -> dict[str, bool]:
        secret = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(secret.encode(),
                                   (self.settings.telegram_webhook_secret or "").encode()):
            raise HTTPException(403, "missing or wrong secret token")
        body = await request.body()
        if len(body) > MAX_UPDATE_BYTES:
            raise HTTPException(413, "update too large")
        try:
            data = json.loads(body)
        except ValueError as exc:
            raise HTTPException(400, f"not JSON: {exc}") from exc
        if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
            raise HTTPException(422, "an update needs an integer update_id")
        update = Update.de_json(data, self.application.bot)
        # 200 only once the update is stored; otherwise Telegram must send it again.
        try:
            stored = await asyncio.wait_for(self.process(update), WEBHOOK_STORE_TIMEOUT)
        except asyncio.TimeoutError:
            stored = False
        if not stored:
            raise HTTPException(503, "the update could not be stored yet; send it again",
                                headers={"Retry-After": str(store.RETRY_AFTER_SECONDS)})
        return {"ok": True}


router = APIRouter(tags=["telegram"])


@router.post(WEBHOOK_PATH, include_in_schema=False)
async def telegram_webhook(request: Request) -> dict[str, bool]:
    channel: TelegramChannel | None = getattr(request.app.state, "telegram", None)
    if channel is None or not channel.webhook_mode:
        raise HTTPException(404, "the Telegram webhook is not enabled")
    return await channel.receive_webhook(request)
