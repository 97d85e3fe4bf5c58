"""The sender id Rasa knows a conversation by round-trips to crm_store's (channel, id) pair."""

from __future__ import annotations

import pytest

from kefu_config import senders


@pytest.mark.parametrize("channel,external_id", [
    ("web", "3f2a9c"), ("telegram", "12345"), ("rest", "alice"),
    # Only the first separator splits: a REST sender may hold colons of its own.
    ("rest", "shop:alice:2"),
])
def test_sender_ids_round_trip(channel: str, external_id: str) -> None:
    assert senders.parse(senders.sender_id(channel, external_id)) == (channel, external_id)


@pytest.mark.parametrize("sender", ["alice", "sms:123", "web:", ":123", ""])
def test_other_senders_are_not_kefus(sender: str) -> None:
    assert senders.parse(sender) is None
