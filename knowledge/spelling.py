"""Typo tolerance: query words corrected against the shop's own catalogue vocabulary.

"waterprof jaket" shares no word with "Stormline Waterproof Rain Jacket", so BM25 scores it
zero, and the model reads it as fragments ("water ##pro ##f", "jake ##t"). Correcting it to
"waterproof jacket" before either part sees it fixes both.

The vocabulary is every word of every product's text (name, category, tags, description;
not the SKU, whose letters are a code), counted in how many products it appears. It is built
from the catalogue each time an index is loaded, like the BM25 postings beside it, so it can
never disagree with the index it serves; nothing is hard-coded, and any alphabet works.

Rules (what makes correction safe rather than eager):
- only words of letters are corrected: numbers, codes and SKUs ("HIK-004", "400", "28l")
  never are;
- a word of at least `MIN_WORD` letters may be off by one edit, one of at least `LONG_WORD`
  letters by two (an edit: insert, delete, substitute, or swap two neighbours);
- a word the catalogue already has is never touched, however rare: a shop selling one
  "boat" among fifty "boots" keeps it;
- the caller may veto more words (`is_word`): the search layer vetoes forms BM25 folds onto a
  catalogue word ("jackets"), and words the embedding model knows whole ("wear", "plane"),
  which are real words of the customer's language that the shop merely does not use, not
  typos of the shop's words;
- the nearest candidate wins; among equally near ones, the one in most products;
- tokens in scripts written without spaces (Chinese, Japanese, Thai, ...) are left alone: a
  "word" there is a whole phrase, and edit distance between phrases corrects nothing.

Why not a library: symspellpy and rapidfuzz are not in the lock file, and what is needed is
small: the symmetric-delete candidate lookup of SymSpell (Wolf Garbe) over a compact sorted
hash array, and an edit distance for a handful of candidates. A few lines each, no new
dependency in the action server.

Lookup cost: at most ~30 hashed deletes per corrected word and a binary search each; words
the catalogue knows cost one set lookup. Memory: 12 bytes per (delete, word) pair.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable
from functools import lru_cache
from itertools import combinations

import numpy as np
import regex

# Shorter words are not corrected: "cap", "cat", "car" are all one edit apart, and a three-
# letter typo has too many plausible fixes to pick one.
MIN_WORD = 4
# From this length two edits are allowed ("waterprooof" -> "waterproof" is one, "wterprof"
# two); below it one.
LONG_WORD = 8
# Deletes are generated from the first PREFIX letters only (SymSpell's prefix trick). Edits
# beyond the prefix do not change which candidates are found, only the final distance check,
# so nothing is missed; it bounds the work per word at 1 + 7 + 21 deletes.
PREFIX = 7

# A run of letters, marks and digits, with the joiners codes are written with ("HIK-004",
# "USB-C"). `regex` rather than `re`: the standard library's \w does not count combining
# marks, so it would cut a Hindi or Tamil word at every vowel sign.
_WORD = r"[\p{L}\p{M}\p{N}]+"
_TOKEN = regex.compile(rf"{_WORD}(?:[-_/.'’]{_WORD})*")
_LETTERS = regex.compile(r"[\p{L}\p{M}]+")
# Scripts that do not separate words with spaces, by their Unicode character-name prefix.
_UNSPACED_SCRIPTS = (
    "CJK", "HIRAGANA", "KATAKANA", "HALFWIDTH KATAKANA", "THAI", "LAO", "KHMER",
    "MYANMAR", "TIBETAN", "YI ", "BOPOMOFO",
)


def max_edits(word: str) -> int:
    """How many edits a word of this length may be away from its correction."""
    if len(word) < MIN_WORD:
        return 0
    return 2 if len(word) >= LONG_WORD else 1


@lru_cache(maxsize=65536)
def _unspaced(char: str) -> bool:
    return unicodedata.name(char, "").startswith(_UNSPACED_SCRIPTS)


def _spaced(word: str) -> bool:
    # Every script without spaces lies above U+0E00 (Thai); Latin, Greek, Cyrillic, Arabic,
    # Hebrew and Indic words are never looked up.
    return not any(ord(c) >= 0x0E00 and _unspaced(c) for c in word)


def correctable(word: str) -> bool:
    """Letters only (no digit: not a number, size or code), long enough, spaced script."""
    return len(word) >= MIN_WORD and _LETTERS.fullmatch(word) is not None and _spaced(word)


_JOINER = regex.compile(r"[-_/.'’]")


@lru_cache(maxsize=262144)
def _letter_parts(token: str) -> tuple[str, ...]:
    return tuple(p for p in _JOINER.split(token) if _LETTERS.fullmatch(p))


def words(text: str) -> set[str]:
    """The distinct case-folded words of letters in `text`, the parts of joined ones
    ("leak-proof", "HIK-004") included; numbers are left out."""
    out: set[str] = set()
    for token in set(_TOKEN.findall(text.casefold())):
        out.update(_letter_parts(token))
    return out


def _deletes(word: str, edits: int) -> set[str]:
    """`word`'s prefix with up to `edits` letters removed, the prefix itself included."""
    head = word[:PREFIX]
    out = {head}
    for n in range(1, min(edits, len(head) - 1) + 1):
        for gone in combinations(range(len(head)), n):
            out.add("".join(c for i, c in enumerate(head) if i not in gone))
    return out


def edit_distance(a: str, b: str, limit: int) -> int:
    """Optimal-string-alignment distance (Levenshtein plus swapped neighbours), or
    `limit + 1` as soon as it is known to exceed `limit`."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        current = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            value = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                value = min(value, previous2[j - 2] + 1)
            current[j] = value
        if min(current) > limit:
            return limit + 1
        previous2, previous = previous, current
    return previous[-1]


class Speller:
    """Corrects query words against a vocabulary of catalogue texts. Immutable once built."""

    def __init__(
        self,
        texts: Iterable[str],
        *,
        is_word: Callable[[str], bool] | None = None,
    ) -> None:
        counts: Counter[str] = Counter()
        for text in texts:
            counts.update(words(text))  # in how many products, not how many times
        self._is_word = is_word
        self._words = sorted(counts, key=lambda w: (-counts[w], w))  # frequent first
        self._frequency = np.array([counts[w] for w in self._words], dtype=np.int64)
        self._known = frozenset(self._words)
        keys: list[int] = []
        owners: list[int] = []
        for number, word in enumerate(self._words):
            if len(word) < MIN_WORD - 1 or not _spaced(word):
                continue  # never a correction: too short for a typo's one edit, or unspaced
            # As many deletes as the longest query allowed to reach this word may need: a
            # query two letters longer may be two edits away (and shifts the prefix window).
            reach = 2 if len(word) + 2 >= LONG_WORD else 1
            for delete in _deletes(word, reach):
                keys.append(hash(delete))
                owners.append(number)
        # Python's str hash is fixed for the life of the process, which is the life of this
        # object; a 64-bit collision only adds a candidate that the distance check drops.
        order = np.argsort(np.array(keys, dtype=np.int64), kind="stable")
        self._keys = np.array(keys, dtype=np.int64)[order]
        self._owners = np.array(owners, dtype=np.int32)[order]

    def __len__(self) -> int:
        return len(self._words)

    def knows(self, word: str) -> bool:
        return word.casefold() in self._known

    def correct_word(self, word: str) -> str | None:
        """The catalogue word `word` was probably meant to be, or None to leave it as it is."""
        word = word.casefold()
        if word in self._known or not correctable(word):
            return None
        if self._is_word is not None and self._is_word(word):
            return None
        limit = max_edits(word)
        probes = np.array([hash(d) for d in _deletes(word, limit)], dtype=np.int64)
        left = np.searchsorted(self._keys, probes, side="left")
        right = np.searchsorted(self._keys, probes, side="right")
        spans = [self._owners[lo:hi] for lo, hi in zip(left, right) if hi > lo]
        if not spans:
            return None
        # Owners are numbered frequent-first, so ascending order is frequency order and the
        # first candidate at the best distance is the most frequent one.
        best: tuple[int, int] | None = None
        for number in np.unique(np.concatenate(spans)).tolist():
            candidate = self._words[number]
            distance = edit_distance(word, candidate, limit)
            if distance <= limit and (best is None or distance < best[0]):
                best = (distance, number)
                if distance == 1:
                    break  # nothing nearer than one edit; later candidates are rarer
        return None if best is None else self._words[best[1]]

    def correct(self, query: str) -> str:
        """`query` with misspelled words replaced; everything else (codes, numbers, spacing,
        punctuation) exactly as typed. Returns `query` itself when nothing changed."""
        pieces: list[str] = []
        end = 0
        changed = False
        for match in _TOKEN.finditer(query):
            fixed = self.correct_word(match.group())
            if fixed is not None:
                pieces.append(query[end : match.start()])
                pieces.append(fixed)
                end = match.end()
                changed = True
        if not changed:
            return query
        pieces.append(query[end:])
        return "".join(pieces)
