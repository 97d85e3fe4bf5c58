"""Secrets come only from the environment: nothing that looks like one is in the tracked
files, Rasa's credentials and endpoints files name environment variables for every address
and credential, and every secret setting defaults to nothing."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import yaml

from kefu_config.settings import REPO_ROOT, Settings

TELEGRAM_TOKEN = re.compile(r"\b\d{6,12}:[A-Za-z0-9_-]{35}\b")
PRIVATE_KEY = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")
AWS_KEY = re.compile(r"\bAKIA[0-9A-Z]{16}\b")
# scheme://user:password@host with a password that is not a ${VARIABLE}.
URL_PASSWORD = re.compile(r"[a-z+]+://[^/\s:@'\"]+:(?!\$\{)[^@\s/'\"]+@")
# password: value / secret = "value" in configuration files.
CONFIG_SECRET = re.compile(
    r"^\s*[\w.-]*(password|passwd|secret|token|api_key|apikey)[\w.-]*\s*[:=]\s*(?P<value>\S.*)$",
    re.IGNORECASE)
# RabbitMQ's built-in account, which RabbitMQ accepts only from the same machine: the local
# development default (kefu_config/settings.py), not a secret.
RABBITMQ_LOCAL_DEFAULT = "amqp://guest:guest@127.0.0.1"
PLACEHOLDER = re.compile(r"CHANGE[-_]?ME|changeme|<[^>]*>|\$\{[A-Z0-9_]+\}|\*+|x+",
                         re.IGNORECASE)
CONFIG_FILES = (".yml", ".yaml", ".toml", ".ini", ".cfg", ".env", ".conf", ".json")
RASA_FILES = ("credentials.yml", "endpoints.yml", "endpoints.production.yml")
# Keys in Rasa's files whose values are addresses or credentials.
SENSITIVE_KEY = re.compile(r"url|host|port|user|username|password|token|secret|key|db",
                           re.IGNORECASE)
ENV_REFERENCE = re.compile(r"^\$\{[A-Z][A-Z0-9_]*\}$")


def tracked_files() -> list[Path]:
    names = subprocess.run(["git", "ls-files", "-z"], cwd=REPO_ROOT, check=True,
                           capture_output=True).stdout.decode().split("\0")
    return [REPO_ROOT / name for name in names if name and (REPO_ROOT / name).is_file()]


def text_of(path: Path) -> str | None:
    data = path.read_bytes()
    if b"\0" in data[:8192]:
        return None  # binary
    return data.decode("utf-8", errors="replace")


def is_test_fake(path: Path, line: str) -> bool:
    # Tests talk to tests/support/fake_bot_api.py with made-up tokens that say so.
    return path.relative_to(REPO_ROOT).parts[0] == "tests" and "Test" in line


def url_password_problem(path: Path, line: str) -> bool:
    line = line.replace(RABBITMQ_LOCAL_DEFAULT, "")
    for match in URL_PASSWORD.finditer(line):
        password = match.group(0).rsplit(":", 1)[1].rstrip("@")
        if PLACEHOLDER.fullmatch(password):
            continue  # documentation: "kefu:CHANGE-ME@db.internal"
        if path.relative_to(REPO_ROOT).parts[0] == "tests" and ".internal" in line:
            continue  # made-up credentials for made-up hosts, to test URL handling
        return True
    return False


def test_no_tracked_file_holds_a_secret():
    files = tracked_files()
    assert len(files) > 100
    assert not [f for f in files if f.name == ".env" or f.suffix in (".pem", ".key")]
    problems = []
    for path in files:
        if path == Path(__file__).resolve():
            continue  # this file's own examples of what the scan looks for
        text = text_of(path)
        if text is None:
            continue
        for number, line in enumerate(text.splitlines(), start=1):
            where = f"{path.relative_to(REPO_ROOT)}:{number}"
            if TELEGRAM_TOKEN.search(line) and not is_test_fake(path, line):
                problems.append(f"{where}: a Telegram bot token")
            if PRIVATE_KEY.search(line):
                problems.append(f"{where}: a private key")
            if AWS_KEY.search(line):
                problems.append(f"{where}: an AWS access key")
            if url_password_problem(path, line):
                problems.append(f"{where}: a password in a URL")
            if path.suffix in CONFIG_FILES and (match := CONFIG_SECRET.match(line)):
                value = match.group("value").strip().strip("'\"")
                # A secret is one word; prose (policy/shop.yml's "password" help topic) is not.
                if len(value) >= 6 and not re.search(r"\s", value) and \
                        not value.startswith(("${", "#")):
                    problems.append(f"{where}: a secret written into configuration")
    assert not problems, "\n".join(problems)


def test_the_scan_recognises_what_it_looks_for():
    # The patterns above must match real-looking secrets, or the scan could never fail.
    assert TELEGRAM_TOKEN.search("token: 123456789:AAHk3bQZ-7Jx_9VtYp0LmNcQrStUvWxYz12")
    assert URL_PASSWORD.search("postgresql://kefu:s3cret@db:5432/kefu")
    assert not URL_PASSWORD.search("postgresql://kefu:${KEFU_DB_PASSWORD}@db/kefu")
    assert CONFIG_SECRET.match("  password: hunter2")
    assert URL_PASSWORD.search("amqp://kefu:s3cret@127.0.0.1:5672/")
    somewhere = REPO_ROOT / "docs" / "deploy.md"
    assert url_password_problem(somewhere, "KEFU_DATABASE_URL=postgresql://kefu:s3cret@db/kefu")
    assert not url_password_problem(somewhere, "postgresql+psycopg://kefu:CHANGE-ME@db/kefu")
    assert PRIVATE_KEY.search("-----BEGIN OPENSSH PRIVATE KEY-----")


def test_rasa_credentials_and_endpoints_name_environment_variables_only():
    problems = []

    def walk(node, where: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if isinstance(value, dict | list):
                    walk(value, f"{where}.{key}")
                elif value is not None and SENSITIVE_KEY.search(str(key)) and \
                        not ENV_REFERENCE.match(str(value)):
                    problems.append(f"{where}.{key} = {value!r} is not ${{VARIABLE}}")
        elif isinstance(node, list):
            for index, item in enumerate(node):
                walk(item, f"{where}[{index}]")

    for name in RASA_FILES:
        path = REPO_ROOT / name
        assert path.is_file(), name
        walk(yaml.safe_load(path.read_text()) or {}, name)
    assert not problems, "\n".join(problems)


def test_secret_settings_have_no_default():
    defaults = Settings()
    secret_fields = [name for name in Settings.model_fields
                     if re.search(r"token|secret|password|key", name)
                     and not name.endswith(("_hours", "_minutes"))]
    assert {"telegram_token", "secret_key", "shop_secret", "rest_token"} <= set(secret_fields)
    assert {name: getattr(defaults, name) for name in secret_fields} == \
        dict.fromkeys(secret_fields)
