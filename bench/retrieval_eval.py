"""How well product search finds what customers ask for: dense vs lexical vs combined.

Builds a fresh index of the demo catalog in a temporary directory (the real model, the real
FAISS index, nothing cached), runs every labelled query through each search method and prints
hit@1, hit@5 and MRR@10:

    .venv/bin/python bench/retrieval_eval.py [--misses] [--json] [--typos SEED] [--no-spelling]

--typos SEED: every query gets one or two random letter edits first (the same edits as the NLU
bench's typo'd copy, bench/nlu_eval_sets.add_typos), as customers type; --no-spelling turns off
the correction of query words against the catalogue's own words (knowledge/spelling.py), to
see what it adds.

hit@n: the share of queries with at least one relevant product in the top n.
MRR@10: the mean of 1/rank of the first relevant product (0 when none is in the top 10).
Methods: hybrid (the default: cosine and BM25 mixed, exact SKUs and names first), rrf
(reciprocal-rank fusion of the two rankings, same exact-match rule), dense and lexical alone.
Latency is measured by bench/knowledge_bench.py.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.nlu_eval_sets import add_typos  # noqa: E402
from knowledge.catalog import load_csv  # noqa: E402
from knowledge.search import METHODS  # noqa: E402
from knowledge.service import KnowledgeService  # noqa: E402


def load_queries(path: Path, skus: set[str]) -> list[dict]:
    queries = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        row = json.loads(line)
        unknown = [s for s in row["relevant"] if s not in skus]
        if unknown:
            raise SystemExit(f"{path}:{number}: relevant SKUs not in the catalog: {unknown}")
        queries.append(row)
    return queries


def evaluate(service: KnowledgeService, queries: list[dict], method: str,
             spelling: bool = True) -> dict:
    hit1 = hit5 = 0
    reciprocal: list[float] = []
    misses = []
    searcher = service.searcher()
    for row in queries:
        hits = searcher.search(row["query"], k=10, method=method, spelling=spelling)
        ranked = [h.item.sku for h in hits]
        relevant = set(row["relevant"])
        first = next((rank for rank, sku in enumerate(ranked, start=1) if sku in relevant), None)
        hit1 += first == 1
        hit5 += first is not None and first <= 5
        reciprocal.append(1.0 / first if first else 0.0)
        if first != 1:
            misses.append({"query": row["query"], "relevant": row["relevant"], "rank": first, "top3": ranked[:3]})
    n = len(queries)
    return {
        "method": method,
        "hit@1": hit1 / n,
        "hit@5": hit5 / n,
        "mrr@10": sum(reciprocal) / n,
        "misses": misses,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--products", type=Path, default=REPO / "demo_shop" / "products.csv")
    parser.add_argument("--queries", type=Path, default=REPO / "bench" / "retrieval_queries.jsonl")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--misses", action="store_true", help="List the queries each method misses at rank 1.")
    parser.add_argument("--json", action="store_true", help="Print the results as JSON.")
    parser.add_argument("--typos", type=int, metavar="SEED", help="Misspell every query first.")
    parser.add_argument("--no-spelling", action="store_true", help="Do not correct query words.")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    items = load_csv(args.products)
    queries = load_queries(args.queries, {i.sku for i in items})
    if args.typos is not None:
        queries = [{**row, "query": add_typos(row["query"], seed=args.typos)} for row in queries]
    with tempfile.TemporaryDirectory() as tmp:
        service = KnowledgeService(Path(tmp))
        service.build(items, source=f"csv:{args.products}")
        results = [evaluate(service, queries, m, spelling=not args.no_spelling)
                   for m in args.methods.split(",")]

    if args.json:
        print(json.dumps(results, indent=1))
        return
    print(f"{len(queries)} labelled queries over {len(items)} products ({args.products.name})\n")
    print("| method | hit@1 | hit@5 | MRR@10 |")
    print("| --- | ---: | ---: | ---: |")
    for r in results:
        print(f"| {r['method']} | {r['hit@1']:.3f} | {r['hit@5']:.3f} | {r['mrr@10']:.3f} |")
    if args.misses:
        for r in results:
            print(f"\n{r['method']}: {len(r['misses'])} queries without a relevant product at rank 1")
            for miss in r["misses"]:
                print(f"  rank {miss['rank']}: {miss['query']!r} wants {miss['relevant']}, got {miss['top3']}")


if __name__ == "__main__":
    main()
