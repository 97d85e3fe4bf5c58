"""Staff search: conversations (by what was said in them), customers (name, email, phone, an
order of theirs) and tickets (reference, subject, description, their order), with the
database's own full-text search.

The index is kept by the database itself (migration 0013), never by this code:
- SQLite: an FTS5 table per searched table (`messages_search`, `customers_search`,
  `tickets_search`), external content (no copy of the text), kept in step by triggers on
  insert, update of the searched columns, and delete;
- PostgreSQL: a GIN index on a `to_tsvector('simple', ...)` expression per table
  (`PG_DOCUMENTS`; the query below repeats the expression exactly, so the planner uses it).

Words are matched whole, in any order; what a person types as one word is matched as a phrase
of the tokens it splits into, so "123-4567890-1234567", "#A1178", "T-1042" and
"jane@example.com" find the text that contains them. Tokenisation is language-neutral on both
databases (no stemming, no stop words: the shop may write in any language). SQLite also folds
diacritics ("muller" finds "Müller"); PostgreSQL's 'simple' configuration does not.

Newest first: a staff member looks for the conversation or ticket that is going on now.
Customers who asked to be forgotten are never found (their messages are deleted and their
profile blanked by crm_store.privacy; the triggers and indexes follow).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import or_, select, text
from sqlalchemy.orm import Session

from crm_store.errors import InvalidInput
from crm_store.models import Conversation, Customer, Message, Order, Ticket
from crm_store.normalise import (
    looks_like_order_number,
    normalise_email,
    normalise_order_number,
    normalise_phone,
    normalise_ticket_reference,
)

logger = logging.getLogger(__name__)

KINDS = ("conversations", "customers", "tickets")
MAX_QUERY_CHARS = 200
MAX_TERMS = 12
MAX_LIMIT = 50
SNIPPET_CHARS = 160

# Characters PostgreSQL's parser would keep inside a token ('a@b.com' is one lexeme, '-1042' a
# signed number) but SQLite's unicode61 tokenizer splits on: turned into spaces on both sides
# of PostgreSQL's match, so both databases find the same things.
PG_SEPARATORS = "-@.+/_:#"
_PG_SPACES = " " * len(PG_SEPARATORS)
_PG_TRANSLATE = str.maketrans(PG_SEPARATORS, _PG_SPACES)


def _pg_document(expression: str) -> str:
    return f"to_tsvector('simple'::regconfig, translate({expression}, " \
           f"'{PG_SEPARATORS}', '{_PG_SPACES}'))"


# The indexed expression per table (migration 0013 creates exactly these GIN indexes).
PG_DOCUMENTS = {
    "messages": _pg_document("text"),
    "customers": _pg_document("coalesce(name, '') || ' ' || coalesce(email, '') || ' ' || "
                              "coalesce(phone, '')"),
    "tickets": _pg_document("coalesce(reference, '') || ' ' || subject || ' ' || "
                            "description"),
}
# The database objects of the index (not models): Alembic's autogenerate leaves them alone
# (crm_store/migrations/env.py) and tests compare schemas without them.
SQLITE_INDEX_TABLES = tuple(f"{table}_search" for table in PG_DOCUMENTS)
PG_INDEXES = tuple(f"ix_{table}_search" for table in PG_DOCUMENTS)


def is_index_object(name: str | None) -> bool:
    """A table or index that belongs to the search index (FTS5 tables and their shadow tables,
    the PostgreSQL GIN indexes)."""
    if not name:
        return False
    return name in PG_INDEXES or any(name == t or name.startswith(t + "_")
                                     for t in SQLITE_INDEX_TABLES)


@dataclass(frozen=True)
class ConversationHit:
    conversation: Conversation
    customer: Customer | None
    # The newest message that matched, and a part of its text around the first matching word.
    message: Message
    snippet: str


@dataclass(frozen=True)
class CustomerHit:
    customer: Customer
    # Why it matched, when not by the words of the profile: "order A1178", "phone".
    matched: str | None = None


@dataclass(frozen=True)
class SearchResults:
    conversations: list[ConversationHit]
    customers: list[CustomerHit]
    tickets: list[Ticket]


def terms(query: str) -> list[str]:
    """The words of a query as people typed them (split on spaces), or InvalidInput saying why
    there is nothing to search for."""
    value = (query or "").strip()
    if not value:
        raise InvalidInput("the search is empty: type a word, an order number, an email "
                           "address, a phone number or a ticket reference")
    if len(value) > MAX_QUERY_CHARS:
        raise InvalidInput(f"the search is {len(value)} characters long; at most "
                           f"{MAX_QUERY_CHARS} are searched")
    if any(ord(ch) < 32 for ch in value.replace("\t", " ")):
        raise InvalidInput("the search contains control characters")
    words = [w for w in value.split() if any(ch.isalnum() for ch in w)]
    if not words:
        raise InvalidInput("the search has no letters or digits to look for")
    if len(words) > MAX_TERMS:
        raise InvalidInput(f"the search has {len(words)} words; at most {MAX_TERMS} are "
                           f"searched")
    return words


def fts5_query(words: Iterable[str]) -> str:
    """SQLite FTS5: every word must occur, each as the phrase of the tokens it splits into."""
    return " ".join('"' + w.replace('"', '""') + '"' for w in words)


def _matching_ids(session: Session, table: str, words: Sequence[str], limit: int) -> list[int]:
    """Ids of rows of `table` whose indexed text holds every word, newest first."""
    if session.get_bind().dialect.name == "postgresql":
        params: dict[str, object] = {"n": limit}
        parts = []
        for i, word in enumerate(words):
            params[f"w{i}"] = word.translate(_PG_TRANSLATE)
            parts.append(f"phraseto_tsquery('simple'::regconfig, :w{i})")
        sql = (f"SELECT id FROM {table} WHERE {PG_DOCUMENTS[table]} @@ ({' && '.join(parts)}) "
               f"ORDER BY id DESC LIMIT :n")
        return list(session.scalars(text(sql), params))
    index = f"{table}_search"
    sql = f"SELECT rowid FROM {index} WHERE {index} MATCH :q ORDER BY rowid DESC LIMIT :n"
    return list(session.scalars(text(sql), {"q": fts5_query(words), "n": limit}))


def snippet(body: str, words: Sequence[str], width: int = SNIPPET_CHARS) -> str:
    """`body` cut to about `width` characters around the first word of the query it holds."""
    body = " ".join((body or "").split())
    if len(body) <= width:
        return body
    lowered = body.lower()
    hits = [i for i in (lowered.find(w.lower().strip("#?!.,;:")) for w in words) if i >= 0]
    at = min(hits) if hits else 0
    start = max(0, at - width // 3)
    end = min(len(body), start + width)
    start = max(0, end - width)
    return ("…" if start else "") + body[start:end].strip() + ("…" if end < len(body) else "")


def _conversations(session: Session, words: Sequence[str], limit: int) -> list[ConversationHit]:
    # A conversation may match in many of its messages: read a few more messages than
    # conversations wanted and keep the newest message of each.
    ids = _matching_ids(session, "messages", words, limit * 8)
    if not ids:
        return []
    rows = session.execute(
        select(Message, Conversation, Customer)
        .join(Conversation, Message.conversation_id == Conversation.id)
        .outerjoin(Customer, Conversation.customer_id == Customer.id)
        .where(Message.id.in_(ids), Customer.erased_at.is_(None))
        .order_by(Message.id.desc()))
    hits: dict[int, ConversationHit] = {}
    for message, conversation, customer in rows:
        if conversation.id not in hits:
            hits[conversation.id] = ConversationHit(conversation, customer, message,
                                                    snippet(message.text, words))
        if len(hits) == limit:
            break
    return list(hits.values())


def _order_owner_ids(session: Session, query: str) -> tuple[str, list[int]] | None:
    number = normalise_order_number(query)
    if not looks_like_order_number(number):
        return None
    found = session.execute(select(Order.id, Order.customer_id)
                            .where(Order.order_number == number)).all()
    return (number, [row.customer_id for row in found]) if found else None


def _phone_matches(session: Session, query: str, region: str | None) -> list[int]:
    """Customers with this phone number: its E.164 form, or (without a country code or with a
    trunk zero) the number ending in the digits typed."""
    if not re.fullmatch(r"[+\d\s().\-/]+", query):
        return []
    # A trunk zero ('020 7946 0958') is not part of the number stored with its country code.
    digits = re.sub(r"\D", "", query).lstrip("0")
    if len(digits) < 6:
        return []
    e164, valid = normalise_phone(query, default_region=region)
    conditions = [Customer.phone == e164] if valid else []
    conditions.append(Customer.phone.like(f"%{digits}"))
    return list(session.scalars(select(Customer.id).where(or_(*conditions))
                                .order_by(Customer.id.desc()).limit(MAX_LIMIT)))


def _customers(session: Session, query: str, words: Sequence[str], limit: int,
               phone_region: str | None) -> list[CustomerHit]:
    found: dict[int, str | None] = {}
    try:
        email = normalise_email(query)
    except InvalidInput:
        email = None
    if email is not None:
        for cid in session.scalars(select(Customer.id).where(Customer.email == email)):
            found.setdefault(cid, None)
    for cid in _phone_matches(session, query.strip(), phone_region):
        found.setdefault(cid, "phone")
    owners = _order_owner_ids(session, query)
    if owners is not None:
        for cid in owners[1]:
            found.setdefault(cid, f"order {owners[0]}")
    for cid in _matching_ids(session, "customers", words, limit * 2):
        found.setdefault(cid, None)
    if not found:
        return []
    customers = {c.id: c for c in session.scalars(
        select(Customer).where(Customer.id.in_(found), Customer.erased_at.is_(None)))}
    return [CustomerHit(customers[cid], why) for cid, why in found.items()
            if cid in customers][:limit]


def _tickets(session: Session, query: str, words: Sequence[str], limit: int) -> list[Ticket]:
    ids: list[int] = []
    reference = normalise_ticket_reference(query)
    ids.extend(session.scalars(select(Ticket.id).where(Ticket.reference == reference)))
    number = normalise_order_number(query)
    if looks_like_order_number(number):
        ids.extend(session.scalars(
            select(Ticket.id).join(Order, Ticket.order_id == Order.id)
            .where(Order.order_number == number).order_by(Ticket.id.desc()).limit(limit)))
    ids.extend(_matching_ids(session, "tickets", words, limit * 2))
    if not ids:
        return []
    ordered = list(dict.fromkeys(ids))
    tickets = {t.id: t for t in session.scalars(
        select(Ticket).outerjoin(Customer, Ticket.customer_id == Customer.id)
        .where(Ticket.id.in_(ordered), Customer.erased_at.is_(None)))}
    return [tickets[i] for i in ordered if i in tickets][:limit]


def search(session: Session, *, query: str, kinds: Iterable[str] = KINDS, limit: int = 10,
           phone_region: str | None = None) -> SearchResults:
    """What staff find for `query`: up to `limit` conversations, customers and tickets each
    (only the `kinds` asked for). InvalidInput for an empty, too long or unsearchable query, an
    unknown kind or a limit out of range."""
    words = terms(query)
    wanted = set(kinds)
    unknown = sorted(wanted - set(KINDS))
    if unknown:
        raise InvalidInput(f"unknown kind {', '.join(unknown)}: use {', '.join(KINDS)}")
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}")
    query = query.strip()
    return SearchResults(
        conversations=_conversations(session, words, limit) if "conversations" in wanted
        else [],
        customers=_customers(session, query, words, limit, phone_region)
        if "customers" in wanted else [],
        tickets=_tickets(session, query, words, limit) if "tickets" in wanted else [],
    )
