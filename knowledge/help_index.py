"""The help-centre index on disk, beside the product index: `<data dir>/help/`.

- `meta.json`: model and dimension, the folder the articles came from and its probe, the
  build/update times, the vector file's name, and one entry per passage (its record and the
  hash of its embedded text), in vector order.
- `vectors-<id>.npy`: one unit-length float32 row per passage.

A help centre is a few hundred passages, so the FAISS index (exact inner product) is built in
memory when the index loads; what is kept on disk are the vectors, so a sync embeds only the
passages whose text changed. Writes follow the product index's rules (knowledge/index_store.py):
a new vector file first, then `meta.json` replaced atomically, under the same kind of file lock.
"""

from __future__ import annotations

import json
import logging
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kefu_config import clock
from knowledge.embedder import Embedder
from knowledge.help_articles import Article, Passage
from knowledge.index_store import (
    IndexMissingError,
    IndexModelMismatchError,
    embed_texts,
    write_lock,
)

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
META_FILE = "meta.json"


@dataclass
class HelpSyncReport:
    articles: int
    passages: int
    added: int = 0
    removed: int = 0
    embedded: int = 0
    seconds: float = 0.0

    @property
    def unchanged(self) -> bool:
        return not (self.added or self.removed)

    def summary(self) -> str:
        if self.unchanged:
            return f"help index up to date ({self.articles} articles, {self.passages} passages)"
        return (f"help index: {self.articles} articles, {self.passages} passages "
                f"(+{self.added} new or changed, -{self.removed} gone); "
                f"embedded {self.embedded} in {self.seconds:.1f} s")


def read_meta(directory: Path) -> dict | None:
    try:
        return json.loads((directory / META_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None


def load_vectors(directory: Path, *, model: str) -> tuple[dict, list[Passage], np.ndarray]:
    """(meta, passages, vectors) of the index, refusing one built with another model."""
    for _ in range(6):  # a writer may replace the files between our two reads
        meta = read_meta(directory)
        if meta is None:
            raise IndexMissingError(
                f"no help index in {directory}; run `kefu knowledge import-help FOLDER`")
        if meta.get("format") != FORMAT_VERSION or meta.get("model") != model:
            raise IndexModelMismatchError(
                f"the help index in {directory} was built with model {meta.get('model')!r}, "
                f"the configured model is {model!r}; run `kefu knowledge sync`")
        try:
            vectors = np.load(directory / meta["vector_file"])
        except FileNotFoundError:
            time.sleep(0.05)
            continue
        passages = [Passage.from_record(p["record"]) for p in meta["passages"]]
        if len(vectors) != len(passages):
            raise IndexMissingError(f"the help index in {directory} does not match its metadata; "
                                    "run `kefu knowledge sync`")
        return meta, passages, vectors
    raise IndexMissingError(f"the help index in {directory} kept changing while it was loaded")


def sync_help_index(
    articles: list[Article],
    embedder: Embedder,
    directory: Path,
    *,
    source: str,
    source_state: dict,
    progress: bool = False,
) -> HelpSyncReport:
    """Make the index hold exactly these articles' passages, embedding only new text."""
    started = time.perf_counter()
    passages = [p for article in articles for p in article.passages]
    with write_lock(directory):
        old: dict[str, np.ndarray] = {}
        meta = read_meta(directory)
        if meta is not None and meta.get("model") == embedder.name:
            try:
                _, old_passages, old_vectors = load_vectors(directory, model=embedder.name)
                old = {p.hash: v for p, v in zip(old_passages, old_vectors)}
            except (IndexMissingError, IndexModelMismatchError, ValueError, OSError):
                old = {}
        new = list({p.hash: p for p in passages if p.hash not in old}.values())
        fresh = dict(zip((p.hash for p in new), embed_texts(
            embedder, [p.embedding_text() for p in new], progress=progress,
            what="help passage")))
        hashes = [p.hash for p in passages]
        report = HelpSyncReport(
            articles=len(articles), passages=len(passages), added=len(new),
            removed=len(set(old) - set(hashes)), embedded=len(new),
        )
        if old and [p["hash"] for p in meta["passages"]] == hashes:
            # The same text in the same order: at most the folder's probe moved.
            if (meta.get("source"), meta.get("source_state")) != (source, source_state):
                _write_meta(directory, {**meta, "source": source, "source_state": source_state})
            report.seconds = time.perf_counter() - started
            return report
        vectors = np.stack([fresh[h] if h in fresh else old[h] for h in hashes]).astype(
            np.float32) if hashes else np.zeros((0, embedder.dimension), dtype=np.float32)
        vector_file = f"vectors-{uuid.uuid4().hex[:12]}.npy"
        tmp = directory / f"{vector_file}.tmp"
        with open(tmp, "wb") as fh:
            np.save(fh, vectors)
        os.replace(tmp, directory / vector_file)
        previous = (meta or {}).get("vector_file")
        _write_meta(directory, {
            "format": FORMAT_VERSION,
            "model": embedder.name,
            "dimension": embedder.dimension,
            "source": source,
            "source_state": source_state,
            "built_at": (meta or {}).get("built_at") or clock.now().isoformat(timespec="seconds"),
            "updated_at": clock.now().isoformat(timespec="seconds"),
            "vector_file": vector_file,
            "passages": [{"hash": p.hash, "record": p.to_record()} for p in passages],
        })
        # Keep the file a concurrent reader may have just chosen; delete anything older.
        for stale in directory.glob("vectors-*.npy"):
            if stale.name not in (vector_file, previous):
                stale.unlink(missing_ok=True)
    report.seconds = time.perf_counter() - started
    return report


def _write_meta(directory: Path, meta: dict) -> None:
    tmp = directory / f"{META_FILE}.tmp"
    tmp.write_text(json.dumps(meta, indent=1, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, directory / META_FILE)
