"""Customer stores for tests: an empty one at the newest schema, or one with the demo shop and
the staff accounts the directories that run the whole dialogue sign in with."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

from crm_store import db, migrate
from crm_store.db import session_scope
from crm_store.services import staff
from kefu.demo import load_if_empty


class StaffAccount(Protocol):
    email: str
    password: str
    role: str
    name: str


def fresh_store(directory: Path) -> str:
    """An empty SQLite store in `directory` at the newest schema, this process's store."""
    url = f"sqlite:///{Path(directory) / 'kefu.db'}"
    db.reset_engine()
    db.configure(url)
    migrate.upgrade(url=url)
    return url


def open_demo_store(url: str, accounts: Iterable[StaffAccount] = ()) -> str:
    """Point this process's store at `url`, migrate it and load the demo shop and `accounts`."""
    db.configure(url)
    migrate.upgrade(url=url)
    load_if_empty()
    with session_scope() as session:
        for account in accounts:
            staff.create_user(session, email=account.email, password=account.password,
                              role=account.role, name=account.name)
    return url
