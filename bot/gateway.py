"""The gateway's core: one path for every inbound message, one for every outbound one.

Inbound (`handle`): store the message first (a duplicate stops here), then either answer a
gateway command (`link CODE`, `/stop`, `/help`), or — in human mode — pass it to staff, or ask
Rasa and store and deliver its replies. Outbound (`deliver`): for other parts of Kefu (agent
replies, campaigns): store, then deliver on the customer's channel.

Channels only translate: they turn what arrives into an `Inbound` and give the gateway a
sender (bot/outbound.py) that puts a stored message on the wire.

Conventions (actions rely on them): a conversation is keyed in crm_store by
(channel, external id) — ("web", session id), ("telegram", chat id), ("rest", sender) — and
Rasa knows it by the sender id "<channel>:<external id>".
"""

from __future__ import annotations

import asyncio
import logging
import re
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from bot import store
from bot.messages import ChatMessage, Content, from_rasa, from_rasa_replies
from bot.outbound import Dispatcher, claim_until
from bot.rasa_client import RasaClient
from bot.staff_bus import StaffBus
from bot.store import ConversationRef
from crm_store.errors import InvalidInput, NotAllowed, NotFound
from crm_store.models import utcnow
from crm_store.services import link_codes
from crm_store.services.assignment import Assignment
from kefu_config import senders
from kefu_config.handoff import joined_text, reply_email_text, transferred_text
from kefu_config.settings import get_settings

logger = logging.getLogger(__name__)

# "link ABC234", "/link ABC234", "/link", "link" (asks for a code), and Telegram's deep link
# "/start ABC234" (t.me/<bot>?start=ABC234).
_LINK = re.compile(r"^\s*/?link(?:@\w+)?(?:\s+(?P<code>[A-Za-z0-9][A-Za-z0-9 -]{3,14}))?\s*$",
                   re.IGNORECASE)
_START_CODE = re.compile(r"^\s*/start(?:@\w+)?\s+(?P<code>[A-Za-z0-9]{6})\s*$", re.IGNORECASE)
_COMMAND = re.compile(r"^\s*/(?P<name>[a-z_]+)(?:@\w+)?(?:\s|$)", re.IGNORECASE)

HELP_TEXT = (
    "I'm Kefu, the shop's assistant. Ask me about orders, delivery, returns, refunds, payments "
    "and products.\n"
    "/human — talk to a person\n"
    "/link — connect this chat with your chat on the shop's website\n"
    "/stop — no more marketing messages\n"
    "/help — this message"
)
STOP_TEXT = ("Done — you won't receive marketing messages from us any more. You can still chat "
             "with me here whenever you like.")
UNDONE_TEXT = ("Undone — you're subscribed again, as before. Say \"unsubscribe\" whenever you want "
               "me to stop.")
NOTHING_TO_UNDO_TEXT = "There's nothing for me to undo right now. How can I help?"
# How long after unsubscribing "Undo" (the button under the confirmation, or /undo) restores it.
UNDO_WINDOW = timedelta(minutes=10)


def attachment_received_text(attachment: dict[str, Any], human: bool) -> str:
    """The acknowledgement of a customer's photo or file."""
    what = "photo" if str(attachment.get("type", "")).startswith("image/") else "file"
    if attachment.get("case"):
        return (f"Thanks, I've added your {what} to {attachment['case']} — our team will see "
                "it there.")
    if human:
        return f"Thanks, we've got your {what} — the person helping you can see it now."
    return (f"Thanks, we've got your {what} — it's saved with this chat, so a person will look "
            "at it. Tell me what happened, or ask to talk to a person.")


@dataclass(frozen=True)
class Inbound:
    """A customer's message as a channel received it."""

    channel: str
    external_id: str
    text: str
    # The channel's own id for this message; a repeat is processed once.
    dedupe_key: str | None = None
    # What Rasa gets when it differs from what the customer saw (a button's payload).
    rasa_text: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    # Kept with the stored message (e.g. the web widget's client id).
    extra: dict[str, Any] = field(default_factory=dict)
    # A photo or file the message carries, staged and checked (bot/attachments.py): stored
    # with the message in one unit of work.
    upload: store.Upload | None = None

    @property
    def sender_id(self) -> str:
        return senders.sender_id(self.channel, self.external_id)


@dataclass(frozen=True)
class Handled:
    conversation: ConversationRef
    message: ChatMessage | None  # the stored inbound message; None for a duplicate
    replies: list[ChatMessage]

    @property
    def duplicate(self) -> bool:
        return self.message is None


OnStored = Callable[[ConversationRef, ChatMessage], Awaitable[None]]


# How long a replica may take to answer one message before another may answer it instead:
# longer than any live turn (Rasa's timeout plus the store's outage grace), so that only a
# message whose replica died is taken over (bot/recovery.py).
LEASE_MARGIN = 30.0


def lease_for(rasa_timeout: float) -> float:
    return rasa_timeout + store.OUTAGE_GRACE + LEASE_MARGIN


class Gateway:
    def __init__(self, rasa: RasaClient, dispatcher: Dispatcher, bus: StaffBus,
                 replica: str = "gateway", lease_seconds: float | None = None,
                 agent_capacity: int | None = None) -> None:
        self.rasa = rasa
        # Automatic assignment: open conversations an online agent is given at most, unless
        # an admin set their own (KEFU_AGENT_CAPACITY).
        self.agent_capacity = agent_capacity or get_settings().agent_capacity
        self.dispatcher = dispatcher
        self.bus = bus
        self.replica = replica
        self.lease_seconds = lease_seconds if lease_seconds is not None else \
            lease_for(30.0)
        # Every lease this process takes runs out after this moment; one of this replica's
        # that runs out earlier was taken by an earlier process, which is gone.
        self.own_before = utcnow() + timedelta(seconds=self.lease_seconds)
        # One lock per conversation in use; a lock nobody holds or waits for goes away.
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = \
            weakref.WeakValueDictionary()

    def _lock(self, sender_id: str) -> asyncio.Lock:
        lock = self._locks.get(sender_id)
        if lock is None:
            lock = self._locks[sender_id] = asyncio.Lock()
        return lock

    def lease(self) -> tuple[str, datetime]:
        """This replica's claim on a message it is about to answer."""
        return self.replica, utcnow() + timedelta(seconds=self.lease_seconds)

    # --- inbound -------------------------------------------------------------------------------

    async def handle(self, inbound: Inbound, on_stored: OnStored | None = None) -> Handled:
        # One message at a time per conversation, so replies come in the order asked.
        async with self._lock(inbound.sender_id):
            payload = {**inbound.extra}
            if inbound.rasa_text:
                payload["payload"] = inbound.rasa_text
            stored = await store.run(store.record_inbound(
                inbound.channel, inbound.external_id, inbound.text, inbound.dedupe_key,
                payload or None, self.lease(), self.own_before, inbound.upload))
            conversation = stored.conversation
            if stored.message is None:
                logger.info("duplicate %s message %s ignored", inbound.channel,
                            inbound.dedupe_key)
                return Handled(conversation, None, [])
            message = stored.message
            if stored.resumed:
                # A resend of a message stored earlier and never answered: answer the first copy.
                logger.info("resent %s message %s answered", inbound.channel, message.id)
                inbound = replace(inbound, text=message.content.text, rasa_text=stored.rasa_text)
            elif stored.rasa_text:
                inbound = replace(inbound, rasa_text=stored.rasa_text)  # a button's label typed
            if on_stored is not None:
                await on_stored(conversation, message)
            await self._publish_message(conversation, message)
            replies = await self._route(inbound, conversation, message, stored.verified)
            return Handled(conversation, message, replies)

    async def resume(self, conversation: ConversationRef, message: ChatMessage,
                     rasa_text: str | None) -> list[ChatMessage]:
        """Answer a stored message that was never answered (bot/recovery.py), as if it had
        just arrived; the caller holds its lease."""
        async with self._lock(conversation.sender_id):
            inbound = Inbound(conversation.channel, conversation.external_id,
                              message.content.text, rasa_text=rasa_text)
            verified = await store.run(store.identity_customer(
                conversation.channel, conversation.external_id), wait=store.OUTAGE_GRACE)
            current = await store.run(store.get_conversation(conversation.id),
                                      wait=store.OUTAGE_GRACE)
            return await self._route(inbound, current or conversation, message, verified[1])

    async def _route(self, inbound: Inbound, conversation: ConversationRef,
                     message: ChatMessage, verified: bool) -> list[ChatMessage]:
        if message.content.attachment is not None:
            # A photo or file carries no words for the dialogue: the gateway says it has it,
            # and staff see it in the transcript (live when a person has the conversation).
            text = attachment_received_text(message.content.attachment, conversation.human)
            replies = [await self._reply(conversation, Content(text), "system")]
            await store.run(store.mark_handled(message.id), wait=store.OUTAGE_GRACE)
            return replies
        replies = await self._command(inbound, conversation, verified)
        if replies is None and not conversation.human:
            # Rasa's answer marks the message handled with its replies (store.after_reply).
            return await self._ask_rasa(inbound, conversation, message,
                                        _rasa_text(inbound), forced_handoff=_forced(inbound))
        if replies is None:
            # For the person who has the conversation (the bot stays silent; staff saw it
            # live, published above) — and, while the team is offline, perhaps the address
            # the customer wants the answer sent to.
            replies = await self._reply_email(conversation, inbound.text)
        # A gateway command, or a message for staff: finished here.
        await store.run(store.mark_handled(message.id), wait=store.OUTAGE_GRACE)
        return replies

    async def _command(self, inbound: Inbound, conversation: ConversationRef,
                       verified: bool) -> list[ChatMessage] | None:
        """The gateway's own commands (link, /stop, /help); None for anything else."""
        text = inbound.text.strip()
        if (match := _LINK.match(text)) is not None:
            return await self._link(conversation, match.group("code"), verified)
        if (match := _START_CODE.match(text)) is not None:
            return await self._link(conversation, match.group("code"), verified)
        # A button's payload counts too: the "Undo" button sends /undo.
        command = _command(inbound.rasa_text or text)
        if command == "stop":
            return await self._stop(conversation)
        if command == "undo":
            return await self._undo(conversation)
        if command == "help":
            return [await self._reply(conversation, Content(HELP_TEXT), "system")]
        return None

    async def _reply_email(self, conversation: ConversationRef,
                           text: str) -> list[ChatMessage]:
        """An email address typed while the handoff waits outside business hours: noted on
        the handoff for staff (store.record_reply_email), and the customer hears it was, with
        the address masked (the chat may be on a shared screen). Nothing otherwise."""
        if "@" not in text:
            return []  # no address: no unit of work for every message staff will answer
        noted = await store.run(store.record_reply_email(conversation.id, text),
                                wait=store.OUTAGE_GRACE)
        if noted is None:
            return []
        handoff_id, email = noted
        await self.bus.publish({"type": "handoff.updated", "conversation_id": conversation.id,
                                "handoff_id": handoff_id})
        return [await self._reply(conversation, Content(reply_email_text(email)), "system")]

    async def _ask_rasa(self, inbound: Inbound, conversation: ConversationRef,
                        message: ChatMessage, rasa_text: str,
                        forced_handoff: bool) -> list[ChatMessage]:
        metadata = {**inbound.metadata, "channel": inbound.channel}
        if conversation.customer_id is not None:
            metadata["customer_id"] = conversation.customer_id
        reply = await self.rasa.send(conversation.sender_id, rasa_text, channel=inbound.channel,
                                     metadata=metadata)
        handoff_reason: str | None = None
        contents, signals = from_rasa_replies(reply.messages)
        for signal in signals:
            if signal.type == "handoff":
                handoff_reason = str(signal.data.get("reason") or "requested in chat")
        # /human must always reach a person, even when the dialogue cannot (Rasa down) or
        # does not (a model without the handoff) hand the conversation over.
        required = "customer asked for a person (/human)" if forced_handoff else None
        # The customer's message is stored: the answer must be too, even across a short
        # database outage (retried for store.OUTAGE_GRACE seconds).
        # Stored already claimed for this process's delivery: no claim per reply.
        claimed = claim_until()
        after = await store.run(store.after_reply(
            conversation.id, message.id, reply.intent, reply.confidence, contents,
            handoff_reason, required, claim_until=claimed), wait=store.OUTAGE_GRACE)
        for reply_message in after.replies:
            self.dispatcher.enqueue(after.conversation, reply_message, claimed)
            await self._publish_message(after.conversation, reply_message)
        if after.handoff_id is not None:
            await self.publish_handoff(after.conversation, after.handoff_id,
                                       after.handoff_reason or "requested in chat")
        return after.replies

    async def _link(self, conversation: ConversationRef, code: str | None,
                    verified: bool) -> list[ChatMessage]:
        if code is None:
            return [await self._reply(conversation, await self._issue_code(conversation,
                                                                           verified), "system")]
        # Counted in the shared store, so switching replicas buys a guesser nothing.
        if not await store.run(lambda session: link_codes.guesses_left(
                session, channel=conversation.channel, external_id=conversation.external_id),
                wait=store.OUTAGE_GRACE):
            text = "Too many wrong codes. Please wait a few minutes and try again."
            return [await self._reply(conversation, Content(text), "system")]
        try:
            customer_id = await store.run(store.redeem_link_code(
                code, conversation.channel, conversation.external_id), wait=store.OUTAGE_GRACE)
        except InvalidInput:
            await store.run(lambda session: link_codes.record_failed_guess(
                session, channel=conversation.channel, external_id=conversation.external_id),
                wait=store.OUTAGE_GRACE)
            text = ("That code didn't work — it may have expired. Ask for a new one on your "
                    "other chat (type: link) and enter it here within 10 minutes.")
            return [await self._reply(conversation, Content(text), "system")]
        logger.info("%s linked to customer %s", conversation.sender_id, customer_id)
        linked = await store.run(store.get_conversation(conversation.id),
                                 wait=store.OUTAGE_GRACE)
        await self.bus.publish({"type": "conversation.linked", "conversation_id": conversation.id,
                                "customer_id": customer_id, "channel": conversation.channel})
        text = ("Linked! This chat now shares your customer account, so you can pick up here "
                "where you left off.")
        return [await self._reply(linked or conversation, Content(text), "system")]

    async def _issue_code(self, conversation: ConversationRef, verified: bool) -> Content:
        if not verified:
            return Content("To link another chat, I first need to know it's you. Ask me about "
                           "an order and I'll verify you with the order number and your email.")
        try:
            code, expires = await store.run(store.issue_link_code(conversation.channel,
                                                                  conversation.external_id),
                                            wait=store.OUTAGE_GRACE)
        except (NotAllowed, NotFound) as exc:
            logger.info("no link code for %s: %s", conversation.sender_id, exc)
            return Content("Sorry, I can't link chats for this conversation.")
        minutes = 10
        return Content(f"Your link code is {code}. On your other chat (Telegram or the shop's "
                       f"website), type: link {code}\nIt works once, within {minutes} minutes.")

    async def _stop(self, conversation: ConversationRef) -> list[ChatMessage]:
        if conversation.customer_id is not None:
            await store.run(store.withdraw_consent(conversation.customer_id,
                                                   conversation.channel),
                            wait=store.OUTAGE_GRACE)
        return [await self._reply(conversation, Content(STOP_TEXT), "system")]

    async def _undo(self, conversation: ConversationRef) -> list[ChatMessage]:
        undone = conversation.customer_id is not None and await store.run(
            store.undo_consent_withdrawal(conversation.customer_id, UNDO_WINDOW),
            wait=store.OUTAGE_GRACE)
        text = UNDONE_TEXT if undone else NOTHING_TO_UNDO_TEXT
        return [await self._reply(conversation, Content(text), "system")]

    async def _reply(self, conversation: ConversationRef, content: Content,
                     sender: str, staff_id: int | None = None,
                     wait: float = store.OUTAGE_GRACE) -> ChatMessage:
        # A reply to a stored customer message waits out a database outage; `deliver` (staff,
        # campaigns) does not: its caller gets StoreUnavailable (503) at once and can retry.
        claimed = claim_until()
        message = await store.run(store.queue_outbound(conversation.id, content, sender,
                                                       staff_id, claimed), wait=wait)
        self.dispatcher.enqueue(conversation, message, claimed)
        await self._publish_message(conversation, message)
        return message

    # --- outbound API --------------------------------------------------------------------------

    async def deliver(self, *, conversation_id: int | None = None,
                      customer_id: int | None = None, text: str = "",
                      sender: str = "agent", staff_id: int | None = None,
                      buttons: list[dict[str, str]] | None = None,
                      products: list[dict[str, Any]] | None = None,
                      channel: str | None = None) -> ChatMessage:
        """Send a message to a customer on their channel: to one conversation, or to the
        customer's most recently active one (optionally only on `channel`). `buttons` and
        `products` take Rasa's shapes ({"title", "payload"}; {"sku", "name", "price",
        "image"?, "reason"?}). Stored first, then delivered with retries. Raises NotFound when there is nobody to send to and
        InvalidInput for an empty message."""
        if conversation_id is not None:
            conversation = await store.run(store.get_conversation(conversation_id))
            if conversation is None:
                raise NotFound(f"no conversation {conversation_id}")
        elif customer_id is not None:
            conversation = await store.run(store.latest_conversation(customer_id, channel))
            if conversation is None:
                raise NotFound(f"customer {customer_id} has no conversation"
                               + (f" on {channel}" if channel else "") + " to deliver to")
        else:
            raise InvalidInput("deliver needs a conversation_id or a customer_id")
        # The same shapes Rasa uses, through the same checks (lengths, safe image URLs).
        rasa_like: dict[str, Any] = {"text": text or "", "buttons": buttons or []}
        if products:
            rasa_like["custom"] = {"type": "products", "products": products}
        content, _ = from_rasa(rasa_like)
        if content.empty:
            raise InvalidInput("the message is empty")
        return await self._reply(conversation, content, sender, staff_id, wait=0.0)

    async def set_mode(self, conversation_id: int, mode: str) -> ConversationRef:
        """Bot or human mode for one conversation (the agent console calls this)."""
        conversation = await store.run(store.set_mode(conversation_id, mode))
        await self.bus.publish({"type": "conversation.mode", "conversation_id": conversation_id,
                                "mode": conversation.mode})
        return conversation

    # --- staff events --------------------------------------------------------------------------

    async def _publish_message(self, conversation: ConversationRef, message: ChatMessage) -> None:
        await self.bus.publish({
            "type": "message", "conversation_id": conversation.id,
            "customer_id": conversation.customer_id, "channel": conversation.channel,
            "mode": conversation.mode, "direction": message.direction,
            "message": message.to_json(),
        })

    async def publish_handoff(self, conversation: ConversationRef, handoff_id: int,
                              reason: str) -> None:
        await self.bus.publish({"type": "handoff.requested", "conversation_id": conversation.id,
                                "customer_id": conversation.customer_id,
                                "channel": conversation.channel, "handoff_id": handoff_id,
                                "reason": reason})
        await self.bus.publish({"type": "conversation.mode", "conversation_id": conversation.id,
                                "mode": "human"})
        await self.assign_waiting()

    # --- automatic assignment (crm_store.services.assignment) -----------------------------------

    async def assign_waiting(self) -> list[Assignment]:
        """Give waiting conversations to online agents with room, and say so. Never fails
        its caller (a customer's turn, a resolve): what is not given now waits in the queue
        for the next chance (a new handoff, an agent online, a conversation resolved)."""
        try:
            given = await store.run(store.assign_waiting(self.agent_capacity))
        except Exception:
            logger.exception("automatic assignment failed; the conversations wait in the queue")
            return []
        await self.announce_assignments(given)
        return given

    async def announce_assignments(self, given: list[Assignment]) -> None:
        """Consoles see who has what; each customer hears that a person joined (or, when the
        conversation had a person before, that it passed to another)."""
        for item in given:
            await self.bus.publish({"type": "handoff.claimed", "handoff_id": item.handoff_id,
                                    "conversation_id": item.conversation_id,
                                    "staff_id": item.staff_id, "assigned": True})
            text = transferred_text(item.staff_name) if item.passed_on \
                else joined_text(item.staff_name)
            try:
                await self.deliver(conversation_id=item.conversation_id, sender="system",
                                   text=text)
            except Exception:
                logger.exception("could not tell conversation %s who joined",
                                 item.conversation_id)
        if given:
            await self.bus.publish({"type": "agents.changed"})


def _command(text: str) -> str | None:
    match = _COMMAND.match(text)
    return match.group("name").lower() if match else None


def _rasa_text(inbound: Inbound) -> str:
    text = inbound.text.strip()
    command = _command(text)
    if command == "start":
        return "/greet"
    if command == "human":
        return "/human_handoff"
    return inbound.rasa_text or text


def _forced(inbound: Inbound) -> bool:
    return _command(inbound.text.strip()) == "human"
