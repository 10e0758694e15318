"""A question that quotes a distinctive sentence finds its article first (issue: fusion dropped
chunks that BM25 ranked first but the dense side did not list)."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from bench.corpus import generate, write_jsonl
from index.ingest import ingest_paths
from rag.pipeline import build_pipeline
from rag.settings import Settings

pytestmark = pytest.mark.slow


def test_quoting_a_sentence_finds_its_article_first_20_of_20(tmp_path: Path) -> None:
    articles = generate(200, seed=7)
    corpus = write_jsonl(articles, tmp_path / "corpus.jsonl")
    settings = Settings.from_env({}, data_dir=tmp_path / "store")
    assert ingest_paths([corpus], settings, progress=False).ok
    sentences = {a.id: [s.strip() for s in re.split(r"(?<=[.!?])\s+", a.body) if 60 <= len(s) <= 220]
                 for a in articles}  # fmt: skip
    seen = Counter(s for ss in sentences.values() for s in set(ss))
    picked = []
    for a in articles[::10]:  # 20 articles spread over the corpus
        unique = [s for s in sentences[a.id] if seen[s] == 1]
        assert unique, f"{a.id} has no sentence of its own"
        picked.append((a.id, unique[len(unique) // 2]))
    with build_pipeline(settings) as pipeline:
        firsts = [pipeline.retriever.retrieve(quote, k=5).hits[0].chunk.article_id for _, quote in picked]
        answers = [pipeline.ask(f'Which article says "{quote}"?') for _, quote in picked]
    assert firsts == [aid for aid, _ in picked]
    assert all(
        not a.abstained and a.citations[0].article_id == aid
        for a, (aid, _) in zip(answers, picked, strict=True)
    )
