"""Compare NLU pipelines on a fixed held-out split and print a table.

Run in the Rasa environment from the repository root:

    .venv-rasa/bin/python bench/nlu_compare.py            # NLU comparison only
    .venv-rasa/bin/python bench/nlu_compare.py --full-train  # also time `rasa train` per pipeline

Candidates, both derived from config.yml so that "a" is exactly the deployed pipeline without
dense features and "b" the same with them:
  a. DIET: tokenizer, regex, lexical and count-vector (word + char n-gram) features, DIET.
  b. DIET + MiniLM: the same plus nlu_components.MiniLMFeaturizer (sentence and token vectors).

Data: data/nlu is split 80/20 per intent with a fixed seed (`rasa data split nlu
--training-fraction 0.8 --random-seed 2026`, written to bench/nlu_split/ and committed), and
tests/rasa_env/nlu_paraphrases.yml holds hand-written paraphrases that are not in data/nlu at
all. Each pipeline is trained on the training part with DIET seeds --seeds and evaluated on both
sets; figures are the mean over seeds (min-max in brackets where it matters).

Training time is wall-clock seconds on this machine (CPU count and load average in the header
line) with CPU seconds of all threads in brackets, which depend much less on other work running
beside it: "nlu train" is the NLU model on the training split; "full train" (--full-train) is
`rasa train` of the whole assistant (NLU on all of data/nlu, plus dialogue policies), from an
empty Rasa cache, as `make train` runs it.

The fallback sweep replays the FallbackClassifier's rule (top confidence below the threshold, or
the top two closer than the ambiguity threshold) on the held-out and paraphrase predictions, to
choose the threshold in config.yml.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SPLIT_DIR = REPO / "bench" / "nlu_split"
PARAPHRASES = REPO / "tests" / "rasa_env" / "nlu_paraphrases.yml"
SPLIT_SEED = 2026
TRAIN_FRACTION = 0.8
DENSE = "nlu_components.minilm_featurizer.MiniLMFeaturizer"
FALLBACK = "nlu_fallback"
THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8)

# A fresh Rasa cache per run: otherwise the second training reuses the first one's features
# and the timings mean nothing. Must be set before rasa is imported.
_CACHE = tempfile.mkdtemp(prefix="kefu-nlu-bench-cache-")
os.environ["RASA_CACHE_DIRECTORY"] = _CACHE
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(REPO))

import yaml  # noqa: E402

logger = logging.getLogger("nlu_compare")


def split_data() -> tuple[Path, Path]:
    """Writes the fixed split (same seed, same data -> same files) and returns its paths."""
    from rasa.shared.nlu.training_data.loading import load_data

    data = load_data(str(REPO / "data" / "nlu"))
    train, test = data.train_test_split(TRAIN_FRACTION, SPLIT_SEED)
    SPLIT_DIR.mkdir(parents=True, exist_ok=True)
    train.persist(str(SPLIT_DIR), filename="training_data.yml")
    test.persist(str(SPLIT_DIR), filename="test_data.yml")
    return SPLIT_DIR / "training_data.yml", SPLIT_DIR / "test_data.yml"


def candidate_configs() -> dict[str, dict]:
    """The two pipelines, built from config.yml (everything else in the config kept)."""
    base = yaml.safe_load((REPO / "config.yml").read_text())
    sparse = [c for c in base["pipeline"] if c["name"] != DENSE]
    dense = list(sparse)
    if any(c["name"] == DENSE for c in base["pipeline"]):
        dense = copy.deepcopy(base["pipeline"])
    else:
        # After the last featurizer, before DIET.
        at = max(i for i, c in enumerate(sparse) if c["name"].endswith("Featurizer")) + 1
        dense = sparse[:at] + [{"name": DENSE}] + sparse[at:]
    configs = {}
    for key, pipeline in (("a. DIET", sparse), ("b. DIET + MiniLM", dense)):
        config = copy.deepcopy(base)
        config["pipeline"] = copy.deepcopy(pipeline)
        configs[key] = config
    return configs


def with_seed(config: dict, seed: int) -> dict:
    config = copy.deepcopy(config)
    for component in config["pipeline"]:
        if component["name"] == "DIETClassifier":
            component["random_seed"] = seed
    return config


def fallback_settings(config: dict) -> tuple[float, float]:
    for component in config["pipeline"]:
        if component["name"] == "FallbackClassifier":
            return float(component.get("threshold", 0.3)), float(component.get("ambiguity_threshold", 0.1))
    return 0.0, 0.0


def train_nlu(config: dict, train_file: Path, out: Path) -> tuple[str, float, float]:
    """Returns the model path, wall-clock seconds and CPU seconds (all threads) of training."""
    from rasa.model_training import train_nlu as rasa_train_nlu

    config_file = out / "config.yml"
    nlu_only = {k: v for k, v in config.items() if k != "policies"}
    config_file.write_text(yaml.safe_dump(nlu_only, sort_keys=False))
    started, cpu_started = time.perf_counter(), time.process_time()
    model = rasa_train_nlu(str(config_file), str(train_file), str(out), fixed_model_name="nlu")
    return model, time.perf_counter() - started, time.process_time() - cpu_started


def full_train_seconds(config: dict, out: Path) -> tuple[float, float]:
    """`rasa train` of the whole assistant, as `make train` runs it, in a fresh process.

    Returns wall-clock and CPU seconds: on a machine shared with other work the wall-clock time
    grows with the load, the CPU time much less so.
    """
    import resource

    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    config_file = out / "config.yml"
    config_file.write_text(yaml.safe_dump(config, sort_keys=False))
    env = {**os.environ, "RASA_CACHE_DIRECTORY": tempfile.mkdtemp(prefix="kefu-full-cache-")}
    started = time.perf_counter()
    subprocess.run(
        [str(Path(sys.executable).parent / "rasa"), "train", "--config", str(config_file),
         "--domain", "domain.yml", "--data", "data", "--out", str(out / "models"), "--quiet"],
        cwd=REPO, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    wall = time.perf_counter() - started
    cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    return wall, cpu


def load_examples(path: Path) -> list[dict]:
    from rasa.shared.nlu.training_data.loading import load_data

    examples = []
    for message in load_data(str(path)).intent_examples:
        entities = {(e["entity"], str(e.get("value", e.get("text")))) for e in message.get("entities") or []}
        examples.append({"text": message.get("text"), "intent": message.get("intent"), "entities": entities})
    return examples


async def predict(model_path: str, examples: list[dict]) -> list[dict]:
    from rasa.core.agent import Agent

    agent = Agent.load(model_path)
    predictions = []
    for example in examples:
        parsed = await agent.parse_message(example["text"])
        ranking = [r for r in parsed.get("intent_ranking", []) if r["name"] != FALLBACK]
        predictions.append(
            {
                "intent": ranking[0]["name"] if ranking else FALLBACK,
                "confidence": ranking[0]["confidence"] if ranking else 0.0,
                "second": ranking[1]["confidence"] if len(ranking) > 1 else 0.0,
                "entities": {(e["entity"], str(e["value"])) for e in parsed.get("entities", [])},
            }
        )
    return predictions


def falls_back(prediction: dict, threshold: float, ambiguity: float) -> bool:
    # FallbackClassifier's rule: low top confidence, or top two too close to call.
    return prediction["confidence"] < threshold or prediction["confidence"] - prediction["second"] < ambiguity


def score(examples: list[dict], predictions: list[dict], threshold: float, ambiguity: float) -> dict:
    from sklearn.metrics import f1_score

    gold = [e["intent"] for e in examples]
    raw = [p["intent"] for p in predictions]
    labels = sorted(set(gold))
    deployed = [FALLBACK if falls_back(p, threshold, ambiguity) else p["intent"] for p in predictions]
    oos = [i for i, g in enumerate(gold) if g == "out_of_scope"]
    tp = fp = fn = 0
    for example, prediction in zip(examples, predictions):
        tp += len(example["entities"] & prediction["entities"])
        fp += len(prediction["entities"] - example["entities"])
        fn += len(example["entities"] - prediction["entities"])
    sweep = {}
    for t in THRESHOLDS:
        fb = [falls_back(p, t, ambiguity) for p in predictions]
        right = [r == g for r, g in zip(raw, gold)]
        sweep[t] = {
            "correct_lost": sum(f and r for f, r in zip(fb, right)) / max(1, sum(right)),
            "wrong_caught": sum(f and not r for f, r in zip(fb, right)) / max(1, len(right) - sum(right)),
            "answered_wrong": sum(not f and not r for f, r in zip(fb, right)) / len(right),
            # A wrong answer (say, a cancellation flow for someone tracking a parcel) costs the
            # customer more than being asked to rephrase: count it twice.
            "cost": (sum(not f and not r for f, r in zip(fb, right)) + 0.5 * sum(f and r for f, r in zip(fb, right)))
            / len(right),
        }
    return {
        "macro_f1": f1_score(gold, raw, labels=labels, average="macro", zero_division=0),
        "accuracy": sum(r == g for r, g in zip(raw, gold)) / len(gold),
        "macro_f1_fallback": f1_score(gold, deployed, labels=labels, average="macro", zero_division=0),
        "oos_recall": sum(raw[i] == "out_of_scope" for i in oos) / max(1, len(oos)),
        "oos_handled": sum(deployed[i] in ("out_of_scope", FALLBACK) for i in oos) / max(1, len(oos)),
        "fallback_rate": sum(d == FALLBACK for d in deployed) / len(deployed),
        "entity_f1": 2 * tp / max(1, 2 * tp + fp + fn),
        "errors": Counter((g, r) for g, r in zip(gold, raw) if g != r),
        "error_texts": [(e["text"], g, r) for e, g, r in zip(examples, gold, raw) if g != r],
        "sweep": sweep,
    }


def mean(values: list[float]) -> float:
    return statistics.fmean(values)


def spread(values: list[float]) -> str:
    return f"{mean(values):.3f} [{min(values):.3f}-{max(values):.3f}]" if len(values) > 1 else f"{values[0]:.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3], help="DIET random seeds")
    parser.add_argument("--full-train", action="store_true", help="also time `rasa train` of the whole assistant")
    parser.add_argument("--only", choices=["a", "b"], help="run one candidate only")
    parser.add_argument("--errors", action="store_true", help="list the most frequent confusions")
    parser.add_argument("--timing-only", action="store_true", help="with --full-train: skip the NLU evaluation")
    args = parser.parse_args()
    import warnings

    from rasa.utils.common import configure_logging_and_warnings
    from rasa.utils.log_utils import configure_structlog

    configure_logging_and_warnings(logging.ERROR)
    configure_structlog(logging.ERROR)
    warnings.filterwarnings("ignore")

    train_file, test_file = split_data()
    test_examples = load_examples(test_file)
    paraphrases = load_examples(PARAPHRASES)
    training_texts = {e["text"].lower() for e in load_examples(REPO / "data" / "nlu")}
    leaked = [p["text"] for p in paraphrases if p["text"].lower() in training_texts]
    if leaked:
        sys.exit(f"{PARAPHRASES} repeats training examples: {leaked}")

    load = os.getloadavg()[0]
    print(
        f"# {len(load_examples(train_file))} training / {len(test_examples)} held-out examples "
        f"(split seed {SPLIT_SEED}), {len(paraphrases)} unseen paraphrases; DIET seeds {args.seeds}; "
        f"{os.cpu_count()} CPUs, load average {load:.1f} at start"
    )
    results = {}
    for key, config in candidate_configs().items():
        if args.only and not key.startswith(args.only):
            continue
        threshold, ambiguity = fallback_settings(config)
        runs = []
        for seed in ([] if args.timing_only else args.seeds):
            with tempfile.TemporaryDirectory(prefix="kefu-nlu-bench-") as tmp:
                model, seconds, cpu = train_nlu(with_seed(config, seed), train_file, Path(tmp))
                held_out = asyncio.run(predict(model, test_examples))
                para = asyncio.run(predict(model, paraphrases))
            runs.append(
                {
                    "seconds": seconds,
                    "cpu": cpu,
                    "test": score(test_examples, held_out, threshold, ambiguity),
                    "para": score(paraphrases, para, threshold, ambiguity),
                    "both": score(test_examples + paraphrases, held_out + para, threshold, ambiguity),
                }
            )
            print(f"  {key} seed {seed}: trained in {seconds:.0f} s ({cpu:.0f} CPU s), load {os.getloadavg()[0]:.1f}, held-out macro-F1 "
                  f"{runs[-1]['test']['macro_f1']:.3f}, paraphrase accuracy {runs[-1]['para']['accuracy']:.3f}",
                  flush=True)
        full = None
        if args.full_train:
            with tempfile.TemporaryDirectory(prefix="kefu-full-train-") as tmp:
                full = full_train_seconds(config, Path(tmp))
            print(f"  {key}: full `rasa train` in {full[0]:.0f} s ({full[1]:.0f} CPU s), "
                  f"load {os.getloadavg()[0]:.1f}", flush=True)
        results[key] = {"runs": runs, "full": full, "threshold": threshold, "ambiguity": ambiguity}

    if args.timing_only:
        print("\n| pipeline | full train s (CPU s) |\n| --- | --- |")
        for key, result in results.items():
            if result["full"]:
                print(f"| {key} | {result['full'][0]:.0f} ({result['full'][1]:.0f}) |")
        return

    def col(key: str, part: str, metric: str) -> list[float]:
        return [run[part][metric] for run in results[key]["runs"]]

    print()
    print("| pipeline | held-out intent macro-F1 | held-out out_of_scope recall | held-out entity F1 "
          "| paraphrase accuracy | paraphrase out_of_scope recall | nlu train s (CPU s) | full train s (CPU s) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for key, result in results.items():
        full = f"{result['full'][0]:.0f} ({result['full'][1]:.0f})" if result["full"] else "not run"
        nlu = f"{mean([r['seconds'] for r in result['runs']]):.0f} ({mean([r['cpu'] for r in result['runs']]):.0f})"
        print(
            f"| {key} | {spread(col(key, 'test', 'macro_f1'))} | {spread(col(key, 'test', 'oos_recall'))} "
            f"| {spread(col(key, 'test', 'entity_f1'))} | {spread(col(key, 'para', 'accuracy'))} "
            f"| {spread(col(key, 'para', 'oos_recall'))} | {nlu} | {full} |"
        )
    print()
    print("With the FallbackClassifier as configured (messages below the threshold become nlu_fallback):")
    print("| pipeline | threshold / ambiguity | held-out macro-F1 | held-out fallback rate "
          "| out_of_scope handled (oos or fallback) | paraphrase fallback rate |")
    print("| --- | --- | --- | --- | --- | --- |")
    for key, result in results.items():
        print(
            f"| {key} | {result['threshold']} / {result['ambiguity']} | {mean(col(key, 'test', 'macro_f1_fallback')):.3f} "
            f"| {mean(col(key, 'test', 'fallback_rate')):.3f} | {mean(col(key, 'test', 'oos_handled')):.3f} "
            f"| {mean(col(key, 'para', 'fallback_rate')):.3f} |"
        )
    print()
    print("Fallback threshold sweep (held-out + paraphrases, mean over seeds): share of correct answers "
          "lost to fallback / share of wrong answers caught / share of messages answered wrongly / "
          "cost = (wrong answers + 0.5 x needless rephrase requests) per message; lowest cost wins.")
    print("| pipeline | " + " | ".join(f"t={t}" for t in THRESHOLDS) + " |")
    print("| --- |" + " --- |" * len(THRESHOLDS))
    for key, result in results.items():
        cells = []
        for t in THRESHOLDS:
            vals = {m: mean([run["both"]["sweep"][t][m] for run in result["runs"]])
                    for m in ("correct_lost", "wrong_caught", "answered_wrong", "cost")}
            cells.append(f"{vals['correct_lost']:.2f} / {vals['wrong_caught']:.2f} / {vals['answered_wrong']:.3f} "
                         f"/ {vals['cost']:.3f}")
        print(f"| {key} | " + " | ".join(cells) + " |")
    if args.errors:
        for key, result in results.items():
            confusions = Counter()
            for run in result["runs"]:
                confusions.update(run["test"]["errors"])
                confusions.update(run["para"]["errors"])
            print(f"\n{key}: most frequent confusions (gold -> predicted: count over seeds)")
            for (gold, predicted), n in confusions.most_common(15):
                print(f"  {gold} -> {predicted}: {n}")
            last = result["runs"][-1]
            print(f"{key}: misclassified messages, last seed (text: gold -> predicted)")
            for text, gold, predicted in last["test"]["error_texts"] + last["para"]["error_texts"]:
                print(f"  {text!r}: {gold} -> {predicted}")


if __name__ == "__main__":
    main()
