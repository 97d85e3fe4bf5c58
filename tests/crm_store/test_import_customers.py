"""`import customers`: upsert by normalised email; phones to E.164; duplicates merged."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from crm_store.db import session_scope
from crm_store.exports import export_customers
from crm_store.importers import ImportRejected, import_customers
from crm_store.models import Customer
from crm_store.services import customers, interests

GOOD = """
    email,name,phone,interests,marketing_opt_in,created_at
    emma.hughes@example.com,Emma Hughes,+44 20 7946 0958,hiking;camping,true,2024-02-11
    Kenji.Tanaka@Example.com ,Kenji Tanaka,+81 90-4821-7735,Photography; gaming,false,2024-04-07T10:30:00
    ana@example.org,Ana Lima,,,,
"""


def _snapshot():
    with session_scope() as session:
        rows = session.scalars(select(Customer).order_by(Customer.email))
        return [(c.email, c.name, c.phone, c.marketing_opt_in, c.marketing_consent_at,
                 c.created_at, sorted(i.topic for i in c.interests)) for c in rows]


def test_good_file_loads_normalised(store, write_csv):
    result = import_customers(write_csv("customers.csv", GOOD))
    assert sorted(result.added) == ["ana@example.org", "emma.hughes@example.com",
                                    "kenji.tanaka@example.com"]
    with session_scope() as session:
        kenji = customers.get_by_email(session, email="kenji.tanaka@example.com")
        assert kenji.phone == "+819048217735"
        assert kenji.created_at == datetime(2024, 4, 7, 10, 30, tzinfo=UTC)
        assert not kenji.marketing_opt_in and kenji.marketing_consent_at is not None
        assert [i.topic for i in interests.for_customer(session, customer_id=kenji.id)] \
            == ["gaming", "photography"]
        emma = customers.get_by_email(session, email="emma.hughes@example.com")
        assert emma.phone == "+442079460958" and emma.marketing_opt_in
        assert emma.marketing_consent_source == "import:customers.csv"
        ana = customers.get_by_email(session, email="ana@example.org")
        # No consent column value: no decision is invented.
        assert not ana.marketing_opt_in and ana.marketing_consent_at is None


def test_reimport_is_a_no_op_and_export_round_trips(store, write_csv, tmp_path):
    path = write_csv("customers.csv", GOOD)
    import_customers(path)
    before = _snapshot()
    again = import_customers(path)
    assert (again.added, again.changed, again.unchanged) == ([], [], 3)
    assert _snapshot() == before
    exported = tmp_path / "out.csv"
    assert export_customers(exported) == 3
    round_trip = import_customers(exported)
    assert (round_trip.added, round_trip.changed, round_trip.unchanged) == ([], [], 3)
    assert _snapshot() == before


def test_file_owns_imported_interests_but_not_stated_ones(store, write_csv):
    import_customers(write_csv("c.csv", GOOD))
    with session_scope() as session:
        emma = customers.get_by_email(session, email="emma.hughes@example.com")
        interests.add(session, customer_id=emma.id, topic="coffee", source="stated")
    result = import_customers(write_csv("c2.csv", """
        email,name,phone,interests,marketing_opt_in,created_at
        emma.hughes@example.com,Emma Hughes,+44 20 7946 0958,hiking;running,false,2024-02-11
    """))
    assert result.changed == ["emma.hughes@example.com"]
    with session_scope() as session:
        emma = customers.get_by_email(session, email="emma.hughes@example.com")
        assert sorted((i.topic, i.source.value) for i in emma.interests) == [
            ("coffee", "stated"), ("hiking", "imported"), ("running", "imported")]
        assert not emma.marketing_opt_in  # withdrawn consent is honoured


def test_duplicate_emails_are_merged(store, write_csv):
    result = import_customers(write_csv("c.csv", """
        email,name,phone,interests,marketing_opt_in,created_at
        sam@example.com,,+1 415 555 0132,cycling,,2025-01-02
        SAM@example.com,Sam Lee,,reading,true,2024-12-01
    """))
    assert result.added == ["sam@example.com"]
    assert result.warnings == ["row 3: sam@example.com repeats row 2; the rows were merged"]
    [(email, name, phone, opt_in, _consent, created, topics)] = _snapshot()
    assert (email, name, phone, opt_in, topics) == ("sam@example.com", "Sam Lee",
                                                     "+14155550132", True, ["cycling", "reading"])
    assert created == datetime(2024, 12, 1, tzinfo=UTC)


def test_national_phone_numbers_use_the_region_or_stay_as_written(store, write_csv):
    path = write_csv("c.csv", """
        email,name,phone,interests,marketing_opt_in,created_at
        us@example.com,Pat,(415) 555-0132,,,
        odd@example.com,Odd,12345,,,
    """)
    result = import_customers(path, default_phone_region="US")
    assert result.warnings == ["row 3: phone '12345' could not be turned into an international "
                               "number; kept as written"]
    with session_scope() as session:
        assert customers.get_by_email(session, email="us@example.com").phone == "+14155550132"
        assert customers.get_by_email(session, email="odd@example.com").phone == "12345"


def test_bad_rows_reject_the_whole_file(store, write_csv):
    bad = write_csv("c.csv", """
        email,name,phone,interests,marketing_opt_in,created_at
        fine@example.com,Fine,,,true,2024-01-01
        not-an-email,Bad,,,true,2024-01-01
        jane doe@example.com,Spaces,,,true,2024-01-01
        ok@example.com,Bad consent,,,perhaps,2024-01-01
        ok2@example.com,Bad date,,,true,01/02/2024
    """)
    with pytest.raises(ImportRejected) as caught:
        import_customers(bad)
    rows = {e.row: e.message for e in caught.value.errors}
    assert set(rows) == {3, 4, 5, 6}
    assert "not-an-email" in rows[3] and "contains spaces" in rows[4]
    assert "'perhaps' is not true/false" in rows[5] and "not an ISO date" in rows[6]
    assert _snapshot() == []
