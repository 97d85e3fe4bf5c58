"""How well Kefu tells a message in another language from an English one (actions/language.py).

    .venv/bin/python bench/language_bench.py [--detector kefu|lingua]

Messages: bench/language/other_languages.jsonl (other languages) and bench/language/english.jsonl
(English that a detector could take for another language: "ok", "thx", typos, "München"),
both written by a helper session that never saw the training data, plus every English message
of bench/nlu_external/*.jsonl. The rule (two words or two CJK characters, the top language not
English at confidence >= actions.language.MIN_CONFIDENCE) was set before these sets existed.

Printed: English messages wrongly called another language (the cost: "I only speak English"
instead of "please rephrase"), other-language messages caught per language, and the time per
message. Only messages the English model could not place are ever checked in production.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from actions import language  # noqa: E402

UNPLACED = {"nlu_fallback", "out_of_scope"}


def _load(path: Path, lang: str | None = None) -> list[tuple[str, str]]:
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            item = json.loads(line)
            rows.append((item["text"], lang or item["lang"]))
    return rows


def lingua_detect():
    """The same rule with lingua (pip install lingua-language-detector, not a dependency)."""
    from lingua import IsoCode639_1, LanguageDetectorBuilder

    codes = [getattr(IsoCode639_1, code.upper()) for code in language.LANGUAGES]
    detector = LanguageDetectorBuilder.from_iso_codes_639_1(*codes).build()

    def detect(text: str) -> str | None:
        if not language._enough_text(text.strip()):
            return None
        values = detector.compute_language_confidence_values(text)
        top = values[0] if values else None
        if top is None or top.value < language.MIN_CONFIDENCE:
            return None
        code = top.language.iso_code_639_1.name.lower()
        return None if code == "en" else code
    return detect


def kefu_detect(text: str) -> str | None:
    name = language.other_language(text)
    return next((c for c, n in language.LANGUAGES.items() if n == name), None)


def _end_to_end(intents: dict[str, str], other: list[tuple[str, str]], detect) -> None:
    """Of the other-language messages: how many the model answered as a shop question (never
    checked), and how many get the "English for now" reply."""
    unplaced = [text for text, _ in other if intents.get(text) in UNPLACED]
    told = sum(detect(text) is not None for text in unplaced)
    print(f"with the model's intents: {len(other) - len(unplaced)} of {len(other)} answered as "
          f"an English intent (never checked); {told} of {len(other)} "
          f"({told / len(other):.1%}) told \"English for now\" with a person offered; "
          f"{len(unplaced) - told} \"please rephrase\"/out of scope")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--detector", choices=["kefu", "lingua"], default="kefu",
                        help="kefu: actions/language.py (py3langid); lingua: the alternative")
    parser.add_argument("--intents", type=Path,
                        help="bench/language_intents.py's output: also the end-to-end share")
    args = parser.parse_args()
    detect = kefu_detect if args.detector == "kefu" else lingua_detect()

    english = _load(REPO / "bench/language/english.jsonl")
    for path in sorted((REPO / "bench/nlu_external").glob("*.jsonl")):
        english += _load(path, "en")
    other = _load(REPO / "bench/language/other_languages.jsonl")
    detect("warm up the models")
    started = time.perf_counter()
    wrong_english = [(text, got) for text, _ in english if (got := detect(text)) is not None]
    caught, total, misread = Counter(), Counter(), []
    for text, lang in other:
        total[lang] += 1
        got = detect(text)
        if got is not None:
            caught[lang] += 1
            if got != lang:
                misread.append((text, lang, got))
    per_message = (time.perf_counter() - started) / (len(english) + len(other)) * 1000

    print(f"detector: {args.detector}, min confidence {language.MIN_CONFIDENCE}")
    print(f"English messages called another language: {len(wrong_english)} of {len(english)}"
          f" ({len(wrong_english) / len(english):.1%})")
    for text, got in wrong_english[:10]:
        print(f"    {got}: {text!r}")
    print(f"other-language messages caught: {sum(caught.values())} of {len(other)}"
          f" ({sum(caught.values()) / len(other):.1%}); named the wrong language: {len(misread)}")
    print("| language | caught | of |")
    print("| --- | --- | --- |")
    for lang in sorted(total):
        print(f"| {lang} | {caught[lang]} | {total[lang]} |")
    print(f"time per message: {per_message:.2f} ms")
    if args.intents:
        _end_to_end(json.loads(args.intents.read_text(encoding="utf-8")), other, detect)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
