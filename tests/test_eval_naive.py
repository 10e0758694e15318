"""The naive llama-index baseline for real: MiniLM through HuggingFaceEmbedding, Chroma in a temp dir."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evals import naive
from evals.questions import Question
from evals.scoring import summarise

ARTICLES = [
    (
        "basel",
        "Basel",
        "The Rhine flows through Basel, where it turns north. The city has three bridges over it.",
    ),
    ("kiev", "Kyiv", "Kyiv lies on the Dnipro river. Its metro opened in 1960 with five stations."),
    ("oslo", "Oslo", "Oslo is the capital of Norway. The Akerselva river runs through the city centre."),
]
QUESTIONS = [
    Question("q1", "When did the Kyiv metro open?", key_facts=("1960",), sources=("kiev",)),
    Question("q2", "Which river flows through Basel?", key_facts=("Rhine",), sources=("basel",)),
    Question("q3", "How many stations does the Lisbon metro have?", answerable=False),
    Question(
        "q4",
        "When did the Kyiv metro open?",
        key_facts=("1960",),
        sources=("kiev",),
        extra={"wrong_answers": ["1961"]},
    ),  # fmt: skip
]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("naive") / "corpus.jsonl"
    rows = [{"id": i, "title": t, "text": x, "source": "Wiki"} for i, t, x in ARTICLES]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def embed() -> object:
    return naive.naive_embedding()


@pytest.mark.slow
def test_the_baseline_is_built_once_and_reused(corpus: Path, tmp_path: Path, embed: object) -> None:
    built = naive.open_or_build(corpus, tmp_path / "eval-index", embed=embed)
    assert not built.reused and built.chunks == len(ARTICLES)  # short articles: one chunk each
    assert built.directory.parent == tmp_path / "eval-index" and built.directory.name.startswith("naive-")
    again = naive.open_or_build(corpus, tmp_path / "eval-index", embed=embed)
    assert again.reused and again.chunks == built.chunks and again.directory == built.directory
    # A changed corpus gets its own index.
    changed = tmp_path / "changed.jsonl"
    changed.write_text(corpus.read_text() + json.dumps({"id": "x", "text": "Another article."}) + "\n")
    other = naive.open_or_build(changed, tmp_path / "eval-index", embed=embed)
    assert not other.reused and other.directory != built.directory and other.chunks == len(ARTICLES) + 1


@pytest.mark.slow
def test_the_top_chunk_is_the_answer_and_is_scored(corpus: Path, tmp_path: Path, embed: object) -> None:
    idx = naive.open_or_build(corpus, tmp_path / "eval-index", embed=embed)
    records = naive.answer_questions(idx, QUESTIONS)
    by_id = {r["id"]: r for r in records}
    texts = {i: x for i, _, x in ARTICLES}
    for r in records:
        top = r["hits"][0]["article_id"]
        assert r["answer"] == texts[top]  # the top chunk's own text, no title or metadata
        assert r["abstained"] is False and r["confidence"] is None and len(r["hits"]) == len(ARTICLES)
        assert r["timings_ms"]["total"] > 0
    assert by_id["q1"]["hits"][0]["article_id"] == "kiev" and by_id["q1"]["correct"] is True
    assert by_id["q1"]["metrics"]["hit_at_1"] == 1.0 and by_id["q1"]["metrics"]["rr"] == 1.0
    assert by_id["q2"]["correct"] is True
    assert by_id["q3"]["correct"] is False  # it never abstains
    assert by_id["q4"]["metrics"]["false_value"] is False  # "1960" is there, "1961" is not
    s = summarise(records)
    assert (s["answer_accuracy"], s["hit_at_1"], s["abstention_recall"], s["false_abstention_rate"]) == (
        1.0, 1.0, 0.0, 0.0)  # fmt: skip
    assert s["citation_resolve_rate"] is None and s["citation_support_rate"] is None
    assert s["passage_hit_at_k"] == 1.0


@pytest.mark.slow
def test_a_folder_corpus_uses_file_stems_as_article_ids(tmp_path: Path, embed: object) -> None:
    folder = tmp_path / "articles"
    folder.mkdir()
    for i, _, text in ARTICLES:
        (folder / f"{i}.txt").write_text(text, encoding="utf-8")
    idx = naive.open_or_build(folder, tmp_path / "eval-index", embed=embed)
    (r,) = naive.answer_questions(idx, QUESTIONS[:1])
    assert r["hits"][0]["article_id"] == "kiev" and r["correct"] is True


def test_a_bad_jsonl_line_names_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "text": "ok"}\n{"id": "b"}\n')
    with pytest.raises(Exception, match=r"bad.jsonl:2: expected a JSON object with 'id' and 'text'"):
        naive.load_documents(bad)
