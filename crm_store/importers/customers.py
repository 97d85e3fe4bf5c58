"""`kefu import customers FILE.csv`: upsert customers by (normalised) email.

The file is authoritative for what it holds: name, phone, imported interests, marketing consent
and creation date. Interests the customer stated in chat or that were inferred are left alone.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from crm_store.db import session_scope
from crm_store.errors import InvalidInput
from crm_store.importers.common import (
    ImportResult,
    Progress,
    RowProblem,
    check_length,
    parse_all,
    parse_bool,
    parse_datetime,
    read_rows,
    report_progress,
    split_list,
)
from crm_store.models import Customer, Interest, InterestSource, utcnow
from crm_store.normalise import normalise_email, normalise_phone, normalise_topic
from crm_store.services import audit

logger = logging.getLogger(__name__)

COLUMNS = ("email", "name", "phone", "interests", "marketing_opt_in", "created_at")


@dataclass
class CustomerRow:
    row: int
    email: str
    name: str | None
    phone: str | None
    interests: list[str]
    opt_in: bool | None
    created_at: datetime | None
    merged_rows: list[int] = field(default_factory=list)

    def merge(self, later: CustomerRow) -> None:
        """Two rows for one person: later non-empty cells win, interests are combined."""
        self.name = later.name or self.name
        self.phone = later.phone or self.phone
        self.interests = list(dict.fromkeys(self.interests + later.interests))
        self.opt_in = later.opt_in if later.opt_in is not None else self.opt_in
        if later.created_at and (self.created_at is None or later.created_at < self.created_at):
            self.created_at = later.created_at
        self.merged_rows.append(later.row)


def parse_row(number: int, cells: dict[str, str], *, region: str | None,
              warnings: list[str]) -> CustomerRow:
    problems = []
    email = None
    try:
        email = normalise_email(cells["email"])
    except InvalidInput as exc:
        problems.append(str(exc))
    phone = None
    if cells["phone"]:
        phone, ok = normalise_phone(cells["phone"], default_region=region)
        if not ok:
            warnings.append(f"row {number}: phone {cells['phone']!r} could not be turned into an "
                            "international number; kept as written")
    opt_in = created_at = None
    try:
        opt_in = parse_bool(cells["marketing_opt_in"], "marketing_opt_in")
    except RowProblem as exc:
        problems.append(str(exc))
    try:
        created_at = parse_datetime(cells["created_at"], "created_at")
    except RowProblem as exc:
        problems.append(str(exc))
    topics = [t for t in (normalise_topic(t) for t in split_list(cells["interests"])) if t]
    check_length(cells["name"], "name", 200, problems)
    check_length(phone, "phone", 40, problems)
    for topic in topics:
        check_length(topic, f"interest {topic[:20]!r}", 80, problems)
    if problems:
        raise RowProblem("; ".join(problems))
    return CustomerRow(number, email, cells["name"] or None, phone,
                       list(dict.fromkeys(topics)), opt_in, created_at)


def _merged(earlier: CustomerRow, later: CustomerRow, number: int) -> tuple[CustomerRow, str]:
    earlier.merge(later)
    return earlier, f"row {number}: {later.email} repeats row {earlier.row}; the rows were merged"


def import_customers(
    path: Path,
    *,
    default_phone_region: str | None = None,
    progress: Progress | None = None,
    session: Session | None = None,
) -> ImportResult:
    """Validate the whole file, then write it in one transaction (or not at all)."""
    path = Path(path)
    result = ImportResult(kind="customers", path=path)
    parsed = parse_all(
        path, read_rows(path, columns=COLUMNS, result=result),
        parse=lambda number, cells: parse_row(number, cells, region=default_phone_region,
                                              warnings=result.warnings),
        key=lambda row: row.email, repeated=_merged, result=result)
    if session is None:
        with session_scope() as own:
            _write(own, parsed, result, progress)
    else:
        _write(session, parsed, result, progress)
    logger.info("%s", result.summary())
    return result


def _imported_topics(customer: Customer) -> set[str]:
    return {i.topic for i in customer.interests if i.source == InterestSource.IMPORTED}


def _write(session: Session, parsed: dict[str, CustomerRow], result: ImportResult,
           progress: Progress | None) -> None:
    existing = {
        c.email: c
        for c in session.scalars(select(Customer).where(Customer.email.in_(list(parsed)))
                                 .options(selectinload(Customer.interests)))
    } if parsed else {}
    now = utcnow()
    source = f"import:{result.path.name}"[:80]
    for done, row in enumerate(parsed.values(), start=1):
        customer = existing.get(row.email)
        if customer is None:
            customer = Customer(email=row.email, name=row.name, phone=row.phone, tags=[],
                                created_at=row.created_at or now,
                                marketing_opt_in=bool(row.opt_in))
            if row.opt_in is not None:
                customer.marketing_consent_at = now
                customer.marketing_consent_source = source
            customer.interests = [Interest(topic=t, source=InterestSource.IMPORTED, weight=1.0,
                                           created_at=now, updated_at=now)
                                  for t in row.interests]
            session.add(customer)
            result.added.append(row.email)
        elif _update(customer, row, now, source):
            result.changed.append(row.email)
        else:
            result.unchanged += 1
        report_progress(progress, done, len(parsed))
    session.flush()
    if result.touched:
        audit.record(session, actor="import", action="customers.import", entity="customer",
                     details={"file": result.path.name, "added": len(result.added),
                              "changed": len(result.changed)})


def _update(customer: Customer, row: CustomerRow, now: datetime, source: str) -> bool:
    changed = False
    for attr, value in (("name", row.name), ("phone", row.phone),
                        ("created_at", row.created_at)):
        if value is not None and getattr(customer, attr) != value:
            setattr(customer, attr, value)
            changed = True
    if row.opt_in is not None and (customer.marketing_opt_in != row.opt_in
                                   or customer.marketing_consent_at is None):
        customer.marketing_opt_in = row.opt_in
        customer.marketing_consent_at = now
        customer.marketing_consent_source = source
        changed = True
    wanted = set(row.interests)
    if _imported_topics(customer) != wanted:
        for interest in list(customer.interests):
            if interest.source == InterestSource.IMPORTED and interest.topic not in wanted:
                customer.interests.remove(interest)
        have = _imported_topics(customer)
        for topic in row.interests:
            if topic not in have:
                customer.interests.append(Interest(topic=topic, source=InterestSource.IMPORTED,
                                                   weight=1.0, created_at=now, updated_at=now))
        changed = True
    return changed
