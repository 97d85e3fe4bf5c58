"""Data rights: show a customer everything stored about them, or erase it.

Forgetting keeps the customer row without personal data, so orders stay for accounting and
KPIs keep counting; everything the customer wrote or that identifies them is deleted or blanked.
"""

from __future__ import annotations

import base64
import logging
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from sqlalchemy import MetaData, Table, create_engine, delete, inspect, select, update
from sqlalchemy.orm import Session

from crm_store.db import normalise_url
from crm_store.errors import NotFound
from crm_store.models import (
    AuditEntry,
    CampaignDelivery,
    ChannelIdentity,
    Conversation,
    ConversationNote,
    Customer,
    DeliveryStatus,
    DialogueEvent,
    Handoff,
    Interest,
    LinkCode,
    Message,
    Ticket,
    utcnow,
)
from crm_store.services import attachments as attachment_service
from crm_store.services import audit, campaigns, customers, orders
from crm_store.services.bucket_files import open_file_store
from kefu_config import senders
from kefu_config.settings import get_settings

logger = logging.getLogger(__name__)

ERASED = "[erased]"


def _plain(value: Any) -> Any:
    """JSON-ready values: ISO times, decimal strings, enum values."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _columns(obj: Any, *names: str) -> dict[str, Any]:
    return {name: _plain(getattr(obj, name)) for name in names}


def _require(session: Session, email: str) -> Customer:
    customer = customers.get_by_email(session, email=email)
    if customer is None:
        raise NotFound(f"no customer with email {email.strip()!r}")
    return customer


def _files(files: attachment_service.FileStore | None) -> attachment_service.FileStore:
    return files or open_file_store(get_settings())


def export_customer(session: Session, *, email: str,
                    files: attachment_service.FileStore | None = None) -> dict[str, Any]:
    """Everything stored about the customer, as plain JSON-ready data; the photos and files
    they sent with their bytes (base64)."""
    customer = _require(session, email)
    cid = customer.id
    conversations = list(session.scalars(
        select(Conversation).where(Conversation.customer_id == cid).order_by(Conversation.id)))
    conversation_ids = [c.id for c in conversations]
    store = _files(files)
    sent_files = []
    for row in attachment_service.for_customer(session, customer_id=cid,
                                               conversation_ids=conversation_ids):
        item = _columns(row, "created_at", "channel", "content_type", "size", "sha256",
                        "original_name", "width", "height")
        try:
            item["content_base64"] = base64.b64encode(store.read(row.sha256)).decode()
        except NotFound:
            item["content_base64"] = None  # the bytes are gone (a restore without them)
        sent_files.append(item)
    data: dict[str, Any] = {
        "exported_at": utcnow().isoformat(),
        "customer": _columns(customer, "id", "email", "name", "phone", "language", "segment",
                             "tags", "created_at", "last_seen_at", "marketing_opt_in",
                             "marketing_consent_at", "marketing_consent_source"),
        "identities": [_columns(i, "channel", "external_id", "verified", "verified_at",
                                "created_at", "last_seen_at")
                       for i in session.scalars(select(ChannelIdentity)
                                                .where(ChannelIdentity.customer_id == cid)
                                                .order_by(ChannelIdentity.id))],
        "interests": [_columns(i, "topic", "source", "weight", "created_at", "updated_at")
                      for i in session.scalars(select(Interest).where(Interest.customer_id == cid)
                                               .order_by(Interest.id))],
        "orders": [
            {
                **_columns(o, "order_number", "status", "total", "currency", "created_at",
                           "shipped_at", "delivered_at", "cancelled_at", "carrier",
                           "tracking_number"),
                "items": [{"sku": line.product.sku, "name": line.product.name,
                           "quantity": line.quantity, "unit_price": str(line.unit_price)}
                          for line in o.lines],
                "returns": [_columns(r, "status", "reason", "refund_amount", "created_at",
                                     "refunded_at") for r in o.returns],
            }
            for o in reversed(orders.for_customer(session, customer_id=cid))
        ],
        "tickets": [_columns(t, "reference", "category", "priority", "status", "subject",
                             "description", "channel", "created_at", "sla_due_at", "resolved_at",
                             "resolution", "satisfaction", "satisfaction_comment")
                    for t in session.scalars(select(Ticket).where(Ticket.customer_id == cid)
                                             .order_by(Ticket.id))],
        "conversations": [
            {
                **_columns(c, "channel", "external_id", "mode", "started_at", "last_message_at",
                           "satisfaction", "satisfaction_comment", "rated_at"),
                "messages": [_columns(m, "created_at", "direction", "sender_kind", "text",
                                      "intent", "confidence") for m in c.messages],
                "handoffs": [_columns(h, "status", "reason", "requested_at", "claimed_at",
                                      "resolved_at", "reply_email")
                             for h in session.scalars(select(Handoff)
                                                      .where(Handoff.conversation_id == c.id)
                                                      .order_by(Handoff.id))],
                # What staff wrote about the customer is their personal data too.
                "staff_notes": [_columns(n, "created_at", "text")
                                for n in session.scalars(
                                    select(ConversationNote)
                                    .where(ConversationNote.conversation_id == c.id)
                                    .order_by(ConversationNote.id))],
            }
            for c in conversations
        ],
        "campaign_deliveries": [
            {"campaign": d.campaign.name, **_columns(d, "channel", "created_at", "sent_at"),
             "status": _plain(DeliveryStatus(state))}
            # The state is the gateway message's (campaigns.delivery_state), as the report's.
            for d, state in session.execute(
                campaigns.with_message(select(CampaignDelivery, campaigns.delivery_state()))
                .where(CampaignDelivery.customer_id == cid).order_by(CampaignDelivery.id))
        ],
        "files": sent_files,
        "changes": [_columns(a, "at", "actor", "action", "details")
                    for a in session.scalars(select(AuditEntry)
                                             .where(AuditEntry.entity == "customer",
                                                    AuditEntry.entity_id == str(cid))
                                             .order_by(AuditEntry.id))],
    }
    logger.debug("exported %d conversations for customer %s", len(conversation_ids), cid)
    return data


@dataclass(frozen=True)
class ForgetResult:
    customer_id: int
    orders_kept: int
    messages_deleted: int
    tickets_anonymised: int
    # Rasa's ids for the customer's conversations ("<channel>:<external id>"): the dialogue
    # Rasa keeps under them must go too (`forget_rasa_trackers`).
    rasa_senders: tuple[str, ...] = ()


def forget_customer(session: Session, *, email: str, actor: str = "admin",
                    files: attachment_service.FileStore | None = None) -> ForgetResult:
    """Erase the customer's personal data; orders stay, attached to an anonymous record.
    Their photos and files go too: rows now, bytes once the unit of work has committed."""
    customer = _require(session, email)
    cid = customer.id
    conversation_ids = list(session.scalars(
        select(Conversation.id).where(Conversation.customer_id == cid)))
    files_deleted = attachment_service.forget(
        session, _files(files),
        attachment_service.for_customer(session, customer_id=cid,
                                        conversation_ids=conversation_ids))
    messages_deleted = 0
    sender_ids = tuple(senders.sender_id(channel, external_id)
                       for channel, external_id in session.execute(
        select(Conversation.channel, Conversation.external_id)
        .where(Conversation.customer_id == cid)))
    if sender_ids:
        session.execute(delete(DialogueEvent).where(DialogueEvent.sender_id.in_(sender_ids)))
    if conversation_ids:
        messages_deleted = session.execute(
            delete(Message).where(Message.conversation_id.in_(conversation_ids))).rowcount or 0
        session.execute(delete(ConversationNote)
                        .where(ConversationNote.conversation_id.in_(conversation_ids)))
        # Tickets and handoffs stay countable for KPIs; their link to the chat goes.
        session.execute(update(Ticket).where(Ticket.conversation_id.in_(conversation_ids))
                        .values(conversation_id=None))
        session.execute(update(Handoff).where(Handoff.conversation_id.in_(conversation_ids))
                        .values(reason=None, resolution_note=None, reply_email=None))
        # Conversations identify the person by channel id: keep them (handoffs hang off them)
        # but blank the id.
        for conversation in session.scalars(
            select(Conversation).where(Conversation.id.in_(conversation_ids))
        ):
            conversation.external_id = f"erased-{conversation.id}"
            # The score stays for CSAT figures; the words were the customer's own.
            conversation.satisfaction_comment = None
    # The address may have been left in a chat not linked to the customer (an anonymous
    # chat waiting for staff offline): it is theirs all the same.
    session.execute(update(Handoff).where(Handoff.reply_email == customer.email)
                    .values(reply_email=None))
    tickets_anonymised = session.execute(
        update(Ticket).where(Ticket.customer_id == cid)
        .values(subject=ERASED, description=ERASED, resolution=None,
                satisfaction_comment=None)).rowcount or 0
    session.execute(delete(ChannelIdentity).where(ChannelIdentity.customer_id == cid))
    session.execute(delete(LinkCode).where(LinkCode.customer_id == cid))
    session.execute(delete(Interest).where(Interest.customer_id == cid))
    session.execute(delete(CampaignDelivery).where(CampaignDelivery.customer_id == cid))
    orders_kept = len(orders.for_customer(session, customer_id=cid))
    now = utcnow()
    customer.email = None
    customer.name = None
    customer.phone = None
    customer.language = None
    customer.segment = None
    customer.tags = []
    customer.marketing_opt_in = False
    customer.marketing_consent_at = now
    customer.marketing_consent_source = "erased"
    customer.last_seen_at = None
    customer.erased_at = now
    session.expire(customer, ["identities", "interests"])
    # The log keeps that an erasure happened, never whose email it was.
    audit.record(session, actor=actor, action="customer.forget", entity="customer",
                 entity_id=cid, details={"orders_kept": orders_kept,
                                         "messages_deleted": messages_deleted,
                                         "files_deleted": files_deleted})
    session.flush()
    return ForgetResult(cid, orders_kept, messages_deleted, tickets_anonymised, sender_ids)


def forget_rasa_trackers(tracker_url: str, senders: tuple[str, ...] | list[str]) -> int:
    """Delete what Rasa's SQL tracker store keeps of these conversations (its `events` table:
    every message text, slot and intent). Returns the rows deleted; 0 when Rasa has not
    created its table there yet."""
    if not senders:
        return 0
    engine = create_engine(normalise_url(tracker_url))
    try:
        if not inspect(engine).has_table("events"):
            return 0
        with engine.begin() as connection:
            # Rasa owns this table (rasa/core/tracker_store.py, SQLTrackerStore): reflected,
            # not modelled, so a Rasa upgrade that changes it cannot break Kefu's migrations.
            events = Table("events", MetaData(), autoload_with=connection)
            return connection.execute(
                delete(events).where(events.c.sender_id.in_(list(senders)))).rowcount or 0
    finally:
        engine.dispose()
