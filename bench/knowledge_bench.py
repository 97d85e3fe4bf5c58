"""Exact vs approximate product index: build time, query latency and recall, by catalog size.

    .venv/bin/python bench/knowledge_bench.py [--sizes 1000,10000,100000] [--real 10000]

What each figure is:
- Synthetic products: names and descriptions generated from word lists (seeded, so every run
  indexes the same catalog).
- Embedding throughput: the real all-MiniLM-L6-v2 on this machine's CPU, embedding the first
  `--real` synthetic products (batch 64). Catalogs up to `--real` products are indexed with
  these real embeddings.
- Larger catalogs: embedding 100k products takes minutes on a small CPU, so above `--real`
  the vectors are synthetic: `--synthetic perturbed` (default) adds Gaussian noise (sigma
  0.02 per dimension, cosine about 0.87 to the original) to the real embeddings, so the
  vectors keep a real catalog's cluster structure; `--synthetic random` draws random unit
  vectors, a worst case for HNSW (no structure at all in 384 dimensions). The table says
  which rows are which.
- Build: seconds to add every vector to the index (flat: copy; HNSW: graph construction),
  embedding not included.
- Dense latency: one query at a time (as a customer's question arrives), top 10, after a
  warm-up; p50 and p95 over `--queries` real query embeddings.
- Hybrid latency: the whole `Searcher.search` (dense + BM25 + fusion + exact-name check) with
  the query embedding cached, so it shows what the index size adds on top of embedding the
  query (also measured, once, below the table).
- Recall@10: the share of exact search's top 10 that HNSW also returns.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

import faiss
import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from knowledge import index_store  # noqa: E402
from knowledge.catalog import CatalogItem  # noqa: E402
from knowledge.embedder import get_embedder  # noqa: E402
from knowledge.index_store import ProductIndex, new_faiss_index  # noqa: E402
from knowledge.search import Searcher  # noqa: E402

CATEGORIES = {
    "Hiking & Outdoor": ["rain jacket", "hiking boots", "daypack", "trekking poles", "headlamp", "fleece", "gaiters"],
    "Camping": ["tent", "sleeping bag", "camping stove", "sleeping mat", "lantern", "cool box", "hammock"],
    "Running": ["running shoes", "running vest", "race belt", "running tights", "sports watch"],
    "Cycling": ["bike light", "bike helmet", "cycling gloves", "bike lock", "saddle bag", "bike pump"],
    "Home & Kitchen": ["frying pan", "chef's knife", "kettle", "duvet cover", "cutting board", "coffee grinder"],
    "Electronics": ["headphones", "power bank", "bluetooth speaker", "usb-c charger", "webcam", "e-reader"],
    "Beauty": ["sunscreen", "night cream", "shampoo", "face serum", "lip balm", "hand cream"],
    "Toys & Games": ["building blocks", "board game", "puzzle", "robot kit", "plush toy", "kite"],
    "Office": ["standing desk", "office chair", "notebook", "desk lamp", "paper shredder", "monitor arm"],
    "Pet Supplies": ["dog bed", "cat tree", "pet feeder", "dog lead", "cat toy", "pet carrier"],
    "Fashion": ["jeans", "wool jumper", "linen shirt", "chelsea boots", "raincoat", "scarf"],
    "Fitness": ["yoga mat", "dumbbells", "resistance bands", "foam roller", "kettlebell", "skipping rope"],
}
ADJECTIVES = ["lightweight", "waterproof", "compact", "premium", "recycled", "insulated", "foldable",
              "ergonomic", "durable", "breathable", "quiet", "wireless", "organic", "padded", "adjustable"]
MATERIALS = ["merino wool", "ripstop nylon", "stainless steel", "bamboo", "cotton", "aluminium",
             "recycled polyester", "leather", "cast iron", "silicone", "oak", "down"]
USES = ["long weekends in the hills", "rainy commutes", "small flats", "family trips", "daily training",
        "gifts", "beginners", "cold winter mornings", "festival season", "working from home"]
BRANDS = ["Summit", "Northway", "Cedar", "Atlas", "Kestrel", "Lumen", "Harbor", "Nimbus", "Ridge", "Tundra"]
QUERY_TEMPLATES = ["a {adj} {noun} for {use}", "{noun} made of {mat}", "something {adj} for {use}",
                   "best {noun} under 50", "{adj} {noun}", "I need a {noun} that is {adj}"]


def synthetic_catalog(n: int, seed: int = 7) -> list[CatalogItem]:
    rng = np.random.default_rng(seed)
    categories = list(CATEGORIES)
    items = []
    for i in range(n):
        category = categories[rng.integers(len(categories))]
        noun = CATEGORIES[category][rng.integers(len(CATEGORIES[category]))]
        adj1, adj2 = rng.choice(ADJECTIVES, size=2, replace=False)
        material = MATERIALS[rng.integers(len(MATERIALS))]
        use = USES[rng.integers(len(USES))]
        brand = BRANDS[rng.integers(len(BRANDS))]
        model = int(rng.integers(100, 999))
        items.append(
            CatalogItem(
                sku=f"SYN-{i:06d}",
                name=f"{brand} {adj1.title()} {noun.title()} {model}",
                category=category,
                price=Decimal(int(rng.integers(5, 400))),
                description=f"A {adj1}, {adj2} {noun} in {material}, made for {use}.",
                stock=int(rng.integers(0, 50)),
                tags=(noun, adj1, adj2),
            )
        )
    return items


def synthetic_queries(n: int, seed: int = 11) -> list[str]:
    rng = np.random.default_rng(seed)
    nouns = [noun for nouns in CATEGORIES.values() for noun in nouns]
    return [
        QUERY_TEMPLATES[rng.integers(len(QUERY_TEMPLATES))].format(
            adj=ADJECTIVES[rng.integers(len(ADJECTIVES))], noun=nouns[rng.integers(len(nouns))],
            use=USES[rng.integers(len(USES))], mat=MATERIALS[rng.integers(len(MATERIALS))],
        )
        for _ in range(n)
    ]


def synthetic_vectors(real: np.ndarray, n: int, mode: str, seed: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if mode == "random":
        vectors = rng.standard_normal((n, real.shape[1]), dtype=np.float32)
    else:
        base = real[np.arange(n) % len(real)]
        vectors = base + rng.standard_normal(base.shape, dtype=np.float32) * 0.02
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.ascontiguousarray(vectors, dtype=np.float32)


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values), q))


def time_queries(fn, queries) -> list[float]:
    for q in queries[:10]:  # warm-up
        fn(q)
    out = []
    for q in queries:
        started = time.perf_counter()
        fn(q)
        out.append(1000 * (time.perf_counter() - started))
    return out


def make_index(kind: str, vectors: np.ndarray, items: list[CatalogItem], ef_search: int | None = None):
    faiss.omp_set_num_threads(os.cpu_count() or 1)  # as index_store does for builds
    started = time.perf_counter()
    faiss_index = new_faiss_index(kind, vectors.shape[1])
    ids = np.arange(1, len(vectors) + 1, dtype=np.int64)
    faiss_index.add_with_ids(vectors, ids)
    seconds = time.perf_counter() - started
    meta = {"model": "bench", "dimension": vectors.shape[1], "index_kind": kind, "fingerprint": ""}
    return ProductIndex(meta=meta, faiss_index=faiss_index, items=items, ids=ids), seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--real", type=int, default=10000, help="Embed this many products with the real model.")
    parser.add_argument("--synthetic", choices=("random", "perturbed"), default="perturbed")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--ef", default="64,128,256", help="HNSW efSearch values to measure.")
    parser.add_argument("--json", type=Path, help="Also write the rows to this JSON file.")
    parser.add_argument("--embeddings-cache", type=Path,
                        help="Save the real embeddings here (.npy), or reuse them from an earlier run.")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    sizes = [int(s) for s in args.sizes.split(",")]
    efs = [int(e) for e in args.ef.split(",")]

    embedder = get_embedder(None)
    catalog = synthetic_catalog(max(sizes))
    n_real = min(args.real, max(sizes))
    cache = args.embeddings_cache
    cached_note = ""
    if cache and cache.exists() and len(cached := np.load(cache)) >= n_real:
        # Reusing vectors from an earlier run: the throughput line then repeats that run's figure.
        real = cached[:n_real]
        cached_note = f" [measured when {cache} was made]"
        embed_seconds = float(json.loads(cache.with_suffix(".json").read_text())["seconds"]) * n_real / len(cached)
    else:
        started = time.perf_counter()
        real = embedder.encode([i.embedding_text() for i in catalog[:n_real]], batch_size=64)
        embed_seconds = time.perf_counter() - started
        if cache:
            np.save(cache, real)
            cache.with_suffix(".json").write_text(json.dumps({"seconds": embed_seconds, "count": n_real}))
    query_texts = synthetic_queries(args.queries)
    started = time.perf_counter()
    for text in query_texts[:50]:
        embedder.encode_query(text + " ")  # uncached single-query cost
    query_embed_ms = [1000 * (time.perf_counter() - started) / 50]
    query_vectors = embedder.encode(query_texts)
    for text in query_texts:
        embedder.encode_query(text)  # so hybrid latency below excludes embedding the query

    rows = []
    for size in sizes:
        vectors = real[:size] if size <= n_real else synthetic_vectors(real, size, args.synthetic)
        data = "real" if size <= n_real else args.synthetic
        items = catalog[:size]
        exact, build_exact = make_index("flat", vectors, items)
        exact_top = {}

        def dense_flat(qi, index=exact):
            return index.dense_search(query_vectors[qi], 10)

        lat = time_queries(dense_flat, list(range(len(query_texts))))
        for qi in range(len(query_texts)):
            exact_top[qi] = {p for p, _ in exact.dense_search(query_vectors[qi], 10)}
        searcher = Searcher(exact, embedder)
        hyb = time_queries(lambda t, s=searcher: s.search(t, k=10), query_texts)
        rows.append(dict(size=size, data=data, kind="flat (exact)", build_s=build_exact,
                         p50_ms=percentile(lat, 50), p95_ms=percentile(lat, 95), recall=1.0,
                         hybrid_p50_ms=percentile(hyb, 50), hybrid_p95_ms=percentile(hyb, 95)))
        print(f"  {size}: flat done", file=sys.stderr)

        approx, build_hnsw = make_index("hnsw", vectors, items)
        for ef in efs:
            index_store.HNSW_EF_SEARCH = ef  # dense_search reads it per query

            def dense_hnsw(qi, index=approx):
                return index.dense_search(query_vectors[qi], 10)

            lat = time_queries(dense_hnsw, list(range(len(query_texts))))
            recalls = [
                len({p for p, _ in approx.dense_search(query_vectors[qi], 10)} & exact_top[qi]) / 10
                for qi in range(len(query_texts))
            ]
            searcher = Searcher(approx, embedder)
            hyb = time_queries(lambda t, s=searcher: s.search(t, k=10), query_texts)
            rows.append(dict(size=size, data=data, kind=f"hnsw M={index_store.HNSW_M} ef={ef}",
                             build_s=build_hnsw, p50_ms=percentile(lat, 50), p95_ms=percentile(lat, 95),
                             recall=statistics.mean(recalls), hybrid_p50_ms=percentile(hyb, 50),
                             hybrid_p95_ms=percentile(hyb, 95)))
        print(f"  {size}: hnsw done", file=sys.stderr)

    print(f"Embedding throughput (all-MiniLM-L6-v2, CPU, batch 64): {n_real / embed_seconds:.0f} products/s "
          f"({n_real} synthetic products in {embed_seconds:.1f} s){cached_note}; "
          f"one query (single-threaded): {query_embed_ms[0]:.1f} ms\n")
    print("| products | vectors | index | build | dense p50 | dense p95 | recall@10 | hybrid p50 | hybrid p95 |")
    print("| ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        print(f"| {r['size']:,} | {r['data']} | {r['kind']} | {r['build_s']:.2f} s | {r['p50_ms']:.2f} ms | "
              f"{r['p95_ms']:.2f} ms | {r['recall']:.3f} | {r['hybrid_p50_ms']:.2f} ms | {r['hybrid_p95_ms']:.2f} ms |")
    if args.json:
        args.json.write_text(json.dumps({"embed_per_s": n_real / embed_seconds,
                                         "query_embed_ms": query_embed_ms[0], "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
