"""`kefu user`: staff accounts from the command line, passwords only from standard input."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner, Result

from crm_store import db, migrate
from crm_store.db import session_scope
from crm_store.models import StaffSession
from crm_store.services import staff, staff_sessions
from kefu.cli import app

KEFU = Path(sys.executable).parent / "kefu"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("kefu-user-cli")
    url = f"sqlite:///{data_dir / 'kefu.db'}"
    previous = db.database_url()
    db.configure(url)
    migrate.upgrade(url=url)
    yield data_dir
    db.configure(previous)


@pytest.fixture(scope="module")
def kefu(store):
    """`kefu("add", ...)`: `kefu user add ...` in this process, on the module's store."""
    runner = CliRunner()

    def run(*args: str, stdin: str | None = None) -> Result:
        return runner.invoke(app, ["user", *args], input=stdin)

    return run


def test_the_installed_command_reads_the_password_from_stdin(store):
    env = {**os.environ, "KEFU_DATA_DIR": str(store)}
    env.pop("KEFU_DATABASE_URL", None)
    added = subprocess.run([str(KEFU), "user", "add", "yan@shop.example", "--role", "agent"],
                           cwd=REPO, env=env, input="piped in password\n", capture_output=True,
                           text=True, timeout=120)
    assert added.returncode == 0, added.stderr
    assert "created yan@shop.example (agent)" in added.stdout
    with session_scope() as session:
        assert staff.authenticate(session, email="yan@shop.example",
                                  password="piped in password") is not None


def test_add_list_and_disable_a_staff_account(kefu):
    added = kefu("add", "Zoe@Shop.example", "--role", "admin", "--name", "Zoe",
                 stdin="a very secret password\n")
    assert added.exit_code == 0, added.stderr
    assert "created zoe@shop.example (admin)" in added.stdout
    assert "a very secret password" not in added.stdout + added.stderr
    with session_scope() as session:
        user = staff.authenticate(session, email="zoe@shop.example",
                                  password="a very secret password")
        assert user is not None and user.role.value == "admin" and user.name == "Zoe"
        staff_sessions.open_session(session, staff_id=user.id, token_hash="e" * 64,
                                    kind="api", lifetime=timedelta(hours=1))

    listed = kefu("list")
    assert "zoe@shop.example" in listed.stdout and "admin" in listed.stdout
    assert "active" in listed.stdout

    disabled = kefu("disable", "zoe@shop.example")
    assert disabled.exit_code == 0 and "1 session(s) ended" in disabled.stdout
    with session_scope() as session:
        assert session.scalars(select(StaffSession)).all() == []
        assert staff.authenticate(session, email="zoe@shop.example",
                                  password="a very secret password") is None
    assert "disabled" in kefu("list").stdout
    assert kefu("enable", "zoe@shop.example").exit_code == 0


def test_bad_accounts_are_refused_with_the_reason(kefu):
    short = kefu("add", "a@shop.example", "--role", "agent", stdin="short\n")
    assert short.exit_code == 1 and "at least 10 characters" in short.stderr
    role = kefu("add", "a@shop.example", "--role", "boss", stdin="long enough password\n")
    assert role.exit_code == 1 and "unknown role 'boss'" in role.stderr
    email = kefu("add", "not-an-email", "--role", "agent", stdin="long enough password\n")
    assert email.exit_code == 1 and "not valid" in email.stderr
    nothing = kefu("add", "b@shop.example", "--role", "agent")
    assert nothing.exit_code == 1 and "no password on standard input" in nothing.stderr
    assert kefu("add", "c@shop.example", "--role", "agent",
                stdin="long enough password\n").exit_code == 0
    again = kefu("add", "C@shop.example", "--role", "agent", stdin="long enough password\n")
    assert again.exit_code == 1 and "already exists" in again.stderr
    # There is no way to give the password on the command line.
    argument = kefu("add", "d@shop.example", "--role", "agent", "--password", "x" * 12)
    assert argument.exit_code == 2
    assert kefu("disable", "nobody@shop.example").exit_code == 1


def test_password_change_signs_out_everywhere(kefu):
    kefu("add", "e@shop.example", "--role", "agent", stdin="first password 123\n")
    with session_scope() as session:
        user = staff.get_by_email(session, email="e@shop.example")
        staff_sessions.open_session(session, staff_id=user.id, token_hash="d" * 64,
                                    kind="browser", lifetime=timedelta(hours=1))
    changed = kefu("password", "e@shop.example", stdin="second password 456\n")
    assert changed.exit_code == 0 and "signed out everywhere" in changed.stdout
    with session_scope() as session:
        assert staff_sessions.active(session, token_hash="d" * 64) is None
        assert staff.authenticate(session, email="e@shop.example",
                                  password="second password 456") is not None
