"""The production profile chosen by configuration alone, and what `kefu run` derives from it
for Rasa's endpoints and nginx."""

from __future__ import annotations

import os
import re
import subprocess

import pytest

from kefu.balancer import find_nginx
from kefu.stack import endpoints_file, rasa_endpoint_env, tiers
from kefu_config.settings import PRODUCTION_DEFAULTS, Settings, with_profile_defaults
from tests.e2e.stack import KEFU, REPO


def _production(**values) -> Settings:
    return with_profile_defaults(Settings(profile="production", **values))


def test_the_profile_fills_in_local_services_only_where_nothing_was_set():
    settings = _production(redis_url="redis://cache.internal:6380/2")
    assert settings.resolved_database_url == PRODUCTION_DEFAULTS["database_url"]
    assert settings.redis_url == "redis://cache.internal:6380/2"
    assert settings.rabbitmq_url == PRODUCTION_DEFAULTS["rabbitmq_url"]
    default = with_profile_defaults(Settings())
    assert default.redis_url is None and default.rabbitmq_url is None
    assert default.resolved_database_url.startswith("sqlite:///")


def test_rasa_gets_postgres_redis_and_rabbitmq_from_kefus_own_variables():
    settings = _production(
        database_url="postgresql+psycopg://kefu:s%40cret@db.internal:5433/shop",
        redis_url="redis://:r3dis@cache.internal:6380/0",
        rabbitmq_url="amqp://kefu:m%2Fq@mq.internal:5673/")
    env = rasa_endpoint_env(settings)
    # psycopg2 (Rasa's environment), with the password kept.
    assert env["KEFU_RASA_TRACKER_URL"] == "postgresql://kefu:s%40cret@db.internal:5433/shop"
    assert (env["KEFU_RASA_LOCK_HOST"], env["KEFU_RASA_LOCK_PORT"], env["KEFU_RASA_LOCK_DB"],
            env["KEFU_RASA_LOCK_PASSWORD"]) == ("cache.internal", "6380", "1", "r3dis")
    assert (env["KEFU_RASA_BROKER_HOST"], env["KEFU_RASA_BROKER_PORT"],
            env["KEFU_RASA_BROKER_USER"], env["KEFU_RASA_BROKER_PASSWORD"]) == \
        ("mq.internal", "5673", "kefu", "m/q")
    assert endpoints_file(settings).endswith("endpoints.production.yml")
    # Every ${VAR} in the endpoints file gets a value (Rasa stops on an unset one).
    text = (REPO / "endpoints.production.yml").read_text()
    wanted = set(re.findall(r"\$\{(KEFU_[A-Z_]+)\}", text))
    assert len(wanted) >= 10
    assert wanted <= set(env), wanted - set(env)


def test_sqlite_is_refused_on_the_production_profile():
    with pytest.raises(ValueError, match="needs PostgreSQL"):
        rasa_endpoint_env(_production(database_url="sqlite:////tmp/kefu.db"))


def test_replicas_get_consecutive_ports_behind_a_valid_nginx_config(tmp_path):
    settings = _production(replicas=3, data_dir=tmp_path, gateway_port=18000,
                           rasa_port=15000, action_port=15100)
    groups = tiers(settings)
    names = [[spec.name for spec in group] for group in groups]
    assert names == [["actions-1", "actions-2", "actions-3"], ["rasa-1", "rasa-2", "rasa-3"],
                     ["gateway-1", "gateway-2", "gateway-3"], ["nginx"]]
    assert [spec.argv[-1] for spec in groups[2]] == ["18001", "18002", "18003"]
    # Rasa replicas call the action servers through their balancer.
    assert groups[1][0].env["KEFU_ACTION_ENDPOINT"] == "http://127.0.0.1:15100/webhook"
    config = (tmp_path / "nginx" / "nginx.conf").read_text()
    assert "proxy_set_header Upgrade $http_upgrade;" in config
    for port in (18001, 18002, 18003, 15001, 15101):
        assert f"server 127.0.0.1:{port} " in config
    checked = subprocess.run([find_nginx("nginx"), "-t", "-p", str(tmp_path / "nginx"),
                              "-c", str(tmp_path / "nginx" / "nginx.conf")],
                             capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr


def test_one_replica_needs_no_balancer():
    assert [spec.name for group in tiers(_production()) for spec in group] == \
        ["actions", "rasa", "gateway"]


def test_replicas_without_the_production_profile_are_refused(tmp_path):
    env = {**os.environ, "KEFU_DATA_DIR": str(tmp_path)}
    env.pop("KEFU_PROFILE", None)
    done = subprocess.run([str(KEFU), "run", "--replicas", "2"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "--replicas needs --profile production" in done.stderr


def test_replicas_with_telegram_long_polling_are_refused(tmp_path):
    # Telegram answers a second concurrent getUpdates with 409: replicas need the webhook.
    env = {**os.environ, "KEFU_DATA_DIR": str(tmp_path), "KEFU_TELEGRAM_TOKEN": "123:abc"}
    env.pop("KEFU_TELEGRAM_WEBHOOK_URL", None)
    done = subprocess.run([str(KEFU), "run", "--profile", "production", "--replicas", "2"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "KEFU_TELEGRAM_WEBHOOK_URL" in done.stderr
