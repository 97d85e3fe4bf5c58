"""One knowledge service per process: model and index loaded once, shared by all threads.

Long-running processes (the action server, several replicas sharing one data directory) stay
current in two ways, both cheap enough to do on every call:
- the index files changed on disk (another process synced them): `meta.json` is replaced
  atomically on every write, so a `stat()` tells; the service then loads the new index;
- the catalog changed at its source: every `check_interval` seconds the service asks the
  source for a cheap probe (row count, last update) and, when it moved, syncs the index
  incrementally before answering.

Searches run on an immutable snapshot (`Searcher`), swapped in under a lock, so a reload never
disturbs a search in flight.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Sequence
from decimal import Decimal
from pathlib import Path

from knowledge.catalog import CatalogItem
from knowledge.embedder import Embedder, get_embedder, model_identity
from knowledge.index_store import (
    META_FILE,
    SyncReport,
    build_index,
    file_stamp,
    load_index,
    read_meta,
    sync_index,
)
from knowledge.recommend import CustomerProfile, Recommendation, recommend
from knowledge.search import DEFAULT_METHOD, Method, Searcher, SearchFilters, SearchHit
from knowledge.sources import CatalogSource, StoreSource, source_named

logger = logging.getLogger(__name__)


class KnowledgeService:
    def __init__(
        self,
        directory: Path,
        *,
        model: str | None = None,
        hnsw_threshold: int = 50_000,
        check_interval: float = 30.0,
        default_source: CatalogSource | None = None,
    ) -> None:
        self.directory = Path(directory)
        self.model = model
        self.hnsw_threshold = hnsw_threshold
        self.check_interval = check_interval
        # Where to build from when there is no index yet (the store, in a running shop).
        self.default_source = default_source
        self._lock = threading.RLock()
        self._searcher: Searcher | None = None
        self._stamp: tuple | None = None
        self._last_check = -float("inf")

    # --- loading -------------------------------------------------------------------------
    @property
    def embedder(self) -> Embedder:
        return get_embedder(self.model)

    def _disk_stamp(self) -> tuple | None:
        return file_stamp(self.directory / META_FILE)

    def searcher(self) -> Searcher:
        """The current index, synced with its source and reloaded if it changed on disk.

        Raises IndexMissingError or IndexModelMismatchError (with what to run) rather than
        search an index whose vectors came from another model.
        """
        with self._lock:
            self._check_source()
            return self.loaded_searcher()

    def loaded_searcher(self) -> Searcher:
        """The index as it is on disk, without asking the catalog source whether it moved.

        For callers inside a unit of work of their own: a source check opens a second session,
        which under SQLite waits for the first one's write lock.
        """
        with self._lock:
            stamp = self._disk_stamp()
            if self._searcher is None or stamp != self._stamp:
                embedder = self.embedder
                index = load_index(self.directory, model=embedder.name, dimension=embedder.dimension)
                self._searcher = Searcher(index, embedder)
                self._stamp = stamp
                logger.info(
                    "product index loaded: %d products, %s, model %s",
                    len(index), index.kind, index.model,
                )
            return self._searcher

    def _check_source(self) -> None:
        now = time.monotonic()
        if now - self._last_check < self.check_interval:
            return
        self._last_check = now
        meta = read_meta(self.directory)
        source = source_named(meta.get("source")) if meta else self.default_source
        if source is None:
            return
        try:
            state = source.state()
            if meta is not None and state is not None and state == meta.get("source_state"):
                return
            items = source.items()
            if meta is None and not items:
                return  # nothing to index yet; searcher() will say so
        except Exception as exc:  # a source that is down must not take search down with it
            logger.warning("cannot check the catalog source %s: %s", source.name, exc)
            return
        report = sync_index(
            items, self.embedder, self.directory, hnsw_threshold=self.hnsw_threshold,
            source=source.name, source_state=state,
        )
        if not report.unchanged:
            logger.info("catalog changed at %s: %s", source.name, report.summary())

    def reload(self) -> None:
        with self._lock:
            self._searcher = None
            self._stamp = None
            self._last_check = -float("inf")

    # --- writing -------------------------------------------------------------------------
    def build(
        self, items: Iterable[CatalogItem], *, source: str = "", source_state: dict | None = None,
        progress: bool = False,
    ) -> SyncReport:
        report = build_index(
            list(items), self.embedder, self.directory, hnsw_threshold=self.hnsw_threshold,
            source=source, source_state=source_state, progress=progress, reason="full build",
        )
        self.reload()
        return report

    def sync(
        self, items: Iterable[CatalogItem], *, source: str = "", source_state: dict | None = None,
        progress: bool = False,
    ) -> SyncReport:
        report = sync_index(
            list(items), self.embedder, self.directory, hnsw_threshold=self.hnsw_threshold,
            source=source, source_state=source_state, progress=progress,
        )
        self.reload()
        return report

    def sync_from_source(self, source: CatalogSource, *, progress: bool = False) -> SyncReport:
        state = source.state()
        return self.sync(source.items(), source=source.name, source_state=state, progress=progress)

    # --- reading -------------------------------------------------------------------------
    def search(
        self,
        query: str,
        *,
        k: int = 5,
        filters: SearchFilters | None = None,
        method: Method = DEFAULT_METHOD,
        spelling: bool = True,
    ) -> list[SearchHit]:
        return self.searcher().search(query, k=k, filters=filters, method=method, spelling=spelling)

    def recommend(
        self,
        profile: CustomerProfile | None = None,
        *,
        k: int = 5,
        max_price: Decimal | None = None,
        min_price: Decimal | None = None,
        category: str | None = None,
        occasion: str | None = None,
        popular: Sequence[str] = (),
    ) -> list[Recommendation]:
        return recommend(
            self.searcher(), profile, k=k, max_price=max_price, min_price=min_price,
            category=category, occasion=occasion, popular=popular,
        )


_services: dict[tuple, KnowledgeService] = {}
_services_lock = threading.Lock()


def get_service() -> KnowledgeService:
    """The process-wide service for the current settings (data directory and model)."""
    from kefu_config.settings import get_settings

    settings = get_settings()
    directory = settings.data_path / "knowledge"
    key = (str(directory), model_identity(settings.embedding_model))
    with _services_lock:
        service = _services.get(key)
        if service is None:
            service = _services[key] = KnowledgeService(
                directory,
                model=settings.embedding_model,
                hnsw_threshold=settings.knowledge_hnsw_threshold,
                check_interval=settings.knowledge_check_interval,
                default_source=StoreSource(),
            )
        return service


def sync_from_store(*, progress: bool = False) -> SyncReport:
    """Bring the index in line with crm_store, embedding only new and changed products.

    Call after anything that changes products (an import, an admin edit). An index built from
    a CSV file is replaced by the store's catalog: the store is the source of truth.
    """
    return get_service().sync_from_source(StoreSource(), progress=progress)


