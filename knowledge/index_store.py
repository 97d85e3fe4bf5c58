"""The product index on disk: a FAISS file plus a JSON metadata file, built and kept in sync.

Layout of `<data dir>/knowledge/`:
- `meta.json`: model name and dimension, index kind, catalog fingerprint, build and update
  times, the name of the current FAISS file, and one entry per product in index order (FAISS
  id, SKU, the fields search filters on, and the hash of the embedded text).
- `index-<build id>.faiss`: an `IndexIDMap2` over exact inner product (`IndexFlatIP`) or HNSW.
  Vectors are unit length, so inner product is cosine similarity.

Every write goes to a new FAISS file first and then replaces `meta.json` atomically, so a
process reading the index at the same time sees either the old index or the new one, never a
mix. Writers take a file lock, so an import and a `kefu knowledge build` cannot interleave.

Incremental sync embeds only products whose embedded text changed. Removing vectors from an
exact index is cheap; HNSW cannot remove, so its graph is rebuilt from the stored vectors
(read back from the FAISS file), which still embeds nothing again.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_fixed
from tqdm import tqdm

from kefu_config import clock
from knowledge.catalog import CatalogItem, catalog_fingerprint, check_unique
from knowledge.embedder import Embedder

# faiss reports at INFO that it could not load its AVX2/AVX512 builds; not worth a line each run.
logging.getLogger("faiss.loader").setLevel(logging.WARNING)
import faiss  # noqa: E402

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
META_FILE = "meta.json"
LOCK_FILE = ".lock"

# HNSW settings, measured by bench/knowledge_bench.py: with efSearch 128, recall@10 against
# exact search was 0.985 or better from 1k to 100k real-like vectors.
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 128
# Filters that leave at most this many products are scored directly, without FAISS.
SMALL_SUBSET = 2048


class KnowledgeIndexError(RuntimeError):
    """The product index cannot be used as it is."""


class IndexMissingError(KnowledgeIndexError):
    pass


class IndexModelMismatchError(KnowledgeIndexError):
    """The index was built with another model (or dimension); its vectors mean nothing now."""


def index_kind_for(size: int, hnsw_threshold: int) -> str:
    return "hnsw" if size >= hnsw_threshold else "flat"


def new_faiss_index(kind: str, dimension: int) -> faiss.Index:
    if kind == "flat":
        inner = faiss.IndexFlatIP(dimension)
    elif kind == "hnsw":
        inner = faiss.IndexHNSWFlat(dimension, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        inner.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        inner.hnsw.efSearch = HNSW_EF_SEARCH
    else:
        raise ValueError(f"unknown index kind {kind!r}")
    return faiss.IndexIDMap2(inner)


@dataclass
class SyncReport:
    """What a build or sync did, for logs, the CLI and tests."""

    total: int
    kind: str
    rebuilt: bool = False
    reason: str = ""
    added: int = 0
    changed: int = 0
    removed: int = 0
    records_updated: int = 0
    embedded: int = 0
    seconds: float = 0.0

    @property
    def unchanged(self) -> bool:
        return not (self.rebuilt or self.added or self.changed or self.removed or self.records_updated)

    def summary(self) -> str:
        if self.rebuilt:
            head = f"built {self.kind} index of {self.total} products"
            if self.reason:
                head += f" ({self.reason})"
        elif self.unchanged:
            return f"index up to date ({self.total} products, {self.kind})"
        else:
            head = (
                f"updated {self.kind} index: +{self.added} new, {self.changed} changed, "
                f"-{self.removed} removed, {self.records_updated} price/stock updates; "
                f"{self.total} products"
            )
        return f"{head}; embedded {self.embedded} in {self.seconds:.1f} s"


@dataclass
class ProductIndex:
    """A loaded index: the FAISS object and the products it holds, in index order."""

    meta: dict
    faiss_index: faiss.Index
    items: list[CatalogItem]
    ids: np.ndarray  # FAISS id of items[i]
    hashes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.position = {int(i): p for p, i in enumerate(self.ids)}
        self.by_sku = {item.sku: p for p, item in enumerate(self.items)}

    @property
    def model(self) -> str:
        return self.meta["model"]

    @property
    def dimension(self) -> int:
        return int(self.meta["dimension"])

    @property
    def kind(self) -> str:
        return self.meta["index_kind"]

    @property
    def fingerprint(self) -> str:
        return self.meta["fingerprint"]

    def __len__(self) -> int:
        return len(self.items)

    def dense_search(
        self, vector: np.ndarray, n: int, allowed: np.ndarray | None = None
    ) -> list[tuple[int, float]]:
        """Top `n` (position, cosine) pairs, only among `allowed` positions when given."""
        if not len(self.items) or n <= 0 or (allowed is not None and not len(allowed)):
            return []
        query = np.ascontiguousarray(vector.reshape(1, -1), dtype=np.float32)
        if allowed is not None and len(allowed) <= SMALL_SUBSET:
            # A few allowed products: scoring them directly beats steering an index walk.
            return self._exact_among(query[0], allowed, n)
        # One question at a time is what a shop sees; OpenMP threads only fight over the cores
        # with the other requests (measured: 15x slower p50 on a busy 2-core machine).
        faiss.omp_set_num_threads(1)
        selector = None if allowed is None else faiss.IDSelectorBatch(self.ids[allowed])
        n = min(n, len(self.items) if allowed is None else len(allowed))
        scores, ids = self.faiss_index.search(query, n, params=self._params(n, selector))
        found = [(self.position[int(i)], float(s)) for s, i in zip(scores[0], ids[0]) if i >= 0]
        if len(found) < n and self.kind == "hnsw":
            # A filtered or small graph walk can run out of candidates; exact search cannot.
            every = np.arange(len(self.items)) if allowed is None else allowed
            return self._exact_among(query[0], every, n)
        return found

    def _params(self, n: int, selector: faiss.IDSelector | None = None) -> faiss.SearchParameters:
        if self.kind == "hnsw":
            params = faiss.SearchParametersHNSW()
            params.efSearch = max(HNSW_EF_SEARCH, n)
        else:
            params = faiss.SearchParameters()
        if selector is not None:
            params.sel = selector
        return params

    def _exact_among(self, query: np.ndarray, allowed: np.ndarray, n: int) -> list[tuple[int, float]]:
        scores = self.matrix[allowed] @ query
        n = min(n, len(allowed))
        top = np.argpartition(-scores, n - 1)[:n]
        top = top[np.argsort(-scores[top])]
        return [(int(allowed[t]), float(scores[t])) for t in top]

    @cached_property
    def matrix(self) -> np.ndarray:
        """Every stored vector in index order: a read-only view into FAISS's own memory.

        Only valid while this (never mutated) loaded index lives; sync works on its own copy.
        """
        inner = faiss.downcast_index(self.faiss_index.index)
        flat = faiss.downcast_index(inner.storage) if isinstance(inner, faiss.IndexHNSW) else inner
        if not flat.ntotal:
            return np.zeros((0, self.dimension), dtype=np.float32)
        view = faiss.rev_swig_ptr(flat.get_xb(), flat.ntotal * flat.d).reshape(flat.ntotal, flat.d)
        view.flags.writeable = False
        return view

    def vectors(self, positions: Sequence[int] | np.ndarray) -> np.ndarray:
        """Stored vectors for the given positions (read back from FAISS, not re-embedded)."""
        return self.matrix[np.asarray(positions, dtype=np.int64)]

    def all_vectors(self) -> np.ndarray:
        """A copy of every vector in index order."""
        return np.array(self.matrix)


def file_stamp(path: Path) -> tuple | None:
    """What changes whenever a file is replaced (an index's meta.json is, on every write):
    a `stat()` tells a long-running reader that another process synced, without reading it."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def _meta_path(directory: Path) -> Path:
    return directory / META_FILE


def read_meta(directory: Path) -> dict | None:
    try:
        return json.loads(_meta_path(directory).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None


def load_index(directory: Path, *, model: str, dimension: int | None = None) -> ProductIndex:
    """Load the index, refusing one built with another model rather than answering wrongly."""
    # A writer may replace the index (even twice) between our reading meta.json and opening
    # the FAISS file it named; read again: the new meta.json names a file that exists.
    retrying = Retrying(retry=retry_if_exception_type(_IndexReplaced), wait=wait_fixed(0.05),
                        stop=stop_after_attempt(6), reraise=True)
    return retrying(_load_index, directory, model=model, dimension=dimension)


class _IndexReplaced(KnowledgeIndexError):
    pass


def _load_index(directory: Path, *, model: str, dimension: int | None) -> ProductIndex:
    meta = read_meta(directory)
    if meta is None:
        raise IndexMissingError(
            f"no product index in {directory}; run `kefu knowledge build` to create it"
        )
    if meta.get("format") != FORMAT_VERSION:
        raise IndexModelMismatchError(
            f"the product index in {directory} has format {meta.get('format')}, "
            f"this Kefu reads format {FORMAT_VERSION}; run `kefu knowledge build`"
        )
    if meta["model"] != model or (dimension is not None and int(meta["dimension"]) != dimension):
        raise IndexModelMismatchError(
            f"the product index in {directory} was built with model {meta['model']!r} "
            f"(dimension {meta['dimension']}), but the configured model is {model!r}"
            + (f" (dimension {dimension})" if dimension is not None else "")
            + "; its vectors cannot be compared. Run `kefu knowledge build` to rebuild it."
        )
    index_path = directory / meta["index_file"]
    if not index_path.exists():
        if read_meta(directory) != meta:
            raise _IndexReplaced(f"the product index in {directory} kept changing while it was loaded")
        raise KnowledgeIndexError(f"the product index file {index_path} is missing; run `kefu knowledge build`")
    faiss_index = _read_faiss(index_path)
    products = meta["products"]
    ids = faiss.vector_to_array(faiss_index.id_map).astype(np.int64)
    if faiss_index.d != int(meta["dimension"]) or len(ids) != len(products) or any(
        int(i) != p["id"] for i, p in zip(ids, products)
    ):
        raise KnowledgeIndexError(
            f"the product index in {directory} does not match its metadata; "
            "run `kefu knowledge build`"
        )
    items = [CatalogItem.from_record(p["record"]) for p in products]
    return ProductIndex(
        meta=meta,
        faiss_index=faiss_index,
        items=items,
        ids=ids,
        hashes=[p["hash"] for p in products],
    )


def _read_faiss(path: Path) -> faiss.Index:
    try:
        index = faiss.read_index(str(path))
    except RuntimeError as exc:
        raise KnowledgeIndexError(f"cannot read the product index {path}: {exc}") from exc
    if not isinstance(index, faiss.IndexIDMap2):
        raise KnowledgeIndexError(f"{path} is not a Kefu product index")
    return index


@contextmanager
def write_lock(directory: Path) -> Iterator[None]:
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / LOCK_FILE, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _now() -> str:
    return clock.now().isoformat(timespec="seconds")


def _write(
    directory: Path,
    faiss_index: faiss.Index,
    items_by_id: dict[int, tuple[CatalogItem, str]],
    meta: dict,
) -> dict:
    """Write a new FAISS file, then point meta.json at it in one atomic rename."""
    ids = faiss.vector_to_array(faiss_index.id_map).astype(np.int64)
    index_file = f"index-{uuid.uuid4().hex[:12]}.faiss"
    tmp = directory / f"{index_file}.tmp"
    faiss.write_index(faiss_index, str(tmp))
    os.replace(tmp, directory / index_file)

    previous = read_meta(directory)
    meta = dict(meta)
    meta.update(
        format=FORMAT_VERSION,
        index_file=index_file,
        updated_at=_now(),
        fingerprint=catalog_fingerprint(item for item, _ in items_by_id.values()),
        products=[
            {"id": int(i), "hash": items_by_id[int(i)][1], "record": items_by_id[int(i)][0].to_record()}
            for i in ids
        ],
    )
    tmp_meta = directory / f"{META_FILE}.tmp"
    tmp_meta.write_text(json.dumps(meta, indent=1), encoding="utf-8")
    os.replace(tmp_meta, _meta_path(directory))

    # Keep the file a concurrent reader may have just chosen; delete anything older.
    keep = {index_file, (previous or {}).get("index_file")}
    for old in directory.glob("index-*.faiss"):
        if old.name not in keep:
            old.unlink(missing_ok=True)
    return meta


def _embed(embedder: Embedder, items: Sequence[CatalogItem], progress: bool) -> np.ndarray:
    return embed_texts(embedder, [i.embedding_text() for i in items], progress=progress)


def embed_texts(embedder: Embedder, texts: Sequence[str], *, progress: bool,
                what: str = "product") -> np.ndarray:
    """Vectors for `texts` in chunks, with a progress bar of `what`s when asked for."""
    chunk = 256
    parts = []
    with tqdm(total=len(texts), desc=f"embedding {what}s", unit=what, disable=not progress) as bar:
        for start in range(0, len(texts), chunk):
            parts.append(embedder.encode(texts[start : start + chunk]))
            bar.update(min(chunk, len(texts) - start))
    if not parts:
        return np.zeros((0, embedder.dimension), dtype=np.float32)
    return np.concatenate(parts)


def build_index(
    items: Sequence[CatalogItem],
    embedder: Embedder,
    directory: Path,
    *,
    hnsw_threshold: int,
    source: str = "",
    source_state: dict | None = None,
    progress: bool = False,
    reason: str = "",
) -> SyncReport:
    """Embed every product and write a fresh index, replacing whatever was there."""
    items = list(items)
    check_unique(items)
    with write_lock(directory):
        return _build_locked(
            items, embedder, directory, hnsw_threshold=hnsw_threshold, source=source,
            source_state=source_state, progress=progress, reason=reason,
        )


def _build_locked(
    items: list[CatalogItem],
    embedder: Embedder,
    directory: Path,
    *,
    hnsw_threshold: int,
    source: str,
    source_state: dict | None,
    progress: bool,
    reason: str,
) -> SyncReport:
    started = time.perf_counter()
    vectors = _embed(embedder, items, progress)
    kind = index_kind_for(len(items), hnsw_threshold)
    faiss.omp_set_num_threads(os.cpu_count() or 1)  # building an HNSW graph is parallel work
    faiss_index = new_faiss_index(kind, embedder.dimension)
    ids = np.arange(1, len(items) + 1, dtype=np.int64)
    if len(items):
        faiss_index.add_with_ids(vectors, ids)
    now = _now()
    _write(
        directory,
        faiss_index,
        {int(i): (item, item.embedding_hash) for i, item in zip(ids, items)},
        {
            "model": embedder.name,
            "dimension": embedder.dimension,
            "index_kind": kind,
            "built_at": now,
            "next_id": len(items) + 1,
            "source": source,
            "source_state": source_state,
        },
    )
    report = SyncReport(
        total=len(items), kind=kind, rebuilt=True, reason=reason, embedded=len(items),
        seconds=time.perf_counter() - started,
    )
    logger.info("product index: %s", report.summary())
    return report


def sync_index(
    items: Sequence[CatalogItem],
    embedder: Embedder,
    directory: Path,
    *,
    hnsw_threshold: int,
    source: str = "",
    source_state: dict | None = None,
    progress: bool = False,
) -> SyncReport:
    """Bring the index in line with `items`, embedding only new and changed products.

    No index yet, or one built with another model: a full build, and the report says why.
    """
    items = list(items)
    check_unique(items)
    with write_lock(directory):
        try:
            current = load_index(directory, model=embedder.name, dimension=embedder.dimension)
        except IndexMissingError:
            return _build_locked(
                items, embedder, directory, hnsw_threshold=hnsw_threshold, source=source,
                source_state=source_state, progress=progress, reason="no index yet",
            )
        except KnowledgeIndexError as exc:
            logger.warning("rebuilding the product index: %s", exc)
            return _build_locked(
                items, embedder, directory, hnsw_threshold=hnsw_threshold, source=source,
                source_state=source_state, progress=progress, reason=str(exc),
            )
        return _sync_locked(
            current, items, embedder, directory, hnsw_threshold=hnsw_threshold,
            source=source, source_state=source_state, progress=progress,
        )


def _sync_locked(
    current: ProductIndex,
    items: list[CatalogItem],
    embedder: Embedder,
    directory: Path,
    *,
    hnsw_threshold: int,
    source: str,
    source_state: dict | None,
    progress: bool,
) -> SyncReport:
    started = time.perf_counter()
    kind = index_kind_for(len(items), hnsw_threshold)
    if current.fingerprint == catalog_fingerprint(items) and current.kind == kind:
        if source_state != current.meta.get("source_state") or source != current.meta.get("source"):
            # Same products, new probe values (e.g. a touched timestamp): remember them so
            # the next staleness check is cheap again.
            meta = dict(current.meta, source=source, source_state=source_state)
            tmp = directory / f"{META_FILE}.tmp"
            tmp.write_text(json.dumps(meta, indent=1), encoding="utf-8")
            os.replace(tmp, _meta_path(directory))
        return SyncReport(total=len(items), kind=kind)

    old_ids = {item.sku: int(current.ids[p]) for p, item in enumerate(current.items)}
    old_hash = {int(current.ids[p]): current.hashes[p] for p in range(len(current.items))}
    old_record = {int(current.ids[p]): current.items[p] for p in range(len(current.items))}
    wanted = {item.sku for item in items}

    removed_ids = [i for sku, i in old_ids.items() if sku not in wanted]
    next_id = int(current.meta.get("next_id", int(current.ids.max(initial=0)) + 1))
    to_embed: list[tuple[int, CatalogItem]] = []
    items_by_id: dict[int, tuple[CatalogItem, str]] = {}
    added = changed = records_updated = 0
    for item in items:
        faiss_id = old_ids.get(item.sku)
        if faiss_id is None:
            faiss_id, next_id = next_id, next_id + 1
            to_embed.append((faiss_id, item))
            added += 1
        elif old_hash[faiss_id] != item.embedding_hash:
            to_embed.append((faiss_id, item))
            changed += 1
        elif old_record[faiss_id] != item:
            records_updated += 1
        items_by_id[faiss_id] = (item, item.embedding_hash)

    vectors = _embed(embedder, [item for _, item in to_embed], progress)
    new_ids = np.array([i for i, _ in to_embed], dtype=np.int64)
    stale_ids = np.array(removed_ids + [i for i, _ in to_embed if i in old_hash], dtype=np.int64)

    faiss_index = current.faiss_index
    faiss.omp_set_num_threads(os.cpu_count() or 1)
    rebuilt_structure = kind != current.kind or (kind == "hnsw" and len(stale_ids))
    if rebuilt_structure:
        # HNSW cannot delete, and a change of kind needs a new structure: rebuild it from the
        # stored vectors plus the new ones. Nothing already embedded is embedded again.
        keep = ~np.isin(current.ids, stale_ids)
        all_vectors = np.concatenate([current.all_vectors()[keep], vectors])
        all_ids = np.concatenate([current.ids[keep], new_ids])
        faiss_index = new_faiss_index(kind, current.dimension)
        if len(all_ids):
            faiss_index.add_with_ids(all_vectors, all_ids)
    else:
        if len(stale_ids):
            faiss_index.remove_ids(stale_ids)
        if len(new_ids):
            faiss_index.add_with_ids(vectors, new_ids)

    meta = {
        key: current.meta[key] for key in ("model", "dimension", "built_at") if key in current.meta
    }
    meta.update(index_kind=kind, next_id=next_id, source=source, source_state=source_state)
    _write(directory, faiss_index, items_by_id, meta)
    report = SyncReport(
        total=len(items), kind=kind, added=added, changed=changed, removed=len(removed_ids),
        records_updated=records_updated, embedded=len(to_embed),
        seconds=time.perf_counter() - started,
    )
    logger.info("product index: %s", report.summary())
    return report
