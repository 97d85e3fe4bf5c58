"""The processes that make up Kefu on one machine, built from the settings.

Default profile: one action server, one Rasa server, one gateway. Production profile: the
same on PostgreSQL, Redis and RabbitMQ (endpoints.production.yml), `replicas` of each
process on consecutive ports after each tier's public port, and nginx on the public ports
in front of each tier (kefu/balancer.py) when there is more than one replica.
"""

from __future__ import annotations

import os
import socket
import sys
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from sqlalchemy.engine import make_url

from kefu.balancer import Tier, find_nginx, write_config
from kefu.supervisor import ChildSpec
from kefu_config.settings import REPO_ROOT, Settings


@dataclass(frozen=True)
class Ports:
    """Where each replica of a tier listens (the public port itself when there is one)."""

    public: int
    replicas: list[int]


def tier_ports(public: int, replicas: int) -> Ports:
    if replicas == 1:
        return Ports(public, [public])
    return Ports(public, [public + i for i in range(1, replicas + 1)])


def endpoints_file(settings: Settings) -> str:
    name = "endpoints.production.yml" if settings.profile == "production" else "endpoints.yml"
    return str(REPO_ROOT / name)


def profile_env(settings: Settings) -> dict[str, str]:
    """What every child must agree on: the profile and the shared services' addresses, also
    when they came from `--profile`/defaults rather than the environment."""
    env = {"KEFU_PROFILE": settings.profile, "KEFU_DATA_DIR": str(settings.data_path),
           "KEFU_DATABASE_URL": settings.resolved_database_url,
           "KEFU_RASA_PORT": str(settings.rasa_port),
           "KEFU_ACTION_PORT": str(settings.action_port),
           "KEFU_GATEWAY_PORT": str(settings.gateway_port)}
    if settings.redis_url:
        env["KEFU_REDIS_URL"] = settings.redis_url
    if settings.rabbitmq_url:
        env["KEFU_RABBITMQ_URL"] = settings.rabbitmq_url
        env["KEFU_RASA_EVENTS_QUEUE"] = settings.rasa_events_queue
    return {**env, **math_threads_env(settings)}


# The variables each numeric library reads for its thread pool size at start-up.
MATH_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                         "TF_INTRA_OP_PARALLELISM_THREADS", "TF_INTER_OP_PARALLELISM_THREADS")


def math_threads_env(settings: Settings) -> dict[str, str]:
    """Thread pool sizes for the children's numeric libraries (settings.math_threads); a
    variable the operator set in the environment wins."""
    if settings.math_threads == 0:
        return {}
    return {name: str(settings.math_threads) for name in MATH_THREAD_VARIABLES
            if name not in os.environ}


def rasa_endpoint_env(settings: Settings) -> dict[str, str]:
    """The variables endpoints.production.yml reads, derived from Kefu's own settings."""
    env = {"KEFU_ACTION_ENDPOINT": settings.action_url}
    if settings.profile != "production":
        return env
    if settings.rasa_tracker_url:
        tracker = settings.rasa_tracker_url
    else:
        # The customer store's database, through psycopg2 (what Rasa's environment has).
        url = make_url(settings.resolved_database_url)
        if url.get_backend_name() != "postgresql":
            raise ValueError("the production profile needs PostgreSQL (KEFU_DATABASE_URL), "
                             f"not {url.get_backend_name()}")
        tracker = url.set(drivername="postgresql").render_as_string(hide_password=False)
    lock = urlsplit(settings.rasa_lock_redis_url or settings.redis_url or "")
    broker = urlsplit(settings.rabbitmq_url or "")
    if not lock.hostname or not broker.hostname:
        raise ValueError("the production profile needs KEFU_REDIS_URL and KEFU_RABBITMQ_URL")
    lock_db = lock.path.strip("/") if settings.rasa_lock_redis_url else "1"
    env.update({
        "KEFU_RASA_TRACKER_URL": tracker,
        "KEFU_RASA_LOCK_HOST": lock.hostname,
        "KEFU_RASA_LOCK_PORT": str(lock.port or 6379),
        "KEFU_RASA_LOCK_DB": lock_db or "1",
        "KEFU_RASA_LOCK_PASSWORD": unquote(lock.password or ""),
        "KEFU_RASA_LOCK_PREFIX": "kefu",
        "KEFU_RASA_BROKER_HOST": broker.hostname,
        "KEFU_RASA_BROKER_PORT": str(broker.port or 5672),
        "KEFU_RASA_BROKER_USER": unquote(broker.username or "guest"),
        "KEFU_RASA_BROKER_PASSWORD": unquote(broker.password or "guest"),
        "KEFU_RASA_EVENTS_QUEUE": settings.rasa_events_queue,
    })
    return env


def _suffix(index: int, replicas: int) -> str:
    return f"-{index + 1}" if replicas > 1 else ""


def rasa_specs(settings: Settings) -> list[ChildSpec]:
    rasa = settings.rasa_venv / "bin" / "rasa"
    # No telemetry unless the shop asks for it: customer service must not phone home.
    env = {"RASA_TELEMETRY_ENABLED": os.environ.get("RASA_TELEMETRY_ENABLED", "false"),
           **profile_env(settings), **rasa_endpoint_env(settings)}
    specs = []
    for i, port in enumerate(tier_ports(settings.rasa_port, settings.replicas).replicas):
        specs.append(ChildSpec(
            name=f"rasa{_suffix(i, settings.replicas)}",
            argv=[
                str(rasa), "run",
                "--enable-api",
                "--interface", settings.host,
                "--port", str(port),
                "--model", str(settings.model_dir),
                "--endpoints", endpoints_file(settings),
                "--credentials", str(REPO_ROOT / "credentials.yml"),
            ],
            health_url=f"http://{settings.host}:{port}/",
            env=env,
        ))
    return specs


def action_server_specs(settings: Settings) -> list[ChildSpec]:
    return [
        ChildSpec(
            name=f"actions{_suffix(i, settings.replicas)}",
            argv=[sys.executable, "-m", "rasa_sdk", "--actions", "actions",
                  "--port", str(port)],
            health_url=f"http://{settings.host}:{port}/health",
            env=profile_env(settings),
            start_timeout=120.0,
        )
        for i, port in enumerate(tier_ports(settings.action_port, settings.replicas).replicas)
    ]


def gateway_specs(settings: Settings) -> list[ChildSpec]:
    return [
        ChildSpec(
            name=f"gateway{_suffix(i, settings.replicas)}",
            argv=[sys.executable, "-m", "uvicorn", "bot.app:create_app", "--factory",
                  "--host", settings.host, "--port", str(port)],
            health_url=f"http://{settings.host}:{port}/healthz",
            # Each replica talks to the Rasa tier's public port (nginx, or the only Rasa), and
            # has its own name in the store's leases on the messages it answers
            # (bot/recovery.py): KEFU_GATEWAY_PORT is the tier's public port, the same for all.
            env={**profile_env(settings),
                 "KEFU_REPLICA_NAME": f"{socket.gethostname()}:{port}"},
            start_timeout=120.0,
        )
        for i, port in enumerate(tier_ports(settings.gateway_port, settings.replicas).replicas)
    ]


def balancer_spec(settings: Settings) -> ChildSpec | None:
    if settings.replicas == 1:
        return None
    n = settings.replicas
    tiers = [
        Tier("gateway", settings.gateway_port, tier_ports(settings.gateway_port, n).replicas,
             read_timeout="3600s"),
        Tier("rasa", settings.rasa_port, tier_ports(settings.rasa_port, n).replicas),
        Tier("actions", settings.action_port, tier_ports(settings.action_port, n).replicas),
    ]
    prefix = settings.data_path / "nginx"
    config = write_config(settings.host, tiers, prefix)
    return ChildSpec(
        name="nginx",
        argv=[find_nginx(settings.nginx_binary), "-p", str(prefix), "-c", str(config)],
        health_url=f"{settings.gateway_url}/healthz",
        start_timeout=30.0,
    )


def tiers(settings: Settings) -> list[list[ChildSpec]]:
    """The children in start order; the replicas of one tier start together.

    Order matters: Rasa needs the action server only when an action runs, the gateway needs
    Rasa for every message, so the gateways come last (before their balancer) and are stopped
    first.
    """
    groups = [action_server_specs(settings), rasa_specs(settings), gateway_specs(settings)]
    balancer = balancer_spec(settings)
    if balancer is not None:
        groups.append([balancer])
    return groups


# One process of each (the default profile, and tests that start Rasa themselves).
def rasa_spec(settings: Settings) -> ChildSpec:
    return rasa_specs(settings.model_copy(update={"replicas": 1}))[0]


def action_server_spec(settings: Settings) -> ChildSpec:
    return action_server_specs(settings.model_copy(update={"replicas": 1}))[0]


def gateway_spec(settings: Settings) -> ChildSpec:
    return gateway_specs(settings.model_copy(update={"replicas": 1}))[0]
