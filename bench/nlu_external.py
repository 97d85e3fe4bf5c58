"""Score a trained Rasa model on customer messages that nobody who wrote data/nlu wrote.

Run in the Rasa environment from the repository root (`make train` first, or pass --model):

    .venv-rasa/bin/python bench/nlu_external.py [--model models/X.tar.gz] [--json OUT]
                                               [--typo-seed N] [--errors]

Every message of every bench/nlu_external/*.jsonl file (written by authors who never saw
data/, for evaluation only; the format is in bench/nlu_eval_sets.py) is parsed by the model as
the Rasa server would, then again as a typo'd copy (one or two random letter edits per message,
never inside an order number, email or ticket reference; fixed --typo-seed). Printed, for all
sets together and per file: accuracy, macro-F1 over the in-domain intents, small talk accuracy,
off-topic caught (out_of_scope or nlu_fallback), in-domain messages sent to nlu_fallback,
entity recall, a per-intent table, and issue 14's targets marked met / not met.

Before anything is scored the script refuses (exit 2, with the lines at fault) when an
evaluation text is also a training example in data/nlu/*.yml or bench/nlu_split/training_data.yml,
or when a line of a set is not valid (--training-root: the checkout the model was trained from,
when that is not this one). The only exception is bench/nlu_external/known_overlap.txt,
common messages ("hi", "yes") that were training examples before the sets were written: they are
scored, and the "unseen" column leaves them out.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
import time
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
sys.path.insert(0, str(REPO))

from bench.nlu_eval_sets import (  # noqa: E402
    EVAL_DIR,
    FALLBACK,
    IDENTIFIERS,
    OUT_OF_SCOPE,
    TRAINING_PATHS,
    add_typos,
    check_targets,
    domain_intents,
    eval_files,
    find_leaks,
    in_training,
    load_eval_sets,
    score,
)

ALL = "all"
UNSEEN = "unseen"


def newest_model() -> Path | None:
    models = sorted((REPO / "models").glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
    return models[-1] if models else None


async def predict(model_path: Path, texts: list[str]) -> list[dict]:
    from rasa.core.agent import Agent

    agent = Agent.load(str(model_path))
    predictions = []
    for text in texts:
        parsed = await agent.parse_message(text)
        ranking = [r for r in parsed.get("intent_ranking") or [] if r["name"] != FALLBACK]
        predictions.append({
            "intent": (parsed.get("intent") or {}).get("name") or FALLBACK,
            "confidence": (parsed.get("intent") or {}).get("confidence"),
            "classifier": ranking[0]["name"] if ranking else FALLBACK,
            "classifier_confidence": ranking[0]["confidence"] if ranking else 0.0,
            "entities": [(e["entity"], str(e.get("value"))) for e in parsed.get("entities") or []],
        })
    return predictions


def fmt(value, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(row[i])) for row in [header] + rows) for i in range(len(header))]
    line = lambda row: "| " + " | ".join(str(c).ljust(w) for c, w in zip(row, widths)) + " |"  # noqa: E731
    return "\n".join([line(header), "| " + " | ".join("-" * w for w in widths) + " |"] + [line(r) for r in rows])


SUMMARY = (
    ("messages", "messages", lambda r: str(r["messages"])),
    ("intent accuracy", "accuracy", None),
    ("macro-F1, in-domain intents", "macro_f1", None),
    ("classifier accuracy (top intent past fallback)", "classifier_accuracy", None),
    ("small talk accuracy", "small_talk_accuracy",
     lambda r: f"{fmt(r['small_talk_accuracy'])} (n={r['small_talk_messages']})"),
    ("off-topic caught (out_of_scope or fallback)", "off_topic_caught",
     lambda r: f"{fmt(r['off_topic_caught'])} (n={r['off_topic_messages']})"),
    ("in-domain sent to nlu_fallback", "in_domain_to_fallback",
     lambda r: f"{fmt(r['in_domain_to_fallback'])} (n={r['in_domain_messages']})"),
    ("in-domain predicted out_of_scope", "in_domain_to_out_of_scope", None),
) + tuple(
    (f"{name} recall", name,
     (lambda name: lambda r: (f"{fmt(r['entities'][name]['recall'])} "
                              f"({r['entities'][name]['found']}/{r['entities'][name]['total']})"))(name))
    for name in IDENTIFIERS
)


def summary_rows(results: dict, columns: list[str]) -> list[list[str]]:
    rows = []
    for label, key, render in SUMMARY:
        render = render or (lambda r, key=key: fmt(r[key]))
        rows.append([label] + [render(results[c]) for c in columns])
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, help="a trained model (default: the newest models/*.tar.gz)")
    parser.add_argument("--json", type=Path, help="also write every figure and prediction to this file")
    parser.add_argument("--typo-seed", type=int, default=2026, help="seed of the typo'd copy (default 2026)")
    parser.add_argument("--errors", action="store_true", help="list every misunderstood message")
    parser.add_argument("--training-root", type=Path, default=REPO,
                        help="the checkout the model was trained from, whose data/nlu and "
                             "bench/nlu_split/training_data.yml the leak guard reads (default: this one)")
    args = parser.parse_args(argv)

    files = eval_files()
    if not files:
        print(f"no evaluation sets in {EVAL_DIR.relative_to(REPO)}/*.jsonl", file=sys.stderr)
        return 2
    examples, problems = load_eval_sets(files, domain_intents())
    if problems:
        print(f"{len(problems)} invalid lines in the evaluation sets; nothing scored:", file=sys.stderr)
        print("\n".join(f"  {p}" for p in problems), file=sys.stderr)
        return 2
    training = [args.training_root / p for p in TRAINING_PATHS]
    leaks = find_leaks(examples, training)
    if leaks:
        print(f"{len(leaks)} evaluation messages are also training examples "
              f"({', '.join(map(str, training))}); an evaluation set "
              f"must never be trained on. Nothing scored:", file=sys.stderr)
        print("\n".join(f"  {leak}" for leak in leaks), file=sys.stderr)
        return 2
    model = args.model or newest_model()
    if model is None or not Path(model).exists():
        print("no trained model: run `make train` or pass --model", file=sys.stderr)
        return 2

    from rasa.utils.common import configure_logging_and_warnings
    from rasa.utils.log_utils import configure_structlog

    configure_logging_and_warnings(logging.ERROR)
    configure_structlog(logging.ERROR)
    warnings.filterwarnings("ignore")

    typo_texts = [add_typos(e.text, e.entities.values(), args.typo_seed) for e in examples]
    unchanged = sum(t == e.text for t, e in zip(typo_texts, examples))
    started = time.perf_counter()
    predictions = asyncio.run(predict(Path(model), [e.text for e in examples] + typo_texts))
    seconds = time.perf_counter() - started
    clean_pred, typo_pred = predictions[:len(examples)], predictions[len(examples):]

    sources = sorted({e.source for e in examples})
    seen = in_training(examples, training)  # only known_overlap.txt's texts, or find_leaks would have refused
    columns = [ALL, UNSEEN] + sources
    picks = {ALL: list(range(len(examples))), UNSEEN: [i for i, s in enumerate(seen) if not s]}
    picks.update({s: [i for i, e in enumerate(examples) if e.source == s] for s in sources})
    results = {
        column: {
            "clean": score([examples[i] for i in idx], [clean_pred[i] for i in idx]),
            "typos": score([examples[i] for i in idx], [typo_pred[i] for i in idx]),
        }
        for column, idx in picks.items()
    }

    print(f"# {Path(model).name}: {len(examples)} messages in {len(sources)} sets "
          f"({', '.join(f'{s} {len(picks[s])}' for s in sources)}), "
          f"{len(examples) * 2} parses in {seconds:.0f} s; typo seed {args.typo_seed} "
          f"({unchanged} messages without an editable letter left as they are)")
    print(f"# {sum(seen)} messages are also training examples that predate the sets "
          f"(bench/nlu_external/known_overlap.txt); column \"{UNSEEN}\" leaves them out.")
    print("# nlu_fallback counts as out_of_scope (\"not answered\") in accuracy and the per-intent table.")
    for part, title in (("clean", "As written"), ("typos", "With 1-2 typos per message")):
        print(f"\n## {title}\n")
        print(table(["metric"] + columns, summary_rows({c: results[c][part] for c in columns}, columns)))

    print("\n## Issue 14's targets (all sets together)\n")
    targets = check_targets(results[ALL]["clean"], results[ALL]["typos"])
    print(table(["target", "figure", "target value", "met"],
                [[what, figure, target, {True: "met", False: "NOT MET", None: "n/a"}[met]]
                 for what, figure, target, met in targets]))

    print("\n## Per intent (all sets; out_of_scope row includes nlu_fallback)\n")
    clean_all, typo_all = results[ALL]["clean"]["per_intent"], results[ALL]["typos"]["per_intent"]
    rows = []
    for intent in sorted(set(clean_all) | set(typo_all), key=lambda i: (i == OUT_OF_SCOPE, i)):
        c, t = clean_all.get(intent, {}), typo_all.get(intent, {})
        rows.append([intent, fmt(c.get("precision")), fmt(c.get("recall")), fmt(c.get("f1")),
                     str(c.get("support", 0))]
                    + [fmt(results[s]["clean"]["per_intent"].get(intent, {}).get("f1")) for s in sources]
                    + [fmt(t.get("f1"))])
    print(table(["intent", "precision", "recall", "F1", "support"] + [f"F1 {s}" for s in sources]
                + ["F1 typos"], rows))

    if args.errors:
        print("\n## Misunderstood messages (gold -> deployed intent [classifier's top intent])\n")
        for e, p in zip(examples, clean_pred):
            said = OUT_OF_SCOPE if p["intent"] == FALLBACK else p["intent"]
            if said != e.intent:
                print(f"  {e.source}:{e.line} {e.text!r}: {e.intent} -> {p['intent']} [{p['classifier']}]")

    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({
            "model": Path(model).name,
            "typo_seed": args.typo_seed,
            "sets": {s: len(picks[s]) for s in sources},
            "results": results,
            "targets": [{"target": w, "figure": f, "value": v, "met": m} for w, f, v, m in targets],
            "messages": [
                {"source": e.source, "line": e.line, "text": e.text, "intent": e.intent, "register": e.register,
                 "entities": e.entities, "in_training": s, "predicted": p["intent"], "classifier": p["classifier"],
                 "confidence": p["confidence"], "predicted_entities": p["entities"],
                 "typo_text": t, "typo_predicted": tp["intent"], "typo_classifier": tp["classifier"]}
                for e, s, p, t, tp in zip(examples, seen, clean_pred, typo_texts, typo_pred)
            ],
        }, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"\nWritten: {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
