"""Hybrid retrieval over the real seed index: fusion, filters on both retrievers, date awareness."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from llama_index.core.schema import TextNode

from rag.llama_adapter import CitedQueryEngine, HybridLlamaRetriever
from rag.pipeline import Pipeline
from rag.plan import build_plan
from rag.retrieve import HybridRetriever, group_by_date
from rag.store import where_clause
from rag.types import Filters

ROOT = Path(__file__).resolve().parent.parent
DW, KYIV_INDEPENDENT, BNN = "000_a718a404f4b4bf82", "001_e71635c8b88c33de", "002_88f33951d7bac3d7"


def articles(pipeline: Pipeline, query: str, filters: Filters | None = None, k: int = 8) -> list[str]:
    return [h.chunk.article_id for h in pipeline.retriever.retrieve(query, k=k, filters=filters).hits]


def test_hits_are_ranked_and_carry_both_scores(seed_pipeline: Pipeline) -> None:
    hits = seed_pipeline.retriever.retrieve("Roses on the Hand volunteers evacuate", k=5).hits
    assert [h.rank for h in hits] == list(range(1, len(hits) + 1))
    assert hits[0].chunk.article_id == DW
    assert hits[0].dense is not None and hits[0].lexical is not None
    assert all(a.score >= b.score for a, b in zip(hits, hits[1:], strict=False))


def test_lexical_side_finds_exact_rare_terms(seed_pipeline: Pipeline) -> None:
    lex = seed_pipeline.storage.lexical.search("Gurbaksh Chahal", 5)
    assert lex and lex[0][0].startswith(BNN)


def test_date_filter_applies_to_both_retrievers(seed_pipeline: Pipeline) -> None:
    since = Filters(since=date(2024, 1, 1), keep_undated=False)
    assert set(articles(seed_pipeline, "missile strikes on Kharkiv drones", since)) == {KYIV_INDEPENDENT}
    lexical = seed_pipeline.storage.lexical.search("missile strikes Kharkiv drones", 20, since)
    assert lexical and all(cid.startswith(KYIV_INDEPENDENT) for cid, _ in lexical)
    dense = seed_pipeline.storage.vectors.query(
        seed_pipeline.embedder.embed_query("missile strikes"), 20, since
    )
    assert dense and all(cid.startswith(KYIV_INDEPENDENT) for cid, _ in dense)


def test_undated_articles_kept_or_dropped_as_chosen(seed_pipeline: Pipeline) -> None:
    q = "Kupiansk fortifications trenches"
    kept = set(articles(seed_pipeline, q, Filters(since=date(2024, 1, 1), keep_undated=True)))
    dropped = set(articles(seed_pipeline, q, Filters(since=date(2024, 1, 1), keep_undated=False)))
    assert DW in kept and DW not in dropped  # the DW summary has no date


def test_outlet_and_language_filters(seed_pipeline: Pipeline) -> None:
    assert set(articles(seed_pipeline, "Kharkiv", Filters(sources=("DW News",)))) == {DW}
    assert set(articles(seed_pipeline, "Kharkiv", Filters(languages=("en",)))) == {BNN}
    assert articles(seed_pipeline, "Kharkiv", Filters(sources=("No Such Outlet",))) == []


def test_where_clause_shapes() -> None:
    assert where_clause(None) is None
    # By default an undated article never passes a date filter.
    assert where_clause(Filters(since=date(2024, 1, 2))) == {
        "$and": [{"has_date": True}, {"published": {"$gte": 20240102}}]
    }
    w = where_clause(Filters(since=date(2024, 1, 2), sources=("A",), keep_undated=True))
    assert w == {
        "$and": [
            {"$or": [{"$and": [{"has_date": True}, {"published": {"$gte": 20240102}}]}, {"has_date": False}]},
            {"source": {"$in": ["A"]}},
        ]
    }


@pytest.mark.parametrize("fusion", ["weighted", "rrf"])
def test_latest_prefers_newer_articles(seed_pipeline: Pipeline, fusion: str) -> None:
    settings = seed_pipeline.settings.replace(fusion=fusion)
    retriever = HybridRetriever(seed_pipeline.storage, seed_pipeline.embedder, settings)
    plain = retriever.retrieve("attacks on Kharkiv region", k=8)
    recent = retriever.retrieve("latest attacks on Kharkiv region", k=8)
    assert build_plan("latest attacks on Kharkiv region").dates.prefer_recent
    assert not build_plan("attacks on Kharkiv region").dates.prefer_recent

    def best_rank(r: object, article: str) -> int:
        return min(h.rank for h in r.hits if h.chunk.article_id == article)  # type: ignore[attr-defined]

    assert best_rank(recent, KYIV_INDEPENDENT) < best_rank(plain, KYIV_INDEPENDENT)
    before = {h.chunk.id: h.score for h in plain.hits}
    after = {h.chunk.id: h.score for h in recent.hits}
    # The boost is recency_weight, scaled to RRF's small scores under RRF.
    scale = 1.0 if fusion == "weighted" else max(before.values())
    for cid in before.keys() & after.keys():
        boost = after[cid] - before[cid]
        if cid.startswith(KYIV_INDEPENDENT):  # newest
            assert boost == pytest.approx(settings.recency_weight * scale, rel=0.05)
        elif cid.startswith(BNN):  # oldest dated
            assert boost == pytest.approx(0.0, abs=1e-5)


def test_as_of_date_limits_and_is_parsed() -> None:
    assert build_plan("What was the situation as of 2024-01-15?").dates.as_of == date(2024, 1, 15)
    assert build_plan("as of March 2024, who held Kupiansk?").dates.as_of == date(2024, 3, 31)
    assert not build_plan("Who heads the department?").dates.prefer_recent


def test_as_of_question_drops_later_articles(seed_pipeline: Pipeline) -> None:
    a = seed_pipeline.ask("As of 2024-06-01, what was happening in Kharkiv?")
    dated = [h.chunk.published for h in a.trace.hits if h.chunk.published]
    assert dated and all(d <= date(2024, 6, 1) for d in dated)


def test_group_by_date_orders_oldest_first_undated_last(seed_pipeline: Pipeline) -> None:
    hits = seed_pipeline.retriever.retrieve("Kharkiv", k=10).hits
    groups = group_by_date(hits)
    keys = [d for d, _ in groups]
    assert keys[-1] is None and keys[:-1] == sorted(k for k in keys if k)


def test_near_duplicates_are_removed(seed_pipeline: Pipeline) -> None:
    hits = seed_pipeline.retriever.retrieve("Kupiansk", k=20).hits
    vecs = [seed_pipeline.storage.catalog.chunk_records([h.chunk.id])[h.chunk.id].vec for h in hits]
    for i in range(len(vecs)):
        for j in range(i):
            assert float(vecs[i] @ vecs[j]) < seed_pipeline.settings.dedup_threshold


@pytest.mark.parametrize("fusion", ["rrf", "weighted"])
def test_both_fusions_find_the_answer_article(seed_pipeline: Pipeline, fusion: str) -> None:
    retriever = HybridRetriever(
        seed_pipeline.storage, seed_pipeline.embedder, seed_pipeline.settings.replace(fusion=fusion)
    )
    assert (
        retriever.retrieve("Which border city did Russia say Ukraine attacked?", k=3).hits[0].chunk.article_id
        == BNN
    )


def test_llama_index_retriever_and_query_engine(seed_pipeline: Pipeline) -> None:
    nodes = HybridLlamaRetriever(seed_pipeline, k=3).retrieve("Who is Viktor Trehubov?")
    assert len(nodes) == 3 and nodes[0].node.metadata["article_id"] == KYIV_INDEPENDENT
    text_node = nodes[0].node
    assert isinstance(text_node, TextNode)
    article = seed_pipeline.article(KYIV_INDEPENDENT)
    assert article is not None
    assert article.text[text_node.start_char_idx : text_node.end_char_idx] == text_node.get_content()
    response = CitedQueryEngine(pipeline=seed_pipeline).query("What has Vladimir Putin discussed creating?")
    assert "buffer zone" in str(response)
    assert response.source_nodes and response.source_nodes[0].node.metadata["n"] == 1


def test_syndicated_copy_is_not_returned_twice(tmp_path: Path) -> None:
    from index.ingest import ingest_paths
    from rag.pipeline import build_pipeline
    from rag.settings import Settings

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    original = (ROOT / "data" / "corpus" / f"{BNN}.txt").read_text(encoding="utf-8")
    (corpus / "bnn.txt").write_text(original, encoding="utf-8")
    (corpus / "bnn-repost.txt").write_text(original.replace("BNN", "Repost Wire"), encoding="utf-8")
    settings = Settings.from_env({}, data_dir=tmp_path / "store")
    assert ingest_paths([corpus], settings, progress=False).ok
    pipeline = build_pipeline(settings)
    hits = pipeline.retriever.retrieve("How many drones were shot down over Kharkiv?", k=10).hits
    texts = [h.chunk.text for h in hits]
    assert len(texts) == len(set(texts))  # each passage once, though both articles hold it
    assert {h.chunk.article_id for h in hits} <= {"bnn", "bnn-repost"}
    pipeline.storage.close()
