"""Staff search (crm_store/services/search.py) on SQLite's FTS5 and PostgreSQL's full-text
search: what a staff member types finds the conversation, the customer or the ticket, the
index follows every write, and a forgotten customer is found nowhere."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, inspect, select, text, update

from crm_store import db, migrate
from crm_store.db import session_scope
from crm_store.errors import InvalidInput
from crm_store.models import Conversation, Customer, Message, OrderStatus, Ticket
from crm_store.privacy import forget_customer
from crm_store.services import conversations, identities, search, tickets
from tests.crm_store import factories

pytestmark = pytest.mark.usefixtures("store")


@pytest.fixture
def shop():
    """Jane (an order A1178, a marketplace order, a chat on Telegram, a ticket) and Tom."""
    with session_scope() as session:
        jane = factories.customer(session, "jane.doe@example.com", name="Jane Müller")
        jane.phone = "+442079460958"
        boots = factories.product(session, "HIK-001", price="99.00")
        a1178 = factories.order(session, "A1178", jane, [(boots, 1)],
                                status=OrderStatus.SHIPPED, shipped_days_ago=1)
        factories.order(session, "123-4567890-1234567", jane, [(boots, 1)])
        identities.link(session, customer_id=jane.id, channel="telegram", external_id="555",
                        verified=True)
        first = conversations.append(session, channel="telegram", external_id="555",
                                     direction="inbound", sender_kind="customer",
                                     text="Hello, where is 123-4567890-1234567? It's late.")
        conversations.append(session, channel="telegram", external_id="555",
                             direction="outbound", sender_kind="bot",
                             text="Your parcel #A1178 is with the courier.")
        conversation = conversations.get(session, conversation_id=first.conversation_id)
        conversation.customer_id = jane.id
        ticket = tickets.open(session, subject="Boots leak after one walk",
                              description="Water gets in at the left heel", kind="complaint",
                              category="product_quality", customer_id=jane.id,
                              conversation_id=conversation.id, order_id=a1178.id)
        tom = factories.customer(session, "tom@example.com", name="Tom Baker")
        conversations.append(session, channel="web", external_id="tom-1",
                             direction="inbound", sender_kind="customer",
                             text="Do you sell waterproof gloves?")
        return {"jane": jane.id, "tom": tom.id, "conversation": conversation.id,
                "ticket": ticket.id, "reference": ticket.reference}


def find(query: str, **kwargs) -> search.SearchResults:
    with session_scope() as session:
        return search.search(session, query=query, **kwargs)


def conversation_ids(query: str) -> list[int]:
    return [hit.conversation.id for hit in find(query, kinds=["conversations"]).conversations]


def customer_ids(query: str, **kwargs) -> list[int]:
    return [hit.customer.id for hit in find(query, kinds=["customers"], **kwargs).customers]


def ticket_ids(query: str) -> list[int]:
    return [t.id for t in find(query, kinds=["tickets"]).tickets]


def test_a_conversation_is_found_by_a_word_said_in_it(shop):
    hits = find("late").conversations
    assert [h.conversation.id for h in hits] == [shop["conversation"]]
    assert "123-4567890-1234567" in hits[0].snippet
    assert conversation_ids("LATE") == [shop["conversation"]]  # any case
    assert conversation_ids("waterproof gloves") != []
    assert conversation_ids("gloves late") == []  # every word must be there
    assert conversation_ids("lat") == []  # whole words


@pytest.mark.parametrize("typed", ["123-4567890-1234567", "A1178", "#A1178", "a1178"])
def test_a_conversation_is_found_by_an_order_number_typed_in_it(shop, typed):
    assert conversation_ids(typed) == [shop["conversation"]]


def test_the_newest_matching_message_of_a_conversation_is_shown_once(shop):
    with session_scope() as session:
        conversations.append(session, channel="telegram", external_id="555",
                             direction="inbound", sender_kind="customer",
                             text="Still late, and the parcel A1178 has not moved")
    hits = find("A1178", kinds=["conversations"]).conversations
    assert len(hits) == 1 and "has not moved" in hits[0].snippet


@pytest.mark.parametrize("typed", ["jane.doe@example.com", "JANE.DOE@example.com ", "Müller",
                                   "jane müller", "+44 20 7946 0958", "+442079460958",
                                   "020 7946 0958", "2079460958"])
def test_a_customer_is_found_by_email_name_or_phone(shop, typed):
    assert customer_ids(typed) == [shop["jane"]]


def test_a_customer_is_found_by_an_order_of_theirs(shop):
    hits = find("#A1178", kinds=["customers"]).customers
    assert [(h.customer.id, h.matched) for h in hits] == [(shop["jane"], "order A1178")]
    assert customer_ids("123 4567890 1234567") == [shop["jane"]]
    assert customer_ids("B9999") == []


def test_a_ticket_is_found_by_reference_words_or_its_order(shop):
    reference = shop["reference"]
    for typed in (reference, reference.lower(), "#" + reference.split("-")[1]):
        assert ticket_ids(typed) == [shop["ticket"]], typed
    assert ticket_ids("leak heel") == [shop["ticket"]]
    assert ticket_ids("A1178") == [shop["ticket"]]
    assert ticket_ids("gloves") == []


def test_kinds_limit_and_nothing_found(shop):
    results = find("example.com", kinds=["customers"], limit=1)
    assert len(results.customers) == 1 and results.conversations == results.tickets == []
    assert find("zebra") == search.SearchResults([], [], [])
    assert customer_ids("000 000 000") == []  # zeros are no phone number that ends anything


@pytest.mark.parametrize("query,reason", [
    ("", "empty"), ("   ", "empty"), ("x" * 201, "at most 200"), ("?! #", "no letters"),
    ("late\x00", "control characters"),
])
def test_bad_queries_are_refused_with_a_reason(shop, query, reason):
    with pytest.raises(InvalidInput, match=reason):
        find(query)


def test_unknown_kind_and_bad_limit_are_refused(shop):
    with pytest.raises(InvalidInput, match="unknown kind orders"):
        find("late", kinds=["orders"])
    with pytest.raises(InvalidInput, match="limit"):
        find("late", limit=0)


def test_query_syntax_is_taken_as_words(shop):
    # FTS5 and tsquery operators typed by a person are words, never syntax errors.
    for typed in ('late"', "late OR gloves", "late AND NOT x", "(late)", "late*", "late:",
                  "NEAR(late", "late & !gloves", "l'ate"):
        find(typed)
    assert conversation_ids("(late)") == [shop["conversation"]]


def test_the_index_follows_updates_and_deletes(shop):
    with session_scope() as session:
        message = session.scalars(select(Message).where(Message.text.contains("gloves"))).one()
        message.text = "Do you sell woollen hats?"
        session.get(Customer, shop["tom"]).name = "Tom Barker"
        session.get(Ticket, shop["ticket"]).subject = "Sole came off"
    assert conversation_ids("gloves") == [] and conversation_ids("woollen") != []
    assert customer_ids("Baker") == [] and customer_ids("Barker") == [shop["tom"]]
    assert ticket_ids("leak") == [] and ticket_ids("Sole") == [shop["ticket"]]
    assert ticket_ids("heel") == [shop["ticket"]]  # the description did not change
    with session_scope() as session:
        # Deleting a conversation deletes its messages (ON DELETE CASCADE): their words go too.
        session.execute(update(Ticket).values(conversation_id=None))
        session.execute(delete(Conversation).where(Conversation.id == shop["conversation"]))
    assert conversation_ids("late") == [] and conversation_ids("A1178") == []


def test_a_forgotten_customer_is_found_nowhere(shop):
    with session_scope() as session:
        forget_customer(session, email="jane.doe@example.com", actor="test")
    for typed in ("jane.doe@example.com", "Jane", "Müller", "+442079460958", "A1178", "late",
                  "123-4567890-1234567", "leak", "heel", shop["reference"], "erased"):
        results = find(typed)
        assert results == search.SearchResults([], [], []), typed
    # Tom is still found.
    assert customer_ids("Tom") == [shop["tom"]]
    # Nothing of hers is left in the index itself either.
    with session_scope() as session:
        if session.get_bind().dialect.name == "sqlite":
            for table in search.SQLITE_INDEX_TABLES:
                session.execute(text(
                    f"CREATE VIRTUAL TABLE temp.{table}_terms USING fts5vocab(main, {table}, "
                    f"'row')"))
            terms = {row[0] for table in search.SQLITE_INDEX_TABLES for row in session.execute(
                text(f"SELECT term FROM temp.{table}_terms"))}
            for word in ("jane", "doe", "muller", "442079460958", "late", "a1178", "4567890",
                         "leak", "heel"):
                assert word not in terms, word


def test_the_index_is_in_the_schema_at_head_and_gone_after_downgrade(store):
    url = store
    engine = db.get_engine(url)
    names = set(inspect(engine).get_table_names())
    if engine.dialect.name == "sqlite":
        assert set(search.SQLITE_INDEX_TABLES) <= names
        with engine.connect() as connection:
            triggers = set(connection.scalars(text(
                "SELECT name FROM sqlite_master WHERE type = 'trigger'")))
        assert {f"{t}_{s}" for t in search.SQLITE_INDEX_TABLES for s in ("ai", "ad", "au")
                } <= triggers
    else:
        indexes = {ix["name"] for table in ("messages", "customers", "tickets")
                   for ix in inspect(engine).get_indexes(table)}
        assert set(search.PG_INDEXES) <= indexes


@pytest.mark.parametrize("empty_database", ["sqlite", "postgresql"], indirect=True)
def test_upgrading_indexes_what_was_there_before(empty_database):
    url = empty_database
    migrate.upgrade("0012", url=url)
    with db.get_engine(url).begin() as connection:
        connection.execute(text(
            "INSERT INTO conversations (id, channel, external_id, mode, started_at) "
            "VALUES (1, 'web', 'old', 'bot', CURRENT_TIMESTAMP)"))
        connection.execute(text(
            "INSERT INTO messages (conversation_id, direction, sender_kind, text, created_at, "
            "attempts) VALUES (1, 'inbound', 'customer', 'my order A1001 is broken', "
            "CURRENT_TIMESTAMP, 0)"))
    migrate.upgrade(url=url)
    db.configure(url)
    try:
        assert conversation_ids("A1001") == [1]
    finally:
        db.reset_engine()
    migrate.downgrade("0012", url=url)
    engine = db.get_engine(url)
    assert not any(search.is_index_object(n) for n in inspect(engine).get_table_names())
    if engine.dialect.name == "postgresql":
        assert not any(search.is_index_object(ix["name"])
                       for ix in inspect(engine).get_indexes("messages"))
