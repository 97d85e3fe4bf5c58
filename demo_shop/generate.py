"""Generate demo_shop/orders.csv from the hand-written products.csv and customers.csv.

The catalog and the customers are written by hand; only the order history is generated,
because 200 consistent orders (totals, dates, carriers) are tedious and error-prone to type.
The generator is seeded, so running it again writes the same file byte for byte:

    .venv/bin/python demo_shop/generate.py          # rewrites demo_shop/orders.csv
    .venv/bin/python demo_shop/check.py             # validates all demo files

Dates are naive ISO 8601 and mean UTC. "Now" for the demo shop is NOW below: pending, paid and
shipped orders are the most recent ones, as they would be in a real shop on that day.
"""

from __future__ import annotations

import csv
import random
import string
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

HERE = Path(__file__).resolve().parent
SEED = 20261120
NOW = datetime(2026, 11, 20, 18, 0, 0)
FIRST_ORDER = datetime(2025, 1, 6, 8, 0, 0)
FIRST_ORDER_ID = 1001

# Sensible proportions for a shop's history: most orders arrived; a handful are still open.
STATUS_COUNTS = {
    "delivered": 92,
    "shipped": 20,
    "paid": 16,
    "pending": 14,
    "cancelled": 18,
    "returned": 20,
    "refunded": 20,
}
SHIPPED_STATUSES = {"shipped", "delivered", "returned", "refunded"}

# What a customer with an interest tends to buy: category prefixes and single SKUs.
INTEREST_POOLS: dict[str, list[str]] = {
    "hiking": ["HIK-", "BOK-001", "BOK-002", "FOD-006", "KIT-002", "PET-004"],
    "camping": ["CAM-", "FOD-007", "ELE-004", "HIK-011", "HIK-012", "TOY-010", "KIT-006"],
    "running": ["RUN-", "BOK-009", "FIT-006", "FIT-010"],
    "cycling": ["CYC-", "FIT-010", "ELE-006"],
    "fitness": ["FIT-", "ELE-014", "RUN-011"],
    "yoga": ["FIT-001", "FIT-002", "FIT-003", "FIT-011", "WFA-010", "BOK-011"],
    "cooking": ["KIT-006", "KIT-007", "KIT-008", "KIT-009", "KIT-010", "KIT-011", "BOK-003"],
    "coffee": ["FOD-001", "FOD-002", "FOD-003", "KIT-001", "KIT-003", "KIT-004", "KIT-005",
               "KIT-014", "BOK-013"],
    "gaming": ["ELE-015", "ELE-016", "ELE-001", "ELE-011", "TOY-004", "TOY-005", "TOY-012"],
    "photography": ["ELE-005", "ELE-006", "ELE-007", "ELE-013", "BOK-010"],
    "reading": ["BOK-", "ELE-009"],
    "pets": ["PET-", "KIT-015"],
    "fashion": ["WFA-", "MFA-"],
    "skincare": ["BEA-"],
    "gardening": ["GAR-", "BOK-004", "BOK-005"],
    "home office": ["OFF-", "ELE-010", "ELE-011", "ELE-012", "ELE-013"],
}

CARRIERS_BY_DIAL_CODE = {
    "+44": ["Royal Mail", "Royal Mail", "DHL", "DPD"],
    "+1": ["USPS", "UPS", "FedEx"],
}
DEFAULT_CARRIERS = ["DHL", "DHL", "UPS", "FedEx"]


@dataclass(frozen=True)
class Product:
    sku: str
    price: Decimal
    stock: int


@dataclass(frozen=True)
class Customer:
    email: str
    phone: str
    interests: tuple[str, ...]
    created: datetime


def load_products(path: Path) -> list[Product]:
    with path.open(newline="", encoding="utf-8") as f:
        return [Product(r["sku"], Decimal(r["price"]), int(r["stock"])) for r in csv.DictReader(f)]


def load_customers(path: Path) -> list[Customer]:
    with path.open(newline="", encoding="utf-8") as f:
        return [
            Customer(
                email=r["email"],
                phone=r["phone"],
                interests=tuple(i.strip() for i in r["interests"].split(";") if i.strip()),
                created=datetime.combine(date.fromisoformat(r["created_at"]), time(0, 0)),
            )
            for r in csv.DictReader(f)
        ]


def interest_pool(customer: Customer, products: list[Product]) -> list[Product]:
    patterns = [p for interest in customer.interests for p in INTEREST_POOLS.get(interest, [])]
    return [
        product
        for product in products
        if any(product.sku.startswith(p) if p.endswith("-") else product.sku == p for p in patterns)
    ]


def random_moment(rng: random.Random, start: datetime, end: datetime) -> datetime:
    seconds = int((end - start).total_seconds())
    moment = start + timedelta(seconds=rng.randint(0, seconds))
    # Shoppers order in the daytime and evening more than at night.
    hour = rng.choice([8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 20, 21, 21, 22, 23, 7, 1])
    moment = moment.replace(hour=hour, minute=rng.randint(0, 59), second=rng.randint(0, 59))
    # Changing the hour can step outside the window; move by whole days to stay inside it.
    while moment > end:
        moment -= timedelta(days=1)
    while moment < start:
        moment += timedelta(days=1)
    return moment


def order_window(status: str) -> tuple[datetime, datetime]:
    """When an order in this status can plausibly have been placed, relative to NOW."""
    if status == "pending":
        return NOW - timedelta(days=3), NOW - timedelta(hours=1)
    if status == "paid":
        return NOW - timedelta(days=5), NOW - timedelta(hours=6)
    if status == "shipped":
        return NOW - timedelta(days=10), NOW - timedelta(days=2)
    if status == "cancelled":
        return FIRST_ORDER, NOW - timedelta(days=1)
    # delivered, returned, refunded: old enough to have arrived (and been sent back).
    return FIRST_ORDER, NOW - timedelta(days=16)


def tracking_number(rng: random.Random, carrier: str) -> str:
    digits = lambda n: "".join(rng.choice(string.digits) for _ in range(n))  # noqa: E731
    if carrier == "UPS":
        alnum = "".join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(6))
        return f"1Z{alnum}{digits(10)}"
    if carrier == "FedEx":
        return digits(12)
    if carrier == "USPS":
        return f"9400{digits(18)}"
    if carrier == "Royal Mail":
        letters = "".join(rng.choice(string.ascii_uppercase) for _ in range(2))
        return f"{letters}{digits(9)}GB"
    if carrier == "DPD":
        return digits(14)
    return digits(10)  # DHL Express waybill


def pick_items(rng: random.Random, pool: list[Product], everything: list[Product],
               in_stock_only: bool) -> list[tuple[Product, int]]:
    if in_stock_only:
        pool = [p for p in pool if p.stock > 0]
        everything = [p for p in everything if p.stock > 0]
    n_lines = rng.choices([1, 2, 3, 4], weights=[50, 30, 15, 5])[0]
    chosen: list[Product] = []
    while len(chosen) < n_lines:
        # Orders lean toward the customer's interests, with the odd impulse buy or gift.
        source = pool if pool and rng.random() < 0.8 else everything
        product = rng.choice(source)
        if product not in chosen:
            chosen.append(product)
    items = []
    for product in chosen:
        qty = 1
        if product.price < 30 and rng.random() < 0.35:
            qty = rng.choice([2, 2, 3])
        items.append((product, qty))
    return items


def generate(products: list[Product], customers: list[Customer], seed: int = SEED) -> list[dict]:
    rng = random.Random(seed)
    # Some customers shop far more often than others.
    weights = {c.email: rng.choice([1, 1, 2, 3, 5]) for c in customers}
    pools = {c.email: interest_pool(c, products) for c in customers}

    planned = []
    for status, count in STATUS_COUNTS.items():
        for _ in range(count):
            start, end = order_window(status)
            planned.append((random_moment(rng, start, end), status))
    planned.sort()

    rows = []
    for offset, (created, status) in enumerate(planned):
        eligible = [c for c in customers if c.created <= created]
        customer = rng.choices(eligible, weights=[weights[c.email] for c in eligible])[0]
        # Open orders cannot contain products that are out of stock today.
        items = pick_items(rng, pools[customer.email], products,
                           in_stock_only=status in {"pending", "paid", "shipped"})
        total = sum((p.price * q for p, q in items), Decimal("0")).quantize(Decimal("0.01"))
        shipped_at = carrier = tracking = ""
        if status in SHIPPED_STATUSES:
            shipped = created + timedelta(hours=rng.randint(5, 70), minutes=rng.randint(0, 59))
            shipped_at = min(shipped, NOW - timedelta(hours=1)).isoformat()
            dial = next((d for d in CARRIERS_BY_DIAL_CODE if customer.phone.startswith(d + " ")), None)
            carrier = rng.choice(CARRIERS_BY_DIAL_CODE.get(dial, DEFAULT_CARRIERS))
            tracking = tracking_number(rng, carrier)
        rows.append({
            "order_id": f"A{FIRST_ORDER_ID + offset}",
            "customer_email": customer.email,
            "status": status,
            "items": ";".join(f"{p.sku}:{q}" for p, q in items),
            "total": f"{total}",
            "created_at": created.isoformat(),
            "shipped_at": shipped_at,
            "carrier": carrier,
            "tracking_number": tracking,
        })
    return rows


def main() -> None:
    products = load_products(HERE / "products.csv")
    customers = load_customers(HERE / "customers.csv")
    rows = generate(products, customers)
    out = HERE / "orders.csv"
    with out.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    counts = Counter(r["status"] for r in rows)
    print(f"wrote {len(rows)} orders to {out}: {dict(sorted(counts.items()))}")


if __name__ == "__main__":
    main()
