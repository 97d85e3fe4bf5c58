"""Check the demo shop files and the labelled retrieval set for consistency.

    .venv/bin/python demo_shop/check.py

Exits 1 and lists every problem found; prints counts per category and per status when clean.
It checks what the importer and the retrieval benchmark rely on: unique keys, valid emails and
phones, order lines that name real SKUs, totals equal to the sum of price x quantity, dates in
order, carriers and tracking numbers only on shipped orders, and labelled SKUs that exist.
"""

from __future__ import annotations

import csv
import json
import sys
from collections import Counter
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

import phonenumbers
from email_validator import EmailNotValidError, validate_email

HERE = Path(__file__).resolve().parent
QUERIES = HERE.parent / "bench" / "retrieval_queries.jsonl"
STATUSES = {"pending", "paid", "shipped", "delivered", "cancelled", "returned", "refunded"}
SHIPPED = {"shipped", "delivered", "returned", "refunded"}
LATEST = datetime(2026, 11, 20, 23, 59, 59)


def read(path: Path, header: list[str]) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if reader.fieldnames != header:
            raise SystemExit(f"{path.name}: header {reader.fieldnames} != {header}")
        return list(reader)


def check_products(rows: list[dict[str, str]], problems: list[str]) -> dict[str, Decimal]:
    prices: dict[str, Decimal] = {}
    for n, r in enumerate(rows, start=2):
        where = f"products.csv row {n}"
        if r["sku"] in prices:
            problems.append(f"{where}: duplicate sku {r['sku']}")
        try:
            price = Decimal(r["price"])
        except InvalidOperation:
            problems.append(f"{where}: price {r['price']!r} is not a number")
            continue
        if price <= 0 or price != price.quantize(Decimal("0.01")):
            problems.append(f"{where}: price {price} must be positive with at most 2 decimals")
        prices[r["sku"]] = price
        if not 0 <= int(r["stock"]) <= 200:
            problems.append(f"{where}: stock {r['stock']} outside 0..200")
        if not 2 <= len([t for t in r["tags"].split(";") if t.strip()]) <= 5:
            problems.append(f"{where}: needs 2 to 5 tags")
        if not r["name"].strip() or len(r["description"]) < 40:
            problems.append(f"{where}: name or description missing or too short")
    if len({r["category"] for r in rows}) < 12:
        problems.append("products.csv: fewer than 12 categories")
    return prices


def check_customers(rows: list[dict[str, str]], problems: list[str]) -> dict[str, date]:
    created: dict[str, date] = {}
    for n, r in enumerate(rows, start=2):
        where = f"customers.csv row {n}"
        try:
            normalized = validate_email(r["email"], check_deliverability=False).normalized
        except EmailNotValidError as exc:
            problems.append(f"{where}: {exc}")
            continue
        if normalized != r["email"]:
            problems.append(f"{where}: email {r['email']!r} is not in normal form")
        if r["email"] in created:
            problems.append(f"{where}: duplicate email {r['email']}")
        try:
            if not phonenumbers.is_valid_number(phonenumbers.parse(r["phone"], None)):
                problems.append(f"{where}: phone {r['phone']!r} is not a valid number")
        except phonenumbers.NumberParseException as exc:
            problems.append(f"{where}: phone {r['phone']!r}: {exc}")
        if r["marketing_opt_in"] not in {"true", "false"}:
            problems.append(f"{where}: marketing_opt_in must be true or false")
        day = date.fromisoformat(r["created_at"])
        if not date(2024, 1, 1) <= day <= LATEST.date():
            problems.append(f"{where}: created_at {day} outside 2024..2026-11-20")
        created[r["email"]] = day
    return created


def check_orders(rows: list[dict[str, str]], prices: dict[str, Decimal],
                 customers: dict[str, date], problems: list[str]) -> None:
    seen: set[str] = set()
    for n, r in enumerate(rows, start=2):
        where = f"orders.csv row {n} ({r['order_id']})"
        if r["order_id"] in seen:
            problems.append(f"{where}: duplicate order id")
        seen.add(r["order_id"])
        if r["customer_email"] not in customers:
            problems.append(f"{where}: unknown customer {r['customer_email']}")
        if r["status"] not in STATUSES:
            problems.append(f"{where}: unknown status {r['status']!r}")
        total = Decimal("0")
        for line in r["items"].split(";"):
            sku, _, qty = line.partition(":")
            if sku not in prices:
                problems.append(f"{where}: unknown sku {sku!r}")
                continue
            if not qty.isdigit() or int(qty) < 1:
                problems.append(f"{where}: bad quantity {qty!r} for {sku}")
                continue
            total += prices[sku] * int(qty)
        if Decimal(r["total"]) != total or r["total"] != f"{total:.2f}":
            problems.append(f"{where}: total {r['total']} != sum of lines {total:.2f}")
        created_at = datetime.fromisoformat(r["created_at"])
        if not datetime(2025, 1, 1) <= created_at <= LATEST:
            problems.append(f"{where}: created_at {created_at} outside 2025-01-01..2026-11-20")
        if r["customer_email"] in customers and created_at.date() < customers[r["customer_email"]]:
            problems.append(f"{where}: placed before the customer's account was created")
        shipped_fields = (r["shipped_at"], r["carrier"], r["tracking_number"])
        if r["status"] in SHIPPED:
            if not all(shipped_fields):
                problems.append(f"{where}: {r['status']} order needs shipped_at, carrier, tracking")
            elif not created_at < datetime.fromisoformat(r["shipped_at"]) <= LATEST:
                problems.append(f"{where}: shipped_at must be after created_at and not in the future")
        elif any(shipped_fields):
            problems.append(f"{where}: {r['status']} order must not have shipping details")
    missing = STATUSES - {r["status"] for r in rows}
    if missing:
        problems.append(f"orders.csv: no order in status {sorted(missing)}")


def check_queries(path: Path, prices: dict[str, Decimal], problems: list[str]) -> int:
    count = 0
    seen: set[str] = set()
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        item = json.loads(line)
        count += 1
        query, relevant = item.get("query", ""), item.get("relevant", [])
        if not query.strip() or not relevant:
            problems.append(f"{path.name} line {n}: needs a query and relevant SKUs")
        if query in seen:
            problems.append(f"{path.name} line {n}: duplicate query {query!r}")
        seen.add(query)
        for sku in relevant:
            if sku not in prices:
                problems.append(f"{path.name} line {n}: unknown sku {sku!r}")
    return count


def main() -> int:
    problems: list[str] = []
    products = read(HERE / "products.csv", ["sku", "name", "category", "price", "description",
                                            "stock", "tags", "material", "colours", "sizes",
                                            "care", "dimensions", "weight", "warranty"])
    customers = read(HERE / "customers.csv", ["email", "name", "phone", "interests",
                                              "marketing_opt_in", "created_at"])
    orders = read(HERE / "orders.csv", ["order_id", "customer_email", "status", "items", "total",
                                        "created_at", "shipped_at", "carrier", "tracking_number"])
    prices = check_products(products, problems)
    created = check_customers(customers, problems)
    check_orders(orders, prices, created, problems)
    n_queries = check_queries(QUERIES, prices, problems) if QUERIES.exists() else 0
    if problems:
        print("\n".join(problems))
        return 1
    out_of_stock = sum(r["stock"] == "0" for r in products)
    opted_in = sum(r["marketing_opt_in"] == "true" for r in customers)
    print(f"products: {len(products)} ({out_of_stock} out of stock)")
    for category, count in sorted(Counter(r["category"] for r in products).items()):
        print(f"  {category}: {count}")
    print(f"customers: {len(customers)} ({opted_in} opted in to marketing)")
    print(f"orders: {len(orders)}")
    for status, count in sorted(Counter(r["status"] for r in orders).items()):
        print(f"  {status}: {count}")
    print(f"retrieval queries: {n_queries}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
