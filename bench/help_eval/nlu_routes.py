"""Which intent the trained Rasa model gives each question of a help evaluation set: the
route a question takes before the help centre is asked (only nlu_fallback and out_of_scope
reach it). Runs in the Rasa environment; `python -m bench.help_eval --routes FILE` reads the
file it writes.

    PYTHONPATH=. .venv-rasa/bin/python bench/help_eval/nlu_routes.py [--set test] [--out FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent


async def routes(model: Path, texts: list[str]) -> dict[str, dict]:
    from rasa.core.agent import Agent

    agent = Agent.load(str(model))
    out = {}
    for text in texts:
        parsed = await agent.parse_message(text)
        out[text] = {"intent": parsed["intent"]["name"],
                     "confidence": round(float(parsed["intent"]["confidence"]), 4),
                     "entities": sorted({e["entity"] for e in parsed.get("entities") or []})}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--set", default="test", choices=("test", "dev"))
    parser.add_argument("--model", type=Path, help="default: the newest in models/")
    parser.add_argument("--out", type=Path, default=REPO / "var" / "bench" / "help_routes.json")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    model = args.model or max((REPO / "models").glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
    questions = yaml.safe_load((HERE / f"{args.set}.yml").read_text(encoding="utf-8"))["questions"]
    found = asyncio.run(routes(model, [q["text"] for q in questions]))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"model": model.name, "set": args.set, "routes": found},
                                   indent=1), encoding="utf-8")
    print(f"{len(found)} routes from {model.name} -> {args.out}")


if __name__ == "__main__":
    main()
