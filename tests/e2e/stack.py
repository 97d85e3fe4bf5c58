"""Starts the real stack (`kefu run`) on free ports with a throw-away data directory.

KEFU_TEST_PROFILE=production runs every stack on the production profile instead: a fresh
PostgreSQL database (created here, dropped afterwards), Redis and RabbitMQ (a queue of its
own for Rasa's events), as `make test` does in its second e2e run.
"""

from __future__ import annotations

import asyncio
import os
import random
import secrets
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from kefu.supervisor import stop_process

REPO = Path(__file__).resolve().parents[2]
KEFU = Path(sys.executable).parent / "kefu"

PROFILE = os.environ.get("KEFU_TEST_PROFILE", "default")
# The CI machine's services (tests/README: PostgreSQL with trust auth, Redis, RabbitMQ).
POSTGRES_ADMIN_URL = os.environ.get("KEFU_TEST_POSTGRES_ADMIN_URL",
                                    "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("KEFU_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
RABBITMQ_URL = os.environ.get("KEFU_TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/")


@dataclass
class RunningStack:
    process: subprocess.Popen
    gateway_url: str
    env: dict[str, str]
    data_dir: Path
    output_path: Path

    def output(self) -> str:
        return self.output_path.read_text(errors="replace")

    @property
    def database_url(self) -> str:
        """The customer store this stack writes to (for checks through crm_store)."""
        return self.env.get("KEFU_DATABASE_URL") or f"sqlite:///{self.data_dir / 'kefu.db'}"

    def stop(self, timeout: float = 30.0) -> int:
        return stop_process(self.process, timeout)


def start_stack(data_dir: Path, ports: dict[str, int], extra_env: dict[str, str] | None = None,
                timeout: float = 300.0, args: list[str] | None = None) -> RunningStack:
    env = {
        **os.environ,
        "KEFU_DATA_DIR": str(data_dir),
        "KEFU_GATEWAY_PORT": str(ports["gateway"]),
        "KEFU_RASA_PORT": str(ports["rasa"]),
        "KEFU_ACTION_PORT": str(ports["actions"]),
        # Children must not download anything (sentence-transformers, Hugging Face).
        "HF_HUB_OFFLINE": "1",
        **(extra_env or {}),
    }
    output_path = data_dir / "kefu-run.out"
    data_dir.mkdir(parents=True, exist_ok=True)
    out = output_path.open("wb")
    process = subprocess.Popen([str(KEFU), "run", *(args or [])], cwd=REPO, env=env,
                               stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    out.close()
    stack = RunningStack(process, f"http://127.0.0.1:{ports['gateway']}", env, data_dir,
                         output_path)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if "Kefu is running" in stack.output():
            return stack
        if process.poll() is not None:
            raise RuntimeError(f"kefu run exited early:\n{stack.output()}")
        time.sleep(0.5)
    stack.stop()
    raise RuntimeError(f"kefu run did not start within {timeout} s:\n{stack.output()}")


# --- the production profile's services ---------------------------------------------------------

def free_port_block(size: int, attempts: int = 200) -> int:
    """A port p with p .. p+size-1 all free (a tier's public port and its replicas' ports)."""
    for _ in range(attempts):
        base = random.randint(20_000, 60_000 - size)
        sockets = []
        try:
            for port in range(base, base + size):
                s = socket.socket()
                sockets.append(s)
                s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for s in sockets:
                s.close()
    raise RuntimeError(f"no {size} consecutive free ports")


@dataclass
class ProductionServices:
    """A throw-away database and event queue on the machine's PostgreSQL and RabbitMQ."""

    database_url: str
    queue: str

    @property
    def env(self) -> dict[str, str]:
        return {"KEFU_PROFILE": "production", "KEFU_DATABASE_URL": self.database_url,
                "KEFU_REDIS_URL": REDIS_URL, "KEFU_RABBITMQ_URL": RABBITMQ_URL,
                "KEFU_RASA_EVENTS_QUEUE": self.queue}


def _admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as connection:
        connection.execute(sql)


def create_production_services() -> ProductionServices:
    name = f"kefu_test_{secrets.token_hex(4)}"
    _admin(f'CREATE DATABASE "{name}"')
    admin = POSTGRES_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://",
                                                         "postgresql+psycopg://")
    return ProductionServices(f"{admin}/{name}", name)


def drop_production_services(services: ProductionServices) -> None:
    import aio_pika

    from crm_store import db

    db.reset_engine()  # the test process's own connections to it
    name = services.database_url.rsplit("/", 1)[1]
    _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    async def delete_queue() -> None:
        connection = await aio_pika.connect(RABBITMQ_URL)
        async with connection:
            channel = await connection.channel()
            await channel.queue_delete(services.queue)

    asyncio.run(delete_queue())


class Customer:
    """A customer on the REST channel of a running stack."""

    def __init__(self, shop, sender: str) -> None:
        self.url = f"{shop.gateway_url}/webhooks/rest/webhook"
        self.sender = sender

    def say(self, text: str) -> list[dict]:
        response = httpx.post(self.url, json={"sender": self.sender, "message": text}, timeout=90)
        assert response.status_code == 200, response.text
        return response.json()

    def says(self, text: str) -> str:
        """What the customer reads in reply, as one text."""
        return "\n".join(m.get("text") or "" for m in self.say(text))
