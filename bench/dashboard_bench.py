"""How long each dashboard KPI query takes on a store with 1 million messages.

    .venv/bin/python bench/dashboard_bench.py [--messages 1000000] [--postgres URL]

What it does:
- Creates a throw-away store (a SQLite file in a temporary directory; with --postgres, a
  temporary schema on that server, dropped afterwards), migrated to head with the real
  migrations, so it has exactly the indexes a deployed store has.
- Generates a seeded data set over 90 days: `--messages` messages in conversations of 10
  (customer and bot turns; 15% handed off to one of 10 agents, who then answer; 5% of customer
  messages fall back, 10% have low confidence; 10% of conversations rated), 20,000 customers,
  60,000 orders, 20,000 tickets, 5 campaigns of 4,000 recipients each.
- Times every KPI of crm_store.services.analytics for the last 30 days and for all 90 days,
  for everyone and for one agent: the median of `--repeat` runs, each in a fresh session.
"""

from __future__ import annotations

import argparse
import logging
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import create_engine, insert, text

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from crm_store import db, migrate  # noqa: E402
from crm_store.models import (  # noqa: E402
    Campaign,
    CampaignDelivery,
    Conversation,
    Customer,
    Handoff,
    Message,
    Order,
    StaffUser,
    Ticket,
)
from crm_store.services import analytics  # noqa: E402

END = datetime(2026, 11, 1, tzinfo=UTC)
DAYS = 90
AGENTS = 10
CUSTOMERS = 20_000
ORDERS = 60_000
TICKETS = 20_000
CAMPAIGNS = 5
RECIPIENTS = 4_000
PER_CONVERSATION = 10
INTENTS = ["greet", "order_status", "delivery_time", "return_policy", "refund_status",
           "payment_methods", "product_question", "recommend", "complaint", "human", "goodbye",
           "thanks"]
CHANNELS = ["web", "telegram", "rest"]
BATCH = 20_000

logger = logging.getLogger("dashboard_bench")


def _insert(engine, table, rows: list[dict]) -> None:
    with engine.begin() as connection:
        for i in range(0, len(rows), BATCH):
            connection.execute(insert(table), rows[i:i + BATCH])


def generate(engine, n_messages: int, rng: random.Random,
             message_text: Callable[[int, bool, random.Random], str] | None = None) -> None:
    """The data set above; `message_text(id, from the customer?, rng)` writes each message's
    text (default "message <id>"; bench/search_bench.py writes sentences)."""
    start = END - timedelta(days=DAYS)
    span = DAYS * 86400
    _insert(engine, StaffUser.__table__, [
        {"id": i, "email": f"agent{i}@bench.example", "password_hash": "x", "role": "agent",
         "active": True, "created_at": start} for i in range(1, AGENTS + 1)])
    _insert(engine, Customer.__table__, [
        {"id": i, "email": f"c{i}@bench.example", "tags": [], "marketing_opt_in": True,
         "created_at": start} for i in range(1, CUSTOMERS + 1)])

    conversations, messages, handoffs = [], [], []
    message_id = 0
    for cid in range(1, n_messages // PER_CONVERSATION + 1):
        began = start + timedelta(seconds=rng.uniform(0, span))
        customer = rng.randint(1, CUSTOMERS) if rng.random() < 0.7 else None
        handed = rng.random() < 0.15
        agent = rng.randint(1, AGENTS) if handed and rng.random() < 0.9 else None
        rated = rng.random() < 0.1
        at = began
        claimed_at = None
        for turn in range(PER_CONVERSATION):
            at += timedelta(seconds=rng.uniform(1, 90))
            customer_turn = turn % 2 == 0
            kind = "customer" if customer_turn else "bot"
            if handed and turn == 5:
                requested = at
                claimed_at = at + timedelta(seconds=rng.expovariate(1 / 120)) if agent else None
                handoffs.append({"conversation_id": cid, "requested_at": requested,
                                 "status": "claimed" if agent else "waiting",
                                 "claimed_by_id": agent, "claimed_at": claimed_at})
            if claimed_at is not None and not customer_turn and at < claimed_at:
                at = claimed_at + timedelta(seconds=rng.uniform(5, 60))
            if claimed_at is not None and not customer_turn and turn > 5:
                kind = "agent"
            roll = rng.random()
            intent = confidence = None
            if customer_turn:
                intent = "nlu_fallback" if roll < 0.05 else rng.choice(INTENTS)
                confidence = rng.uniform(0.1, 0.49) if roll < 0.15 else rng.uniform(0.5, 1.0)
            message_id += 1
            messages.append({
                "id": message_id, "conversation_id": cid,
                "direction": "inbound" if customer_turn else "outbound", "sender_kind": kind,
                "staff_id": agent if kind == "agent" else None,
                "text": message_text(message_id, customer_turn, rng) if message_text
                else f"message {message_id}",
                "intent": intent, "confidence": confidence,
                "delivery_status": None if customer_turn else "delivered", "created_at": at,
                "attempts": 0})
        conversations.append({
            "id": cid, "customer_id": customer, "channel": rng.choice(CHANNELS),
            "external_id": f"bench-{cid}", "mode": "bot", "started_at": began,
            "last_message_at": at, "satisfaction": rng.randint(1, 5) if rated else None,
            "rated_at": at + timedelta(minutes=5) if rated else None})
    _insert(engine, Conversation.__table__, conversations)
    _insert(engine, Message.__table__, messages)
    _insert(engine, Handoff.__table__, handoffs)

    orders = []
    for oid in range(1, ORDERS + 1):
        placed = END - timedelta(seconds=rng.uniform(0, 2 * span))
        orders.append({"id": oid, "order_number": f"B{oid}", "customer_id":
                       rng.randint(1, CUSTOMERS), "status": "cancelled" if rng.random() < 0.05
                       else "delivered", "total": Decimal("25.00"), "currency": "EUR",
                       "created_at": placed, "updated_at": placed})
    _insert(engine, Order.__table__, orders)

    categories = ["delivery", "product_quality", "staff", "payment", "website", "return"]
    tickets = []
    for tid in range(1, TICKETS + 1):
        opened = start + timedelta(seconds=rng.uniform(0, span))
        due = opened + timedelta(hours=rng.choice([4, 24, 72]))
        resolved = opened + timedelta(hours=rng.expovariate(1 / 24)) \
            if rng.random() < 0.8 else None
        tickets.append({"id": tid, "kind": rng.choice(["complaint", "service_request"]),
                        "category": rng.choice(categories), "priority": "normal",
                        "status": "resolved" if resolved else "open", "subject": "bench",
                        "description": "", "channel": rng.choice(CHANNELS), "sla_due_at": due,
                        "assignee_id": rng.randint(1, AGENTS), "created_at": opened,
                        "updated_at": opened, "resolved_at": resolved})
    _insert(engine, Ticket.__table__, tickets)

    campaigns, deliveries = [], []
    for camp in range(1, CAMPAIGNS + 1):
        sent = start + timedelta(days=camp * DAYS / (CAMPAIGNS + 1))
        campaigns.append({"id": camp, "name": f"Campaign {camp}", "topic": "hiking",
                          "message": "m", "status": "sent", "created_at": sent,
                          "sent_at": sent})
        for customer in rng.sample(range(1, CUSTOMERS + 1), RECIPIENTS):
            deliveries.append({"campaign_id": camp, "customer_id": customer,
                               "channel": "telegram", "status": "delivered",
                               "created_at": sent, "sent_at": sent})
    _insert(engine, Campaign.__table__, campaigns)
    _insert(engine, CampaignDelivery.__table__, deliveries)
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("ANALYZE"))
            for table in ("staff_users", "customers", "conversations", "messages", "orders",
                          "tickets", "campaigns"):
                connection.execute(text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT max(id) FROM {table}))"))
        else:
            connection.execute(text("ANALYZE"))


# The not-understood inbox (loaded on demand, not with the charts), as the page asks for it.
INBOX = {
    "inbox: not understood": lambda s, scope: analytics.not_understood_messages(s, scope),
    "inbox: rejected": lambda s, scope: analytics.rejected_answers(s, scope),
}
TIMED = {**analytics.KPIS, **INBOX}


def time_kpis(scope: analytics.Scope, repeat: int) -> dict[str, float]:
    names = analytics.AGENT_KPIS if scope.agent_id is not None else tuple(analytics.KPIS)
    out = {}
    for name in (*names, *INBOX):
        runs = []
        for _ in range(repeat):
            began = time.perf_counter()
            with db.session_scope() as session:
                TIMED[name](session, scope)
            runs.append(time.perf_counter() - began)
        out[name] = statistics.median(runs)
    return out


def run(url: str, n_messages: int, repeat: int) -> None:
    migrate.upgrade(url=url)
    db.configure(url)
    engine = db.get_engine()
    began = time.perf_counter()
    generate(engine, n_messages, random.Random(20261122))
    print(f"{engine.dialect.name}: generated {n_messages:,} messages in "
          f"{time.perf_counter() - began:.0f} s")
    scopes = {
        "30 days": analytics.Scope(END - timedelta(days=30), END),
        "90 days": analytics.Scope(END - timedelta(days=DAYS), END),
        "30 days, web": analytics.Scope(END - timedelta(days=30), END, channel="web"),
        "30 days, agent": analytics.Scope(END - timedelta(days=30), END, agent_id=1),
    }
    timings = {label: time_kpis(scope, repeat) for label, scope in scopes.items()}
    header = f"{'KPI (ms, median of ' + str(repeat) + ')':<24}" + "".join(
        f"{label:>16}" for label in scopes)
    print(header)
    print("-" * len(header))
    for name in TIMED:
        cells = "".join(f"{timings[label][name] * 1000:>16.0f}" if name in timings[label]
                        else f"{'-':>16}" for label in scopes)
        print(f"{name:<24}{cells}")
    totals = "".join(f"{sum(v for k, v in timings[label].items() if k not in INBOX) * 1000:>16.0f}"
                     for label in scopes)
    print(f"{'whole dashboard':<24}{totals}")
    db.reset_engine()


def bench_main(doc: str, run_one, *, repeat: int, prefix: str) -> None:
    """The command line both store benches share: `run_one(url, messages, repeat)` on a
    throw-away SQLite file and, with --postgres, a throw-away PostgreSQL schema."""
    parser = argparse.ArgumentParser(description=doc,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=repeat)
    parser.add_argument("--postgres", metavar="URL",
                        help="also run on this PostgreSQL server, in a throw-away schema")
    parser.add_argument("--skip-sqlite", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if not args.skip_sqlite:
        with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
            run_one(f"sqlite:///{tmp}/bench.db", args.messages, args.repeat)
    if args.postgres:
        with throwaway_postgres(args.postgres) as url:
            run_one(url, args.messages, args.repeat)


def main() -> None:
    bench_main(__doc__, run, repeat=3, prefix="kefu-dashboard-bench-")


@contextmanager
def throwaway_postgres(server_url: str) -> Iterator[str]:
    """The URL of a new schema on this PostgreSQL server, dropped afterwards."""
    base = db.normalise_url(server_url)
    schema = f"kefu_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        separator = "&" if "?" in base else "?"
        yield f"{base}{separator}options={quote(f'-csearch_path={schema}')}"
    finally:
        db.reset_engine()
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


if __name__ == "__main__":
    main()
