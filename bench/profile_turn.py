"""Where a turn's time goes: py-spy samples every Kefu process during a load run.

    .venv/bin/python -m bench.profile_turn [--levels 1,20] [--conversations 3,1] [--rate 100]

Starts Kefu as bench/load does (`kefu prepare` into a throw-away directory, `kefu run` on free
ports), then for each level runs that many simulated customers (bench/load's conversations:
greeting, verified order tracking, product question, complaint, handoff) while
`py-spy record --subprocesses --nonblocking` samples the gateway, Rasa and the action server.
Each sample is put in one part of the turn (first matching rule below, most specific first)
and the table prints, per process and part, the CPU milliseconds per customer turn and the
share of that process. Idle threads are not sampled, so the figures are work, not waiting;
the wall-clock p50/p95 of the same turns are printed beside them.

The raw stacks (collapsed format, one line per stack) are kept in var/bench/profile/ for a
flame graph (speedscope.app or flamegraph.pl reads them); they are not committed.
Run it alone: it takes the whole machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import uuid
from collections import Counter, defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.load import systems  # noqa: E402
from bench.load.__main__ import BENCH_ENV, demo_orders, progress, run_level  # noqa: E402
from bench.load.figures import percentile, table  # noqa: E402
from bench.load.options import per_level, positive_ints  # noqa: E402
from bench.load.scripts import kefu_conversation  # noqa: E402

PY_SPY = Path(sys.executable).with_name("py-spy")
OUT_DIR = REPO / "var" / "bench" / "profile"

# Which process a stack comes from, by its command line (py-spy's frames `process PID:"command
# line"` with --subprocesses, the sampled process last).
PROCESSES = [
    # rasa-sdk's sanic server answers in worker processes (multiprocessing spawn).
    ("action server", re.compile(r"rasa_sdk|spawn_main|run actions")),
    ("Rasa", re.compile(r"rasa(\.__main__)? run|-m rasa|bin/rasa")),
    ("gateway", re.compile(r"uvicorn|bot\.app|kefu(\.cli)? gateway|gateway")),
    ("supervisor", re.compile(r"kefu")),
]

# The parts of a turn: (process, part, pattern over the stack's frames). The first rule whose
# pattern matches any frame wins, so specific parts come before the generic ones.
PARTS = [
    ("Rasa", "NLU: MiniLM encoder (nlu_components)", r"nlu_components/minilm"),
    ("Rasa", "NLU: DIET classifier", r"diet_classifier"),
    ("Rasa", "NLU: tokenizer, regex and count featurizers",
     r"tokenizers/|regex_featurizer|count_vectors_featurizer|lexical_syntactic|regex_entity"),
    ("Rasa", "NLU: fallback, entity synonyms, other NLU", r"rasa/nlu/"),
    ("Rasa", "policies: TED", r"ted_policy"),
    ("Rasa", "policies: rules, memoization, ensemble",
     r"rule_policy|memoization|policies/ensemble|unexpected_intent"),
    ("Rasa", "tracker store (rasa_stores, SQL)", r"rasa_stores/|tracker_store|sqlalchemy"),
    ("Rasa", "calls to the action server (aiohttp)", r"core/actions/action\.py|aiohttp/client"),
    ("Rasa", "featurizing the tracker for policies", r"core/featurizers|single_state_featurizer"),
    ("Rasa", "HTTP server (sanic), JSON", r"sanic|ujson|json/"),
    ("Rasa", "TensorFlow (other)", r"tensorflow|keras"),
    ("action server", "embedding the question (sentence-transformers, torch)",
     r"sentence_transformers|torch/|transformers/"),
    ("action server", "FAISS search", r"faiss"),
    ("action server", "knowledge: lexical index, ranking", r"knowledge/"),
    ("action server", "SQL (crm_store, SQLAlchemy)", r"sqlalchemy|crm_store/"),
    ("action server", "HTTP server and rasa-sdk", r"rasa_sdk|sanic|aiohttp"),
    ("gateway", "SQL (crm_store, SQLAlchemy)", r"sqlalchemy|crm_store/"),
    ("gateway", "HTTP client to Rasa (httpx)", r"httpx|httpcore|h11"),
    ("gateway", "HTTP server, websockets (uvicorn, starlette)",
     r"uvicorn|starlette|fastapi|websockets|pydantic"),
    ("gateway", "gateway's own code (bot/)", r"bot/"),
]
_PARTS = [(process, part, re.compile(pattern)) for process, part, pattern in PARTS]


def process_of(frame: str) -> str:
    for name, pattern in PROCESSES:
        if pattern.search(frame):
            return name
    return "other"


def part_of(process: str, frames: list[str]) -> str:
    for owner, part, pattern in _PARTS:
        if owner == process and any(pattern.search(f) for f in frames):
            return part
    return "other"


def attribute(raw: Path) -> dict[tuple[str, str], int]:
    """Samples per (process, part) from py-spy's collapsed output."""
    samples: Counter[tuple[str, str]] = Counter()
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = stack.split(";")
        # With --subprocesses a stack starts with its chain of processes, parent first.
        chain = [i for i, f in enumerate(frames) if f.startswith("process ")]
        process = process_of(frames[chain[-1]]) if chain else "other"
        code = frames[chain[-1] + 1:] if chain else frames
        samples[(process, part_of(process, code))] += int(count)
    return dict(samples)


def profile_table(samples: dict[tuple[str, str], int], rate: int, turns: int) -> str:
    per_process: dict[str, int] = defaultdict(int)
    for (process, _), count in samples.items():
        per_process[process] += count
    rows = []
    order = {name: i for i, (name, _) in enumerate(PROCESSES)}
    for (process, part), count in sorted(
            samples.items(), key=lambda kv: (order.get(kv[0][0], 99), -kv[1])):
        ms = count / rate * 1000 / max(turns, 1)
        share = count / per_process[process]
        rows.append((process, part, f"{ms:.1f}", f"{share:.0%}"))
    for process, count in sorted(per_process.items(), key=lambda kv: order.get(kv[0], 99)):
        rows.append((process, "TOTAL", f"{count / rate * 1000 / max(turns, 1):.1f}", "100%"))
    return table(["process", "part of the turn", "CPU ms per turn", "share"], rows)


async def profile_level(kefu: systems.Kefu, orders, customers: int, conversations: int,
                        rate: int, raw: Path) -> tuple[dict, list]:
    spy = subprocess.Popen(
        [str(PY_SPY), "record", "--pid", str(kefu.run.process.pid), "--subprocesses",
         "--nonblocking", "--rate", str(rate), "--format", "raw", "--output", str(raw)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    await asyncio.sleep(2)  # py-spy attaches to every process first
    try:
        _, results, wall = await run_level(
            system="Kefu", base_url=kefu.url, customers=customers, conversations=conversations,
            script=lambda n: kefu_conversation(orders[n % len(orders)]), web_share=True,
            think=0.0, timeout=120.0, run_id=uuid.uuid4().hex[:6])
    finally:
        spy.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
        _, err = await asyncio.to_thread(spy.communicate, timeout=60)
    if not raw.exists():
        raise RuntimeError(f"py-spy wrote nothing:\n{err.decode(errors='replace')[-2000:]}")
    progress(f"x{customers}: {len(results)} turns in {wall:.0f} s")
    return attribute(raw), results


def wall_line(results) -> str:
    answered = [r for r in results if not r.error and r.latency is not None]
    times = [r.latency * 1000 for r in answered]
    by_kind: dict[str, list[float]] = defaultdict(list)
    for r in answered:
        by_kind[r.kind].append(r.latency * 1000)
    kinds = ", ".join(f"{kind} {percentile(v, 50):.0f}" for kind, v in by_kind.items())
    return (f"wall per turn: p50 {percentile(times, 50):.0f} ms, p95 {percentile(times, 95):.0f} "
            f"ms; p50 by turn (ms): {kinds}")


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--levels", type=positive_ints, default=[1, 20])
    parser.add_argument("--conversations", type=positive_ints, default=[3, 1])
    parser.add_argument("--rate", type=int, default=100, help="samples per second")
    parser.add_argument("--json", type=Path, help="write the figures here too")
    args = parser.parse_args(argv)
    if not PY_SPY.exists():
        print(f"py-spy is not installed in {PY_SPY.parent} (make envs installs it)",
              file=sys.stderr)
        return 2
    from crm_store import db

    OUT_DIR.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="kefu-profile-"))
    kefu = None
    figures = {}
    try:
        progress(f"kefu prepare into {scratch} ...")
        systems.prepare_kefu(scratch, None, dict(BENCH_ENV), progress)
        kefu = systems.start_kefu(scratch, None, [], dict(BENCH_ENV), progress)
        db.configure(kefu.database_url)
        orders = demo_orders()
        # One conversation first, unprofiled: the first turns load models and fill caches.
        await run_level(system="Kefu", base_url=kefu.url, customers=1, conversations=1,
                        script=lambda n: kefu_conversation(orders[-1 - n]), web_share=False,
                        think=0.0, timeout=120.0, run_id="warm")
        for customers, conversations in zip(args.levels,
                                            per_level(args.conversations, args.levels)):
            raw = OUT_DIR / f"kefu-x{customers}.txt"
            samples, results = await profile_level(kefu, orders, customers, conversations,
                                                   args.rate, raw)
            turns = sum(1 for r in results if not r.error)
            print(f"\n## {customers} customer(s) at once, {turns} turns "
                  f"(py-spy {args.rate}/s, raw stacks: {raw.relative_to(REPO)})")
            print(wall_line(results))
            print(profile_table(samples, args.rate, turns))
            figures[str(customers)] = {
                "turns": turns,
                "cpu_ms_per_turn": {f"{p} | {part}": round(c / args.rate * 1000 / max(turns, 1), 2)
                                    for (p, part), c in samples.items()}}
    finally:
        db.reset_engine()
        if kefu is not None:
            kefu.run.stop()
        shutil.rmtree(scratch, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
