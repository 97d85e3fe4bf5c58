"""The "not understood" inbox: customer messages the bot missed, grouped by meaning, and the
review file that staff labels go to.

Messages come from crm_store: `analytics.not_understood_messages` (intent `nlu_fallback` or
low confidence) and `analytics.rejected_answers` (understood with confidence, but the customer
said no to the answer or asked the same again). Identical texts are merged, then grouped greedily by cosine similarity of
their embeddings from the same all-MiniLM-L6-v2 model the product search uses: each text joins
the group whose centroid is closest if it is at least `SIMILARITY` alike, else starts its own.
Texts are taken most frequent first, so a group is named after its most common wording.

Labelling a group appends its texts as examples of an existing intent to a Rasa NLU file for
review (`nlu_review_file`). Nothing goes into data/nlu or a model: a person moves reviewed
examples into the training data and retrains. Texts already in the review file leave the
inbox.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
import yaml

from kefu_config.settings import REPO_ROOT, Settings

logger = logging.getLogger(__name__)

# MiniLM cosine: rewordings of one request score about 0.45-0.9 ("where is my parcel" /
# "wheres my package" 0.53), unrelated requests below 0.25.
SIMILARITY = 0.5
MAX_EXAMPLE_CHARS = 500

Encode = Callable[[Sequence[str]], np.ndarray]


class LabelRefused(ValueError):
    """A label staff may not apply (unknown intent, no examples)."""


def normalise(text: str) -> str:
    return " ".join(text.split()).casefold()


@dataclass
class Group:
    texts: list[tuple[str, int]] = field(default_factory=list)  # (text, messages), most first
    message_ids: list[int] = field(default_factory=list)
    last_at: datetime | None = None
    guesses: dict[str, int] = field(default_factory=dict)  # the intents the NLU guessed
    # Why each message is here: not understood, or understood but the answer was turned down
    # or asked again (analytics.rejected_answers).
    reasons: dict[str, int] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return sum(n for _, n in self.texts)

    @property
    def label(self) -> str:
        return self.texts[0][0]

    @property
    def key(self) -> str:
        """Stable while the group's leading text stays the same (the page refers to it)."""
        return hashlib.sha1(normalise(self.label).encode()).hexdigest()[:12]

    def as_dict(self) -> dict:
        return {"key": self.key, "label": self.label, "messages": self.size,
                "texts": [{"text": t, "messages": n} for t, n in self.texts],
                "guessed_intents": sorted(self.guesses, key=lambda i: (-self.guesses[i], i)),
                "reasons": dict(sorted(self.reasons.items(), key=lambda r: (-r[1], r[0]))),
                "last_at": self.last_at.isoformat() if self.last_at else None}


def group_messages(messages: list[dict], encode: Encode, *,
                   similarity: float = SIMILARITY, exclude: set[str] = frozenset()
                   ) -> list[Group]:
    """Groups of similar messages, largest first. `messages` as from
    `analytics.not_understood_messages`; texts in `exclude` (normalised) are left out."""
    merged: dict[str, dict] = {}
    for message in messages:
        key = normalise(message["text"])
        if not key or key in exclude:
            continue
        entry = merged.setdefault(key, {"text": message["text"].strip(), "ids": [],
                                        "last_at": None, "guesses": {}, "reasons": {}})
        if message["id"] in entry["ids"]:
            continue  # listed for two reasons: counted once
        entry["ids"].append(message["id"])
        why = message.get("why") or "not understood"
        entry["reasons"][why] = entry["reasons"].get(why, 0) + 1
        at = message["created_at"]
        if entry["last_at"] is None or at > entry["last_at"]:
            entry["last_at"] = at
        if message.get("intent"):
            entry["guesses"][message["intent"]] = entry["guesses"].get(message["intent"], 0) + 1
    entries = sorted(merged.values(), key=lambda e: (-len(e["ids"]), e["text"]))
    if not entries:
        return []
    vectors = encode([e["text"] for e in entries])
    groups: list[Group] = []
    sums: list[np.ndarray] = []
    for entry, vector in zip(entries, vectors, strict=True):
        best, best_score = None, similarity
        for index, total in enumerate(sums):
            centroid = total / np.linalg.norm(total)
            score = float(centroid @ vector)
            if score >= best_score:
                best, best_score = index, score
        if best is None:
            groups.append(Group())
            sums.append(np.zeros_like(vector))
            best = len(groups) - 1
        group = groups[best]
        sums[best] = sums[best] + vector
        group.texts.append((entry["text"], len(entry["ids"])))
        group.message_ids.extend(entry["ids"])
        if group.last_at is None or entry["last_at"] > group.last_at:
            group.last_at = entry["last_at"]
        for intent, n in entry["guesses"].items():
            group.guesses[intent] = group.guesses.get(intent, 0) + n
        for why, n in entry["reasons"].items():
            group.reasons[why] = group.reasons.get(why, 0) + n
    for group in groups:
        group.texts.sort(key=lambda item: (-item[1], item[0]))
    groups.sort(key=lambda g: (-g.size, g.label))
    return groups


def known_intents(domain_file: Path = REPO_ROOT / "domain.yml") -> list[str]:
    """The intents customers can express (domain.yml); labels must be one of them. EXTERNAL_*
    intents are sent by Kefu itself, never said by a customer."""
    domain = yaml.safe_load(domain_file.read_text(encoding="utf-8")) or {}
    names = []
    for item in domain.get("intents", []):
        names.append(next(iter(item)) if isinstance(item, dict) else str(item))
    return sorted(name for name in names if not name.startswith("EXTERNAL_"))


def review_path(settings: Settings) -> Path:
    return settings.nlu_review_file or settings.data_path / "review" / "nlu_review.yml"


class ReviewFile:
    """A Rasa NLU file (version 3.1) of examples waiting for review, one block per intent."""

    _lock = threading.Lock()

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> dict[str, list[str]]:
        if not self.path.exists():
            return {}
        data = yaml.safe_load(self.path.read_text(encoding="utf-8")) or {}
        out: dict[str, list[str]] = {}
        for block in data.get("nlu") or []:
            lines = str(block.get("examples", "")).splitlines()
            examples = [line.strip()[2:] for line in lines if line.strip().startswith("- ")]
            out.setdefault(str(block["intent"]), []).extend(examples)
        return out

    def labelled(self) -> set[str]:
        return {normalise(text) for examples in self.read().values() for text in examples}

    def add(self, intent: str, examples: Sequence[str], *, intents: Sequence[str]) -> list[str]:
        """Append the examples new to the file under `intent`; returns those added."""
        if intent not in intents:
            raise LabelRefused(f"unknown intent {intent!r}; choose one of the assistant's "
                               f"intents ({len(intents)} in domain.yml)")
        cleaned = []
        for example in examples:
            text = " ".join(str(example).split())
            if not text:
                continue
            if len(text) > MAX_EXAMPLE_CHARS:
                raise LabelRefused(f"an example is over {MAX_EXAMPLE_CHARS} characters")
            cleaned.append(text)
        if not cleaned:
            raise LabelRefused("no examples to label")
        with self._lock:
            current = self.read()
            seen = {normalise(t) for texts in current.values() for t in texts}
            added = []
            for text in cleaned:
                if normalise(text) not in seen:
                    seen.add(normalise(text))
                    added.append(text)
            if added:
                current.setdefault(intent, []).extend(added)
                self._write(current)
        logger.info("%d example(s) labelled %s for review in %s", len(added), intent, self.path)
        return added

    def _write(self, blocks: dict[str, list[str]]) -> None:
        lines = ["# Examples labelled in the dashboard's not-understood inbox, for review.",
                 "# Move reviewed ones into data/nlu/ and retrain; this file is not trained on.",
                 'version: "3.1"', "nlu:"]
        for intent in sorted(blocks):
            lines.append(f"- intent: {intent}")
            lines.append("  examples: |")
            lines.extend(f"    - {text}" for text in blocks[intent])
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Write beside and rename: a crash never leaves half a file.
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".nlu_review.")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write("\n".join(lines) + "\n")
        os.replace(tmp, self.path)
