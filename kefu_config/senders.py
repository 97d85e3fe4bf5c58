"""The sender id Rasa knows a conversation by: "<channel>:<id on that channel>".

The gateway writes it ("web:3f2a…", "telegram:12345", "rest:alice"); the action server, the
dialogue-event consumer and erasure read it back. crm_store keys a conversation and a channel
identity by the pair (channel, id on that channel), so the two forms must round-trip exactly.
"""

from __future__ import annotations

CHANNELS = ("web", "telegram", "rest")
_SEPARATOR = ":"


def sender_id(channel: str, external_id: str) -> str:
    return f"{channel}{_SEPARATOR}{external_id}"


def parse(sender: str) -> tuple[str, str] | None:
    """(channel, id on that channel) of one of Kefu's sender ids; None for anything else.

    Only the first separator splits: Telegram's ids and REST senders may hold more of them.
    """
    channel, sep, external_id = sender.partition(_SEPARATOR)
    if not sep or not external_id or channel not in CHANNELS:
        return None
    return channel, external_id
