"""The lexical half of search: BM25 over name, category, description, tags and SKU.

Embeddings blur rare words, model numbers and SKUs together; BM25 keeps them sharp.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

import numpy as np

_POSSESSIVE = re.compile(r"['’]s\b")
_WORD = re.compile(r"[a-z0-9]+(?:[-_/.][a-z0-9]+)*")

# Words that say nothing about a product but appear in most questions.
STOPWORDS = frozenset(
    """a an and any are as at be but by can could do does for from get got have i i'm in is it
    its looking me my need of on or please some something that the this to want we what which
    with would you your our show find buy any there one ones good best""".split()
)


def _stem(word: str) -> str:
    # A deliberately light plural folding ("jackets" -> "jacket", "boxes" -> "box"): enough for
    # shop vocabulary without a stemming library.
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith(("ches", "shes", "sses", "xes")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def tokenize(text: str) -> list[str]:
    """Lower-case word tokens; a hyphenated code like `HK-JKT-01` also yields its parts."""
    tokens: list[str] = []
    # "men's" and "mens" are the same word to a shopper; "don't" is one word.
    text = _POSSESSIVE.sub("", text.lower()).replace("'", "").replace("’", "")
    for match in _WORD.finditer(text):
        word = match.group()
        parts = re.split(r"[-_/.]", word)
        if len(parts) > 1:
            tokens.append(word)  # the whole code, so an exact SKU scores highest
            # Only the wordy parts of a code: "004" alone would match every SKU ending so.
            parts = [p for p in parts if not p.isdigit()]
        for part in parts:
            if part and part not in STOPWORDS:
                tokens.append(_stem(part))
    return tokens


class LexicalIndex:
    """Okapi BM25 (k1 1.5, b 0.75, idf floor as in rank-bm25) over an inverted index.

    Scores equal rank-bm25's `BM25Okapi.get_scores` (a test checks), but a query touches only
    the postings of its own terms instead of every document, which keeps a 100k-product
    catalog at a few milliseconds per query instead of a hundred.
    """

    K1 = 1.5
    B = 0.75
    EPSILON = 0.25

    def __init__(self, documents: Sequence[str]) -> None:
        self.size = len(documents)
        tokenized = [tokenize(d) for d in documents]
        lengths = np.array([len(t) for t in tokenized], dtype=np.float64)
        average = float(lengths.mean()) if self.size and lengths.sum() else 1.0
        norm = self.K1 * (1 - self.B + self.B * lengths / average)
        postings: dict[str, tuple[list[int], list[float]]] = {}
        for doc, tokens in enumerate(tokenized):
            counts = Counter(tokens)
            for term, tf in counts.items():
                docs, weights = postings.setdefault(term, ([], []))
                docs.append(doc)
                weights.append(tf * (self.K1 + 1) / (tf + norm[doc]))
        idf = {
            term: math.log(self.size - len(docs) + 0.5) - math.log(len(docs) + 0.5)
            for term, (docs, _) in postings.items()
        }
        # Terms in more than half the documents would score negative; rank-bm25 floors them
        # at a fraction of the average idf instead.
        floor = self.EPSILON * (sum(idf.values()) / len(idf)) if idf else 0.0
        # A word no product uses is at least as telling as the rarest word they do.
        self._unknown_idf = math.log(self.size - 1 + 0.5) - math.log(1 + 0.5) if self.size > 1 else 1.0
        self._idf = {term: (value if value >= 0 else floor) for term, value in idf.items()}
        self._postings = {
            term: (
                np.array(docs, dtype=np.int64),
                np.array(weights, dtype=np.float64) * (idf[term] if idf[term] >= 0 else floor),
            )
            for term, (docs, weights) in postings.items()
        }

    def scores(self, query: str) -> np.ndarray:
        """One BM25 score per document, in document order (zero where no term matches)."""
        scores = np.zeros(self.size, dtype=np.float64)
        for term in tokenize(query):
            posting = self._postings.get(term)
            if posting is not None:
                docs, weights = posting
                scores[docs] += weights
        return scores

    def knows(self, word: str) -> bool:
        """Whether every term `word` folds to ("jackets" -> "jacket") is in some document."""
        terms = tokenize(word)
        return bool(terms) and all(term in self._postings for term in terms)

    def matched_words(self, query: str, doc: int) -> list[str]:
        """The words of `query`, as typed (lower-cased), that document `doc` contains: what a
        product has in common with a request, to say why it fits."""
        words: list[str] = []
        text = _POSSESSIVE.sub("", query.lower()).replace("'", "").replace("’", "")
        for match in _WORD.finditer(text):
            word = match.group()
            if word in words or word in STOPWORDS:
                continue
            for term in tokenize(word):
                docs = self._postings.get(term, (np.empty(0, dtype=np.int64),))[0]
                at = int(np.searchsorted(docs, doc))
                if at < len(docs) and docs[at] == doc:
                    words.append(word)
                    break
        return words

    def coverage_scale(self, query: str) -> float:
        """The BM25 score of a document holding every query word once, at average length.

        Dividing by it puts BM25 on a 0..1-ish scale that says how much of the question a
        product covers, so that one weak match is not stretched to look like a perfect one.
        """
        return sum(self._idf.get(term, self._unknown_idf) for term in tokenize(query)) or 1.0
