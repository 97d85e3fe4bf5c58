"""What the trained model makes of the other-language messages: the input of
`bench/language_bench.py --intents`, which then says how many get Kefu's "English for now"
reply end to end (only messages the model sends to fallback or out of scope are ever checked).

Run in the Rasa environment from the repository root:

    .venv-rasa/bin/python bench/language_intents.py [--model M] --out /tmp/intents.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.nlu_external import newest_model, predict  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    model = args.model or newest_model()
    if model is None:
        print("no trained model: run `make train` or pass --model", file=sys.stderr)
        return 2
    from rasa.utils.common import configure_logging_and_warnings

    configure_logging_and_warnings(logging.ERROR)
    warnings.filterwarnings("ignore")
    lines = (REPO / "bench/language/other_languages.jsonl").read_text(encoding="utf-8")
    texts = [json.loads(line)["text"] for line in lines.splitlines() if line.strip()]
    predictions = asyncio.run(predict(Path(model), texts))
    args.out.write_text(json.dumps({t: p["intent"] for t, p in zip(texts, predictions)},
                                   ensure_ascii=False, indent=1), encoding="utf-8")
    print(f"{len(texts)} messages parsed with {Path(model).name} -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
