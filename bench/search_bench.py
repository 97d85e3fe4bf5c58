"""How long staff search (crm_store.services.search) takes on a store with 1 million messages.

    .venv/bin/python bench/search_bench.py [--messages 1000000] [--repeat 5] [--postgres URL]

The store is bench/dashboard_bench.py's (same generator, same throw-away SQLite file or
PostgreSQL schema, migrated to head so the search index is the deployed one), except that each
message is a sentence: 8 to 16 words drawn (Zipf-like) from a 2,000-word vocabulary, and 3% of
customer messages name one of the 60,000 orders ("B<number>"), 0.5% a marketplace id
("123-4567890-1234567"-shaped). Tickets get references (T-<1000 + id>) and customers names
and phone numbers. Then every query below is searched as the console does (all three kinds,
10 of each), the median of `--repeat` runs, each in a fresh session.
"""

from __future__ import annotations

import random
import re
import statistics
import sys
import time
from pathlib import Path

from sqlalchemy import text

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.dashboard_bench import ORDERS, bench_main, generate  # noqa: E402
from crm_store import db, migrate  # noqa: E402
from crm_store.services import search  # noqa: E402

VOCABULARY = 2_000
ORDER_SHARE = 0.03
MARKETPLACE_SHARE = 0.005


def _word(rank: int) -> str:
    # Pronounceable made-up words; rank 1 is the most frequent.
    consonants, vowels = "bdfgklmnprstvz", "aeiou"
    out, n = [], rank + 7
    while n:
        out.append(consonants[n % len(consonants)] + vowels[(n // 14) % len(vowels)])
        n //= 70
    return "".join(out)


WORDS = [_word(rank) for rank in range(VOCABULARY)]
WEIGHTS = [1 / (rank + 1) for rank in range(VOCABULARY)]


def marketplace_id(n: int) -> str:
    return f"{100 + n % 900}-{1000000 + n * 7 % 9000000}-{2000000 + n * 13 % 8000000}"


def sentence(message_id: int, from_customer: bool, rng: random.Random) -> str:
    words = rng.choices(WORDS, WEIGHTS, k=rng.randint(8, 16))
    if from_customer:
        roll = rng.random()
        if roll < ORDER_SHARE:
            words.insert(rng.randrange(len(words)), f"B{rng.randint(1, ORDERS)}")
        elif roll < ORDER_SHARE + MARKETPLACE_SHARE:
            words.insert(rng.randrange(len(words)), marketplace_id(message_id) + "?")
    words[0] = words[0].capitalize()
    return " ".join(words)


def queries(connection) -> dict[str, str]:
    """Typical searches, taken from the generated data so that each finds something."""
    def first(like: str, pattern: str) -> str:
        for body in connection.scalars(text("SELECT text FROM messages WHERE text LIKE :like "
                                            "ORDER BY id"), {"like": like}):
            match = re.search(pattern, body)
            if match:
                return match.group(0)
        raise SystemExit(f"no message matches {pattern}")

    return {
        "common word": WORDS[0],
        "rare word": WORDS[VOCABULARY - 1],
        "two words": f"{WORDS[3]} {WORDS[40]}",
        "order number in messages": first("% B%", r"\bB\d+\b"),
        "marketplace id": first("%-_______-%", r"\d{3}-\d{7}-\d{7}"),
        "email": "c4242@bench.example",
        "phone": "+44 20 7900 4242",
        "customer name": "Ellis 4242",
        "ticket reference": "T-5000",
        "nothing matches": "xylophone",
    }


def run(url: str, n_messages: int, repeat: int) -> None:
    migrate.upgrade(url=url)
    db.configure(url)
    engine = db.get_engine()
    began = time.perf_counter()
    generate(engine, n_messages, random.Random(20261205), message_text=sentence)
    with engine.begin() as connection:
        connection.execute(text("UPDATE tickets SET reference = 'T-' || (1000 + id)"))
        connection.execute(text(
            "UPDATE customers SET name = 'Ellis ' || id, "
            "phone = '+4420790' || substr('00000' || id, -5, 5)" if engine.dialect.name
            == "sqlite" else
            "UPDATE customers SET name = 'Ellis ' || id, "
            "phone = '+4420790' || lpad(id::text, 5, '0')"))
        connection.execute(text("ANALYZE"))
    print(f"{engine.dialect.name}: generated {n_messages:,} messages (with the search index) "
          f"in {time.perf_counter() - began:.0f} s")
    with engine.connect() as connection:
        asked = queries(connection)
    print(f"{'query (ms, median of ' + str(repeat) + ')':<28}{'ms':>8}  found (conv/cust/tickets)")
    for label, query in asked.items():
        runs, found = [], None
        for _ in range(repeat):
            started = time.perf_counter()
            with db.session_scope() as session:
                found = search.search(session, query=query, limit=10, phone_region="GB")
            runs.append(time.perf_counter() - started)
        counts = f"{len(found.conversations)}/{len(found.customers)}/{len(found.tickets)}"
        print(f"{label:<28}{statistics.median(runs) * 1000:>8.1f}  {counts}  {query!r}")
    db.reset_engine()


def main() -> None:
    bench_main(__doc__, run, repeat=5, prefix="kefu-search-bench-")


if __name__ == "__main__":
    main()
