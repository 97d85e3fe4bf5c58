"""The two systems under load, started as a user starts them, on free ports.

Kefu: `kefu prepare` (migrations, demo shop, product index) into a throw-away data directory,
then `kefu run`, ready when it prints "Kefu is running" (as tests/e2e/stack.py does).

The starter bot: `rasa init --no-prompt` (which also trains its model) into
var/bench/rasa_init/rasa-<version>/, done once per Rasa version, then `rasa run --enable-api`
on its REST channel.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx

from kefu.supervisor import stop_process

REPO = Path(__file__).resolve().parents[2]
KEFU = REPO / ".venv" / "bin" / "kefu"
RASA = REPO / ".venv-rasa" / "bin" / "rasa"
STARTER_CACHE = REPO / "var" / "bench" / "rasa_init"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Process:
    """A started command whose output goes to a file; stopped with SIGTERM, then SIGKILL."""

    name: str
    process: subprocess.Popen
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.output().splitlines()[-lines:])

    def stop(self, timeout: float = 60.0) -> int:
        return stop_process(self.process, timeout)


def start(name: str, argv: list[str], log: Path, env: dict[str, str], cwd: Path) -> Process:
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        process = subprocess.Popen(argv, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    return Process(name, process, log)


def wait_for(process: Process, ready, timeout: float, what: str) -> None:
    """Poll `ready()` until it holds; fail with the process's log if it dies or times out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return
        if process.process.poll() is not None:
            raise RuntimeError(f"{process.name} exited before {what}:\n{process.tail()}")
        time.sleep(0.5)
    process.stop()
    raise RuntimeError(f"{process.name}: no {what} within {timeout:.0f} s:\n{process.tail()}")


# --- Kefu ---------------------------------------------------------------------------------------

@dataclass
class Kefu:
    run: Process
    url: str
    data_dir: Path
    database_url: str


def kefu_env(data_dir: Path, database_url: str | None, extra: dict[str, str]) -> dict[str, str]:
    env = {**os.environ, "KEFU_DATA_DIR": str(data_dir), **extra}
    if database_url:
        env["KEFU_DATABASE_URL"] = database_url
    return env


def prepare_kefu(data_dir: Path, database_url: str | None, extra_env: dict[str, str],
                 progress) -> None:
    env = kefu_env(data_dir, database_url, extra_env)
    data_dir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    done = subprocess.run([str(KEFU), "prepare"], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=1200)
    if done.returncode != 0:
        raise RuntimeError(f"kefu prepare failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
    progress(f"kefu prepare: {time.monotonic() - started:.0f} s")


def start_kefu(data_dir: Path, database_url: str | None, run_args: list[str],
               extra_env: dict[str, str], progress) -> Kefu:
    ports = {"KEFU_GATEWAY_PORT": str(free_port()), "KEFU_RASA_PORT": str(free_port()),
             "KEFU_ACTION_PORT": str(free_port())}
    env = kefu_env(data_dir, database_url, {**ports, **extra_env})
    started = time.monotonic()
    run = start("kefu run", [str(KEFU), "run", *run_args], data_dir / "kefu-run.out", env,
                REPO)
    wait_for(run, lambda: "Kefu is running" in run.output(), 600, "'Kefu is running'")
    url = f"http://127.0.0.1:{ports['KEFU_GATEWAY_PORT']}"
    # With --profile production the printed shop URL is the load balancer's: use that one.
    for line in run.output().splitlines():
        if "Open the shop page:" in line:
            url = line.split("Open the shop page:", 1)[1].strip().rstrip("/")
    progress(f"kefu run: ready in {time.monotonic() - started:.0f} s at {url}")
    return Kefu(run, url, data_dir,
                database_url or f"sqlite:///{data_dir / 'kefu.db'}")


# --- the production profile's services ---------------------------------------------------------

@dataclass
class ThrowAwayServices:
    """A database made for this run on the PostgreSQL server, and the name of the RabbitMQ
    queue for Rasa's events; both removed afterwards."""

    admin_url: str
    name: str
    rabbitmq_url: str

    @property
    def database_url(self) -> str:
        server = self.admin_url.rsplit("/", 1)[0].replace("postgresql://",
                                                         "postgresql+psycopg://", 1)
        return f"{server}/{self.name}"

    @property
    def env(self) -> dict[str, str]:
        return {"KEFU_PROFILE": "production", "KEFU_DATABASE_URL": self.database_url,
                "KEFU_RABBITMQ_URL": self.rabbitmq_url, "KEFU_RASA_EVENTS_QUEUE": self.name}


def _admin(admin_url: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(sql)


def create_services(admin_url: str, rabbitmq_url: str) -> ThrowAwayServices:
    services = ThrowAwayServices(admin_url, f"kefu_load_{uuid.uuid4().hex[:8]}", rabbitmq_url)
    _admin(admin_url, f'CREATE DATABASE "{services.name}"')
    return services


def drop_services(services: ThrowAwayServices) -> None:
    import asyncio

    import aio_pika

    _admin(services.admin_url, f'DROP DATABASE IF EXISTS "{services.name}" WITH (FORCE)')

    async def delete_queue() -> None:
        connection = await aio_pika.connect(services.rabbitmq_url)
        async with connection:
            channel = await connection.channel()
            await channel.queue_delete(services.name)

    try:
        asyncio.run(delete_queue())
    except Exception as exc:  # noqa: BLE001 - a queue never declared is nothing to remove
        print(f"queue {services.name} not removed: {exc!r}")


# --- Rasa's starter bot -------------------------------------------------------------------------

def rasa_version() -> str:
    done = subprocess.run([str(RASA.parent / "python"), "-c",
                           "import rasa; print(rasa.__version__)"],
                          capture_output=True, text=True, timeout=120, check=True)
    return done.stdout.strip()


def starter_project(progress) -> Path:
    """The `rasa init` project with its trained model, made once per Rasa version."""
    version = rasa_version()
    project = STARTER_CACHE / f"rasa-{version}"
    if list((project / "models").glob("*.tar.gz")):
        progress(f"starter bot: reusing {project.relative_to(REPO)} (Rasa {version})")
        return project
    STARTER_CACHE.mkdir(parents=True, exist_ok=True)
    # Built beside the cache and renamed into place, so an interrupted run leaves no half
    # project that a later run would take for a finished one.
    building = Path(tempfile.mkdtemp(prefix="building-", dir=STARTER_CACHE))
    progress(f"starter bot: rasa init --no-prompt (Rasa {version}; trains its model) ...")
    started = time.monotonic()
    done = subprocess.run([str(RASA), "init", "--no-prompt", "--init-dir", "."], cwd=building,
                          env=starter_env(), capture_output=True, text=True, timeout=1800)
    if done.returncode != 0 or not list((building / "models").glob("*.tar.gz")):
        raise RuntimeError(f"rasa init failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
    shutil.rmtree(project, ignore_errors=True)
    building.rename(project)
    progress(f"starter bot: trained in {time.monotonic() - started:.0f} s")
    return project


def starter_env() -> dict[str, str]:
    return {**os.environ, "RASA_TELEMETRY_ENABLED": "false"}


@dataclass
class Starter:
    run: Process
    url: str


def start_starter(project: Path, log_dir: Path, progress) -> Starter:
    port = free_port()
    started = time.monotonic()
    run = start("rasa run (starter bot)",
                [str(RASA), "run", "--enable-api", "--interface", "127.0.0.1",
                 "--port", str(port), "--model", str(project / "models")],
                log_dir / "starter-rasa.out", starter_env(), project)
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        try:
            return httpx.get(f"{url}/status", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    wait_for(run, ready, 600, "answer on /status")
    progress(f"starter bot: rasa run ready in {time.monotonic() - started:.0f} s at {url}")
    return Starter(run, url)
