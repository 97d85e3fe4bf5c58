"""Product search: dense (embeddings), lexical (BM25) and the two fused, with filters.

Fusion is reciprocal-rank fusion (RRF): each method contributes 1 / (60 + rank). It needs no
score calibration between cosine similarities and BM25 scores, which live on different
scales and shift with the catalog. bench/retrieval_eval.py measures it against each method
alone and against a normalised score mix.

An exact SKU or an exact product name in the query always comes first: a customer who types
the name of the thing wants that thing, not its nearest neighbours.

Misspelled words are corrected against the catalogue's own vocabulary first
(knowledge/spelling.py), and the corrected query feeds every part: BM25, the embedding and the
exact-name rule. Only words the catalogue does not have are ever changed, so SKUs, numbers,
brand and product names the shop sells reach search exactly as typed.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

import numpy as np

from knowledge.catalog import CatalogItem
from knowledge.embedder import Embedder
from knowledge.index_store import ProductIndex
from knowledge.lexical import LexicalIndex
from knowledge.spelling import Speller

logger = logging.getLogger(__name__)

Method = Literal["hybrid", "rrf", "dense", "lexical"]
METHODS: tuple[Method, ...] = ("hybrid", "rrf", "dense", "lexical")
DEFAULT_METHOD: Method = "hybrid"

RRF_K = 60
# How deep each method's ranking goes into the fusion.
CANDIDATES = 50
# The weight of the dense score in the "mix" method (both scores min-max normalised).
MIX_DENSE_WEIGHT = 0.6


@dataclass(frozen=True)
class SearchFilters:
    category: str | None = None
    min_price: Decimal | None = None
    max_price: Decimal | None = None
    in_stock: bool = False

    def __post_init__(self) -> None:
        if self.min_price is not None and self.max_price is not None and self.min_price > self.max_price:
            raise ValueError(
                f"minimum price {self.min_price} is above maximum price {self.max_price}"
            )

    @property
    def active(self) -> bool:
        return bool(
            self.category or self.min_price is not None or self.max_price is not None or self.in_stock
        )

    def accepts(self, item: CatalogItem) -> bool:
        if self.category and item.category.casefold() != self.category.casefold():
            return False
        if self.min_price is not None and item.price < self.min_price:
            return False
        if self.max_price is not None and item.price > self.max_price:
            return False
        return not (self.in_stock and not item.in_stock)


@dataclass(frozen=True)
class SearchHit:
    item: CatalogItem
    # The ranking score of the method used: cosine for dense, BM25 for lexical, fused
    # reciprocal rank scaled so that first place in both rankings is 1.0 for hybrid.
    score: float
    dense: float | None = None
    lexical: float | None = None
    exact: bool = False

    def to_dict(self) -> dict:
        item = self.item
        out = {
            "sku": item.sku,
            "name": item.name,
            "score": round(self.score, 4),
            "category": item.category,
            "price": str(item.price),
            "stock": item.stock,
        }
        if self.dense is not None:
            out["dense"] = round(self.dense, 4)
        if self.lexical is not None:
            out["lexical"] = round(self.lexical, 4)
        if self.exact:
            out["exact"] = True
        return out


def _normalise(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", text.casefold()))


class Searcher:
    """Search over one loaded index. Build once per loaded index; cheap per query."""

    def __init__(self, index: ProductIndex, embedder: Embedder) -> None:
        self.index = index
        self.embedder = embedder
        self.lexical = LexicalIndex([item.lexical_text() for item in index.items])
        # Not the SKU: its letters ("HIK" of HIK-004) are codes, not words a typo was meant as.
        self.speller = Speller((item.embedding_text() for item in index.items), is_word=self._is_word)
        self._sku_position = {item.sku.casefold(): p for p, item in enumerate(index.items)}
        self._names: dict[str, list[int]] = {}
        for p, item in enumerate(index.items):
            self._names.setdefault(_normalise(item.name), []).append(p)
        self._prices = np.array([float(item.price) for item in index.items], dtype=np.float64)
        self._stock = np.array([item.stock for item in index.items], dtype=np.int64)
        self._category_keys = np.array([item.category.casefold() for item in index.items], dtype=object)
        self._longest_name = max((len(name.split()) for name in self._names), default=0)
        self._categories = sorted({item.category for item in index.items})

    @property
    def categories(self) -> list[str]:
        return self._categories

    def _is_word(self, word: str) -> bool:
        # Not a typo although the speller's vocabulary lacks it: a form BM25 folds onto a
        # catalogue word ("jackets"), or a word the model knows whole ("wear", "plane"), which
        # the customer meant as written even if the shop does not use it.
        return self.lexical.knows(word) or self.embedder.is_whole_word(word)

    def corrected(self, query: str) -> str:
        """`query` with its misspelled words corrected (itself when none were)."""
        return self.speller.correct(query)

    def allowed_positions(self, filters: SearchFilters | None) -> np.ndarray | None:
        """Positions that pass the filters (None: no filter), computed on arrays, not items."""
        if filters is None or not filters.active:
            return None
        mask = np.ones(len(self.index), dtype=bool)
        if filters.category:
            mask &= self._category_keys == filters.category.casefold()
        # Decimal -> float is correctly rounded, hence order-preserving; two prices could only
        # compare differently as floats if they agreed to 17 significant digits.
        if filters.min_price is not None:
            mask &= self._prices >= float(filters.min_price)
        if filters.max_price is not None:
            mask &= self._prices <= float(filters.max_price)
        if filters.in_stock:
            mask &= self._stock > 0
        return np.flatnonzero(mask).astype(np.int64)

    def exact_matches(self, query: str) -> list[int]:
        """Positions of products whose SKU or full name appears in the query, best first."""
        found: list[int] = []
        for token in re.findall(r"[\w][\w\-/.]*[\w]|\w", query):
            p = self._sku_position.get(token.casefold())
            if p is not None and p not in found:
                found.append(p)
        # Every run of words in the query, longest first, looked up among the product names:
        # "trail runner gtx" beats "trail runner" when both appear.
        words = _normalise(query).split()
        for length in range(min(len(words), self._longest_name), 0, -1):
            for start in range(len(words) - length + 1):
                positions = self._names.get(" ".join(words[start : start + length]), ())
                found.extend(p for p in positions if p not in found)
        return found

    def search(
        self,
        query: str,
        *,
        k: int = 5,
        filters: SearchFilters | None = None,
        method: Method = DEFAULT_METHOD,
        spelling: bool = True,
    ) -> list[SearchHit]:
        """The `k` best products for `query`; `spelling=False` searches the words as typed."""
        query = query.strip()
        if not query or k <= 0 or not len(self.index):
            return []
        if method not in METHODS:
            raise ValueError(f"unknown search method {method!r}; use one of {', '.join(METHODS)}")
        if spelling:
            corrected = self.corrected(query)
            if corrected != query:
                logger.debug("search %r as %r", query, corrected)
                query = corrected
        allowed = self.allowed_positions(filters)
        if allowed is not None and not len(allowed):
            return []
        allowed_set = None if allowed is None else set(allowed.tolist())
        depth = max(CANDIDATES, k)

        dense: dict[int, float] = {}
        dense_rank: list[int] = []
        if method != "lexical":
            vector = self.embedder.encode_query(query)
            for p, score in self.index.dense_search(vector, depth, allowed):
                dense[p] = score
                dense_rank.append(p)

        lexical: dict[int, float] = {}
        lexical_rank: list[int] = []
        if method != "dense":
            scores = self.lexical.scores(query)
            if allowed is not None:
                masked = np.full_like(scores, -np.inf)
                masked[allowed] = scores[allowed]
                scores = masked
            top = np.argsort(-scores)[:depth]
            for p in top:
                if scores[p] > 0:
                    lexical[int(p)] = float(scores[p])
                    lexical_rank.append(int(p))

        if method == "dense":
            ranked = [(p, dense[p]) for p in dense_rank]
        elif method == "lexical":
            ranked = [(p, lexical[p]) for p in lexical_rank]
        elif method == "rrf":
            ranked = _rrf(dense_rank, lexical_rank)
        else:
            ranked = _mix(dense, lexical, self.lexical.coverage_scale(query))

        # The exact-match rule belongs to the combined methods; "dense" and "lexical" stay pure
        # so that bench/retrieval_eval.py compares like with like.
        exact = []
        if method in ("hybrid", "rrf"):
            exact = [p for p in self.exact_matches(query) if allowed_set is None or p in allowed_set]
        hits = [
            SearchHit(self.index.items[p], 1.0, dense.get(p), lexical.get(p), exact=True)
            for p in exact
        ]
        seen = set(exact)
        for p, score in ranked:
            if len(hits) >= k:
                break
            if p not in seen:
                seen.add(p)
                hits.append(SearchHit(self.index.items[p], score, dense.get(p), lexical.get(p)))
        return hits[:k]


def _rrf(*rankings: list[int]) -> list[tuple[int, float]]:
    fused: dict[int, float] = {}
    for ranking in rankings:
        for rank, p in enumerate(ranking, start=1):
            fused[p] = fused.get(p, 0.0) + 1.0 / (RRF_K + rank)
    best = len([r for r in rankings if r]) / (RRF_K + 1) or 1.0
    return sorted(((p, s / best) for p, s in fused.items()), key=lambda ps: -ps[1])


def _mix(
    dense: dict[int, float], lexical: dict[int, float], lexical_scale: float
) -> list[tuple[int, float]]:
    """Weighted sum of cosine similarity and BM25 divided by the query's full-coverage score.

    Both are absolute scales, not min-max over this query's candidates: min-max would make the
    best of a handful of weak word matches count as much as a product matching every word.
    """
    mixed = {
        p: MIX_DENSE_WEIGHT * dense.get(p, 0.0)
        + (1 - MIX_DENSE_WEIGHT) * min(lexical.get(p, 0.0) / lexical_scale, 1.0)
        for p in set(dense) | set(lexical)
    }
    return sorted(mixed.items(), key=lambda ps: -ps[1])
