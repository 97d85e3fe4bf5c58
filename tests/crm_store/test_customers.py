"""Customers, identities and interests: one record per person, whatever the channel."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from crm_store.db import session_scope
from crm_store.errors import InvalidInput
from crm_store.models import Customer, InterestSource
from crm_store.services import conversations, customers, identities, interests
from tests.crm_store import factories


def test_same_channel_sender_is_the_same_customer(store):
    with session_scope() as session:
        first = customers.find_or_create_by_identity(session, channel="telegram",
                                                     external_id="4711")
    with session_scope() as session:
        again = customers.find_or_create_by_identity(session, channel="telegram",
                                                     external_id="4711")
        other = customers.find_or_create_by_identity(session, channel="web", external_id="4711")
    assert again.id == first.id
    assert other.id != first.id
    assert again.email is None and again.last_seen_at is not None


def test_email_lookup_ignores_case_and_spaces(store):
    with session_scope() as session:
        factories.customer(session, "jane.doe@example.com", name="Jane")
    with session_scope() as session:
        found = customers.get_by_email(session, email="  Jane.Doe@EXAMPLE.com ")
        assert found is not None and found.name == "Jane"
        assert customers.get_by_email(session, email="not an email") is None
        assert customers.get_by_email(session, email="john@example.com") is None


def test_linking_an_anonymous_chat_to_a_known_customer_keeps_what_was_said(store):
    with session_scope() as session:
        jane = factories.customer(session, "jane@example.com")
        conversations.append(session, channel="web", external_id="sess-1", direction="inbound",
                             sender_kind="customer", text="do you have rain jackets?")
        anonymous = customers.find_or_create_by_identity(session, channel="web",
                                                         external_id="sess-1")
        interests.add(session, customer_id=anonymous.id, topic="Hiking", source="stated",
                      weight=0.9)
        jane_id, anonymous_id = jane.id, anonymous.id
    with session_scope() as session:
        identity = identities.link(session, customer_id=jane_id, channel="web",
                                   external_id="sess-1", verified=True)
        assert identity.verified and identity.verified_at is not None
    with session_scope() as session:
        assert session.get(Customer, anonymous_id) is None
        assert customers.find_or_create_by_identity(
            session, channel="web", external_id="sess-1").id == jane_id
        [conversation] = conversations.for_customer(session, customer_id=jane_id)
        assert [m.text for m in conversation.messages] == ["do you have rain jackets?"]
        assert [(i.topic, i.source) for i in interests.for_customer(session, customer_id=jane_id)] \
            == [("hiking", InterestSource.STATED)]
        assert session.scalar(select(func.count(Customer.id))) == 1


def test_a_device_moving_to_another_known_customer_loses_its_verification(store):
    with session_scope() as session:
        jane = factories.customer(session, "jane@example.com")
        john = factories.customer(session, "john@example.com")
        identities.link(session, customer_id=jane.id, channel="web", external_id="kiosk",
                        verified=True)
        moved = identities.link(session, customer_id=john.id, channel="web", external_id="kiosk")
        assert moved.customer_id == john.id and moved.verified is False
        # Jane is a real customer and must not be merged away.
        assert session.get(Customer, jane.id) is not None


def test_interests_rank_stated_over_imported_over_inferred_and_keep_the_stronger(store):
    with session_scope() as session:
        person = factories.customer(session, "ann@example.com")
        interests.add(session, customer_id=person.id, topic="coffee", source="inferred", weight=0.9)
        interests.add(session, customer_id=person.id, topic="running", source="imported")
        interests.add(session, customer_id=person.id, topic="Hiking ", source="stated", weight=0.4)
        interests.add(session, customer_id=person.id, topic="hiking", source="stated", weight=0.2)
        ranked = interests.for_customer(session, customer_id=person.id)
        assert [(i.topic, i.source.value, i.weight) for i in ranked] == [
            ("hiking", "stated", 0.4), ("running", "imported", 1.0), ("coffee", "inferred", 0.9)]
        assert interests.remove(session, customer_id=person.id, topic="HIKING") == 1
        with pytest.raises(InvalidInput):
            interests.add(session, customer_id=person.id, topic="x", source="rumour")
        with pytest.raises(InvalidInput):
            interests.add(session, customer_id=person.id, topic="x", source="stated", weight=2)


def test_marketing_consent_records_when_and_where(store):
    with session_scope() as session:
        person = factories.customer(session, "ann@example.com")
        customers.set_marketing_consent(session, customer_id=person.id, opt_in=True,
                                        source="telegram")
        assert person.marketing_opt_in and person.marketing_consent_source == "telegram"
        given_at = person.marketing_consent_at
        customers.set_marketing_consent(session, customer_id=person.id, opt_in=False,
                                        source="web")
        assert not person.marketing_opt_in and person.marketing_consent_at >= given_at


def test_an_email_belongs_to_one_customer(store):
    with session_scope() as session:
        factories.customer(session, "jane@example.com")
        anonymous = customers.find_or_create_by_identity(session, channel="web", external_id="x")
        with pytest.raises(InvalidInput):
            customers.set_email(session, customer_id=anonymous.id, email="JANE@example.com")
        customers.set_email(session, customer_id=anonymous.id, email=" New@Example.com")
        assert anonymous.email == "new@example.com"


def test_first_messages_racing_from_one_new_sender_make_one_customer(store):
    """Two gateway replicas see the same new sender at once: both end up with one customer."""
    import threading
    import time

    from crm_store.models import ChannelIdentity

    flushed = threading.Event()
    results: dict[str, int] = {}
    errors: list[BaseException] = []

    def first() -> None:
        try:
            with session_scope() as session:
                results["first"] = customers.find_or_create_by_identity(
                    session, channel="telegram", external_id="race").id
                flushed.set()
                time.sleep(0.5)  # hold the uncommitted row while the second one tries
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
            flushed.set()

    def second() -> None:
        flushed.wait(10)
        try:
            with session_scope() as session:
                results["second"] = customers.find_or_create_by_identity(
                    session, channel="telegram", external_id="race").id
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert results["first"] == results["second"]
    with session_scope() as session:
        assert session.scalar(select(func.count(Customer.id))) == 1
        assert session.scalar(select(func.count(ChannelIdentity.id))) == 1
