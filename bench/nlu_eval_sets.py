"""The independent NLU evaluation sets: loading, the leak guard, typo copies and the metrics.

Importable without Rasa (the app environment's tests use it); bench/nlu_external.py adds the
Rasa part (loading a model and parsing every message).

The sets live in bench/nlu_external/*.jsonl, one JSON object a line:

    {"text": "...", "intent": "track_order", "register": "terse",
     "entities": {"order_id": "A1179"}}      # optional; each value an exact substring of text

They were written by people who never saw data/nlu, and they are for evaluation only: a test
set that is also in the training data measures nothing, so `find_leaks` refuses any evaluation
text (compared case- and space-insensitively) that appears in a training file.

The one exception is bench/nlu_external/known_overlap.txt: short, common messages ("hi", "yes",
"thanks", "cancel my order") that the independent authors wrote and that were already training
examples before the sets existed, recorded once from a named commit (`--record-overlap REV`).
They are scored (customers do type "hi") and reported apart: the "unseen" figures leave them
out. Any other overlap, such as an evaluation message copied into data/nlu, is refused.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import yaml

REPO = Path(__file__).resolve().parents[1]
EVAL_DIR = REPO / "bench" / "nlu_external"
KNOWN_OVERLAP = EVAL_DIR / "known_overlap.txt"
TRAINING_PATHS = (Path("data") / "nlu", Path("bench") / "nlu_split" / "training_data.yml")
TRAINING_FILES = tuple(REPO / p for p in TRAINING_PATHS)
DOMAIN = REPO / "domain.yml"

FALLBACK = "nlu_fallback"
OUT_OF_SCOPE = "out_of_scope"
SMALL_TALK = ("greet", "goodbye", "thank", "affirm", "deny", "bot_challenge")
IDENTIFIERS = ("order_id", "email", "ticket_id")

# The targets (issue 14), checked on all sets together.
TARGETS = {
    "accuracy": 0.92,
    "macro_f1": 0.90,
    "small_talk_accuracy": 0.95,
    "off_topic_caught": 0.92,
    "in_domain_to_fallback": 0.04,  # at most
    "typo_drop": 0.04,  # at most, in accuracy and in macro-F1
}


# --- loading -----------------------------------------------------------------------------------

@dataclass
class Example:
    text: str
    intent: str
    source: str  # file name, e.g. "en_author_a.jsonl"
    line: int
    register: str = ""
    entities: dict[str, str] = field(default_factory=dict)


def eval_files(directory: Path = EVAL_DIR) -> list[Path]:
    return sorted(directory.glob("*.jsonl"))


def load_eval_sets(paths: Iterable[Path], known_intents: set[str] | None = None) -> tuple[list[Example], list[str]]:
    """Every valid line of every file, and a description of each line that is not valid.

    A line is invalid when it is not a JSON object, lacks a text or an intent, names an intent
    the domain does not have (when known_intents is given), or gives an entity that is not an
    exact substring of its text.
    """
    examples: list[Example] = []
    problems: list[str] = []
    for path in paths:
        for number, raw in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
            if not raw.strip():
                continue
            where = f"{Path(path).name}:{number}"
            try:
                row = json.loads(raw)
            except json.JSONDecodeError as exc:
                problems.append(f"{where}: not JSON ({exc.msg})")
                continue
            if not isinstance(row, dict):
                problems.append(f"{where}: not a JSON object")
                continue
            text, intent = row.get("text"), row.get("intent")
            if not isinstance(text, str) or not text.strip() or not isinstance(intent, str) or not intent:
                problems.append(f"{where}: needs a non-empty \"text\" and \"intent\"")
                continue
            if known_intents is not None and intent not in known_intents:
                problems.append(f"{where}: intent {intent!r} is not in domain.yml")
                continue
            entities = row.get("entities") or {}
            if not isinstance(entities, dict):
                problems.append(f"{where}: \"entities\" must be an object")
                continue
            bad = [name for name, value in entities.items()
                   if name not in IDENTIFIERS or not isinstance(value, str) or not value or value not in text]
            if bad:
                problems.append(f"{where}: entities {bad} are not one of {IDENTIFIERS} with an exact substring of the text")
                continue
            examples.append(Example(text, intent, Path(path).name, number, str(row.get("register") or ""),
                                    dict(entities)))
    return examples, problems


def domain_intents(domain: Path = DOMAIN) -> set[str]:
    return set(yaml.safe_load(domain.read_text(encoding="utf-8"))["intents"])


# --- the leak guard ----------------------------------------------------------------------------

# Rasa's entity markup in training examples: [A1077](order_id), [A1077]{"entity": ...}, [x][...].
_ANNOTATION = re.compile(r"\[([^\]]*)\](?:\([^)]*\)|\{[^}]*\}|\[[^\]]*\])")


_PUNCTUATION = re.compile(r"[^\w\s]")


def normalise_text(text: str) -> str:
    """Case-, punctuation- and whitespace-insensitive form used to compare evaluation and
    training texts: "Where is my order?" in a set and "where is my order" in training is a leak."""
    return " ".join(_PUNCTUATION.sub(" ", text.casefold()).split())


def _training_yaml_files(paths: Iterable[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        path = Path(path)
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.suffix in (".yml", ".yaml")))
        elif path.exists():
            files.append(path)
    return files


def training_texts(paths: Iterable[Path] = TRAINING_FILES) -> dict[str, str]:
    """normalised text -> the training file it is in, for every intent example in the files."""
    texts: dict[str, str] = {}
    for path in _training_yaml_files(paths):
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for item in document.get("nlu") or []:
            if not isinstance(item, dict) or "intent" not in item:
                continue
            examples = item.get("examples") or []
            if isinstance(examples, str):
                lines = [line.strip()[2:] for line in examples.splitlines() if line.strip().startswith("- ")]
            else:  # the long form: a list of {"text": ...}
                lines = [e.get("text", "") if isinstance(e, dict) else str(e) for e in examples]
            for line in lines:
                plain = normalise_text(_ANNOTATION.sub(r"\1", line))
                if plain:
                    texts.setdefault(plain, str(path.relative_to(REPO) if path.is_relative_to(REPO) else path))
    return texts


def known_overlap(path: Path = KNOWN_OVERLAP) -> set[str]:
    """The normalised texts of known_overlap.txt (one a line; # starts a comment line)."""
    if not path.exists():
        return set()
    lines = path.read_text(encoding="utf-8").splitlines()
    return {normalise_text(line) for line in lines if line.strip() and not line.startswith("#")}


def in_training(examples: Iterable[Example], paths: Iterable[Path] = TRAINING_FILES) -> list[bool]:
    """For each example: is its text also a training example?"""
    texts = training_texts(paths)
    return [normalise_text(e.text) in texts for e in examples]


def find_leaks(examples: Iterable[Example], paths: Iterable[Path] = TRAINING_FILES,
               allowed: set[str] | None = None) -> list[str]:
    """One line per evaluation message whose text is also a training example and not in `allowed`
    (default: known_overlap.txt)."""
    texts = training_texts(paths)
    allowed = known_overlap() if allowed is None else {normalise_text(t) for t in allowed}
    return [f"{e.source}:{e.line}: {e.text!r} is in {texts[normalise_text(e.text)]}"
            for e in examples if normalise_text(e.text) in texts and normalise_text(e.text) not in allowed]


def record_overlap(revision: str, examples: Iterable[Example], path: Path = KNOWN_OVERLAP) -> int:
    """Writes known_overlap.txt: the evaluation texts that were training examples at `revision`.

    Reads the training files of that commit (git archive), not the working tree, so that nothing
    added to data/nlu since can be passed off as a coincidence.
    """
    import subprocess
    import tarfile
    import tempfile

    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--verify", f"{revision}^{{commit}}"],
                            check=True, capture_output=True, text=True).stdout.strip()
    relative = list(TRAINING_PATHS)
    with tempfile.TemporaryDirectory(prefix="kefu-overlap-") as tmp:
        archive = subprocess.run(["git", "-C", str(REPO), "archive", "--format=tar", commit, *map(str, relative)],
                                 check=True, capture_output=True).stdout
        tar_path = Path(tmp) / "training.tar"
        tar_path.write_bytes(archive)
        with tarfile.open(tar_path) as tar:
            tar.extractall(tmp, filter="data")
        texts = training_texts([Path(tmp) / p for p in relative])
    overlap = sorted({normalise_text(e.text) for e in examples if normalise_text(e.text) in texts})
    path.write_text(
        "# Evaluation messages (bench/nlu_external/*.jsonl) that were already training examples at\n"
        f"# commit {commit}, before the sets were written: independent coincidences, not leaks.\n"
        "# bench/nlu_external.py scores them but reports the \"unseen\" figures without them.\n"
        "# Written by `python bench/nlu_eval_sets.py --record-overlap REV`; never add a line by hand.\n"
        + "".join(f"{text}\n" for text in overlap),
        encoding="utf-8",
    )
    return len(overlap)


# --- typo copies -------------------------------------------------------------------------------

_QWERTY = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
_NEIGHBOURS: dict[str, str] = {}
for _r, _row in enumerate(_QWERTY):
    for _c, _ch in enumerate(_row):
        near = [_row[j] for j in (_c - 1, _c + 1) if 0 <= j < len(_row)]
        for _other in (_r - 1, _r + 1):
            if 0 <= _other < len(_QWERTY):
                near += [_QWERTY[_other][j] for j in (_c - 1, _c, _c + 1) if 0 <= j < len(_QWERTY[_other])]
        _NEIGHBOURS[_ch] = "".join(near)
# Anything that looks like an identifier (a digit or an @ in it) is never touched either: a
# customer pastes those from an email, and a typo in one changes what is asked for.
_IDENTIFIER_TOKEN = re.compile(r"\S*[\d@]\S*")


def _protected(text: str, keep: Iterable[str]) -> list[bool]:
    mask = [False] * len(text)
    spans = [m.span() for m in _IDENTIFIER_TOKEN.finditer(text)]
    for value in keep:
        start = text.find(value) if value else -1
        while start >= 0:
            spans.append((start, start + len(value)))
            start = text.find(value, start + 1)
    for start, end in spans:
        for i in range(start, end):
            mask[i] = True
    return mask


def _one_edit(text: str, keep: Iterable[str], rng: random.Random, blocked: range = range(0)) -> tuple[str, range]:
    """One edit outside `keep` and the `blocked` positions; returns the text and where it changed."""
    mask = _protected(text, keep)
    for i in blocked:
        if 0 <= i < len(mask):
            mask[i] = True
    letters = [i for i, ch in enumerate(text) if ch.isalpha() and not mask[i]]
    if not letters:
        return text, range(0)
    swaps = [i for i in letters if i + 1 < len(text) and text[i + 1].isalpha() and not mask[i + 1]
             and text[i].casefold() != text[i + 1].casefold()]
    ops = ["drop", "duplicate", "replace"] + (["swap"] if swaps else [])
    op = rng.choice(ops)
    if op == "swap":
        i = rng.choice(swaps)
        return text[:i] + text[i + 1] + text[i] + text[i + 2:], range(i, i + 2)
    i = rng.choice(letters)
    if op == "drop":
        return text[:i] + text[i + 1:], range(i, i)
    if op == "duplicate":
        return text[:i + 1] + text[i] + text[i + 1:], range(i, i + 2)
    lower = text[i].casefold()
    choices = _NEIGHBOURS.get(lower) or "".join(c for c in "abcdefghijklmnopqrstuvwxyz" if c != lower)
    new = rng.choice(choices)
    return text[:i] + (new.upper() if text[i].isupper() else new) + text[i + 1:], range(i, i + 1)


def add_typos(text: str, keep: Iterable[str] = (), seed: int = 0) -> str:
    """The text with one or two random character edits (swap, drop, duplicate or replace a letter).

    Deterministic for a given (seed, text), whatever other messages there are. Never edits inside
    the `keep` substrings or any token with a digit or an @ in it. A second edit lands away from
    the first (two typos, not one edit undone or redone). A text with no letter outside those
    comes back unchanged.
    """
    keep = tuple(keep)
    rng = random.Random(f"{seed}\x00{text}")
    typed, changed = _one_edit(text, keep, rng)
    if rng.choice((1, 2)) == 2 and typed != text:
        # Positions next to the first edit are off limits, so the two stay two separate typos.
        twice, _ = _one_edit(typed, keep, rng, range(changed.start - 1, changed.stop + 1))
        typed = twice
    return typed


# --- metrics -----------------------------------------------------------------------------------

def identifier_key(entity: str, value: str) -> str:
    """What two values of an identifier must share to be the same one.

    The same equivalences as crm_store.normalise (normalise_order_number, normalise_ticket_reference,
    normalise_email: case, a leading '#', '-' and spaces inside a reference), written out here
    because the Rasa environment cannot import crm_store.normalise (it lacks phonenumbers);
    tests/bench/test_nlu_eval_sets.py checks that the two agree.
    """
    value = (value or "").strip().casefold()
    if entity in ("order_id", "ticket_id"):
        value = re.sub(r"[\s#-]", "", value)
        if entity == "ticket_id":
            value = re.sub(r"^t0*(\d)", r"t\1", value)
    return value


def answered_as(intent: str) -> str:
    """nlu_fallback and out_of_scope both mean "not answered as a shop question"."""
    return OUT_OF_SCOPE if intent == FALLBACK else intent


def _ratio(hits: int, total: int) -> float | None:
    return hits / total if total else None


def score(examples: list[Example], predictions: list[dict]) -> dict:
    """Figures for one set of examples and the model's predictions of them.

    A prediction is {"intent": the deployed intent (nlu_fallback when unsure), "classifier": the
    top intent past nlu_fallback, "entities": [(entity, value), ...]}.

    - accuracy: the deployed intent is the gold one; for an off-topic message, nlu_fallback
      counts as right (the bot declines either way). So nlu_fallback is scored as out_of_scope
      everywhere, also in the per-intent table.
    - macro_f1: the mean F1 over the gold intents other than out_of_scope.
    - small_talk_accuracy, off_topic_caught, in_domain_to_fallback (gold in-domain, deployed
      nlu_fallback), in_domain_to_out_of_scope (gold in-domain, predicted out_of_scope).
    - entity recall per identifier: a gold value found with the same identifier_key.
    """
    assert len(examples) == len(predictions)
    gold = [e.intent for e in examples]
    deployed = [p["intent"] for p in predictions]
    said = [answered_as(d) for d in deployed]
    n = len(examples)

    labels = sorted(set(gold) | set(said))
    per_intent = {}
    for label in labels:
        tp = sum(g == label and s == label for g, s in zip(gold, said))
        predicted = sum(s == label for s in said)
        support = sum(g == label for g in gold)
        precision, recall = _ratio(tp, predicted), _ratio(tp, support)
        f1 = (2 * precision * recall / (precision + recall) if precision and recall else 0.0) if support else None
        per_intent[label] = {"precision": precision, "recall": recall, "f1": f1, "support": support}
    in_domain_labels = sorted(set(gold) - {OUT_OF_SCOPE})
    f1s = [per_intent[label]["f1"] for label in in_domain_labels]

    in_domain = [i for i, g in enumerate(gold) if g != OUT_OF_SCOPE]
    off_topic = [i for i, g in enumerate(gold) if g == OUT_OF_SCOPE]
    small_talk = [i for i, g in enumerate(gold) if g in SMALL_TALK]

    entities = {}
    for name in IDENTIFIERS:
        wanted = found = 0
        for example, prediction in zip(examples, predictions):
            if name not in example.entities:
                continue
            wanted += 1
            key = identifier_key(name, example.entities[name])
            found += any(e == name and identifier_key(name, str(v)) == key for e, v in prediction["entities"])
        entities[name] = {"recall": _ratio(found, wanted), "found": found, "total": wanted}
    wanted_all = sum(v["total"] for v in entities.values())
    found_all = sum(v["found"] for v in entities.values())

    return {
        "messages": n,
        "accuracy": _ratio(sum(g == s for g, s in zip(gold, said)), n),
        "classifier_accuracy": _ratio(sum(g == answered_as(p["classifier"]) for g, p in zip(gold, predictions)), n),
        "macro_f1": sum(f1s) / len(f1s) if f1s else None,
        "small_talk_accuracy": _ratio(sum(said[i] == gold[i] for i in small_talk), len(small_talk)),
        "small_talk_messages": len(small_talk),
        "off_topic_caught": _ratio(sum(said[i] == OUT_OF_SCOPE for i in off_topic), len(off_topic)),
        "off_topic_messages": len(off_topic),
        "in_domain_to_fallback": _ratio(sum(deployed[i] == FALLBACK for i in in_domain), len(in_domain)),
        "in_domain_to_out_of_scope": _ratio(sum(deployed[i] == OUT_OF_SCOPE for i in in_domain), len(in_domain)),
        "in_domain_messages": len(in_domain),
        "entity_recall": _ratio(found_all, wanted_all),
        "entities": entities,
        "per_intent": per_intent,
    }


def check_targets(clean: dict, typos: dict) -> list[tuple[str, str, str, bool | None]]:
    """(what, figure, target, met) for each of the issue's targets; met None where not measurable."""

    def fmt(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.3f}"

    def at_least(value, target):
        return None if value is None else value >= target

    rows = [
        ("intent accuracy", fmt(clean["accuracy"]), f">= {TARGETS['accuracy']:.2f}",
         at_least(clean["accuracy"], TARGETS["accuracy"])),
        ("macro-F1 (in-domain intents)", fmt(clean["macro_f1"]), f">= {TARGETS['macro_f1']:.2f}",
         at_least(clean["macro_f1"], TARGETS["macro_f1"])),
        ("small talk accuracy", fmt(clean["small_talk_accuracy"]), f">= {TARGETS['small_talk_accuracy']:.2f}",
         at_least(clean["small_talk_accuracy"], TARGETS["small_talk_accuracy"])),
    ]
    caught, lost = clean["off_topic_caught"], clean["in_domain_to_fallback"]
    rows.append(("off-topic caught, with in-domain to fallback", f"{fmt(caught)}, {fmt(lost)}",
                 f">= {TARGETS['off_topic_caught']:.2f} with <= {TARGETS['in_domain_to_fallback']:.2f}",
                 None if caught is None or lost is None
                 else caught >= TARGETS["off_topic_caught"] and lost <= TARGETS["in_domain_to_fallback"]))
    drops = []
    for metric in ("accuracy", "macro_f1"):
        if clean[metric] is not None and typos[metric] is not None:
            drops.append(clean[metric] - typos[metric])
    rows.append(("with typos: drop in accuracy, macro-F1",
                 ", ".join(f"{d * 100:.1f} pts" for d in drops) or "n/a",
                 f"<= {TARGETS['typo_drop'] * 100:.0f} pts each",
                 None if len(drops) < 2 else all(d <= TARGETS["typo_drop"] + 1e-9 for d in drops)))
    return rows


def main(argv: list[str] | None = None) -> int:
    """Checks the sets without Rasa: valid lines, no leak into training. Exit 2 if not."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--record-overlap", metavar="REV",
                        help="write known_overlap.txt from the training files of commit REV")
    args = parser.parse_args(argv)
    examples, problems = load_eval_sets(eval_files(), domain_intents())
    if args.record_overlap:
        count = record_overlap(args.record_overlap, examples)
        print(f"{KNOWN_OVERLAP.relative_to(REPO)}: {count} texts")
    leaks = find_leaks(examples)
    for line in problems + leaks:
        print(line, file=sys.stderr)
    print(f"{len(examples)} messages, {len(problems)} invalid lines, {len(leaks)} leaked into training")
    return 2 if problems or leaks else 0


if __name__ == "__main__":
    import sys

    sys.path.insert(0, str(REPO))
    sys.exit(main())
