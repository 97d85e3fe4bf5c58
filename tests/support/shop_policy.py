"""A copy of the shop policy with the business hours a test chooses, for the processes a test
starts (KEFU_POLICY_FILE): what a customer is told at a handoff depends on whether staff are at
work, and a test must not depend on the hour it happens to run at."""

from __future__ import annotations

from pathlib import Path

import yaml

from kefu_config.policy import WEEKDAYS, policy_path

ALWAYS_OPEN = "00:00-24:00"
CLOSED = "closed"


def policy_file(directory: Path, *, hours: str, **sections) -> Path:
    """policy/shop.yml with every weekday's hours set to `hours` (ALWAYS_OPEN or CLOSED, or a
    span), no holidays, and any top-level `sections` replaced; written into `directory`."""
    with policy_path().open(encoding="utf-8") as fh:
        policy = yaml.safe_load(fh)
    policy["business_hours"] = {day: hours for day in WEEKDAYS}
    policy["holidays"] = []
    policy.update(sections)
    path = Path(directory) / "shop.yml"
    path.write_text(yaml.safe_dump(policy, sort_keys=False, allow_unicode=True),
                    encoding="utf-8")
    return path
