"""`kefu import products FILE.csv`: upsert the catalog by SKU.

Columns beyond the required ones are the product's attributes, named as the shop names them
("material", "colours", "care"...), and an `attributes` column may hold more as a JSON object
(`{"material": "merino wool", "sizes": ["S", "M"]}`); a column wins over the same name in JSON.
Empty cells are no attribute. The result lists the SKUs added, changed and (with prune) archived, so the product index can
re-embed only those.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_store.db import session_scope
from crm_store.importers.common import (
    ImportResult,
    Progress,
    RowProblem,
    check_length,
    parse_all,
    parse_decimal,
    parse_int,
    read_rows,
    report_progress,
    split_list,
)
from crm_store.models import Product, utcnow
from crm_store.services import audit

logger = logging.getLogger(__name__)

COLUMNS = ("sku", "name", "category", "price", "description", "stock", "tags")
ATTRIBUTES_COLUMN = "attributes"
MAX_ATTRIBUTE_NAME = 60
MAX_ATTRIBUTE_TEXT = 1000
MAX_ATTRIBUTES = 50
_SKU = re.compile(r"^[A-Z0-9][A-Z0-9._/-]{0,63}$")


@dataclass(frozen=True)
class ProductRow:
    row: int
    sku: str
    name: str
    category: str
    price: Decimal
    description: str
    stock: int
    tags: list[str]
    attributes: dict[str, str]


def _attribute_text(name: str, value, problems: list[str]) -> str | None:
    """A JSON attribute's value as text: lists become "a; b", numbers their digits."""
    if isinstance(value, list) and all(isinstance(v, (str, int, float)) for v in value):
        value = "; ".join(str(v).strip() for v in value if str(v).strip())
    elif isinstance(value, bool) or not isinstance(value, (str, int, float)):
        problems.append(f"attribute {name!r} must be text, a number or a list of them")
        return None
    return str(value).strip()


def parse_attributes(cells: dict[str, str], problems: list[str]) -> dict[str, str]:
    """The product's attributes: the `attributes` JSON object, then every extra column."""
    found: dict[str, str] = {}
    raw = cells.get(ATTRIBUTES_COLUMN, "")
    if raw:
        try:
            decoded = json.loads(raw)
        except ValueError as exc:
            decoded = None
            problems.append(f"attributes is not valid JSON ({exc.msg} at character {exc.pos})")
        else:
            if not isinstance(decoded, dict):
                problems.append("attributes must be a JSON object of name: value")
                decoded = None
        for name, value in (decoded or {}).items():
            text = _attribute_text(name, value, problems)
            if text and name.strip():
                found[name.strip().lower()] = text
    for name, value in cells.items():
        if name not in COLUMNS and name != ATTRIBUTES_COLUMN and value:
            found[name] = value
    for name, value in found.items():
        check_length(name, f"attribute name {name[:20]!r}", MAX_ATTRIBUTE_NAME, problems)
        check_length(value, f"attribute {name[:20]!r}", MAX_ATTRIBUTE_TEXT, problems)
    if len(found) > MAX_ATTRIBUTES:
        problems.append(f"{len(found)} attributes; at most {MAX_ATTRIBUTES}")
    return found


def parse_row(number: int, cells: dict[str, str]) -> ProductRow:
    problems = []

    def attempt(fn):
        try:
            return fn()
        except RowProblem as exc:
            problems.append(str(exc))
            return None

    sku = cells["sku"].upper()
    if not sku:
        problems.append("sku is empty")
    elif not _SKU.match(sku):
        problems.append(f"sku {cells['sku']!r} may hold only letters, digits and . _ / -")
    if not cells["name"]:
        problems.append("name is empty")
    if not cells["category"]:
        problems.append("category is empty")
    price = attempt(lambda: parse_decimal(cells["price"], "price"))
    stock = None
    if not cells["stock"]:
        problems.append("stock is empty")
    else:
        stock = attempt(lambda: parse_int(cells["stock"], "stock", minimum=0))
    check_length(cells["name"], "name", 300, problems)
    check_length(cells["category"], "category", 120, problems)
    attributes = parse_attributes(cells, problems)
    if problems:
        raise RowProblem("; ".join(problems))
    return ProductRow(number, sku, cells["name"], cells["category"], price,
                      cells["description"], stock, split_list(cells["tags"]), attributes)


def _differs(product: Product, row: ProductRow) -> bool:
    return (product.name, product.category, product.price, product.description, product.stock,
            list(product.tags), dict(product.attributes or {}),
            product.archived_at is not None) != (
        row.name, row.category, row.price, row.description, row.stock, row.tags, row.attributes,
        False)


def _later_wins(earlier: ProductRow, later: ProductRow, number: int) -> tuple[ProductRow, str]:
    return later, f"row {number}: SKU {later.sku} repeats row {earlier.row}; the later row is used"


def import_products(
    path: Path,
    *,
    prune: bool = False,
    progress: Progress | None = None,
    session: Session | None = None,
) -> ImportResult:
    """Validate the whole file, then write it in one transaction (or not at all).

    prune: archive products the file does not mention (the file is the whole catalog).
    """
    path = Path(path)
    result = ImportResult(kind="products", path=path)
    rows = read_rows(path, columns=COLUMNS, result=result, keep_extra=True)
    parsed = parse_all(path, rows, parse=parse_row,
                       key=lambda row: row.sku, repeated=_later_wins, result=result)
    if session is None:
        with session_scope() as own:
            _write(own, parsed, prune, result, progress)
    else:
        _write(session, parsed, prune, result, progress)
    logger.info("%s", result.summary())
    return result


def _write(session: Session, parsed: dict[str, ProductRow], prune: bool, result: ImportResult,
           progress: Progress | None) -> None:
    existing = {p.sku: p for p in session.scalars(select(Product))}
    now = utcnow()
    for done, row in enumerate(parsed.values(), start=1):
        product = existing.get(row.sku)
        if product is None:
            session.add(Product(sku=row.sku, name=row.name, category=row.category,
                                price=row.price, description=row.description, stock=row.stock,
                                tags=row.tags, attributes=row.attributes, created_at=now,
                                updated_at=now))
            result.added.append(row.sku)
        elif _differs(product, row):
            product.name, product.category, product.price = row.name, row.category, row.price
            product.description, product.stock, product.tags = row.description, row.stock, row.tags
            product.attributes = row.attributes
            product.archived_at = None
            product.updated_at = now
            result.changed.append(row.sku)
        else:
            result.unchanged += 1
        report_progress(progress, done, len(parsed))
    if prune:
        for sku, product in existing.items():
            if sku not in parsed and product.archived_at is None:
                product.archived_at = now
                product.updated_at = now
                result.removed.append(sku)
    if result.touched:
        audit.record(session, actor="import", action="products.import", entity="product",
                     details={"file": result.path.name, "added": len(result.added),
                              "changed": len(result.changed), "removed": len(result.removed)})
    session.flush()
