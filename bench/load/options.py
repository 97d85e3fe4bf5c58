"""bench/load/__main__.py's command line."""

from __future__ import annotations

import argparse
from pathlib import Path


def positive_ints(text: str) -> list[int]:
    """"10,50,200" -> [10, 50, 200]; every value a whole number above 0."""
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected whole numbers separated by commas, "
                                         f"got {text!r}") from None
    if not values or any(v <= 0 for v in values):
        raise argparse.ArgumentTypeError(f"expected numbers above 0, got {text!r}")
    return values


def per_level(values: list[int], levels: list[int]) -> list[int]:
    """One value for every level, or one value per level."""
    if len(values) == 1:
        return values * len(levels)
    if len(values) != len(levels):
        raise ValueError(f"--conversations has {len(values)} values for {len(levels)} levels; "
                         "give one value, or one per level")
    return values


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.load",
        description="Load test: Kefu and Rasa's starter bot under simulated customers.")
    parser.add_argument("--levels", type=positive_ints, default=[10, 50, 200],
                        help="customers at once, per level (default 10,50,200)")
    parser.add_argument("--conversations", type=positive_ints, default=[2],
                        help="conversations each customer holds in a row: one value, or one "
                             "per level (default 2)")
    parser.add_argument("--think", type=float, default=0.0,
                        help="seconds a customer waits between reading an answer and sending "
                             "the next message (default 0)")
    parser.add_argument("--turn-timeout", type=float, default=120.0,
                        help="seconds a customer waits for an answer before counting an error")
    parser.add_argument("--url", help="a running Kefu gateway instead of starting one "
                                      "(then --database-url is its store)")
    parser.add_argument("--database-url", help="crm_store's database (default: the data "
                                               "directory's SQLite file)")
    parser.add_argument("--data-dir", type=Path,
                        help="Kefu's data directory (default: a temporary one, removed after)")
    parser.add_argument("--run-arg", action="append", default=[],
                        help="an argument for `kefu run`, e.g. --run-arg=--profile "
                             "--run-arg=production (repeat for each)")
    parser.add_argument("--production", action="store_true",
                        help="run Kefu's production profile (PostgreSQL, Redis, RabbitMQ) on a "
                             "throw-away database and queue, removed afterwards")
    parser.add_argument("--replicas", type=int, default=1,
                        help="with --production: replicas of each process behind nginx")
    parser.add_argument("--postgres-admin-url",
                        default="postgresql://postgres@127.0.0.1:5432/postgres",
                        help="with --production: where the throw-away database is made")
    parser.add_argument("--rabbitmq-url", default="amqp://guest:guest@127.0.0.1:5672/",
                        help="with --production: the RabbitMQ server for Rasa's events")
    parser.add_argument("--skip-starter", action="store_true",
                        help="do not run Rasa's starter bot")
    parser.add_argument("--skip-kefu", action="store_true", help="only the starter bot")
    parser.add_argument("--json", type=Path, help="write every figure to this file")
    args = parser.parse_args(argv)
    try:
        args.conversations = per_level(args.conversations, args.levels)
    except ValueError as exc:
        parser.error(str(exc))
    if args.production and (args.url or args.database_url):
        parser.error("--production makes its own database; leave out --url and --database-url")
    if args.replicas != 1 and not args.production:
        parser.error("--replicas needs --production")
    if args.url and not args.database_url:
        parser.error("--url needs --database-url: the messages are checked in its store")
    return args
