"""The catalog as the index sees it: one `CatalogItem` per product, whatever its source.

The index does not care whether products come from crm_store or a CSV file; both are turned
into `CatalogItem`s here. Two hashes matter:
- `embedding_hash`: only the text that is embedded. A product is re-embedded only when this
  changes, so a stock or price change costs nothing.
- `record_hash`: every field the index keeps (price and stock too), so the catalog
  fingerprint changes whenever filters could answer differently.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

from crm_store.importers.products import parse_attributes


class CatalogError(ValueError):
    """A catalog that cannot be indexed (bad CSV row, duplicate SKU, ...)."""


@dataclass(frozen=True)
class CatalogItem:
    sku: str
    name: str
    category: str
    price: Decimal
    description: str = ""
    stock: int = 0
    tags: tuple[str, ...] = field(default_factory=tuple)
    # The shop's attributes as (name, text) pairs in its own order ("material", "100% wool").
    attributes: tuple[tuple[str, str], ...] = field(default_factory=tuple)
    # The crm_store primary key, when the item comes from the store.
    product_id: int | None = None

    @property
    def in_stock(self) -> bool:
        return self.stock > 0

    def embedding_text(self) -> str:
        """What the model reads: the words a customer might use, most telling first."""
        parts = [self.name, self.category]
        if self.tags:
            parts.append(", ".join(self.tags))
        if self.description:
            parts.append(self.description)
        return ". ".join(p.strip() for p in parts if p and p.strip())

    def attribute_lines(self) -> list[str]:
        """"Material: 100% merino wool", one per attribute, as a product page lists them."""
        return [attribute_line(name, text) for name, text in self.attributes]

    def lexical_text(self) -> str:
        """What BM25 reads: the embedded text plus the SKU, which the model cannot use, and the
        attributes. Those are words to match ("merino", "sage green"), not meaning: embedded,
        lines such as "Care: machine wash 30 °C" pull every vector towards each other and
        recommendations away from what a product is (measured: tests/e2e's hiking
        recommendations lost their outdoor products)."""
        return " ".join([self.sku, self.embedding_text(), *self.attribute_lines()])

    @property
    def embedding_hash(self) -> str:
        return _sha(self.embedding_text())

    @property
    def record_hash(self) -> str:
        return _sha(json.dumps(self.to_record(), sort_keys=True))

    def to_record(self) -> dict:
        record = asdict(self)
        record["price"] = str(self.price)
        record["tags"] = list(self.tags)
        record["attributes"] = dict(self.attributes)
        return record

    @classmethod
    def from_record(cls, record: dict) -> CatalogItem:
        return cls(
            sku=record["sku"],
            name=record["name"],
            category=record["category"],
            price=Decimal(record["price"]),
            description=record.get("description") or "",
            stock=int(record.get("stock") or 0),
            tags=tuple(record.get("tags") or ()),
            attributes=tuple((record.get("attributes") or {}).items()),
            product_id=record.get("product_id"),
        )


def attribute_line(name: str, text: str) -> str:
    """An attribute as a product page shows it: "Care: machine wash 30 °C"."""
    label = name.replace("_", " ").strip()
    return f"{label[:1].upper()}{label[1:]}: {text}"


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def catalog_fingerprint(items: Iterable[CatalogItem]) -> str:
    """One hash for the whole catalog: equal fingerprints mean the index needs nothing."""
    digest = hashlib.sha256()
    for sku, record_hash in sorted((i.sku, i.record_hash) for i in items):
        digest.update(f"{sku}\0{record_hash}\n".encode())
    return digest.hexdigest()[:32]


def check_unique(items: list[CatalogItem]) -> None:
    seen: set[str] = set()
    duplicates: set[str] = set()
    for item in items:
        (duplicates if item.sku in seen else seen).add(item.sku)
    if duplicates:
        named = ", ".join(sorted(duplicates)[:10])
        raise CatalogError(f"duplicate SKUs in the catalog: {named}")


CSV_COLUMNS = ("sku", "name", "category", "price", "description", "stock", "tags")


def load_csv(path: Path) -> list[CatalogItem]:
    """Read a catalog CSV (`sku,name,category,price,description,stock,tags`, tags `;`-separated;
    any other column, and an `attributes` JSON column, are the product's attributes).

    Refuses the whole file, naming the rows at fault, rather than indexing part of it.
    """
    errors: list[str] = []
    items: list[CatalogItem] = []
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in ("sku", "name", "category", "price") if c not in (reader.fieldnames or [])]
        if missing:
            raise CatalogError(f"{path}: missing columns: {', '.join(missing)}")
        for row_number, row in enumerate(reader, start=2):  # row 1 is the header
            try:
                items.append(_item_from_row(row))
            except (ValueError, InvalidOperation) as exc:
                errors.append(f"row {row_number}: {exc}")
    if errors:
        raise CatalogError(f"{path}: " + "; ".join(errors[:20]))
    check_unique(items)
    return items


def _item_from_row(row: dict) -> CatalogItem:
    problems: list[str] = []
    attributes = parse_attributes(
        {(k or "").strip().lower(): (v or "").strip() for k, v in row.items() if k}, problems)
    if problems:
        raise ValueError("; ".join(problems))
    sku = (row.get("sku") or "").strip()
    name = (row.get("name") or "").strip()
    if not sku or not name:
        raise ValueError("sku and name are required")
    try:
        price = Decimal((row.get("price") or "").strip())
    except InvalidOperation:
        raise ValueError(f"price {row.get('price')!r} is not a number") from None
    stock_text = (row.get("stock") or "0").strip() or "0"
    if not stock_text.lstrip("-").isdigit():
        raise ValueError(f"stock {stock_text!r} is not a whole number")
    tags = tuple(t.strip() for t in (row.get("tags") or "").split(";") if t.strip())
    return CatalogItem(
        sku=sku,
        name=name,
        category=(row.get("category") or "").strip(),
        price=price,
        description=(row.get("description") or "").strip(),
        stock=int(stock_text),
        tags=tags,
        attributes=tuple(attributes.items()),
    )
