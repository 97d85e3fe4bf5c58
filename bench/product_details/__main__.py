"""How well product-detail questions are answered from the catalog's attributes.

    .venv/bin/python -m bench.product_details [--products CSV] [--misses]

Indexes the demo catalog (demo_shop/products.csv with its attribute columns, or --products)
into a temporary directory with the real model and FAISS, then puts every question of
bench/product_details/test.yml through the same choices the product action makes
(actions/products.py): the product (the one shown before, for a follow-up, or the search's
best good hit) and the attribute the question asks about (actions/product_details.py). The
set was written by a helper session that saw only the products' names and the attribute names
(material, colours, sizes, care, dimensions, weight, warranty), never their values or the code.
Prints:

- right product: the answer is about the product the question means;
- right attribute: ... and quotes the attribute the question asks about (the answer);
- no attribute: the question gets the description-based answer instead (not wrong, less
  direct);
- unlisted questions (about something no attribute holds: origin, certifications...)
  answered from an attribute anyway (they should get "I don't see it mentioned").
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

from actions.product_details import attribute_asked  # noqa: E402
from actions.products import SHOW, about_shown, is_good_answer  # noqa: E402
from knowledge.catalog import load_csv  # noqa: E402
from knowledge.service import KnowledgeService  # noqa: E402

HERE = Path(__file__).resolve().parent


def answer(service: KnowledgeService, by_sku: dict, question: dict) -> dict:
    """The product and attribute Kefu's product action would answer `question` with."""
    text = question["text"]
    started = time.perf_counter()
    good = [h for h in service.search(text, k=SHOW * 3) if is_good_answer(h)]
    shown = by_sku.get(question.get("after"))
    if shown is not None and about_shown(text, shown, None, good):
        product = shown
    else:
        product = good[0].item if good else None
    found = attribute_asked(text, product.name, product.attributes) if product else None
    return {"text": text, "sku": question["sku"], "attribute": question.get("attribute"),
            "after": question.get("after"), "product": product.sku if product else None,
            "answered": found.name if found else None,
            "ms": (time.perf_counter() - started) * 1000}


def share(rows: list[dict], test) -> str:
    return f"{sum(1 for r in rows if test(r)) / len(rows):.3f}" if rows else "-"


def report(rows: list[dict], unlisted: list[dict]) -> None:
    right_product = lambda r: r["product"] == r["sku"]  # noqa: E731
    right = lambda r: right_product(r) and r["answered"] == r["attribute"]  # noqa: E731
    direct = [r for r in rows if not r["after"]]
    follow = [r for r in rows if r["after"]]
    print(f"{'':36}{'all':>8}{'named':>8}{'follow-up':>11}")
    for label, test in (("right product", right_product),
                        ("right product, right attribute", right),
                        ("right product, no attribute", lambda r: right_product(r)
                         and r["answered"] is None),
                        ("wrong attribute quoted", lambda r: r["answered"] is not None
                         and not right(r))):
        print(f"{label:36}{share(rows, test):>8}{share(direct, test):>8}"
              f"{share(follow, test):>11}")
    print(f"questions: {len(rows)} ({len(direct)} naming the product, {len(follow)} follow-ups)")
    print(f"unlisted questions answered from an attribute anyway: "
          f"{share(unlisted, lambda r: r['answered'] is not None)} of {len(unlisted)}")
    times = sorted(r["ms"] for r in rows + unlisted)
    print(f"per question (search + choice), ms: p50 {statistics.median(times):.1f}, "
          f"p95 {times[int(0.95 * (len(times) - 1))]:.1f}")
    print("per attribute (right product and attribute / questions):")
    for attribute in sorted({r["attribute"] for r in rows}):
        of = [r for r in rows if r["attribute"] == attribute]
        print(f"  {attribute:12} {sum(1 for r in of if right(r))}/{len(of)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--products", type=Path, default=REPO / "demo_shop" / "products.csv")
    parser.add_argument("--set", type=Path, default=HERE / "test.yml")
    parser.add_argument("--misses", action="store_true", help="list every wrong answer")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    data = yaml.safe_load(args.set.read_text(encoding="utf-8"))
    items = load_csv(args.products)
    by_sku = {i.sku: i for i in items}
    with tempfile.TemporaryDirectory() as tmp:
        service = KnowledgeService(Path(tmp) / "knowledge")
        service.build(items, source="bench")
        answer(service, by_sku, data["questions"][0])  # warm: model and index loaded
        rows = [answer(service, by_sku, q) for q in data["questions"]]
        unlisted = [answer(service, by_sku, {**q, "attribute": None})
                    for q in data["unlisted"]]
    report(rows, unlisted)
    if args.misses:
        for r in rows:
            if r["product"] != r["sku"] or r["answered"] != r["attribute"]:
                print(f"  MISS {r['text']!r}: wanted {r['sku']}/{r['attribute']}, "
                      f"got {r['product']}/{r['answered']}")
        for r in unlisted:
            if r["answered"]:
                print(f"  UNLISTED {r['text']!r}: {r['product']}/{r['answered']}")


if __name__ == "__main__":
    main()
