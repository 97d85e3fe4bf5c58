"""Migration 0008: handoffs carry their priority; those made before it get the priority the
console used to read from the reason's wording, so the waiting queue keeps its order."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from crm_store import db, migrate

BACKENDS = ["sqlite", "postgresql"]


@pytest.mark.parametrize("empty_database", BACKENDS, indirect=True)
def test_handoffs_from_before_0008_keep_their_place_in_the_queue(empty_database):
    """0008 gives old handoffs the priority the console used to read from the reason."""
    url = empty_database
    migrate.upgrade("0007", url=url)
    reasons = ["angry or urgent complaint", "could not verify the order details three times",
               "customer asked for a person", None]
    with db.get_engine(url).begin() as connection:
        connection.execute(text(
            "INSERT INTO conversations (id, channel, external_id, mode, started_at, "
            "last_message_at) VALUES (1, 'web', 's1', 'human', CURRENT_TIMESTAMP, "
            "CURRENT_TIMESTAMP)"))
        for number, reason in enumerate(reasons, start=1):
            connection.execute(text(
                "INSERT INTO handoffs (id, conversation_id, status, reason, requested_at) "
                "VALUES (:id, 1, 'resolved', :reason, CURRENT_TIMESTAMP)"),
                {"id": number, "reason": reason})
    migrate.upgrade(url=url)
    with db.get_engine(url).connect() as connection:
        found = dict(connection.execute(text("SELECT id, priority FROM handoffs")).all())
    assert found == {1: "urgent", 2: "high", 3: "normal", 4: "normal"}
