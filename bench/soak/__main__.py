"""Soak: customers hold real conversations with Kefu for many minutes; nothing may be lost and
nothing may grow without bound.

    .venv/bin/python -m bench.soak [--minutes 10] [--customers 20] [--think 1.0]
    .venv/bin/python -m bench.soak --production --replicas 2 --minutes 5

Kefu is started as a user starts it (`kefu prepare`, `kefu run`, on free ports; the production
profile on a throw-away PostgreSQL database and RabbitMQ queue), then `--customers` customers
at once (half REST, half web widget) hold the load test's conversations (bench/load: greeting,
verified order tracking, a product question, a complaint, a person) one after another until
`--minutes` are over. Every round is checked against crm_store: a customer message with no
stored record, no stored reply or no reply received is LOST.

It prints, per process (gateway, Rasa, action server, nginx): memory (RSS), open file
descriptors and threads after the warm-up, half-way and at the end, the growth per hour over the
second half (the first half includes caches and pools filling up) and what a week at that rate
would add; and the database connections (PostgreSQL: pg_stat_activity on the run's database;
SQLite: open handles on the file). A short run's projection is rough: a few MB of noise over
five minutes reads as gigabytes a week. Judge it from the longest run you can afford.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from bench.load import systems  # noqa: E402
from bench.load.__main__ import BENCH_ENV, demo_orders, progress, run_level  # noqa: E402
from bench.load.audit import Audit, audit_kefu  # noqa: E402
from bench.load.figures import machine, percentile  # noqa: E402
from bench.load.scripts import kefu_conversation  # noqa: E402
from bench.soak.processes import Sample, sample_tree  # noqa: E402


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--customers", type=int, default=20)
    parser.add_argument("--think", type=float, default=1.0,
                        help="seconds a customer waits between turns (default 1)")
    parser.add_argument("--turn-timeout", type=float, default=120.0)
    parser.add_argument("--production", action="store_true")
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--postgres-admin-url",
                        default=os.environ.get("KEFU_TEST_POSTGRES_URL",
                                               "postgresql://postgres@127.0.0.1:5432/postgres"))
    parser.add_argument("--rabbitmq-url", default="amqp://guest:guest@127.0.0.1:5672/")
    return parser.parse_args(argv)


def database_connections(database_url: str, data_dir: Path, root: int) -> int:
    if database_url.startswith("sqlite"):
        path = str((data_dir / "kefu.db").resolve())
        count = 0
        for pid in [root, *sample_tree(root)]:
            try:
                count += sum(1 for fd in os.listdir(f"/proc/{pid}/fd")
                             if os.path.realpath(f"/proc/{pid}/fd/{fd}") == path)
            except OSError:
                continue
        return count
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = make_url(database_url).database
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            return int(connection.execute(text(
                "select count(*) from pg_stat_activity where datname = :name "
                "and pid <> pg_backend_pid()"), {"name": name}).scalar_one())
    finally:
        engine.dispose()


def process_table(first: dict[int, Sample], half: dict[int, Sample], last: dict[int, Sample],
                  second_half_hours: float) -> str:
    lines = ["| process | RSS start → half → end (MB) | per hour, 2nd half | a week at that rate | "
             "open fds start → half → end | threads start → end |",
             "| --- | --- | --- | --- | --- | --- |"]
    for pid, start in sorted(first.items(), key=lambda item: item[1].name):
        middle, end = half.get(pid, start), last.get(pid)
        if end is None:
            lines.append(f"| {start.name} | {start.rss_mb:.0f} → (exited) | | | | |")
            continue
        per_hour = (end.rss_mb - middle.rss_mb) / second_half_hours if second_half_hours else 0.0
        lines.append(f"| {start.name} | {start.rss_mb:.0f} → {middle.rss_mb:.0f} → "
                     f"{end.rss_mb:.0f} | {per_hour:+.1f} MB | {per_hour * 24 * 7:+.0f} MB | "
                     f"{start.fds} → {middle.fds} → {end.fds} | "
                     f"{start.threads} → {end.threads} |")
    return "\n".join(lines)


async def soak(args: argparse.Namespace) -> int:
    from crm_store import db

    scratch = Path(tempfile.mkdtemp(prefix="kefu-soak-"))
    services, kefu = None, None
    extra_env, run_args, database_url = dict(BENCH_ENV), [], None
    try:
        if args.production:
            services = await asyncio.to_thread(systems.create_services, args.postgres_admin_url,
                                               args.rabbitmq_url)
            database_url = services.database_url
            extra_env.update(services.env)
            run_args = ["--profile", "production", "--replicas", str(args.replicas)]
        progress(f"kefu prepare into {scratch} ...")
        await asyncio.to_thread(systems.prepare_kefu, scratch, database_url, extra_env, progress)
        kefu = await asyncio.to_thread(systems.start_kefu, scratch, database_url, run_args,
                                       extra_env, progress)
        db.configure(kefu.database_url)
        orders = await asyncio.to_thread(demo_orders)
        root = kefu.run.process.pid

        def script(n: int):
            return kefu_conversation(orders[n % len(orders)])

        run_id = uuid.uuid4().hex[:8]
        progress("warm-up round, not counted ...")
        await run_level(system="Kefu", base_url=kefu.url, customers=2, conversations=1,
                        script=script, web_share=True, think=0.0, timeout=args.turn_timeout,
                        run_id=f"{run_id}-warm")
        first = sample_tree(root)
        connections_first = database_connections(kefu.database_url, scratch, root)
        started = time.monotonic()
        deadline = started + args.minutes * 60
        total, rounds, turns = Audit(), 0, []
        half, half_at = first, started
        while time.monotonic() < deadline:
            records, results, _ = await run_level(
                system="Kefu", base_url=kefu.url, customers=args.customers, conversations=1,
                script=lambda n, r=rounds: script(r * args.customers + n), web_share=True,
                think=args.think, timeout=args.turn_timeout, run_id=f"{run_id}-{rounds}")
            audit = await asyncio.to_thread(audit_kefu, records)
            rounds += 1
            turns.extend(results)
            total.checked += audit.checked
            total.lost += audit.lost
            total.undelivered += audit.undelivered
            total.reasons.update(audit.reasons)
            total.examples.extend(audit.examples[:3])
            now = sample_tree(root)
            if half is first and time.monotonic() >= started + args.minutes * 30:
                half, half_at = now, time.monotonic()
            rss = sum(s.rss_mb for s in now.values())
            progress(f"round {rounds}: {audit.checked} messages, {audit.lost} lost; "
                     f"{(time.monotonic() - started) / 60:.1f} of {args.minutes:g} min; "
                     f"RSS of all processes {rss:.0f} MB")
        hours = (time.monotonic() - started) / 3600
        second_half_hours = (time.monotonic() - half_at) / 3600
        last = sample_tree(root)
        connections_last = database_connections(kefu.database_url, scratch, root)
        answered = [t.latency for t in turns if t.latency is not None and not t.error]
        profile = f"production, {args.replicas} replicas" if args.production else "default"
        about = machine()
        print(f"\n== soak: {args.customers} customers for {hours * 60:.1f} min, {profile} "
              f"profile, think {args.think:g} s; machine: {about} ==")
        print(f"customer messages sent {total.checked}, answered {total.checked - total.lost}, "
              f"LOST {total.lost}" + (f" {dict(total.reasons)}" if total.lost else "")
              + f"; replies stored but not received {total.undelivered}")
        for example in total.examples[:10]:
            print(f"  lost: {example}")
        if answered:
            print(f"turns {len(turns)} ({len(turns) - len(answered)} errors), "
                  f"{len(turns) / (hours * 3600):.1f} turns/s, p50 "
                  f"{percentile(answered, 50) * 1000:.0f} ms, p95 "
                  f"{percentile(answered, 95) * 1000:.0f} ms, p99 "
                  f"{percentile(answered, 99) * 1000:.0f} ms")
        print(f"database connections: {connections_first} after warm-up → {connections_last} "
              "at the end")
        print(process_table(first, half, last, second_half_hours))
        return 1 if total.lost else 0
    finally:
        db.reset_engine()
        if kefu is not None:
            progress("stopping Kefu ...")
            await asyncio.to_thread(kefu.run.stop)
        shutil.rmtree(scratch, ignore_errors=True)
        if services is not None:
            await asyncio.to_thread(systems.drop_services, services)


def main(argv: list[str] | None = None) -> int:
    return asyncio.run(soak(parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
