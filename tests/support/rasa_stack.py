"""The real Rasa server with the trained model and the real action server, started as Kefu
starts them (kefu/stack.py), on free ports, for the test directories that need the dialogue.

Rasa takes about a minute to load the model on a small machine, so each directory starts one
per session and runs its gateways in-process on top.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from kefu.stack import action_server_spec, rasa_spec
from kefu.supervisor import Supervisor
from kefu_config.settings import REPO_ROOT, Settings
from tests.conftest import free_port


@contextmanager
def running_rasa(store_url: str, data_dir: Path,
                 env: dict[str, str] | None = None) -> Iterator[Settings]:
    """Settings naming the running servers (on `store_url`); both stop on leaving.

    The action server is needed even for a greeting: a new conversation starts with the custom
    `action_session_start`, which recognises a chat that was verified before.
    """
    settings = Settings(data_dir=data_dir, database_url=store_url, rasa_port=free_port(),
                        action_port=free_port())
    if not any(settings.model_dir.glob("*.tar.gz")):
        pytest.fail(f"no trained Rasa model in {settings.model_dir} (run `make train`)")
    supervisor = Supervisor(data_dir / "logs", cwd=REPO_ROOT)
    # Child processes must not download anything (sentence-transformers, Hugging Face).
    child_env = {"HF_HUB_OFFLINE": "1", "KEFU_DATABASE_URL": store_url,
                 "KEFU_DATA_DIR": str(data_dir), **(env or {})}
    try:
        for spec in (action_server_spec(settings), rasa_spec(settings)):
            spec.env.update(child_env)
            supervisor.wait_healthy(supervisor.start(spec))
        yield settings
    finally:
        supervisor.stop_all()
