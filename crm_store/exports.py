"""`kefu export customers FILE.csv`: the customers file in the import format (round-trips)."""

from __future__ import annotations

import csv
import logging
import os
import tempfile
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from crm_store.db import session_scope
from crm_store.importers.customers import COLUMNS
from crm_store.models import Customer
from crm_store.services.interests import SOURCE_RANK

logger = logging.getLogger(__name__)


def export_customers(path: Path, *, session: Session | None = None) -> int:
    """Write every customer with an email; returns how many. Written whole or not at all."""
    path = Path(path)
    if session is None:
        with session_scope() as own:
            return _export(own, path)
    return _export(session, path)


def _export(session: Session, path: Path) -> int:
    stmt = (select(Customer).where(Customer.email.is_not(None), Customer.erased_at.is_(None))
            .order_by(Customer.email).options(selectinload(Customer.interests)))
    path.parent.mkdir(parents=True, exist_ok=True)
    # A temporary file renamed into place: a crash never leaves half a file behind.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    count = 0
    try:
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(COLUMNS)
            for customer in session.scalars(stmt):
                ranked = sorted(customer.interests, key=lambda i: (SOURCE_RANK[i.source], i.id))
                topics = list(dict.fromkeys(i.topic for i in ranked))
                writer.writerow([
                    customer.email,
                    customer.name or "",
                    customer.phone or "",
                    ";".join(topics),
                    # Empty when never asked, so a re-import does not invent a decision.
                    "" if customer.marketing_consent_at is None
                    else "true" if customer.marketing_opt_in else "false",
                    customer.created_at.isoformat(),
                ])
                count += 1
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    logger.info("exported %d customers to %s", count, path)
    return count
