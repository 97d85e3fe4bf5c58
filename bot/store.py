"""The gateway's units of work on crm_store, each run in a worker thread.

SQLAlchemy sessions block; the gateway's event loop must not. Every call here opens one
short session in a thread (`crm_store.db.run_in_thread`), does one thing through crm_store's
services and returns plain frozen dataclasses, so no ORM object crosses back into async code.

When the database cannot be reached, `run` raises `StoreUnavailable` (an HTTP 503 with
Retry-After, so any route that lets it through answers API callers properly). Work that
must not be dropped once a customer's message is stored — the bot's replies, delivery
bookkeeping — passes `wait=OUTAGE_GRACE` and is retried until the database is back.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_before_delay,
    wait_exponential,
)

from bot.messages import Button, ChatMessage, Content
from bot.typed_buttons import typed_button
from crm_store import db
from crm_store.models import (
    Conversation,
    ConversationMode,
    Direction,
    Handoff,
    Message,
    SenderKind,
    utcnow,
)
from crm_store.services import (
    assignment,
    conversations,
    customers,
    delivery,
    evidence,
    handoffs,
    identities,
    link_codes,
    unanswered,
)
from crm_store.services import attachments as attachment_service
from kefu_config import clock, senders
from kefu_config.handoff import next_steps_text
from kefu_config.policy import load_policy
from kefu_config.settings import get_settings

logger = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class ConversationRef:
    id: int
    channel: str
    external_id: str
    customer_id: int | None
    mode: str

    @property
    def sender_id(self) -> str:
        """What Rasa and the actions know the conversation by: "<channel>:<external id>"."""
        return senders.sender_id(self.channel, self.external_id)

    @property
    def human(self) -> bool:
        return self.mode == ConversationMode.HUMAN.value


@dataclass(frozen=True)
class StoredInbound:
    conversation: ConversationRef
    message: ChatMessage | None  # None: a duplicate
    verified: bool
    # A resend of a message stored earlier and never answered: `message` is that first copy,
    # to be answered now, with what Rasa was to be given (a button's payload) if not its text.
    resumed: bool = False
    # What Rasa is to be given instead of the text: a button's payload (tapped, or its label
    # typed: bot/typed_buttons.py).
    rasa_text: str | None = None


@dataclass(frozen=True)
class Unfinished:
    """A customer message stored but never answered (bot/recovery.py)."""

    message: ChatMessage
    conversation: ConversationRef
    rasa_text: str | None
    too_old: bool
    superseded: bool


@dataclass(frozen=True)
class AfterReply:
    conversation: ConversationRef
    replies: list[ChatMessage]
    # Set when this turn put the conversation in human mode (a new handoff), with its reason.
    handoff_id: int | None
    handoff_reason: str | None = None


def conversation_ref(conversation: Conversation) -> ConversationRef:
    return ConversationRef(conversation.id, conversation.channel, conversation.external_id,
                           conversation.customer_id, ConversationMode(conversation.mode).value)


def chat_message(message: Message) -> ChatMessage:
    return ChatMessage(
        id=message.id, conversation_id=message.conversation_id,
        direction=message.direction.value, sender=message.sender_kind.value,
        content=Content.from_stored(message.text, message.payload),
        created_at=message.created_at,
        status=message.delivery_status.value if message.delivery_status else None,
        staff_id=message.staff_id,
        client_id=(message.payload or {}).get("client_id"),
    )


# How long work after a stored message waits for the database to come back (a restart or
# fail-over takes seconds); after that the caller gets StoreUnavailable.
OUTAGE_GRACE = 30.0
# What an API caller is told to wait before retrying while the database is down.
RETRY_AFTER_SECONDS = 5


class StoreUnavailable(HTTPException):
    """The customer store cannot be reached right now; nothing of this unit of work was
    written. An HTTPException so that FastAPI answers 503 with Retry-After wherever it
    escapes a route (the REST channel, staff APIs) instead of a bare 500."""

    def __init__(self, reason: str) -> None:
        super().__init__(503, f"the customer store is unavailable ({reason}); nothing was "
                              f"stored, please retry",
                         headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
        self.reason = reason


def is_outage(exc: BaseException) -> bool:
    """A database that is down or unreachable (worth retrying), not a bug or bad data."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    orig = getattr(exc, "orig", None)
    if isinstance(orig, sqlite3.OperationalError):
        return "locked" in str(orig)  # SQLite's only transient failure; others are bugs
    try:
        import psycopg
    except ImportError:  # pragma: no cover - psycopg is in the app's lock file
        return False
    # psycopg's OperationalError: refused or dropped connections, a server shutting down.
    return isinstance(orig, (psycopg.OperationalError, psycopg.InterfaceError))


async def run(work: Callable[[Session], T], *, wait: float = 0.0) -> T:
    """`work(session)` as one unit of work in a thread (crm_store.db.run_in_thread).

    When the database is down the unit is retried for up to `wait` seconds (it rolled back,
    so a retry writes nothing twice — short of a commit whose answer was lost on the way),
    then StoreUnavailable is raised.
    """
    retrying = AsyncRetrying(
        retry=retry_if_exception(lambda exc: isinstance(exc, SQLAlchemyError)
                                 and is_outage(exc)),
        wait=wait_exponential(multiplier=0.25, max=2.0), stop=stop_before_delay(wait),
        before_sleep=_log_outage, reraise=True)
    try:
        return await retrying(db.run_in_thread, work)
    except SQLAlchemyError as exc:
        if not is_outage(exc):
            raise
        raise StoreUnavailable(type(getattr(exc, "orig", exc)).__name__) from exc


def _log_outage(state: RetryCallState) -> None:
    exc = state.outcome.exception() if state.outcome else None
    logger.warning("customer store unavailable (%s); retrying in %.2f s",
                   getattr(exc, "orig", exc), state.upcoming_sleep)


# --- inbound -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Upload:
    """A customer's file, staged and checked (crm_store.services.attachments), to be stored
    with the message that carries it."""

    files: attachment_service.FileStore
    staged: attachment_service.Staged
    name: str = ""


def record_inbound(channel: str, external_id: str, text: str, dedupe_key: str | None,
                   payload: dict[str, Any] | None, lease: tuple[str, datetime] | None = None,
                   own_before: datetime | None = None, upload: Upload | None = None,
                   ) -> Callable[[Session], StoredInbound]:
    """Store the message, unfinished under `lease` unless a person has the conversation (then
    it is passed to staff as it is stored). A resend of a message that was stored but never
    answered, whose lease has run out, is taken under this lease and comes back as the message
    to answer, not as a duplicate. `upload`: the file it carries, stored in the same unit of
    work (the row, the bytes in place, the message's reference to it), or not at all."""
    def work(session: Session) -> StoredInbound:
        stored = delivery.record_inbound(session, channel=channel, external_id=external_id,
                                         text=text, dedupe_key=dedupe_key, payload=payload,
                                         lease=lease)
        if upload is not None and stored.message is not None:
            row = attachment_service.attach(
                session, upload.files, upload.staged, conversation_id=stored.conversation.id,
                channel=channel, customer_id=stored.conversation.customer_id
                or stored.customer_id, message_id=stored.message.id, name=upload.name)
            # Evidence for the complaint or return this chat has open, if any.
            case = evidence.link_new(session, row)
            stored.message.payload = {**(stored.message.payload or {}),
                                      "attachment": attachment_json(row, case)}
            session.flush()
        conversation = conversation_ref(stored.conversation)
        first = stored.duplicate_of
        if (first is not None and lease is not None and first.unanswered_since is not None
                and not conversation.human
                and unanswered.claim(session, message_id=first.id, owner=lease[0],
                                     until=lease[1], own_before=own_before)):
            return StoredInbound(conversation, chat_message(first), stored.verified,
                                 resumed=True, rasa_text=_rasa_text(first))
        message = chat_message(stored.message) if stored.message is not None else None
        pressed = None
        if (message is not None and upload is None and not (payload or {}).get("payload")
                and not conversation.human):
            pressed = _typed_button(session, stored.message)
        return StoredInbound(conversation, message, stored.verified, rasa_text=pressed)
    return work


def attachment_json(row: Any, case: str | None = None) -> dict[str, Any]:
    """What a message says about its file (Message.payload["attachment"]); links to the
    bytes are signed per viewer when shown (bot/attachments.py). `case`: the complaint or
    return it was added to ("complaint T-1001"), if any."""
    data = {"id": row.id, "type": row.content_type, "name": row.original_name,
            "size": row.size, "width": row.width, "height": row.height}
    if case:
        data["case"] = case
    return data


# The bot's last reply may be several messages; the buttons are usually in one of them.
_LAST_REPLY = 4


def _typed_button(session: Session, message: Message) -> str | None:
    """The payload of the button in the bot's last reply whose label the customer typed
    (bot/typed_buttons.py), kept on the message so a resend gets the same answer."""
    before = [m for m in conversations.history(
        session, conversation_id=message.conversation_id, limit=_LAST_REPLY + 1)
        if m.id != message.id]
    buttons: list[Button] = []
    for earlier in reversed(before):
        if earlier.direction == Direction.INBOUND:
            break
        buttons.extend(Content.from_stored(earlier.text, earlier.payload).buttons)
    button = typed_button(message.text, buttons)
    if button is None:
        return None
    message.payload = {**(message.payload or {}), "payload": button.payload}
    return button.payload


def _rasa_text(message: Message) -> str | None:
    value = (message.payload or {}).get("payload")
    return value if isinstance(value, str) else None


def mark_handled(message_id: int) -> Callable[[Session], None]:
    return lambda session: unanswered.mark_handled(session, message_id=message_id)


def unfinished(owner: str, window: timedelta, own_before: datetime | None
               ) -> Callable[[Session], list[Unfinished]]:
    def work(session: Session) -> list[Unfinished]:
        found = []
        for message in unanswered.unfinished(session, owner=owner, own_before=own_before):
            conversation = conversations.get(session, conversation_id=message.conversation_id)
            found.append(Unfinished(chat_message(message), conversation_ref(conversation),
                                    _rasa_text(message),
                                    unanswered.too_old(message, window=window),
                                    unanswered.superseded(session, message)))
        return found
    return work


def claim_unfinished(message_id: int, owner: str, until: datetime,
                     own_before: datetime | None) -> Callable[[Session], bool]:
    return lambda session: unanswered.claim(session, message_id=message_id, owner=owner,
                                            until=until, own_before=own_before)


def hand_over_unanswered(conversation_id: int, message_id: int, reason: str
                         ) -> Callable[[Session], tuple[ConversationRef, int]]:
    """Too old to answer automatically: a person follows up (the agents' queue)."""
    def work(session: Session) -> tuple[ConversationRef, int]:
        handoff = handoffs.hand_over(session, conversation_id=conversation_id, reason=reason,
                                     kind=handoffs.HandoffKind.UNANSWERED)
        unanswered.mark_handled(session, message_id=message_id)
        conversation = conversations.get(session, conversation_id=conversation_id)
        return conversation_ref(conversation), handoff.id
    return work


def record_reply_email(conversation_id: int, text: str
                       ) -> Callable[[Session], tuple[int, str] | None]:
    """Outside business hours the customer was offered to leave an email address for the
    answer (kefu_config.handoff.next_steps_text): one typed while their handoff waits is noted
    on it for staff. (handoff id, the address noted), or None: the team is at work, the
    handoff was taken, or there is no valid address in the message."""
    def work(session: Session) -> tuple[int, str] | None:
        if load_policy().is_open(clock.now()):
            return None
        handoff = handoffs.record_reply_email(session, conversation_id=conversation_id,
                                              text=text)
        return (handoff.id, handoff.reply_email) if handoff is not None else None
    return work


def after_reply(conversation_id: int, inbound_id: int | None, intent: str | None,
                confidence: float | None, contents: list[Content],
                handoff_reason: str | None,
                required_handoff: str | None = None, agent_capacity: int | None = None,
                claim_until: datetime | None = None) -> Callable[[Session], AfterReply]:
    """Fill in what Rasa understood, store its replies, and apply a handoff it asked for.

    An active handoff means human mode whoever created it: the dialogue signals one with a
    `custom: {"type": "handoff"}` message, or an action may have requested it in the store.
    `required_handoff` (a reason) is for an explicit request (/human): if the dialogue did
    not hand over, the gateway does, and says what action_handoff would have said (queue
    place, with the measured wait, or when staff are back) instead of whatever Rasa said;
    `agent_capacity` (None: KEFU_AGENT_CAPACITY) says whether an online agent has room;
    `claim_until`: the replies are stored claimed for the caller's delivery until then.
    """
    def work(session: Session) -> AfterReply:
        nonlocal contents, handoff_reason
        if inbound_id is not None and (intent is not None or confidence is not None):
            delivery.set_understanding(session, message_id=inbound_id, intent=intent,
                                       confidence=_clamp(confidence))
        if inbound_id is not None:
            # Answered in the same unit of work as the replies: both or neither.
            unanswered.mark_handled(session, message_id=inbound_id)
            article = next((c.article[0] for c in contents if c.article), None)
            if article is not None:
                delivery.set_answered_from(session, message_id=inbound_id, article=article)
        forced = (required_handoff is not None and handoff_reason is None
                  and handoffs.active_for(session, conversation_id=conversation_id) is None)
        if forced:
            handoff_reason, contents = required_handoff, []
        replies = [delivery.queue_outbound(session, conversation_id=conversation_id,
                                           text=c.text, payload=c.payload(),
                                           sender_kind=SenderKind.BOT,
                                           claimed_until=claim_until)
                   for c in contents if not c.empty]
        handoff = _enter_human_mode(session, conversation_id, handoff_reason)
        if forced and handoff is not None:
            position, minutes = assignment.expected_wait(
                session, handoff_id=handoff.id,
                default_capacity=agent_capacity or get_settings().agent_capacity)
            text = next_steps_text(position, wait_minutes=minutes)
            replies.append(delivery.queue_outbound(session, conversation_id=conversation_id,
                                                   text=text, payload=None,
                                                   sender_kind=SenderKind.BOT,
                                                   claimed_until=claim_until))
        conversation = conversations.get(session, conversation_id=conversation_id)
        return AfterReply(conversation_ref(conversation), [chat_message(m) for m in replies],
                          handoff.id if handoff else None, handoff.reason if handoff else None)
    return work


def assign_waiting(capacity: int) -> Callable[[Session], list[assignment.Assignment]]:
    """Waiting handoffs to online agents with room (crm_store.services.assignment)."""
    return lambda session: assignment.assign_waiting(session, default_capacity=capacity)


def _enter_human_mode(session: Session, conversation_id: int,
                      reason: str | None) -> Handoff | None:
    """Human mode with a waiting handoff (crm_store's rule); None if nobody asked for one.

    Called only for a conversation that was in bot mode when the turn began, so a handoff
    found active here is new to the gateway (even if an action already switched the mode).
    A handoff the gateway opens itself (/human, a dialogue's handoff signal) is the customer
    asking for a person; action_handoff opens its own, of the kind its reason is.
    """
    if reason is None and handoffs.active_for(session, conversation_id=conversation_id) is None:
        return None
    return handoffs.hand_over(session, conversation_id=conversation_id, reason=reason,
                              kind=handoffs.HandoffKind.ASKED)


def _clamp(confidence: float | None) -> float | None:
    return None if confidence is None else min(1.0, max(0.0, float(confidence)))


# --- outbound ----------------------------------------------------------------------------------

def queue_outbound(conversation_id: int, content: Content, sender: str,
                   staff_id: int | None = None, claim_until: datetime | None = None
                   ) -> Callable[[Session], ChatMessage]:
    def work(session: Session) -> ChatMessage:
        message = delivery.queue_outbound(session, conversation_id=conversation_id,
                                          text=content.text, payload=content.payload(),
                                          sender_kind=sender, staff_id=staff_id,
                                          claimed_until=claim_until)
        return chat_message(message)
    return work


def claim(message_id: int, until: datetime) -> Callable[[Session], bool]:
    return lambda session: delivery.claim(session, message_id=message_id, until=until)


def record_attempt(message_id: int, status: str, error: str | None = None,
                   retry_at: datetime | None = None) -> Callable[[Session], None]:
    def work(session: Session) -> None:
        delivery.record_attempt(session, message_id=message_id, status=status, error=error,
                                retry_at=retry_at)
    return work


def record_failure(message_id: int, error: str, *, final: bool, retry_after: float | None,
                   max_attempts: int, backoff: Callable[[int], float]
                   ) -> Callable[[Session], tuple[int, bool, float]]:
    """A failed attempt: (attempts so far, gave up?, seconds until the next attempt)."""
    def work(session: Session) -> tuple[int, bool, float]:
        message = delivery.get_message(session, message_id=message_id)
        attempts = (message.attempts or 0) + 1
        if final or attempts >= max_attempts:
            delivery.record_attempt(session, message_id=message_id, status="failed", error=error)
            return attempts, True, 0.0
        delay = retry_after if retry_after is not None else backoff(attempts)
        delivery.record_attempt(session, message_id=message_id, status="pending", error=error,
                                retry_at=utcnow() + timedelta(seconds=delay))
        return attempts, False, delay
    return work


def defer(message_id: int, until: datetime | None) -> Callable[[Session], None]:
    def work(session: Session) -> None:
        delivery.defer(session, message_id=message_id, until=until)
    return work


def mark_delivered(conversation_id: int, ids: list[int]) -> Callable[[Session], int]:
    return lambda session: delivery.mark_delivered(session, conversation_id=conversation_id,
                                                   message_ids=ids)


def due(exclude: set[int]) -> Callable[[Session], list[tuple[ChatMessage, ConversationRef]]]:
    def work(session: Session) -> list[tuple[ChatMessage, ConversationRef]]:
        return [(chat_message(m), conversation_ref(c))
                for m, c in delivery.due(session, exclude=exclude)]
    return work


# --- conversations -----------------------------------------------------------------------------

def get_conversation(conversation_id: int) -> Callable[[Session], ConversationRef | None]:
    def work(session: Session) -> ConversationRef | None:
        conversation = conversations.get(session, conversation_id=conversation_id)
        return conversation_ref(conversation) if conversation else None
    return work


def start_conversation(channel: str, external_id: str) -> Callable[[Session], ConversationRef]:
    return lambda session: conversation_ref(
        conversations.get_or_start(session, channel=channel, external_id=external_id))


def find_conversation(channel: str, external_id: str
                      ) -> Callable[[Session], ConversationRef | None]:
    def work(session: Session) -> ConversationRef | None:
        from sqlalchemy import select

        conversation = session.scalar(select(Conversation).where(
            Conversation.channel == channel, Conversation.external_id == external_id))
        return conversation_ref(conversation) if conversation else None
    return work


def latest_conversation(customer_id: int, channel: str | None
                        ) -> Callable[[Session], ConversationRef | None]:
    """The customer's most recently active conversation (on `channel` if given)."""
    def work(session: Session) -> ConversationRef | None:
        for conversation in conversations.for_customer(session, customer_id=customer_id):
            if channel is None or conversation.channel == channel:
                return conversation_ref(conversation)
        return None
    return work


def history(conversation_id: int, limit: int) -> Callable[[Session], list[ChatMessage]]:
    return lambda session: [chat_message(m) for m in conversations.history(
        session, conversation_id=conversation_id, limit=limit)]


def set_mode(conversation_id: int, mode: str) -> Callable[[Session], ConversationRef]:
    return lambda session: conversation_ref(
        conversations.set_mode(session, conversation_id=conversation_id, mode=mode))


def button(message_id: int, index: int, conversation_id: int
           ) -> Callable[[Session], Button | None]:
    """A button of a message the bot sent in this conversation (Telegram callback data)."""
    def work(session: Session) -> Button | None:
        message = delivery.get_message(session, message_id=message_id)
        if message is None or message.conversation_id != conversation_id:
            return None
        buttons = Content.from_stored(message.text, message.payload).buttons
        return buttons[index] if 0 <= index < len(buttons) else None
    return work


# --- customers ---------------------------------------------------------------------------------

def withdraw_consent(customer_id: int, source: str) -> Callable[[Session], None]:
    def work(session: Session) -> None:
        customers.set_marketing_consent(session, customer_id=customer_id, opt_in=False,
                                        source=source, actor=f"customer:{customer_id}")
    return work


def undo_consent_withdrawal(customer_id: int, within: timedelta) -> Callable[[Session], bool]:
    return lambda session: customers.undo_consent_withdrawal(
        session, customer_id=customer_id, within=within, actor=f"customer:{customer_id}")


def issue_link_code(channel: str, external_id: str) -> Callable[[Session], tuple[str, datetime]]:
    def work(session: Session) -> tuple[str, datetime]:
        link = link_codes.issue(session, channel=channel, external_id=external_id)
        return link.code, link.expires_at
    return work


def redeem_link_code(code: str, channel: str, external_id: str) -> Callable[[Session], int]:
    def work(session: Session) -> int:
        return link_codes.redeem(session, code=code, channel=channel,
                                 external_id=external_id).customer_id
    return work


def link_verified_email(channel: str, external_id: str, email: str) -> Callable[[Session], int]:
    """The shop vouched for this email (signed token): the identity is that customer's."""
    def work(session: Session) -> int:
        customer = customers.get_or_create_by_email(session, email=email)
        identity = identities.link(session, customer_id=customer.id, channel=channel,
                                   external_id=external_id, verified=True, actor="shop")
        conversation = conversations.get_or_start(session, channel=channel,
                                                  external_id=external_id)
        conversation.customer_id = identity.customer_id
        return customer.id
    return work


def identity_customer(channel: str, external_id: str
                      ) -> Callable[[Session], tuple[int | None, bool]]:
    def work(session: Session) -> tuple[int | None, bool]:
        identity = identities.get(session, channel=channel, external_id=external_id)
        return (identity.customer_id, identity.verified) if identity else (None, False)
    return work


def pending(conversation_id: int) -> Callable[[Session], list[ChatMessage]]:
    """Outbound messages of a conversation not yet confirmed delivered, oldest first."""
    return lambda session: [chat_message(m) for m in delivery.pending_for(
        session, conversation_id=conversation_id)]
