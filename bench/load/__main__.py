"""Load test: simulated customers holding real conversations with Kefu, and with Rasa's starter bot.

    .venv/bin/python -m bench.load [--levels 10,50,200] [--conversations 2] [--json FILE]

What it does:
- Starts Kefu as a user does (`kefu prepare` into a throw-away data directory, then `kefu run`
  on free ports), or uses a running stack (--url, with --database-url for its store).
- At each level, that many customers at once (half over the REST channel, half over the web
  widget's websocket) each hold --conversations conversations in a row, every one as a new
  customer: greeting; order tracking with verification (an order number, then the email on that
  order, from the demo shop in crm_store); a product question; a complaint (the complaint form's
  three turns); a request for a person. No pause between turns unless --think says so.
- After each level it checks every message against crm_store (read only): a customer message
  with no stored record, no stored reply, or no reply received is LOST; there must be none.
- Then it does the same with Rasa's bare starter bot (`rasa init`, trained once per Rasa version
  and cached in var/bench/rasa_init/), eight comparable turns over its REST channel, checked
  against Rasa's trackers, and prints Kefu against the starter bot per level.

Run it alone: it takes the whole machine (under `flock /tmp/kefu-heavy.lock` on shared ones).
The client runs on the same machine as the servers and takes some of its CPU.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

import httpx  # noqa: E402

from bench.load import systems  # noqa: E402
from bench.load.audit import Audit, audit_kefu, audit_rasa  # noqa: E402
from bench.load.cpu import tree_cpu_seconds  # noqa: E402
from bench.load.customers import (  # noqa: E402
    ConversationRecord,
    rest_conversation,
    web_conversation,
)
from bench.load.figures import (  # noqa: E402
    LevelResult,
    TurnResult,
    comparison_table,
    kind_table,
    level_table,
    machine,
)
from bench.load.options import parse_args  # noqa: E402
from bench.load.scripts import (  # noqa: E402
    DemoOrder,
    Turn,
    kefu_conversation,
    starter_conversation,
)

PROGRESS_EVERY = 10.0
# Every simulated customer comes from 127.0.0.1, so the REST channel's and the widget's limits
# per client IP (bot/limits.py, for one machine flooding the shop) would refuse them; real
# customers come from as many addresses. The limits per sender and per widget connection stay
# as configured. With --url, set these yourself.
BENCH_ENV = {"KEFU_REST_IP_MAX": "1000000", "KEFU_WEB_IP_MAX": "1000000"}
DEMO_CUSTOMERS = REPO / "demo_shop" / "customers.csv"


def progress(line: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {line}", file=sys.stderr, flush=True)


# --- the customers ------------------------------------------------------------------------------

def demo_orders() -> list[DemoOrder]:
    """Orders of the demo shop's customers, as crm_store has them (read only)."""
    import csv

    from crm_store.db import session_scope
    from crm_store.services import customers, orders

    emails = [row["email"] for row in csv.DictReader(DEMO_CUSTOMERS.open(encoding="utf-8"))]
    found = []
    with session_scope() as session:
        for email in emails:
            customer = customers.get_by_email(session, email=email)
            if customer is None:
                continue
            found.extend(DemoOrder(o.order_number, email)
                         for o in orders.for_customer(session, customer_id=customer.id, limit=2))
    if not found:
        raise RuntimeError("the store has none of the demo shop's orders: was it prepared "
                           "with `kefu prepare` (the demo shop loads into an empty store)?")
    return found


async def run_level(*, system: str, base_url: str, customers: int, conversations: int,
                    script: Callable[[int], list[Turn]], web_share: bool, think: float,
                    timeout: float, run_id: str
                    ) -> tuple[list[ConversationRecord], list[TurnResult], float]:
    """`customers` at once, each holding `conversations` in a row; odd ones on the widget."""
    rest_url = f"{base_url}/webhooks/rest/webhook"
    ws_url = base_url.replace("http", "ws", 1) + "/ws/chat"
    records: list[ConversationRecord] = []
    results: list[TurnResult] = []
    limits = httpx.Limits(max_connections=customers + 10, max_keepalive_connections=customers)
    async with httpx.AsyncClient(timeout=timeout, limits=limits) as client:

        async def customer(index: int) -> None:
            for n in range(conversations):
                turns = script(index * conversations + n)
                if web_share and index % 2:
                    record, turn_results = await web_conversation(ws_url, turns, think, timeout)
                else:
                    sender = f"load-{run_id}-{customers}-{index}-{n}"
                    record, turn_results = await rest_conversation(client, rest_url, sender,
                                                                   turns, think)
                if record is not None:
                    records.append(record)
                results.extend(turn_results)

        async def report() -> None:
            total = customers * conversations * len(script(0))
            while True:
                await asyncio.sleep(PROGRESS_EVERY)
                errors = sum(1 for r in results if r.error)
                progress(f"{system} x{customers}: {len(results)}/{total} turns, "
                         f"{errors} errors, {time.perf_counter() - started:.0f} s")

        started = time.perf_counter()
        reporter = asyncio.create_task(report())
        try:
            await asyncio.gather(*(customer(i) for i in range(customers)))
        finally:
            reporter.cancel()
        wall = time.perf_counter() - started
    return records, results, wall


def level_report(level: LevelResult, audit: Audit) -> str:
    lines = [f"\n== {level.system}: {level.customers} customers at once, "
             f"{level.conversations} conversation(s) each "
             f"(load average before: {level.load_before}) ==",
             level_table([level]), "", kind_table(level)]
    lines.append(f"\nMESSAGES LOST: {audit.lost} of {audit.checked} checked"
                 + (f"  <-- {dict(audit.reasons)}" if audit.lost else "")
                 + f"; replies stored but not received: {audit.undelivered}")
    lines.extend(f"  lost: {example}" for example in audit.examples)
    samples = sorted({t.error for t in level.turns if t.error})[:5]
    lines.extend(f"  error: {e}" for e in samples)
    wrong = list(level.wrong_answers().items())
    lines.extend(f"  wrong answer x{n} ({kind}, {said!r}): {reply[:140]!r}"
                 for (kind, said), (n, reply) in wrong[:8])
    if len(wrong) > 8:
        lines.append(f"  ... {len(wrong) - 8} more kinds of wrong answer (all in --json)")
    return "\n".join(lines)


async def run_system(system: str, base_url: str, args: argparse.Namespace,
                     script: Callable[[int], list[Turn]], web_share: bool, audit_records,
                     root_pid: int | None = None) -> list[LevelResult]:
    """Every level in turn; `root_pid`: the system's top process, whose tree's CPU time
    is counted per level (bench/load/cpu.py)."""
    levels = []
    run_id = uuid.uuid4().hex[:8]
    # One conversation per channel first, not counted: the first turns load models and open
    # connections (Kefu's first product question loads the embedding model, ~6 s).
    progress(f"{system}: warm-up conversation(s), not counted ...")
    _, warm, _ = await run_level(system=system, base_url=base_url, customers=2 if web_share else 1,
                                 conversations=1, script=script, web_share=web_share,
                                 think=0.0, timeout=args.turn_timeout, run_id=f"{run_id}-warm")
    bad = [t for t in warm if t.error or not t.right]
    progress(f"{system}: warm-up {len(warm)} turns, {len(bad)} not answered right"
             + (f" (first: {bad[0].kind}: {bad[0].error or bad[0].reply_text[:120]!r})"
                if bad else ""))
    for customers, conversations in zip(args.levels, args.conversations):
        load_before = round(os.getloadavg()[0], 2)
        progress(f"{system}: {customers} customers x {conversations} conversation(s) ...")
        cpu_before = tree_cpu_seconds(root_pid) if root_pid else None
        records, results, wall = await run_level(
            system=system, base_url=base_url, customers=customers, conversations=conversations,
            script=script, web_share=web_share, think=args.think, timeout=args.turn_timeout,
            run_id=run_id)
        cpu_after = tree_cpu_seconds(root_pid) if cpu_before is not None else None
        audit = await audit_records(records)
        level = LevelResult(system, customers, conversations, wall, results, audit.lost,
                            dict(audit.reasons), audit.undelivered, load_before,
                            audit.examples,
                            None if cpu_after is None else cpu_after - cpu_before)
        print(level_report(level, audit), flush=True)
        levels.append(level)
    return levels


# --- the two systems ----------------------------------------------------------------------------

async def load_kefu(args: argparse.Namespace) -> list[LevelResult]:
    from crm_store import db

    kefu = None
    scratch = None
    services = None
    try:
        database_url_arg, extra_env, run_args = args.database_url, dict(BENCH_ENV), args.run_arg
        if args.production:
            services = await asyncio.to_thread(systems.create_services, args.postgres_admin_url,
                                               args.rabbitmq_url)
            progress(f"production profile: throw-away database and queue {services.name}")
            database_url_arg = services.database_url
            extra_env.update(services.env)
            run_args = [*run_args, "--profile", "production", "--replicas", str(args.replicas)]
        if args.url:
            base_url, database_url = args.url.rstrip("/"), args.database_url
            progress("using the running stack as it is: if its REST channel answers 429, start "
                     f"it with {' '.join(f'{k}={v}' for k, v in BENCH_ENV.items())}")
        else:
            data_dir = args.data_dir
            if data_dir is None:
                scratch = Path(tempfile.mkdtemp(prefix="kefu-load-"))
                data_dir = scratch
            data_dir = data_dir.resolve()
            progress(f"kefu prepare into {data_dir} ...")
            await asyncio.to_thread(systems.prepare_kefu, data_dir, database_url_arg,
                                    extra_env, progress)
            progress(f"kefu run {' '.join(run_args)} ... (with "
                     f"{' '.join(f'{k}={v}' for k, v in extra_env.items())})")
            kefu = await asyncio.to_thread(systems.start_kefu, data_dir, database_url_arg,
                                           run_args, extra_env, progress)
            base_url, database_url = kefu.url, kefu.database_url
        db.configure(database_url)
        orders = await asyncio.to_thread(demo_orders)
        progress(f"{len(orders)} demo orders to track")
        return await run_system(
            "Kefu", base_url, args, lambda n: kefu_conversation(orders[n % len(orders)]),
            web_share=True, audit_records=lambda records: asyncio.to_thread(audit_kefu, records),
            root_pid=kefu.run.process.pid if kefu is not None else None)
    finally:
        db.reset_engine()
        if kefu is not None:
            progress("stopping Kefu ...")
            code = await asyncio.to_thread(kefu.run.stop)
            if code != 0:
                progress(f"kefu run exited with {code}:\n{kefu.run.tail()}")
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
        if services is not None:
            await asyncio.to_thread(systems.drop_services, services)


async def load_starter(args: argparse.Namespace, log_dir: Path) -> list[LevelResult]:
    project = await asyncio.to_thread(systems.starter_project, progress)
    starter = await asyncio.to_thread(systems.start_starter, project, log_dir, progress)
    try:
        async with httpx.AsyncClient(timeout=60) as client:
            return await run_system(
                "starter bot", starter.url, args, lambda n: starter_conversation(),
                web_share=False,
                audit_records=lambda records: audit_rasa(client, starter.url, records),
                root_pid=starter.run.process.pid)
    finally:
        progress("stopping the starter bot ...")
        await asyncio.to_thread(starter.run.stop)


# --- main -------------------------------------------------------------------------------------

def summary(kefu: list[LevelResult], starter: list[LevelResult], about: dict) -> str:
    lines = ["", "=" * 100,
             f"Machine: {about['cores']} cores ({about['cpu']}), {about['memory_gib']} GiB RAM, "
             f"load average at start {about['load_average']}",
             f"Conversations: Kefu {len(kefu_conversation(DemoOrder('A0', 'x')))} turns "
             f"(half REST, half web widget); starter bot "
             f"{len(starter_conversation())} turns (REST: it has no widget); "
             f"think time {about['think']} s",
             f"Kefu: {about['kefu_profile']}"]
    if kefu:
        lines += ["", "Kefu", level_table(kefu)]
    if starter:
        lines += ["", "Rasa starter bot (rasa init)", level_table(starter)]
    if kefu and starter:
        lines += ["", "Kefu vs. starter bot (ratio = Kefu / starter)",
                  comparison_table(kefu, starter)]
    lost = sum(level.lost for level in kefu + starter)
    lines += ["", f"MESSAGES LOST: {lost}"
              + ("" if lost == 0 else "   <-- MUST BE 0, see the per-level reports above"),
              "=" * 100]
    return "\n".join(lines)


async def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    profile = (f"production profile (PostgreSQL, Redis lock store, RabbitMQ events), "
               f"{args.replicas} replica(s) of each process" if args.production
               else "a running stack at " + args.url if args.url
               else "default profile (SQLite store, one gateway, Rasa and action server)")
    about = {**machine(), "think": args.think, "kefu_profile": profile}
    progress(f"machine: {about['cores']} cores, {about['memory_gib']} GiB, "
             f"load average {about['load_average']}")
    log_dir = Path(tempfile.mkdtemp(prefix="kefu-load-logs-"))
    kefu = [] if args.skip_kefu else await load_kefu(args)
    starter = [] if args.skip_starter else await load_starter(args, log_dir)
    print(summary(kefu, starter, about), flush=True)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({
            "machine": about,
            "arguments": {"levels": args.levels, "conversations": args.conversations,
                          "think": args.think, "turn_timeout": args.turn_timeout,
                          "url": args.url, "run_args": args.run_arg,
                          "production": args.production, "replicas": args.replicas},
            "kefu": [level.to_json() for level in kefu],
            "starter_bot": [level.to_json() for level in starter],
        }, indent=2, default=str))
        progress(f"figures written to {args.json}")
    shutil.rmtree(log_dir, ignore_errors=True)
    lost = sum(level.lost for level in kefu + starter)
    return 1 if lost else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
