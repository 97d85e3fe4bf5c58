"""Where a catalog comes from: a CSV file, or crm_store (the shop's single source of truth).

An index records its source (`meta.json` "source": `store` or `csv:<path>`) so a long-running
process syncs it from the same place it was built from, and an empty database never wipes an
index that was built from a file.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

from knowledge.catalog import CatalogError, CatalogItem, load_csv

logger = logging.getLogger(__name__)

STORE = "store"


class CatalogSource(Protocol):
    name: str

    def items(self) -> list[CatalogItem]: ...

    def state(self) -> dict | None:
        """A cheap probe that changes whenever the catalog may have (None: no cheap probe)."""
        ...


class CsvSource:
    def __init__(self, path: Path) -> None:
        self.path = Path(path).resolve()
        self.name = f"csv:{self.path}"

    def items(self) -> list[CatalogItem]:
        return load_csv(self.path)

    def state(self) -> dict | None:
        stat = self.path.stat()
        return {"mtime_ns": stat.st_mtime_ns, "size": stat.st_size}


class StoreSource:
    """Products from crm_store, read in one short session."""

    name = STORE

    def items(self) -> list[CatalogItem]:
        from knowledge.store_bridge import catalog_from_store

        with _store_errors():
            return catalog_from_store()

    def state(self) -> dict | None:
        from knowledge.store_bridge import catalog_state

        with _store_errors():
            return catalog_state()


@contextmanager
def _store_errors() -> Iterator[None]:
    """A store that cannot be read (not migrated, server down) is a catalog problem to report."""
    from sqlalchemy.exc import SQLAlchemyError

    try:
        yield
    except SQLAlchemyError as exc:
        from crm_store.db import database_url
        from sqlalchemy.engine import make_url

        url = make_url(database_url()).render_as_string(hide_password=True)
        reason = getattr(exc, "orig", None) or exc
        raise CatalogError(
            f"cannot read the products in the customer store at {url}: {reason}; "
            "run `kefu prepare` (or `kefu db upgrade` and `kefu import products FILE`)"
        ) from exc


def source_named(name: str | None) -> CatalogSource | None:
    if name == STORE:
        return StoreSource()
    if name and name.startswith("csv:"):
        return CsvSource(Path(name[4:]))
    return None
