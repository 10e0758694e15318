"""A question's cost does not grow with the store (issue 14): no collection.count() per question,
and asking Chroma for more neighbours than the store (or a filter) holds returns what there is."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import date
from typing import Any

import numpy as np

from rag.lexical import top_k
from rag.pipeline import Pipeline, build_pipeline
from rag.settings import Settings
from rag.types import Filters

DW = "000_a718a404f4b4bf82"


class CountingCollection:
    """The real Chroma collection, with every method call counted by name (nothing faked)."""

    def __init__(self, real: Any) -> None:
        self._real = real
        self.calls: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._real, name)
        if not callable(attr):
            return attr

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] += 1
            return attr(*args, **kwargs)

        return counted


def _counting(pipeline: Pipeline) -> CountingCollection:
    vectors = pipeline.storage.vectors
    wrapper = CountingCollection(vectors.collection)
    vectors.collection = wrapper
    return wrapper


def test_questions_never_count_the_collection(seed_settings: Settings) -> None:
    """Fails before issue 14's fix: VectorStore.query called collection.count() on every question
    (a scan of the collection: 16 ms at 100k chunks)."""
    pipeline = build_pipeline(seed_settings)
    try:
        calls = _counting(pipeline).calls
        questions = [
            "How many drones were shot down over Kharkiv?",
            "Who is Viktor Trehubov?",
            "What happened in Kupiansk?",
        ]
        for q in questions:
            assert pipeline.ask(q).trace.hits, q
        pipeline.ask("missile strikes", filters=Filters(since=date(2024, 1, 1)))
        pipeline.retriever.retrieve("Roses on the Hand volunteers", k=3)
        assert calls["query"] == len(questions) + 2, calls  # every dense search went through it
        assert calls["count"] == 0, calls
    finally:
        pipeline.close()


def _ids_of(pipeline: Pipeline, keep: Callable[[str], bool]) -> set[str]:
    return {cid for cid in pipeline.storage.catalog.chunk_ids() if keep(cid)}


def test_asking_for_more_neighbours_than_the_store_or_a_filter_holds(seed_pipeline: Pipeline) -> None:
    vectors, embed = seed_pipeline.storage.vectors, seed_pipeline.embedder.embed_query
    everything = _ids_of(seed_pipeline, lambda _: True)
    assert 3 <= len(everything) < 1000
    q = embed("Kharkiv drones")
    got = vectors.query(q, 1000, None)
    assert {cid for cid, _ in got} == everything and len(got) == len(everything)
    sims = [s for _, s in got]
    assert sims == sorted(sims, reverse=True)

    dw = vectors.query(q, 1000, Filters(sources=("DW News",)))
    assert {cid for cid, _ in dw} == _ids_of(seed_pipeline, lambda c: c.startswith(DW))
    assert vectors.query(q, 1000, Filters(sources=("No Such Outlet",))) == []
    assert vectors.query(q, 0, None) == []

    # The whole path, with more candidates and passages asked for than there are chunks.
    hits = seed_pipeline.retriever.retrieve("Kharkiv", k=len(everything) + 5).hits
    assert hits and len(hits) <= len(everything)
    only_dw = seed_pipeline.retriever.retrieve("Kharkiv", k=50, filters=Filters(sources=("DW News",))).hits
    assert only_dw and {h.chunk.article_id for h in only_dw} == {DW}


def test_bm25_top_k_is_the_best_positive_scores_in_order() -> None:
    """The selection that replaced bm25s's argpartition over every document (degenerate on
    BM25's ties: 70-150 ms at 300k chunks): same scores as a full sort, ties by index."""
    rng = np.random.default_rng(7)
    for n, k in ((300_000, 40), (1000, 40), (30, 40), (50, 0), (10, 3)):
        scores = np.zeros(n, dtype=np.float32)
        hit = rng.choice(n, size=max(n // 5, 1), replace=False)
        scores[hit] = rng.integers(1, 12, size=len(hit)).astype(np.float32) / 4  # many ties
        got = top_k(scores, k)
        want = sorted(np.flatnonzero(scores > 0), key=lambda i: (-scores[i], i))[:k]
        assert got.tolist() == want
    assert top_k(np.zeros(100, dtype=np.float32), 40).tolist() == []
