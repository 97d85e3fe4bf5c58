"""Answers from the shop's help centre: the best passage for a question, or nothing.

Extractive, never generated: an answer is a passage of the shop's own article, with the
article's title. A question is answered only when the best passage is confident enough
(`min_score`, on the same dense + BM25 mix as product search); a weak match is no answer,
because a wrong help answer misleads where "I don't know, shall I get a person?" does not.

One service per process, like the product index's (knowledge/service.py): the vectors load
once; every `check_interval` seconds the article folder is probed (file names, sizes, mtimes)
and a changed article is re-embedded and picked up without a restart; another process's sync
is seen by a `stat()` of `meta.json`.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from knowledge.embedder import Embedder, get_embedder, model_identity
from knowledge.help_articles import HelpError, Passage, folder_state, load_folder
from knowledge.help_index import META_FILE, HelpSyncReport, load_vectors, read_meta, sync_help_index
from knowledge.index_store import KnowledgeIndexError, file_stamp
from knowledge.lexical import LexicalIndex

logger = logging.getLogger(__name__)

# Product search's mix (knowledge/search.py) weighs meaning and shared words the same way.
DENSE_WEIGHT = 0.6
CANDIDATES = 20
# The least cosine similarity between the question and the best passage that answers. The mix
# ranks passages (shared rare words sharpen it), but it is no measure of confidence: BM25
# rewards any shared word ("how do I file my tax return" shares "tax" with the customs article),
# while meaning alone kept unanswerable questions lowest. Chosen on bench/help_eval/dev.yml
# (questions written by a helper who saw only the article titles), never on test.yml, which
# the README reports: `python -m bench.help_eval --tune` prints the dev sweep. The rule: the
# most right answers with at most one of dev's 25 unanswerable questions answered (0.04).
MIN_SCORE = 0.46
# Words that say nothing about which article answers ("how", "do", "you"): BM25 over a small
# help centre would otherwise give them weight.
_QUESTION_WORDS = frozenset(
    """how do does did you your yours i me my we our us can could would will should shall may
    is are was were be been it its this that these those what when where which who whom why
    there here if or and but so please hi hello thanks thank know tell want like get got""".split()
)


@dataclass(frozen=True)
class HelpAnswer:
    passage: Passage
    score: float  # the ranking score: meaning and shared words mixed
    dense: float  # cosine similarity of question and passage: the confidence
    lexical: float

    @property
    def slug(self) -> str:
        return self.passage.slug

    @property
    def title(self) -> str:
        return self.passage.title

    def excerpt(self, max_chars: int = 700) -> str:
        """The passage, cut after the last whole sentence that fits when it is long."""
        text = self.passage.text.strip()
        if len(text) <= max_chars:
            return text
        cut = text[:max_chars]
        end = max(cut.rfind(". "), cut.rfind(".\n"), cut.rfind("\n\n"))
        return (cut[: end + 1] if end > max_chars // 3 else cut.rsplit(" ", 1)[0] + " …").strip()


class HelpSearcher:
    """One loaded help index: FAISS over the passages' vectors and BM25 over their words."""

    def __init__(self, passages: list[Passage], vectors: np.ndarray, embedder: Embedder) -> None:
        import faiss

        self.passages = passages
        self.embedder = embedder
        self.vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        self.index = faiss.IndexFlatIP(embedder.dimension)
        if len(vectors):
            self.index.add(self.vectors)
        self.lexical = LexicalIndex([p.embedding_text() for p in passages])

    def __len__(self) -> int:
        return len(self.passages)

    def ranked(self, question: str, k: int = 5) -> list[HelpAnswer]:
        """The `k` best passages for `question`, best first, with their scores."""
        question = question.strip()
        if not question or not self.passages:
            return []
        import faiss

        faiss.omp_set_num_threads(1)  # one short question; threads only fight the other processes
        vector = self.embedder.encode_query(question).reshape(1, -1)
        scores, ids = self.index.search(vector, min(CANDIDATES, len(self.passages)))
        dense = {int(i): float(s) for s, i in zip(scores[0], ids[0]) if i >= 0}
        words = " ".join(w for w in question.split() if w.casefold().strip("?,.!") not in _QUESTION_WORDS)
        lexical_scores = self.lexical.scores(words)
        scale = self.lexical.coverage_scale(words)
        for p in np.argsort(-lexical_scores)[:CANDIDATES]:
            if lexical_scores[p] > 0:
                dense.setdefault(int(p), float(self.vectors[p] @ vector[0]))
        answers = []
        for p, d in dense.items():
            lexical = float(lexical_scores[p]) / scale
            answers.append(HelpAnswer(self.passages[p],
                                      DENSE_WEIGHT * d + (1 - DENSE_WEIGHT) * min(lexical, 1.0),
                                      d, lexical))
        answers.sort(key=lambda a: -a.score)
        return answers[:k]


class HelpService:
    def __init__(self, directory: Path, *, model: str | None = None,
                 folder: Path | None = None, check_interval: float = 30.0,
                 min_score: float = MIN_SCORE) -> None:
        self.directory = Path(directory)
        self.model = model
        # The shop's configured help folder (KEFU_HELP_DIR); None: the one the index came from.
        self.folder = Path(folder) if folder else None
        self.check_interval = check_interval
        self.min_score = min_score
        self._lock = threading.RLock()
        self._searcher: HelpSearcher | None = None
        self._stamp: tuple | None = None
        self._last_check = -float("inf")

    @property
    def embedder(self) -> Embedder:
        return get_embedder(self.model)

    def source_folder(self) -> Path | None:
        if self.folder is not None:
            return self.folder
        meta = read_meta(self.directory)
        return Path(meta["source"]) if meta and meta.get("source") else None

    def sync(self, folder: Path | None = None, *, progress: bool = False) -> HelpSyncReport:
        """Index every article of `folder` (default: the configured or last indexed one)."""
        folder = Path(folder).resolve() if folder else self.source_folder()
        if folder is None:
            raise HelpError("no help folder: set KEFU_HELP_DIR or run "
                            "`kefu knowledge import-help FOLDER`")
        state = folder_state(folder)
        articles = load_folder(folder)
        report = sync_help_index(articles, self.embedder, self.directory, source=str(folder),
                                 source_state=state, progress=progress)
        with self._lock:
            self._searcher = None
            self._last_check = time.monotonic()
        return report

    def _disk_stamp(self) -> tuple | None:
        return file_stamp(self.directory / META_FILE)

    def _check_folder(self) -> None:
        now = time.monotonic()
        if now - self._last_check < self.check_interval:
            return
        self._last_check = now
        folder = self.source_folder()
        if folder is None:
            return
        meta = read_meta(self.directory) or {}
        try:
            if (meta.get("source"), meta.get("source_state")) == (str(folder),
                                                                  folder_state(folder)):
                return
            report = self.sync(folder)
        except (HelpError, OSError) as exc:
            # A half-edited article must not take the help answers down: keep the last index.
            logger.warning("help articles in %s not re-indexed: %s", folder, exc)
            return
        if not report.unchanged:
            logger.info("help articles changed: %s", report.summary())

    def searcher(self) -> HelpSearcher:
        """The current index; IndexMissingError when there is none."""
        with self._lock:
            self._check_folder()
            stamp = self._disk_stamp()
            if self._searcher is None or stamp != self._stamp:
                embedder = self.embedder
                _, passages, vectors = load_vectors(self.directory, model=embedder.name)
                self._searcher = HelpSearcher(passages, vectors, embedder)
                self._stamp = stamp
                logger.info("help index loaded: %d passages", len(passages))
            return self._searcher

    def answer(self, question: str) -> HelpAnswer | None:
        """The best passage when it is confident enough; None when the help centre has no
        answer (or no index: a shop without help articles answers as before)."""
        try:
            ranked = self.searcher().ranked(question, k=1)
        except KnowledgeIndexError:
            return None
        return ranked[0] if ranked and self.confident(ranked[0]) else None

    def confident(self, answer: HelpAnswer) -> bool:
        """Whether a ranked passage is close enough in meaning to answer with."""
        return answer.dense >= self.min_score


_services: dict[tuple, HelpService] = {}
_services_lock = threading.Lock()


def get_help_service() -> HelpService:
    """The process-wide help service for the current settings."""
    from kefu_config.settings import get_settings

    settings = get_settings()
    directory = settings.data_path / "help"
    key = (str(directory), model_identity(settings.embedding_model), str(settings.help_dir),
           settings.help_min_score)
    with _services_lock:
        service = _services.get(key)
        if service is None:
            service = _services[key] = HelpService(
                directory, model=settings.embedding_model,
                folder=settings.help_dir.resolve() if settings.help_dir else None,
                check_interval=settings.knowledge_check_interval,
                min_score=MIN_SCORE if settings.help_min_score is None else settings.help_min_score,
            )
        return service
