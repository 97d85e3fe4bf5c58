"""`kefu user`: staff accounts for the agent console, marketing and the dashboard.

Passwords are read from standard input, never from the command line (where `ps` and shell
history would keep them): typed twice at a terminal, or one line piped in by a script.
"""

from __future__ import annotations

import getpass
import sys

import typer

from crm_store.db import session_scope
from crm_store.errors import StoreError
from crm_store.models import LoginThrottle, StaffRole
from crm_store.normalise import normalise_email
from crm_store.services import staff, staff_sessions

app = typer.Typer(help="Staff accounts (agent, marketer, admin).", no_args_is_help=True)

ROLE_HELP = "agent (service staff), marketer or admin"


def _fail(message: str) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(1)


def _require_schema() -> None:
    from kefu.commands.store import _require_current_schema

    _require_current_schema()


def _read_password(confirm: bool = True) -> str:
    if sys.stdin.isatty():
        password = getpass.getpass("Password: ")
        if confirm and getpass.getpass("Repeat password: ") != password:
            raise _fail("the passwords do not match; nothing changed")
        return password
    line = sys.stdin.readline()
    if not line:
        raise _fail("no password on standard input (pipe one line, or run at a terminal)")
    return line.rstrip("\r\n")


@app.command("add")
def add(email: str = typer.Argument(..., help="The staff member's email (their sign-in)."),
        role: str = typer.Option(..., "--role", help=ROLE_HELP),
        name: str | None = typer.Option(None, "--name", help="Shown to colleagues and, for "
                                        "agents, to customers when they join a chat.")) -> None:
    """Create an account; the password comes from standard input."""
    try:
        role = StaffRole(role.strip().lower()).value
    except ValueError:
        raise _fail(f"unknown role {role!r}: use {ROLE_HELP}") from None
    _require_schema()
    password = _read_password()
    try:
        with session_scope() as session:
            user = staff.create_user(session, email=email, password=password, role=role,
                                     name=name, actor="cli")
            typer.echo(f"created {user.email} ({role}), id {user.id}")
    except StoreError as exc:
        raise _fail(f"not created: {exc}") from exc


@app.command("list")
def list_users() -> None:
    """Every account with its role and state."""
    _require_schema()
    with session_scope() as session:
        users = staff.list_users(session)
        if not users:
            typer.echo("no staff accounts yet: kefu user add EMAIL --role admin")
            return
        for user in users:
            last = user.last_login_at.strftime("%Y-%m-%d %H:%M") if user.last_login_at \
                else "never"
            typer.echo(f"{user.id:>4}  {user.email:<36} {user.role.value:<9} "
                       f"{'active' if user.active else 'disabled':<9} last sign-in {last}"
                       + (f"  ({user.name})" if user.name else ""))


def _set_active(email: str, active: bool) -> None:
    _require_schema()
    try:
        with session_scope() as session:
            user = staff.get_by_email(session, email=email)
            staff.set_active(session, user_id=user.id, active=active, actor="cli")
            ended = 0 if active else staff_sessions.close_all(session, staff_id=user.id)
    except StoreError as exc:
        raise _fail(str(exc)) from exc
    typer.echo(f"{user.email} {'enabled' if active else 'disabled'}"
               + (f"; {ended} session(s) ended" if ended else ""))


@app.command("disable")
def disable(email: str) -> None:
    """Stop an account signing in; its open sessions end at once."""
    _set_active(email, False)


@app.command("enable")
def enable(email: str) -> None:
    """Let a disabled account sign in again."""
    _set_active(email, True)


@app.command("password")
def password(email: str) -> None:
    """Set a new password (from standard input); the account's sessions end."""
    _require_schema()
    new = _read_password()
    try:
        with session_scope() as session:
            user = staff.get_by_email(session, email=email)
            staff.set_password(session, user_id=user.id, password=new, actor="cli")
            staff_sessions.close_all(session, staff_id=user.id)
    except StoreError as exc:
        raise _fail(f"not changed: {exc}") from exc
    typer.echo(f"password of {user.email} changed; signed out everywhere")


@app.command("unlock")
def unlock(email: str) -> None:
    """Lift a sign-in lockout before it runs out."""
    _require_schema()
    try:
        key = normalise_email(email)
    except StoreError as exc:
        raise _fail(str(exc)) from exc
    with session_scope() as session:
        throttle = session.get(LoginThrottle, key)
        if throttle is not None:
            session.delete(throttle)
    typer.echo(f"{key} can sign in again" if throttle else f"{key} was not locked")
