"""Which customer messages count as unanswered, and that exactly one replica takes each one
(crm_store.services.unanswered), on SQLite and the real PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from crm_store.db import session_scope
from crm_store.models import Message, utcnow
from crm_store.services import conversations, delivery, unanswered
from tests.support.store_backends import pg_schemas, url  # noqa: F401 - fixtures


def _store(url: str, text_: str, *, owner: str | None = "gw-a:8000", external_id: str = "c1",
           dedupe_key: str | None = None, lease_seconds: float = 90) -> int:
    lease = (owner, utcnow() + timedelta(seconds=lease_seconds)) if owner else None
    with session_scope(url) as session:
        stored = delivery.record_inbound(session, channel="rest", external_id=external_id,
                                         text=text_, dedupe_key=dedupe_key, lease=lease)
        assert stored.message is not None
        return stored.message.id


def _unfinished(url: str, owner: str, own_before=None) -> list[int]:
    with session_scope(url) as session:
        return [m.id for m in unanswered.unfinished(session, owner=owner, own_before=own_before)]


def test_only_the_gateways_unfinished_messages_count_and_only_until_handled(url):
    imported = _store(url, "stored by an import, no lease", owner=None)
    live = _store(url, "where is my refund?", lease_seconds=-1)  # its replica died
    # Anything written without a lease (imports, demo data) is finished; the live one is not.
    assert _unfinished(url, "gw-b:8000") == [live]
    with session_scope(url) as session:
        unanswered.mark_handled(session, message_id=live)
        assert unanswered.is_handled(session, message_id=imported)
    assert _unfinished(url, "gw-b:8000") == []


def test_a_live_lease_keeps_other_replicas_off_and_its_owner_takes_it_back_after_a_restart(url):
    message = _store(url, "where is my refund?", owner="gw-a:8000", lease_seconds=90)
    assert _unfinished(url, "gw-b:8000") == []  # gw-a may still be answering it
    with session_scope(url) as session:
        later = utcnow() + timedelta(seconds=60)
        assert not unanswered.claim(session, message_id=message, owner="gw-b:8000", until=later)
    # gw-a's running process does not take its own lease away from itself...
    assert _unfinished(url, "gw-a:8000") == []
    # ...but gw-a started again under the same name does: every lease its new process takes
    # runs out after `own_before`, so one that runs out earlier is the dead process's.
    restarted = utcnow() + timedelta(seconds=90.5)
    assert _unfinished(url, "gw-b:8000", own_before=restarted) == []
    assert _unfinished(url, "gw-a:8000", own_before=restarted) == [message]
    with session_scope(url) as session:
        assert unanswered.claim(session, message_id=message, owner="gw-a:8000",
                                until=restarted + timedelta(seconds=90), own_before=restarted)
    # Now the new process holds it: a sweep of the same process does not take it twice.
    with session_scope(url) as session:
        assert not unanswered.claim(session, message_id=message, owner="gw-a:8000",
                                    until=restarted + timedelta(seconds=90),
                                    own_before=restarted)


def test_exactly_one_of_two_replicas_wins_an_expired_lease(url):
    message = _store(url, "hello?", lease_seconds=-1)
    until = utcnow() + timedelta(seconds=60)
    with session_scope(url) as session:
        first = unanswered.claim(session, message_id=message, owner="gw-b:8000", until=until)
    with session_scope(url) as session:
        second = unanswered.claim(session, message_id=message, owner="gw-c:8000", until=until)
    assert (first, second) == (True, False)
    with session_scope(url) as session:
        assert session.get(Message, message).claimed_by == "gw-b:8000"


def test_messages_come_back_in_order_within_each_conversation(url):
    ids = [_store(url, f"message {n}", external_id=f"c{n % 2}", lease_seconds=-1)
           for n in range(4)]
    found = _unfinished(url, "gw-b:8000")
    with session_scope(url) as session:
        by_conversation = [(session.get(Message, i).conversation_id, i) for i in found]
    assert sorted(found) == sorted(ids)
    assert by_conversation == sorted(by_conversation)


def test_a_message_asked_again_and_answered_is_superseded_not_repeated(url):
    first = _store(url, "Where is my  refund?", lease_seconds=-1)
    again = _store(url, "where is my refund?")
    other = _store(url, "and my order?", lease_seconds=-1)
    with session_scope(url) as session:
        unanswered.mark_handled(session, message_id=again)
        assert unanswered.superseded(session, session.get(Message, first))
        assert not unanswered.superseded(session, session.get(Message, other))


def test_a_message_to_a_person_is_finished_as_it_is_stored(url):
    with session_scope(url) as session:
        conversation = conversations.get_or_start(session, channel="rest", external_id="h1")
        conversations.set_mode(session, conversation_id=conversation.id, mode="human")
    message = _store(url, "are you there?", external_id="h1", lease_seconds=-1)
    with session_scope(url) as session:
        assert unanswered.is_handled(session, message_id=message)


def test_a_resend_finds_its_first_copy(url):
    first = _store(url, "hello", dedupe_key="rest:c1:m1", lease_seconds=-1)
    with session_scope(url) as session:
        again = delivery.record_inbound(session, channel="rest", external_id="c1", text="hello",
                                        dedupe_key="rest:c1:m1")
        assert again.duplicate and again.duplicate_of is not None
        assert again.duplicate_of.id == first


def test_too_old_is_measured_from_when_the_message_was_stored(url):
    message = _store(url, "hello", lease_seconds=-1)
    with session_scope(url) as session:
        stored = session.get(Message, message)
        assert not unanswered.too_old(stored, window=timedelta(minutes=15))
        assert unanswered.too_old(stored, window=timedelta(minutes=15),
                                  now=stored.created_at + timedelta(minutes=16))
