"""Personalised recommendations from a customer's interests and purchases.

Signals, strongest first:
- interests the customer stated in chat, then imported ones, then ones inferred from
  purchases and questions, each scaled by its own weight;
- the products they bought ("goes with the Trail Runner shoes you bought"), with near
  duplicates of the bought product held back, since a second pair of the same shoes is
  rarely what they want next;
- the categories they bought from.

A product's score is its best weighted cosine similarity to any signal, and that signal gives
the reason shown to the customer. A free-text request ("a gift for my dad who runs") leads the
ranking when given; interests then only break ties. Bought and out-of-stock products, and
those outside the budget or category, are never shown. Results are diversified with maximal
marginal relevance and a per-category cap, so five tents never fill five slots; the cap gives
way only when no other category has anything relevant.

A customer with no signals gets the most ordered products; a shop with no orders yet gets a
spread across categories.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

import numpy as np

from knowledge.catalog import CatalogItem
from knowledge.search import MIX_DENSE_WEIGHT, Searcher, SearchFilters

SOURCE_WEIGHT = {"stated": 1.0, "imported": 0.85, "purchase": 0.75, "inferred": 0.7}
BOUGHT_PRODUCT_WEIGHT = 0.65
BOUGHT_CATEGORY_WEIGHT = 0.4
# A product this similar to one they bought is a substitute (a second pair of the same
# shoes), not something that goes with it; its score from that purchase is scaled down.
SUBSTITUTE_SIMILARITY = 0.75
SUBSTITUTE_PENALTY = 0.5
# Below this cosine similarity a signal does not explain a product; showing it "because
# you're interested in hiking" would be a lie.
MIN_SIMILARITY = 0.3
MMR_LAMBDA = 0.75
# Only products scoring at least this share of the best one compete for variety's sake.
DIVERSITY_FLOOR = 0.5
CANDIDATES_PER_SIGNAL = 40
RECENT_PURCHASES = 5


@dataclass(frozen=True)
class Interest:
    topic: str
    source: str = "stated"  # stated | imported | inferred
    weight: float = 1.0


@dataclass(frozen=True)
class CustomerProfile:
    """What recommendations know about a customer; built from crm_store or by hand."""

    interests: tuple[Interest, ...] = ()
    # SKUs bought, most recent first.
    bought: tuple[str, ...] = ()


@dataclass(frozen=True)
class Recommendation:
    item: CatalogItem
    score: float
    reason: str

    def to_dict(self) -> dict:
        return {
            "sku": self.item.sku,
            "name": self.item.name,
            "category": self.item.category,
            "price": str(self.item.price),
            "score": round(self.score, 4),
            "reason": self.reason,
        }


@dataclass(frozen=True)
class _Signal:
    vector: np.ndarray
    weight: float
    reason: str
    query: str | None = None  # text to retrieve candidates with (None: vector only)
    bought: bool = False  # the vector is a purchased product's


def recommend(
    searcher: Searcher,
    profile: CustomerProfile | None = None,
    *,
    k: int = 5,
    max_price: Decimal | None = None,
    min_price: Decimal | None = None,
    category: str | None = None,
    occasion: str | None = None,
    popular: Sequence[str] = (),
) -> list[Recommendation]:
    """Up to `k` in-stock products the customer has not bought, each with a reason (empty for
    a product that fits a request by meaning only, with none of its words).

    `popular` lists SKUs most ordered first; it fills the list for customers without signals.
    """
    if k <= 0 or not len(searcher.index):
        return []
    profile = profile or CustomerProfile()
    index = searcher.index
    filters = SearchFilters(category=category, min_price=min_price, max_price=max_price, in_stock=True)
    allowed = searcher.allowed_positions(filters)
    bought = [index.by_sku[sku] for sku in profile.bought if sku in index.by_sku]
    allowed = allowed[~np.isin(allowed, bought)]
    if not len(allowed):
        return []

    signals = _signals(searcher, profile)
    request = None
    if occasion and occasion.strip():
        occasion = occasion.strip()
        # The reason is filled per product (the request's words it has), never the request
        # itself: "matches “something for my dad who…”" only repeats the customer.
        request = _Signal(searcher.embedder.encode_query(occasion), 1.0, "", occasion)

    scored = _score(searcher, allowed, signals, request) if (signals or request) else {}
    picked = _diversify(searcher, scored, k, cap_categories=category is None)
    if len(picked) < k and request is None:
        picked += _fallback(searcher, allowed, popular, k - len(picked), exclude={r.item.sku for r in picked})
    return picked


def _signals(searcher: Searcher, profile: CustomerProfile) -> list[_Signal]:
    embedder = searcher.embedder
    signals: list[_Signal] = []
    best: dict[str, Interest] = {}
    for interest in profile.interests:
        topic = interest.topic.strip()
        if not topic:
            continue
        key = topic.casefold()
        if key not in best or _interest_weight(interest) > _interest_weight(best[key]):
            best[key] = interest
    for interest in best.values():
        topic = interest.topic.strip()
        signals.append(
            _Signal(
                embedder.encode_query(topic),
                _interest_weight(interest),
                f"because you're interested in {topic}",
                topic,
            )
        )
    bought_categories: list[str] = []
    for rank, sku in enumerate(profile.bought[:RECENT_PURCHASES]):
        position = searcher.index.by_sku.get(sku)
        if position is None:
            continue  # no longer in the catalog
        item = searcher.index.items[position]
        signals.append(
            _Signal(
                searcher.index.vectors([position])[0],
                BOUGHT_PRODUCT_WEIGHT * (0.95**rank),
                f"goes with the {item.name} you bought",
                bought=True,
            )
        )
        if item.category and item.category not in bought_categories:
            bought_categories.append(item.category)
    for category in bought_categories:
        signals.append(
            _Signal(
                embedder.encode_query(category),
                BOUGHT_CATEGORY_WEIGHT,
                f"more {category}, which you've bought before",
                category,
            )
        )
    return signals


def _interest_weight(interest: Interest) -> float:
    return SOURCE_WEIGHT.get(interest.source, SOURCE_WEIGHT["inferred"]) * max(
        0.1, min(float(interest.weight), 1.0)
    )


def _score(
    searcher: Searcher, allowed: np.ndarray, signals: list[_Signal], request: _Signal | None
) -> dict[int, tuple[float, str]]:
    """Candidate position -> (score, reason)."""
    index = searcher.index
    candidates: set[int] = set()
    allowed_set = set(allowed.tolist())
    for signal in [*signals, *([request] if request else [])]:
        candidates.update(p for p, _ in index.dense_search(signal.vector, CANDIDATES_PER_SIGNAL, allowed))
        if signal.query:
            # BM25 catches products tagged with the exact word ("hiking") that the model ranks lower.
            scores = searcher.lexical.scores(signal.query)
            top = np.argsort(-scores)[: CANDIDATES_PER_SIGNAL * 2]
            candidates.update(int(p) for p in top if scores[p] > 0 and int(p) in allowed_set)
    if not candidates:
        return {}
    positions = sorted(candidates)
    vectors = index.vectors(positions)

    def similarity(signal: _Signal) -> np.ndarray:
        sims = vectors @ signal.vector
        if signal.bought:
            sims = np.where(sims > SUBSTITUTE_SIMILARITY, sims * SUBSTITUTE_PENALTY, sims)
        return sims

    # A signal explains a product only when the product is close to it; the signal's weight
    # then decides which explanation, and which product, ranks first.
    if signals:
        raw = np.stack([similarity(s) for s in signals])
        weights = np.array([s.weight for s in signals])[:, None]
        weighted = np.where(raw >= MIN_SIMILARITY, raw * weights, -np.inf)
    if request is not None:
        # The request is ranked the way search ranks it (cosine mixed with BM25 coverage), so
        # "coffee" in "a present for my dad who loves coffee" counts as a word, not just a mood.
        cosine = vectors @ request.vector
        coverage = np.minimum(
            searcher.lexical.scores(request.query or "")[positions]
            / searcher.lexical.coverage_scale(request.query or ""),
            1.0,
        )
        request_score = MIX_DENSE_WEIGHT * cosine + (1 - MIX_DENSE_WEIGHT) * coverage
    out: dict[int, tuple[float, str]] = {}
    for row, p in enumerate(positions):
        best = int(np.argmax(weighted[:, row])) if signals else -1
        explained = signals and np.isfinite(weighted[best, row])
        if request is not None:
            if cosine[row] < MIN_SIMILARITY:
                continue
            score = float(request_score[row])
            reasons = [_matching(searcher.lexical.matched_words(request.query or "", p))]
            if explained:
                score *= 1.0 + 0.3 * float(weighted[best, row])
                reasons.append(signals[best].reason)
            out[p] = (score, ", ".join(r for r in reasons if r))
        elif explained:
            out[p] = (float(weighted[best, row]), signals[best].reason)
    return out


def _matching(words: list[str]) -> str:
    """'matches “waterproof” and “hiking”'; '' when the product shares no word with the request
    (a match by meaning alone: better no reason than a made-up one)."""
    if not words:
        return ""
    quoted = [f"“{w}”" for w in words]
    return "matches " + (quoted[0] if len(quoted) == 1 else
                         ", ".join(quoted[:-1]) + " and " + quoted[-1])


def _diversify(
    searcher: Searcher, scored: dict[int, tuple[float, str]], k: int, *, cap_categories: bool
) -> list[Recommendation]:
    if not scored:
        return []
    index = searcher.index
    positions = sorted(scored, key=lambda p: -scored[p][0])[: max(k * 8, 40)]
    vectors = index.vectors(positions)
    cap = max(1, math.ceil(k / 2)) if cap_categories else k
    per_category: dict[str, int] = {}
    chosen: list[int] = []
    max_sim = np.full(len(positions), -1.0)
    remaining = set(range(len(positions)))
    # First pass: within the category cap, among products nearly as good as the best, so a
    # weak guess does not displace a strong match just for variety. Second pass: fill what the
    # cap left empty with the remaining candidates (all relevant: they passed MIN_SIMILARITY).
    floor = DIVERSITY_FLOOR * scored[positions[0]][0]
    for limit, minimum in ((cap, floor), (k, -math.inf)):
        while remaining and len(chosen) < k:
            best_row, best_value = None, -math.inf
            for row in remaining:
                if per_category.get(index.items[positions[row]].category, 0) >= limit:
                    continue
                if scored[positions[row]][0] < minimum:
                    continue
                redundancy = max(max_sim[row], 0.0) if chosen else 0.0
                value = MMR_LAMBDA * scored[positions[row]][0] - (1 - MMR_LAMBDA) * redundancy
                if value > best_value:
                    best_row, best_value = row, value
            if best_row is None:
                break  # nothing left that this pass may take
            remaining.discard(best_row)
            chosen.append(best_row)
            category = index.items[positions[best_row]].category
            per_category[category] = per_category.get(category, 0) + 1
            max_sim = np.maximum(max_sim, vectors @ vectors[best_row])
    return [
        Recommendation(index.items[positions[r]], scored[positions[r]][0], scored[positions[r]][1])
        for r in chosen
    ]


def _fallback(
    searcher: Searcher, allowed: np.ndarray, popular: Sequence[str], n: int, *, exclude: set[str]
) -> list[Recommendation]:
    """Popular products first; with no order history, one product per category."""
    index = searcher.index
    allowed_set = set(allowed.tolist())
    out: list[Recommendation] = []
    for rank, sku in enumerate(popular):
        p = index.by_sku.get(sku)
        if p is None or p not in allowed_set or sku in exclude:
            continue
        out.append(Recommendation(index.items[p], 1.0 / (rank + 1), "popular with other customers"))
        exclude.add(sku)
        if len(out) >= n:
            return out
    # No (more) order history: a spread across categories, best stocked first.
    by_category: dict[str, list[int]] = {}
    for p in sorted(allowed_set, key=lambda p: -index.items[p].stock):
        by_category.setdefault(index.items[p].category, []).append(p)
    while len(out) < n and any(by_category.values()):
        for category in sorted(by_category):
            if not by_category[category] or len(out) >= n:
                continue
            item = index.items[by_category[category].pop(0)]
            if item.sku in exclude:
                continue
            exclude.add(item.sku)
            out.append(Recommendation(item, 0.0, f"from our {category} range"))
    return out
