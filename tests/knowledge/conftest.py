"""Shared fixtures: the real MiniLM model (loaded once per test session) and small catalogs."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from knowledge.catalog import CatalogItem
from knowledge.embedder import Embedder, get_embedder
from knowledge.service import KnowledgeService


def item(sku, name, category, price, description, stock=10, tags=()):
    return CatalogItem(sku, name, category, Decimal(str(price)), description, stock, tuple(tags))


CATALOG = [
    item("HIK-001", "Stormline Waterproof Rain Jacket", "Hiking", 129,
         "A breathable shell with taped seams that keeps you dry on rainy hikes.", 12,
         ["rain jacket", "waterproof", "hiking"]),
    item("HIK-002", "Ridgeback Leather Hiking Boots", "Hiking", 169,
         "Mid-cut boots with a waterproof membrane and ankle support for rocky trails.", 5,
         ["boots", "hiking", "waterproof"]),
    item("HIK-003", "Summit 28L Daypack", "Hiking", 79,
         "A daypack with a hip belt, hydration sleeve and rain cover for day hikes.", 0,
         ["backpack", "hiking"]),
    item("HIK-004", "Merino Hiking Socks", "Hiking", 19,
         "Cushioned wool socks that keep feet warm and dry on long walks.", 40,
         ["socks", "merino", "hiking"]),
    item("HIK-005", "Trail Headlamp 400", "Hiking", 35,
         "A rechargeable 400 lumen head torch for early starts and dark campsites.", 8,
         ["headlamp", "light", "hiking"]),
    item("CAM-001", "Two-Person Dome Tent", "Camping", 199,
         "A freestanding tent for two with a full rain fly, pitches in five minutes.", 4,
         ["tent", "camping"]),
    item("CAM-002", "Down Sleeping Bag -5C", "Camping", 249,
         "A mummy sleeping bag filled with down, warm on freezing nights.", 3,
         ["sleeping bag", "camping", "winter"]),
    item("CAM-003", "Camp Stove Kit", "Camping", 59,
         "A compact gas burner with a pot to boil water and cook meals outdoors.", 9,
         ["stove", "cooking", "camping"]),
    item("KIT-001", "Cast Iron Skillet 26cm", "Kitchen", 39,
         "A pre-seasoned frying pan that sears steak and goes in the oven.", 15,
         ["pan", "cooking"]),
    item("KIT-002", "Vacuum Insulated Coffee Flask", "Kitchen", 29,
         "Keeps coffee hot for twelve hours; leak-proof lid for the commute.", 25,
         ["flask", "coffee", "travel"]),
    item("KIT-003", "Burr Coffee Grinder", "Kitchen", 89,
         "Grinds beans evenly for espresso, filter or French press.", 6,
         ["coffee", "grinder"]),
    item("RUN-001", "Trail Runner Shoes", "Running", 109,
         "Light running shoes with a grippy outsole for muddy trail runs.", 14,
         ["running shoes", "trail"]),
    item("RUN-002", "Reflective Running Vest", "Running", 25,
         "A high-visibility vest so drivers see you on evening runs.", 30,
         ["running", "reflective", "safety"]),
    item("RUN-003", "GPS Sports Watch", "Running", 199,
         "Tracks pace, distance and heart rate on runs and rides.", 0,
         ["watch", "gps", "running"]),
    item("ELE-001", "Noise Cancelling Headphones", "Electronics", 249,
         "Wireless over-ear headphones that silence engines on flights and trains.", 7,
         ["headphones", "travel", "audio"]),
    item("ELE-002", "20000 mAh Power Bank", "Electronics", 45,
         "Charges a phone four times over; USB-C fast charging for travel.", 20,
         ["power bank", "charging", "travel"]),
    item("TOY-001", "Dinosaur Excavation Kit", "Toys", 24,
         "Kids dig up plaster dinosaur skeletons with a brush and chisel.", 11,
         ["dinosaur", "kids", "science"]),
    item("TOY-002", "STEM Robot Coding Kit", "Toys", 79,
         "Build a robot and program it with drag-and-drop blocks; ages 8 to 14.", 5,
         ["robot", "coding", "kids"]),
    item("PET-001", "Orthopedic Dog Bed", "Pets", 69,
         "A memory foam bed that eases the joints of older dogs.", 8,
         ["dog", "bed"]),
    item("PET-002", "Automatic Cat Feeder", "Pets", 59,
         "Dispenses up to six timed meals a day while you are at work.", 6,
         ["cat", "feeder", "timer"]),
]


@pytest.fixture
def catalog() -> list[CatalogItem]:
    return list(CATALOG)


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """The real bundled all-MiniLM-L6-v2, loaded once for the whole test session."""
    return get_embedder(None)


@pytest.fixture(scope="session")
def built_index(tmp_path_factory, embedder) -> Path:
    """A read-only index of CATALOG shared by tests that only search."""
    directory = tmp_path_factory.mktemp("knowledge-shared")
    KnowledgeService(directory).build(CATALOG, source="test")
    return directory


@pytest.fixture
def shared_service(built_index, embedder) -> KnowledgeService:
    return KnowledgeService(built_index)


@pytest.fixture
def fresh_service(tmp_path, embedder) -> KnowledgeService:
    """A service over an empty directory of its own: tests that write to the index."""
    return KnowledgeService(tmp_path / "knowledge")
