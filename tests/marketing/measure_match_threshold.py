"""Measures the cosine similarity between customers' interest topics and products, to choose
policy/shop.yml `marketing.match_threshold` for new-product notifications.

Run: HF_HUB_OFFLINE=1 .venv/bin/python -m tests.marketing.measure_match_threshold

For every interest topic held by demo customers, it scores every demo product (the same text
the product index embeds) and splits the scores by whether the product's category is the one
the topic belongs to (TOPIC_CATEGORY, by hand). A good threshold lets most matching pairs
through and almost no others.
"""

from __future__ import annotations

import csv
from decimal import Decimal

import numpy as np

from kefu_config.settings import REPO_ROOT, get_settings
from knowledge.catalog import CatalogItem
from knowledge.embedder import get_embedder

TOPIC_CATEGORY = {
    "hiking": "Hiking & Outdoor", "camping": "Camping", "running": "Running",
    "cycling": "Cycling", "coffee": "Food & Drink", "cooking": "Home & Kitchen",
    "gardening": "Garden", "books": "Books", "reading": "Books", "fitness": "Sports & Fitness",
    "yoga": "Sports & Fitness", "pets": "Pet Supplies", "dogs": "Pet Supplies",
    "photography": "Electronics", "skincare": "Beauty & Personal Care",
    "gaming": "Toys & Games",
}


def main() -> None:
    shop = REPO_ROOT / "demo_shop"
    with (shop / "products.csv").open(encoding="utf-8") as fh:
        items = [CatalogItem(sku=r["sku"], name=r["name"], category=r["category"],
                             price=Decimal(r["price"]), description=r["description"],
                             tags=tuple(t for t in r["tags"].split(";") if t))
                 for r in csv.DictReader(fh)]
    with (shop / "customers.csv").open(encoding="utf-8") as fh:
        topics = sorted({t.strip().lower() for r in csv.DictReader(fh)
                         for t in r["interests"].split(";") if t.strip()})
    topics = [t for t in topics if t in TOPIC_CATEGORY]
    embedder = get_embedder(get_settings().embedding_model)
    products = embedder.encode([i.embedding_text() for i in items])
    same, other = [], []
    for topic in topics:
        scores = products @ embedder.encode_query(topic)
        for item, score in zip(items, scores, strict=True):
            (same if item.category == TOPIC_CATEGORY[topic] else other).append(float(score))
    same_a, other_a = np.array(same), np.array(other)
    print(f"topics {len(topics)}: {', '.join(topics)}; products {len(items)}")
    print(f"matching pairs {len(same_a)}: median {np.median(same_a):.3f}, "
          f"p10 {np.percentile(same_a, 10):.3f}")
    print(f"other pairs {len(other_a)}: median {np.median(other_a):.3f}, "
          f"p99 {np.percentile(other_a, 99):.3f}, max {other_a.max():.3f}")
    for threshold in (0.30, 0.35, 0.40, 0.45, 0.50):
        print(f"threshold {threshold:.2f}: matching kept {np.mean(same_a >= threshold):.1%}, "
              f"other kept {np.mean(other_a >= threshold):.2%}")


if __name__ == "__main__":
    main()
