"""The store side of the gateway (crm_store.services.delivery and link_codes), on SQLite and
PostgreSQL: messages stored once, outbound attempts recorded, link codes used once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from crm_store.db import session_scope
from crm_store.errors import InvalidInput, NotAllowed
from crm_store.models import DeliveryStatus, Message, utcnow
from crm_store.services import customers, delivery, identities, link_codes
from tests.support.store_backends import pg_schemas, url  # noqa: F401 - fixtures


def test_an_inbound_message_is_stored_once_per_channel_id(url):
    with session_scope(url) as session:
        first = delivery.record_inbound(session, channel="telegram", external_id="42",
                                        text="hello", dedupe_key="telegram:1:update:7")
        assert not first.duplicate and first.message.text == "hello"
    with session_scope(url) as session:
        again = delivery.record_inbound(session, channel="telegram", external_id="42",
                                        text="hello", dedupe_key="telegram:1:update:7")
        other = delivery.record_inbound(session, channel="telegram", external_id="42",
                                        text="hello", dedupe_key="telegram:1:update:8")
        assert again.duplicate and not other.duplicate
        assert again.conversation.id == other.conversation.id
    with session_scope(url) as session:
        assert session.scalar(select(func.count(Message.id))) == 2
        identity = identities.get(session, channel="telegram", external_id="42")
        assert identity.last_seen_at is not None and identity.customer.last_seen_at is not None


def test_outbound_attempts_are_claimed_recorded_and_scheduled(url):
    with session_scope(url) as session:
        inbound = delivery.record_inbound(session, channel="web", external_id="s" * 20,
                                          text="hi")
        conversation_id = inbound.conversation.id
        message_id = delivery.queue_outbound(session, conversation_id=conversation_id,
                                             text="Hello!").id
    with session_scope(url) as session:
        assert [m.id for m, _ in delivery.due(session)] == [message_id]
        assert delivery.claim(session, message_id=message_id, until=utcnow() + timedelta(seconds=60))
    with session_scope(url) as session:
        # Held by the first worker: nobody else takes it, and it is not due.
        assert not delivery.claim(session, message_id=message_id, until=utcnow())
        assert delivery.due(session) == []
        delivery.record_attempt(session, message_id=message_id, status="pending",
                                error="429", retry_at=utcnow() - timedelta(seconds=1))
    with session_scope(url) as session:
        assert [m.id for m, _ in delivery.due(session)] == [message_id]
        delivery.record_attempt(session, message_id=message_id, status="delivered")
    with session_scope(url) as session:
        message = session.get(Message, message_id)
        assert (message.attempts, message.delivery_status, message.last_error) == \
            (2, DeliveryStatus.DELIVERED, None)
        assert message.delivered_at is not None and delivery.due(session) == []


def test_a_reply_stored_claimed_is_nobody_elses_until_its_claim_runs_out(url):
    # The gateway stores Rasa's replies already claimed for its own delivery (one unit of
    # work fewer per reply): another replica's sweep must not send them a second time.
    with session_scope(url) as session:
        inbound = delivery.record_inbound(session, channel="web", external_id="c" * 20,
                                          text="hi")
        held = delivery.queue_outbound(session, conversation_id=inbound.conversation.id,
                                       text="Hello!",
                                       claimed_until=utcnow() + timedelta(seconds=60)).id
        lapsed = delivery.queue_outbound(session, conversation_id=inbound.conversation.id,
                                         text="Anything else?",
                                         claimed_until=utcnow() - timedelta(seconds=1)).id
    with session_scope(url) as session:
        assert [m.id for m, _ in delivery.due(session)] == [lapsed]
        assert not delivery.claim(session, message_id=held, until=utcnow())
        # A claim that ran out (the gateway died before sending) is anyone's again.
        assert delivery.claim(session, message_id=lapsed, until=utcnow() + timedelta(seconds=60))


def test_a_widget_can_only_confirm_its_own_conversations_messages(url):
    with session_scope(url) as session:
        mine = delivery.record_inbound(session, channel="web", external_id="a" * 20, text="x")
        theirs = delivery.record_inbound(session, channel="web", external_id="b" * 20, text="y")
        their_message = delivery.queue_outbound(session, conversation_id=theirs.conversation.id,
                                                text="private").id
        assert delivery.mark_delivered(session, conversation_id=mine.conversation.id,
                                       message_ids=[their_message]) == 0
    with session_scope(url) as session:
        assert session.get(Message, their_message).delivery_status == DeliveryStatus.PENDING


def test_outbound_messages_need_content_and_a_non_customer_sender(url):
    with session_scope(url) as session:
        conversation_id = delivery.record_inbound(session, channel="rest", external_id="x",
                                                  text="x").conversation.id
        with pytest.raises(InvalidInput):
            delivery.queue_outbound(session, conversation_id=conversation_id, text="  ")
        with pytest.raises(InvalidInput):
            delivery.queue_outbound(session, conversation_id=conversation_id, text="hi",
                                    sender_kind="customer")


def test_link_codes_come_from_verified_chats_and_work_once(url):
    with session_scope(url) as session:
        jane = customers.get_or_create_by_email(session, email="jane@example.com").id
        identities.link(session, customer_id=jane, channel="web", external_id="w" * 20,
                        verified=True)
        delivery.record_inbound(session, channel="telegram", external_id="77", text="hi")
        delivery.record_inbound(session, channel="telegram", external_id="88", text="hi")
        with pytest.raises(NotAllowed):
            link_codes.issue(session, channel="telegram", external_id="77")
        old = link_codes.issue(session, channel="web", external_id="w" * 20).code
        code = link_codes.issue(session, channel="web", external_id="w" * 20).code
        assert len(code) == 6 and set(code) <= set(link_codes.ALPHABET)
    with session_scope(url) as session:
        with pytest.raises(InvalidInput):  # a newer code replaced it
            link_codes.redeem(session, code=old, channel="telegram", external_id="77")
    with session_scope(url) as session:
        linked = link_codes.redeem(session, code=f"{code[:3].lower()} {code[3:]}",
                                   channel="telegram", external_id="77")
        assert linked.customer_id == jane and linked.verified
    with session_scope(url) as session:
        with pytest.raises(InvalidInput):
            link_codes.redeem(session, code=code, channel="telegram", external_id="88")
        expired = link_codes.issue(session, channel="web", external_id="w" * 20,
                                   ttl=timedelta(seconds=-1)).code
    with session_scope(url) as session:
        with pytest.raises(InvalidInput):
            link_codes.redeem(session, code=expired, channel="telegram", external_id="88")
        assert identities.get(session, channel="telegram", external_id="88").customer_id != jane
