"""`import products`: upsert by SKU, all or nothing, and say exactly what changed."""

from __future__ import annotations

from decimal import Decimal

import pytest

from crm_store.db import session_scope
from crm_store.importers import ImportRejected, import_products
from crm_store.services import products

GOOD = """
    sku,name,category,price,description,stock,tags
    HIK-001,Stormline Rain Jacket,Hiking & Outdoor,129.00,"Waterproof, breathable shell.",42,rain jacket;waterproof
    HIK-002,Ridgeback Boots,Hiking & Outdoor,169,Leather hiking boots.,0,boots
    KIT-001,Chef Knife 20 cm,Home & Kitchen,59.5,"German steel, full tang.",12,
"""


def _catalog() -> dict[str, tuple]:
    with session_scope() as session:
        return {p.sku: (p.name, p.price, p.stock, p.tags, p.updated_at)
                for p in products.list_products(session)}


def test_good_file_loads(store, write_csv):
    result = import_products(write_csv("products.csv", GOOD))
    assert sorted(result.added) == ["HIK-001", "HIK-002", "KIT-001"]
    assert result.changed == [] and result.removed == [] and result.warnings == []
    catalog = _catalog()
    assert catalog["HIK-001"][:4] == ("Stormline Rain Jacket", Decimal("129.00"), 42,
                                      ["rain jacket", "waterproof"])
    assert catalog["KIT-001"][1] == Decimal("59.50") and catalog["KIT-001"][3] == []
    with session_scope() as session:
        assert [p.sku for p in products.list_products(session, in_stock_only=True)] \
            == ["HIK-001", "KIT-001"]
        assert products.categories(session) == ["Hiking & Outdoor", "Home & Kitchen"]


def test_reimport_is_a_no_op(store, write_csv):
    path = write_csv("products.csv", GOOD)
    import_products(path)
    before = _catalog()
    again = import_products(path)
    assert (again.added, again.changed, again.removed, again.unchanged) == ([], [], [], 3)
    assert _catalog() == before  # updated_at included: nothing was rewritten


def test_changes_are_reported_per_sku(store, write_csv):
    import_products(write_csv("products.csv", GOOD))
    changed = write_csv("products2.csv", """
        sku,name,category,price,description,stock,tags
        HIK-001,Stormline Rain Jacket,Hiking & Outdoor,119.00,"Waterproof, breathable shell.",42,rain jacket;waterproof
        HIK-002,Ridgeback Boots,Hiking & Outdoor,169,Leather hiking boots.,0,boots
        CAM-001,Two-person Tent,Camping,249.00,Freestanding dome tent.,7,tent
    """)
    result = import_products(changed, prune=True)
    assert (result.added, result.changed, result.removed) == (["CAM-001"], ["HIK-001"], ["KIT-001"])
    catalog = _catalog()
    assert catalog["HIK-001"][1] == Decimal("119.00") and "KIT-001" not in catalog
    with session_scope() as session:
        # Archived, not deleted: old orders still point at it.
        assert products.get_by_sku(session, sku="kit-001").archived_at is not None


def test_bad_rows_reject_the_whole_file_with_row_numbers(store, write_csv):
    bad = write_csv("products.csv", """
        sku,name,category,price,description,stock,tags
        HIK-001,Good Jacket,Hiking & Outdoor,129.00,Fine.,4,a
        HIK-002,Negative,Hiking & Outdoor,-5.00,Bad price.,4,a
        HIK-003,,Hiking & Outdoor,abc,No name.,4,a
        HIK-004,Half stock,Hiking & Outdoor,10.00,Bad stock.,2.5,a
        HIK-005,Cents,Hiking & Outdoor,10.001,Too precise.,1,a
    """)
    with pytest.raises(ImportRejected) as caught:
        import_products(bad)
    rows = {e.row: e.message for e in caught.value.errors}
    assert set(rows) == {3, 4, 5, 6}
    assert "price -5.00 is negative" in rows[3]
    assert "name is empty" in rows[4] and "price 'abc' is not a number" in rows[4]
    assert "stock '2.5' is not a whole number" in rows[5]
    assert "more than 2 decimals" in rows[6]
    assert "4 bad rows" in str(caught.value) and "nothing was written" in str(caught.value)
    assert _catalog() == {}


def test_missing_columns_reject_and_extra_columns_are_attributes(store, write_csv):
    with pytest.raises(ImportRejected, match="missing column.*stock"):
        import_products(write_csv("p.csv", "sku,name,category,price,description,tags\n"))
    result = import_products(write_csv("p2.csv", """
        sku,name,category,price,description,stock,tags,Supplier
        HIK-001,Jacket,Hiking & Outdoor,10.00,Dry.,1,a,ACME
    """))
    assert result.added == ["HIK-001"]
    assert result.warnings == [] and result.attribute_columns == ["supplier"]
    assert result.summary().endswith("; attribute columns: supplier")
    assert _attributes() == {"HIK-001": {"supplier": "ACME"}}


def _attributes() -> dict[str, dict]:
    with session_scope() as session:
        return {p.sku: p.attributes for p in products.list_products(session)}


def test_attribute_columns_and_a_json_column_become_the_products_attributes(store, write_csv):
    result = import_products(write_csv("p.csv", """
        sku,name,category,price,description,stock,tags,material,colours,attributes
        COA-001,Wool Coat,Fashion,219,Warm.,3,,Recycled wool,black; navy,"{""sizes"": [""S"", ""M""], ""warranty"": 2, ""colours"": ""red""}"
        KIT-001,Skillet,Kitchen,49,Heavy.,9,,Cast iron,,
    """))
    assert result.added == ["COA-001", "KIT-001"]
    # A column wins over JSON; an empty cell is no attribute; lists and numbers become text.
    assert _attributes() == {
        "COA-001": {"sizes": "S; M", "warranty": "2", "colours": "black; navy",
                    "material": "Recycled wool"},
        "KIT-001": {"material": "Cast iron"}}
    changed = import_products(write_csv("p2.csv", """
        sku,name,category,price,description,stock,tags,material
        COA-001,Wool Coat,Fashion,219,Warm.,3,,Recycled wool
        KIT-001,Skillet,Kitchen,49,Heavy.,9,,Cast iron
    """))
    assert changed.changed == ["COA-001"] and changed.unchanged == 1
    assert _attributes()["COA-001"] == {"material": "Recycled wool"}


def test_bad_attributes_reject_the_file_with_row_numbers(store, write_csv):
    bad = write_csv("p.csv", """
        sku,name,category,price,description,stock,tags,attributes
        A-1,Fine,Fashion,1,,1,,"{""material"": ""wool""}"
        A-2,Broken JSON,Fashion,1,,1,,{material: wool}
        A-3,A list,Fashion,1,,1,,"[""wool""]"
        A-4,Nested,Fashion,1,,1,,"{""size"": {""eu"": 40}}"
    """)
    with pytest.raises(ImportRejected) as caught:
        import_products(bad)
    rows = {e.row: e.message for e in caught.value.errors}
    assert set(rows) == {3, 4, 5}
    assert "attributes is not valid JSON" in rows[3]
    assert "attributes must be a JSON object" in rows[4]
    assert "attribute 'size' must be text, a number or a list of them" in rows[5]
    assert _catalog() == {}


def test_duplicate_skus_merge_to_the_later_row(store, write_csv):
    result = import_products(write_csv("p.csv", """
        sku,name,category,price,description,stock,tags
        hik-001,Jacket v1,Hiking & Outdoor,10.00,Dry.,1,a
        HIK-001,Jacket v2,Hiking & Outdoor,12.00,Dry.,3,a
    """))
    assert result.added == ["HIK-001"]
    assert result.warnings == ["row 3: SKU HIK-001 repeats row 2; the later row is used"]
    assert _catalog()["HIK-001"][:3] == ("Jacket v2", Decimal("12.00"), 3)
