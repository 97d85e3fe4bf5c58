"""Each test here says which services it uses. `make test` runs this directory in the same
session as the e2e tests on the production profile, whose fixture puts KEFU_PROFILE,
KEFU_DATABASE_URL and friends into the environment (tests/e2e/conftest.py): keep them out."""

from __future__ import annotations

import pytest

PROFILE_VARIABLES = ("KEFU_PROFILE", "KEFU_REPLICAS", "KEFU_DATABASE_URL", "KEFU_REDIS_URL",
                     "KEFU_RABBITMQ_URL", "KEFU_RASA_EVENTS_QUEUE")


@pytest.fixture(autouse=True)
def _no_profile_from_the_environment(monkeypatch):
    for name in PROFILE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
