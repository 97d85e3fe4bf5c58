"""Turning turn results into the figures bench/load/__main__.py prints: percentiles, tables, machine."""

from __future__ import annotations

import math
import os
import platform
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field


@dataclass
class TurnResult:
    """One customer message and what came back, as the customer saw it."""

    kind: str
    channel: str  # rest | web
    sender: str
    text: str
    latency: float | None  # seconds until the answer; None when none came
    replies: int = 0
    error: str | None = None  # transport trouble: HTTP status, timeout, socket error frame
    right: bool = False  # the answer contained what the turn expects
    unavailable: bool = False  # Kefu said it could not answer right now
    reply_text: str = ""


@dataclass
class LevelResult:
    system: str
    customers: int
    conversations: int
    wall: float
    turns: list[TurnResult]
    lost: int
    lost_reasons: dict[str, int] = field(default_factory=dict)
    # Stored replies the customer never received (not counted as lost when another reply of
    # the same message arrived).
    undelivered: int = 0
    load_before: float = 0.0
    lost_examples: list[str] = field(default_factory=list)
    # CPU seconds the system's own processes used during the level (bench/load/cpu.py);
    # None when they could not be read (--url, no /proc).
    cpu_seconds: float | None = None

    @property
    def cpu_per_turn(self) -> float | None:
        """CPU seconds per answered turn, all the system's processes together."""
        answered = len(self.answered)
        if self.cpu_seconds is None or not answered:
            return None
        return self.cpu_seconds / answered

    @property
    def answered(self) -> list[TurnResult]:
        return [t for t in self.turns if t.latency is not None]

    @property
    def throughput(self) -> float:
        return len(self.answered) / self.wall if self.wall > 0 else 0.0

    @property
    def errors(self) -> int:
        return sum(1 for t in self.turns if t.error)

    @property
    def wrong(self) -> int:
        return sum(1 for t in self.turns if t.latency is not None and not t.error
                   and not t.right and not t.unavailable)

    @property
    def unavailable(self) -> int:
        return sum(1 for t in self.turns if t.unavailable)

    def latencies(self, kind: str | None = None, channel: str | None = None) -> list[float]:
        return [t.latency for t in self.turns if t.latency is not None
                and (kind is None or t.kind == kind) and (channel is None or t.channel == channel)]

    def to_json(self) -> dict:
        def summary(values: list[float]) -> dict:
            return {"n": len(values), "p50": percentile(values, 50),
                    "p95": percentile(values, 95), "p99": percentile(values, 99)}

        kinds = list(dict.fromkeys(t.kind for t in self.turns))
        channels = sorted({t.channel for t in self.turns})
        return {
            "system": self.system, "customers": self.customers,
            "conversations": self.conversations, "turns": len(self.turns),
            "wall_s": round(self.wall, 3), "throughput_turns_per_s": round(self.throughput, 3),
            "errors": self.errors, "wrong": self.wrong, "unavailable": self.unavailable,
            "lost": self.lost, "lost_reasons": self.lost_reasons,
            "lost_examples": self.lost_examples,
            "undelivered_replies": self.undelivered, "load_before": self.load_before,
            "cpu_s": None if self.cpu_seconds is None else round(self.cpu_seconds, 3),
            "cpu_s_per_turn": None if self.cpu_per_turn is None else round(self.cpu_per_turn, 4),
            "latency_s": {"all": summary(self.latencies()),
                          **{k: summary(self.latencies(kind=k)) for k in kinds}},
            "latency_by_channel_s": {c: summary(self.latencies(channel=c)) for c in channels},
            "error_samples": sorted({t.error for t in self.turns if t.error})[:10],
            "wrong_answers": [{"kind": kind, "said": said, "times": n, "reply": reply}
                              for (kind, said), (n, reply) in self.wrong_answers().items()],
        }

    def wrong_answers(self) -> dict[tuple[str, str], tuple[int, str]]:
        """(turn type, what was said) -> (how often, one of the replies), most frequent first."""
        found: dict[tuple[str, str], tuple[int, str]] = {}
        for t in self.turns:
            if t.latency is not None and not t.error and not t.right and not t.unavailable:
                n, reply = found.get((t.kind, t.text), (0, t.reply_text[:300]))
                found[(t.kind, t.text)] = (n + 1, reply)
        return dict(sorted(found.items(), key=lambda item: -item[1][0]))


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile by linear interpolation between closest ranks; None if empty."""
    if not values:
        return None
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    rank = (len(ordered) - 1) * q / 100.0
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:.0f}"


def ratio(a: float | None, b: float | None) -> str:
    if a is None or b is None or b == 0:
        return "-"
    return f"{a / b:.2f}x"


def table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A plain-text table that also reads as Markdown (pipes and a separator row)."""
    rows = [[str(c) for c in r] for r in rows]
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"

    return "\n".join([line(headers), "|" + "|".join("-" * (w + 2) for w in widths) + "|",
                      *(line(r) for r in rows)])


def level_table(levels: list[LevelResult]) -> str:
    rows = []
    for level in levels:
        lat = level.latencies()
        rows.append([level.customers, level.conversations, len(level.turns),
                     f"{level.wall:.1f}", f"{level.throughput:.2f}",
                     ms(percentile(lat, 50)), ms(percentile(lat, 95)), ms(percentile(lat, 99)),
                     ms(level.cpu_per_turn), level.errors, level.unavailable,
                     level.wrong, level.lost])
    return table(["customers", "conversations", "turns", "wall s", "turns/s", "p50 ms",
                  "p95 ms", "p99 ms", "CPU ms/turn", "errors", "unavailable", "wrong",
                  "LOST"], rows)


def kind_table(level: LevelResult) -> str:
    groups: dict[str, list[float]] = defaultdict(list)
    for t in level.turns:
        if t.latency is not None:
            groups[t.kind].append(t.latency)
    for t in level.turns:  # keep the conversation's order; kinds with no answer too
        groups.setdefault(t.kind, [])
    for channel in sorted({t.channel for t in level.turns}):
        groups[f"(all, {channel})"] = level.latencies(channel=channel)
    rows = [[kind, len(v), ms(percentile(v, 50)), ms(percentile(v, 95)), ms(percentile(v, 99))]
            for kind, v in groups.items()]
    return table(["turn type", "answered", "p50 ms", "p95 ms", "p99 ms"], rows)


def comparison_table(kefu: list[LevelResult], starter: list[LevelResult]) -> str:
    by_customers = {s.customers: s for s in starter}
    rows = []
    for k in kefu:
        s = by_customers.get(k.customers)
        if s is None:
            continue
        kl, sl = k.latencies(), s.latencies()
        rows.append([k.customers, f"{k.throughput:.2f}", f"{s.throughput:.2f}",
                     ratio(k.throughput, s.throughput),
                     ms(percentile(kl, 50)), ms(percentile(sl, 50)),
                     ratio(percentile(kl, 50), percentile(sl, 50)),
                     ms(percentile(kl, 95)), ms(percentile(sl, 95)),
                     ratio(percentile(kl, 95), percentile(sl, 95)),
                     ms(k.cpu_per_turn), ms(s.cpu_per_turn),
                     ratio(k.cpu_per_turn, s.cpu_per_turn)])
    return table(["customers", "Kefu turns/s", "starter turns/s", "throughput ratio",
                  "Kefu p50 ms", "starter p50 ms", "p50 ratio", "Kefu p95 ms",
                  "starter p95 ms", "p95 ratio", "Kefu CPU ms/turn", "starter CPU ms/turn",
                  "CPU ratio"], rows)


def machine() -> dict:
    """Cores, memory and CPU model of this machine, and how busy it was."""
    memory_gib = None
    model = platform.processor() or None
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    memory_gib = round(int(line.split()[1]) / 1024 / 1024, 1)
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"cores": os.cpu_count(), "memory_gib": memory_gib, "cpu": model,
            "load_average": round(os.getloadavg()[0], 2), "python": platform.python_version()}
