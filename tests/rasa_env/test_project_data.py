"""Runs in the Rasa environment: the training data, domain and config are consistent."""

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
UNUSED_RESPONSE = re.compile(r"The utterance '(\w+)' is not used in any story or rule")
WARNING = re.compile(r"UserWarning: (.*)")
# Intents the gateway triggers through Rasa's API (trigger_intent); nobody types them.
EXTERNAL_INTENT = re.compile(r"The intent 'EXTERNAL_\w+' is listed in the domain file, but is not found in the NLU training data")


def _used_by_custom_code(response: str) -> bool:
    """Rasa's validator only looks at stories and rules; actions and forms use responses too."""
    if response.startswith("utter_ask_"):
        return True  # forms ask for `slot` with utter_ask_<slot>
    return any(f'"{response}"' in path.read_text() for path in (REPO / "actions").glob("*.py"))


def test_rasa_data_validate_is_clean():
    result = subprocess.run(
        [sys.executable, "-m", "rasa", "data", "validate"],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    problems = []
    for warning in WARNING.findall(output):
        unused = UNUSED_RESPONSE.search(warning)
        if unused and _used_by_custom_code(unused.group(1)):
            continue
        if EXTERNAL_INTENT.search(warning):
            continue
        problems.append(warning)
    assert problems == [], "\n".join(problems)
    assert "No story structure conflicts found" in output


def test_every_form_slot_has_a_question():
    import yaml

    domain = yaml.safe_load((REPO / "domain.yml").read_text())
    responses = set(domain["responses"])
    for form, spec in domain["forms"].items():
        for slot in spec["required_slots"]:
            assert f"utter_ask_{slot}" in responses, f"{form} cannot ask for {slot}"
