"""Runs in the Rasa environment: the trained model follows the test stories in tests/stories.

`rasa test core` replays each story: the model must recognise every customer message as the
story's intent and predict every action the story lists (slots the actions would set are
given in the story). `make test` trains the model before running this.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
MODELS = Path(os.environ.get("KEFU_MODEL_DIR", REPO / "models"))


def test_trained_model_follows_every_test_story(tmp_path):
    if not list(MODELS.glob("*.tar.gz")):
        pytest.fail(f"no trained model in {MODELS}: run `make train`")
    env = {**os.environ, "KEFU_ACTION_ENDPOINT": "http://127.0.0.1:1/webhook"}
    result = subprocess.run(
        [sys.executable, "-m", "rasa", "test", "core", "--model", str(MODELS),
         "--stories", str(REPO / "tests" / "stories"), "--out", str(tmp_path),
         "--fail-on-prediction-errors", "--no-plot"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=900,
    )
    failed = tmp_path / "failed_test_stories.yml"
    details = failed.read_text() if failed.exists() else ""
    assert result.returncode == 0, (details or result.stdout[-4000:] + result.stderr[-4000:])
    report = json.loads((tmp_path / "story_report.json").read_text())
    assert report["conversation_accuracy"]["accuracy"] == 1.0, details
