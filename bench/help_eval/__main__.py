"""How well the help centre answers, and how often it answers what it should not.

    .venv/bin/python -m bench.help_eval [--set test|dev] [--tune] [--misses] [--folder DIR]

Indexes the demo shop's help articles (demo_shop/help/, or --folder) into a temporary directory
with the real model and FAISS, then asks every question of a labelled set written by a helper
session that saw only the articles' titles, never their text (bench/help_eval/dev.yml and
test.yml): questions with the article that should answer them, and questions no article
answers (shop questions the help centre does not cover, and off-topic ones). Prints:

- answered from the right article: share of answerable questions whose answer came from the
  labelled article (target >= 0.90);
- answered from another article, and not answered (the customer is offered a person);
- unanswerable questions wrongly answered (target <= 0.03);
- latency added per question (embedding the question, FAISS, BM25): p50 and p95, warm.

--tune sweeps the answer threshold on the dev set (never on test, which the README reports)
and prints, per threshold, the right-article share and the wrongly-answered share.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(REPO))

from actions.help_answers import is_question  # noqa: E402
from knowledge.help_service import MIN_SCORE, HelpService  # noqa: E402

HERE = Path(__file__).resolve().parent


def load_set(name: str) -> list[dict]:
    return yaml.safe_load((HERE / f"{name}.yml").read_text(encoding="utf-8"))["questions"]


def score_rows(service: HelpService, questions: list[dict]) -> list[dict]:
    searcher = service.searcher()
    rows = []
    for q in questions:
        started = time.perf_counter()
        ranked = searcher.ranked(q["text"], k=1)
        elapsed = time.perf_counter() - started
        best = ranked[0] if ranked else None
        rows.append({"text": q["text"], "article": q.get("article"),
                     "found": best.slug if best else None,
                     "score": best.dense if best else 0.0, "ms": elapsed * 1000})
    return rows


def figures(rows: list[dict], threshold: float) -> dict:
    answerable = [r for r in rows if r["article"]]
    unanswerable = [r for r in rows if not r["article"]]
    answered = [r for r in answerable if r["score"] >= threshold]
    right = [r for r in answered if r["found"] == r["article"]]
    wrong_answered = [r for r in unanswerable if r["score"] >= threshold]
    return {
        "answerable": len(answerable), "unanswerable": len(unanswerable),
        "right": len(right) / max(len(answerable), 1),
        "other_article": (len(answered) - len(right)) / max(len(answerable), 1),
        "not_answered": (len(answerable) - len(answered)) / max(len(answerable), 1),
        "wrongly_answered": len(wrong_answered) / max(len(unanswerable), 1),
        "ranked_first": sum(r["found"] == r["article"] for r in answerable) / max(len(answerable), 1),
    }


# The intents whose actions ask the help centre (actions/fallback.py), and those that ask it
# only when the message is a question: a question is no suggestion (actions/feedback.py), and
# one read as a wish for news without a topic is no such wish (actions/interests.py).
HELP_ROUTES = ("nlu_fallback", "out_of_scope")


def reaches_help_centre(text: str, route: dict) -> bool:
    intent, entities = route["intent"], route.get("entities") or []
    if intent in HELP_ROUTES:
        return True
    if intent == "feedback" or (intent == "subscribe_interest" and "topic" not in entities):
        return is_question(text)
    return False


def print_through_assistant(rows: list[dict], path: Path, threshold: float) -> None:
    """The same questions through the NLU first: only what it cannot place reaches the help
    centre; the rest is answered by an intent (rightly or not: this set does not say)."""
    import json

    routes = json.loads(path.read_text(encoding="utf-8"))["routes"]
    missing = [r["text"] for r in rows if r["text"] not in routes]
    if missing:
        raise SystemExit(f"{path} has no route for {len(missing)} questions; run nlu_routes.py "
                         "for the same set")
    reach = [r for r in rows if reaches_help_centre(r["text"], routes[r["text"]])]
    answerable = [r for r in rows if r["article"]]
    unanswerable = [r for r in rows if not r["article"]]
    right = [r for r in reach if r["article"] and r["found"] == r["article"]
             and r["score"] >= threshold]
    wrong = [r for r in reach if not r["article"] and r["score"] >= threshold]
    fallback = [r for r in rows if routes[r["text"]]["intent"] == "nlu_fallback"]
    helped = [r for r in fallback if r["score"] >= threshold]
    print(f"through the whole assistant (routes from {path.name}):")
    print(f"  answerable questions the NLU sends to the help centre  "
          f"{sum(1 for r in reach if r['article'])}/{len(answerable)}; "
          f"the rest go to an intent's answer")
    print(f"  answered from the right article                         "
          f"{len(right)}/{len(answerable)} = {len(right) / max(len(answerable), 1):.3f}")
    print(f"  unanswerable questions answered from an article         "
          f"{len(wrong)}/{len(unanswerable)} = {len(wrong) / max(len(unanswerable), 1):.3f}")
    print(f"  questions that fell to nlu_fallback now answered        "
          f"{len(helped)}/{len(fallback)} (the not-understood inbox gets the rest)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--set", default="test", choices=("test", "dev"))
    parser.add_argument("--tune", action="store_true", help="sweep thresholds on dev.yml")
    parser.add_argument("--misses", action="store_true", help="print every miss")
    parser.add_argument("--folder", type=Path, default=REPO / "demo_shop" / "help")
    parser.add_argument("--threshold", type=float, default=MIN_SCORE)
    parser.add_argument("--routes", type=Path,
                        help="the intents bench/help_eval/nlu_routes.py wrote for this set: "
                             "figures through the whole assistant, not the help centre alone")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    with tempfile.TemporaryDirectory() as tmp:
        service = HelpService(Path(tmp), check_interval=3600, min_score=args.threshold)
        report = service.sync(args.folder, progress=True)
        print(report.summary(), file=sys.stderr)
        searcher = service.searcher()
        searcher.ranked("warm up the model")  # the first encode loads kernels
        name = "dev" if args.tune else args.set
        rows = score_rows(service, load_set(name))

    if args.tune:
        print(f"threshold sweep on dev.yml ({len(rows)} questions)")
        print("threshold  right  other  not-answered  unanswerable-answered")
        for step in range(30, 61, 1):
            t = step / 100
            f = figures(rows, t)
            print(f"{t:9.2f}  {f['right']:.3f}  {f['other_article']:.3f}  {f['not_answered']:12.3f}"
                  f"  {f['wrongly_answered']:.3f}")
        return

    f = figures(rows, args.threshold)
    ms = sorted(r["ms"] for r in rows)
    print(f"help centre: {args.folder} ({report.articles} articles, {report.passages} passages); "
          f"set {name}.yml: {f['answerable']} answerable, {f['unanswerable']} unanswerable; "
          f"threshold {args.threshold:.2f}")
    print(f"answered from the right article     {f['right']:.3f}   (target >= 0.90)")
    print(f"answered from another article       {f['other_article']:.3f}")
    print(f"not answered (offered a person)     {f['not_answered']:.3f}")
    print(f"right article ranked first (no threshold) {f['ranked_first']:.3f}")
    print(f"unanswerable wrongly answered       {f['wrongly_answered']:.3f}   (target <= 0.03)")
    print(f"latency per question p50 / p95      {statistics.median(ms):.1f} / "
          f"{ms[int(0.95 * (len(ms) - 1))]:.1f} ms   (target p50 <= 30 ms)")
    if args.routes:
        print_through_assistant(rows, args.routes, args.threshold)
    if args.misses:
        for r in rows:
            ok = (r["article"] and r["found"] == r["article"] and r["score"] >= args.threshold) \
                or (not r["article"] and r["score"] < args.threshold)
            if not ok:
                print(f"  {r['score']:.3f} want {r['article']} got {r['found']}: {r['text']}")


if __name__ == "__main__":
    main()
