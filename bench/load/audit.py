"""Messages lost: each customer message must be stored and answered, and the answer received.

For Kefu the record is crm_store's conversation log, read (never written) through the same
units of work the gateway uses (bot/store.py), on the database the stack under test uses. For
the starter bot, which has no store of its own, the record is Rasa's tracker
(`GET /conversations/<sender>/tracker`, served with --enable-api).

A message is lost when it has no stored record, when nothing was stored in reply to it, or
when the customer received no reply to it. Replies that were stored but never reached the
customer while another reply to the same message did are counted apart (`undelivered`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import httpx

from bench.load.customers import ConversationRecord

NOT_STORED = "no stored record"
NO_REPLY_STORED = "no reply stored"
NO_REPLY_RECEIVED = "no reply received"


@dataclass
class Audit:
    checked: int = 0
    lost: int = 0
    reasons: Counter = field(default_factory=Counter)
    undelivered: int = 0
    # A few lost messages, to say precisely which and why.
    examples: list[str] = field(default_factory=list)

    def lose(self, reason: str, record: ConversationRecord, index: int) -> None:
        self.lost += 1
        self.reasons[reason] += 1
        if len(self.examples) < 10:
            self.examples.append(f"{record.channel}:{record.external_id} message {index + 1} "
                                 f"{record.sent[index]!r}: {reason}")


def judge(record: ConversationRecord, stored: list[tuple[int, str, str]], audit: Audit) -> None:
    """`stored` is the conversation's log, oldest first: (id, "in"|"out", text)."""
    inbound = [(i, (text or "").strip()) for i, direction, text in stored if direction == "in"]
    outbound_ids = [i for i, direction, _ in stored if direction == "out"]
    for n, said in enumerate(record.sent):
        audit.checked += 1
        if n >= len(inbound) or inbound[n][1] != said.strip():
            audit.lose(NOT_STORED, record, n)
            continue
        low = inbound[n][0]
        high = inbound[n + 1][0] if n + 1 < len(inbound) else None
        replies = [i for i in outbound_ids if i > low and (high is None or i < high)]
        if not replies:
            audit.lose(NO_REPLY_STORED, record, n)
        elif record.replies[n] == 0:
            audit.lose(NO_REPLY_RECEIVED, record, n)
        if record.channel == "web":
            audit.undelivered += sum(1 for i in replies if i not in record.received_ids)
        else:
            audit.undelivered += max(0, len(replies) - record.replies[n])


def audit_kefu(records: list[ConversationRecord]) -> Audit:
    """Against crm_store, on the database `crm_store.db` is configured for."""
    from bot import store
    from crm_store.db import session_scope

    audit = Audit()
    for record in records:
        with session_scope() as session:
            conversation = store.find_conversation(record.channel, record.external_id)(session)
            log = [] if conversation is None else [
                (m.id, "in" if m.direction == "inbound" else "out", m.content.text)
                for m in store.history(conversation.id, 10_000)(session)
                if m.direction == "inbound" or m.sender in ("bot", "system", "agent")]
        judge(record, log, audit)
    return audit


async def audit_rasa(client: httpx.AsyncClient, rasa_url: str,
                     records: list[ConversationRecord]) -> Audit:
    """Against the Rasa server's trackers (user events and the bot events after them)."""
    audit = Audit()
    for record in records:
        response = await client.get(f"{rasa_url}/conversations/{record.external_id}/tracker",
                                    params={"include_events": "ALL"})
        response.raise_for_status()
        log, seq = [], 0
        for event in response.json().get("events", []):
            if event.get("event") in ("user", "bot"):
                seq += 1
                log.append((seq, "in" if event["event"] == "user" else "out",
                            event.get("text") or ""))
        judge(record, log, audit)
    return audit
