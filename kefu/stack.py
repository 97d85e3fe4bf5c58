"""The processes that make up Kefu on one machine, built from the settings."""

from __future__ import annotations

import sys

from kefu.settings import REPO_ROOT, Settings
from kefu.supervisor import ChildSpec


def rasa_spec(settings: Settings) -> ChildSpec:
    rasa = settings.rasa_venv / "bin" / "rasa"
    return ChildSpec(
        name="rasa",
        argv=[
            str(rasa), "run",
            "--enable-api",
            "--interface", settings.host,
            "--port", str(settings.rasa_port),
            "--model", str(settings.model_dir),
            "--endpoints", str(REPO_ROOT / "endpoints.yml"),
            "--credentials", str(REPO_ROOT / "credentials.yml"),
        ],
        health_url=f"{settings.rasa_url}/",
        # endpoints.yml reads the action server's address from here.
        env={"KEFU_ACTION_ENDPOINT": settings.action_url},
    )


def action_server_spec(settings: Settings) -> ChildSpec:
    return ChildSpec(
        name="actions",
        argv=[sys.executable, "-m", "rasa_sdk", "--actions", "actions",
              "--port", str(settings.action_port)],
        health_url=f"http://{settings.host}:{settings.action_port}/health",
        start_timeout=120.0,
    )


def gateway_spec(settings: Settings) -> ChildSpec:
    return ChildSpec(
        name="gateway",
        argv=[sys.executable, "-m", "uvicorn", "bot.app:create_app", "--factory",
              "--host", settings.host, "--port", str(settings.gateway_port)],
        health_url=f"{settings.gateway_url}/healthz",
        start_timeout=120.0,
    )


def all_specs(settings: Settings) -> list[ChildSpec]:
    # Order matters: Rasa needs the action server only when an action runs, the gateway needs
    # Rasa for every message, so the gateway comes last and is stopped first.
    return [action_server_spec(settings), rasa_spec(settings), gateway_spec(settings)]
