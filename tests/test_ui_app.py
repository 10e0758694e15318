"""The UI handlers over a real index built from data/corpus: chat, citations, filters, corpus writes."""

from __future__ import annotations

import html
import json
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import gradio as gr
import pytest

from index.ingest import delete_article, ingest_paths
from rag.embedding import Embedder, load_embedder
from rag.lock import WriterLock
from rag.pipeline import Pipeline, build_pipeline
from rag.settings import PROJECT_ROOT, Settings
from ui import render
from ui.app import build_app
from ui.chat import ChatService, InputError
from ui.corpus import SUPPORTED_TYPES, CorpusService
from ui.corpus_search import lexical_text_search

DRONES = "How many drones did Ukrainian air defenses shoot down during the overnight attack on Kharkiv?"


@pytest.fixture(scope="module")
def embedder(tmp_path_factory: pytest.TempPathFactory) -> Embedder:
    return load_embedder(Settings.from_env({}))


@pytest.fixture(scope="module")
def built(
    tmp_path_factory: pytest.TempPathFactory, embedder: Embedder
) -> Iterator[tuple[Settings, Pipeline]]:
    settings = Settings.from_env({}, data_dir=tmp_path_factory.mktemp("ui-app-store"))
    report = ingest_paths([PROJECT_ROOT / "data" / "corpus"], settings, progress=False, embedder=embedder)
    assert report.ok and report.articles_total >= 3
    yield settings, build_pipeline(settings, embedder)


def _run(svc: ChatService, question: str, exchanges: list, **kw: object) -> tuple[list, list]:
    steps = list(svc.chat(question, exchanges, **kw))  # type: ignore[arg-type]
    return steps, steps[-1][2]


def test_chat_streams_then_renders_markers_sources_and_trace(built: tuple[Settings, Pipeline]) -> None:
    settings, pipeline = built
    svc = ChatService(pipeline, settings)
    steps, exchanges = _run(svc, DRONES, [])
    assert len(steps) >= 3  # placeholder, streamed deltas, final
    assert "streaming" in steps[1][1][-1]["content"]
    box, messages, _, sources, trace = steps[-1]
    assert box == ""
    answer = exchanges[0][1]
    assert not answer.abstained and answer.citations
    refs = re.findall(r'class="cite (ref-0-\d+)"', messages[-1]["content"])
    assert refs == [f"ref-0-{c.n}" for s in answer.sentences for c in answer.citations if c.n in s.citations]
    for c in answer.citations:
        assert f"ref-0-{c.n}" in sources
        assert (c.title or c.article_id)[:20] in sources
    assert answer.trace.query in trace


def test_clicking_a_citation_opens_the_article_with_the_exact_span(built: tuple[Settings, Pipeline]) -> None:
    settings, pipeline = built
    svc = ChatService(pipeline, settings)
    _, exchanges = _run(svc, DRONES, [])
    cite = exchanges[0][1].citations[0]
    html = svc.open_citation("0:1", exchanges)
    m = re.search(r'<mark id="cited">(.*?)</mark>', html, re.S)
    assert m and m.group(1) == _esc(cite.quote)
    assert "Unknown citation" in svc.open_citation("9:1", exchanges)


def _esc(s: str) -> str:
    return html.escape(s, quote=True)


def test_follow_up_uses_the_conversation(built: tuple[Settings, Pipeline]) -> None:
    settings, pipeline = built
    svc = ChatService(pipeline, settings)
    _, exchanges = _run(svc, "What is the situation in Kupiansk?", [])
    _, exchanges = _run(svc, "What about Vovchansk?", exchanges)
    assert len(exchanges) == 2
    assert exchanges[1][1].trace.query == "What is the situation in Vovchansk?"


def test_unanswerable_question_abstains_with_closest_passages(built: tuple[Settings, Pipeline]) -> None:
    settings, pipeline = built
    svc = ChatService(pipeline, settings)
    steps, exchanges = _run(svc, "Who won the 2024 Eurovision Song Contest?", [])
    answer = exchanges[0][1]
    assert answer.abstained
    assert render.esc_md(answer.text) in steps[-1][1][-1]["content"]
    assert "not an answer" in steps[-1][3]
    assert "Closest passage" in svc.open_citation("0:c1", exchanges)


def test_filters_change_the_sources_and_bad_dates_are_refused(built: tuple[Settings, Pipeline]) -> None:
    settings, pipeline = built
    svc = ChatService(pipeline, settings)
    _, unfiltered = _run(svc, DRONES, [])
    _, filtered = _run(svc, DRONES, [], since="2024-01-01")
    before = {c.article_id for c in unfiltered[0][1].citations}
    after = {c.article_id for c in filtered[0][1].citations}
    assert before != after
    assert all(
        c.published is None or c.published.isoformat() >= "2024-01-01" for c in filtered[0][1].citations
    )
    with pytest.raises(InputError, match="YYYY-MM-DD"):
        list(svc.chat(DRONES, [], since="last year"))


def test_exports_hold_the_whole_conversation(built: tuple[Settings, Pipeline]) -> None:
    settings, pipeline = built
    svc = ChatService(pipeline, settings)
    assert svc.exports([]) == (None, None)
    _, exchanges = _run(svc, DRONES, [])
    _, exchanges = _run(svc, "Who is Viktor Trehubov?", exchanges)
    md, js = svc.exports(exchanges, "Drones and people")
    text = Path(md).read_text()
    assert (
        text.startswith("# Drones and people") and f"## 1. {DRONES}" in text and "## 2. Who is Viktor" in text
    )
    data = json.loads(Path(js).read_text())
    assert [e["question"] for e in data["exchanges"]] == [DRONES, "Who is Viktor Trehubov?"]
    for (_, a), e in zip(exchanges, data["exchanges"], strict=True):
        assert [ev["quote"] for ev in e["evidence"]] == [c.quote for c in a.citations]


def test_upload_and_delete_go_through_the_injected_writers(
    built: tuple[Settings, Pipeline], tmp_path: Path, embedder: Embedder
) -> None:
    settings, pipeline = built
    corpus = CorpusService(
        pipeline, settings, ingest_paths, delete_article, embedder, lexical_text_search(pipeline)
    )
    f = tmp_path / "volunteers_note.txt"
    f.write_text(
        " date 2024-05-02 en English\nThe Sunflower Lantern brigade delivered 317 generators to Kharkiv.\n"
    )
    bad = tmp_path / "notes.exe"
    bad.write_text("x")
    steps = list(corpus.upload([str(f), str(bad)]))
    assert [r[1] for r in steps[0][0]] == ["skipped", "queued"]  # per-file statuses before the ingest
    rows, msg = steps[-1]
    assert {r[0]: r[1] for r in rows} == {"notes.exe": "skipped", "volunteers_note.txt": "indexed"}
    assert "supported: .txt .md .html .htm .pdf .jsonl" in rows[0][2]
    assert "1 indexed" in msg
    copy = settings.data_dir / "uploads" / "volunteers_note.txt"
    assert copy.is_file()
    assert any(r[0] == "volunteers_note" for r in corpus.rows("volunteers"))
    assert [r[0] for r in corpus.rows("317")] == ["volunteers_note"]  # found by its text
    answer = pipeline.ask("How many generators did the Sunflower Lantern brigade deliver?")
    assert any(c.article_id == "volunteers_note" for c in answer.citations)
    assert "uploaded copy" in corpus.describe("volunteers_note")
    said = corpus.remove("volunteers_note")
    assert (
        said.startswith("Deleted volunteers_note") and "uploaded file volunteers_note.txt was removed" in said
    )
    assert not copy.exists()
    assert corpus.rows("volunteers_note") == []
    assert "volunteers_note" not in {
        c.article_id for c in pipeline.ask("Sunflower Lantern generators").citations
    }


def test_corpus_search_covers_the_article_text(built: tuple[Settings, Pipeline]) -> None:
    settings, pipeline = built
    corpus = CorpusService(pipeline, settings, None, None, text_search=lexical_text_search(pipeline))
    # "Trehubov" is in no title, outlet or id: only in the text of the article that quotes him
    assert [r[0] for r in corpus.rows("Trehubov")] == ["001_e71635c8b88c33de"]
    assert [r[0] for r in corpus.rows("trehubov kupiansk")] == ["001_e71635c8b88c33de"]
    assert corpus.rows("Trehubov Eurovision") == []
    assert {r[0] for r in corpus.rows("dw")} == {"000_a718a404f4b4bf82"}  # the outlet still matches
    untitled = next(r for r in corpus.rows("") if r[0] == "001_e71635c8b88c33de")
    assert untitled[1].startswith("“The Russians are trying to hold on")


def test_upload_waits_for_another_writer_then_ingests(
    built: tuple[Settings, Pipeline], tmp_path: Path, embedder: Embedder
) -> None:
    settings, pipeline = built
    corpus = CorpusService(pipeline, settings, ingest_paths, delete_article, embedder)
    f = tmp_path / "queued_note.txt"
    f.write_text(" date 2024-05-03 en English\nThe Kharkiv tram depot reopened 14 lines on Friday.\n")
    # Another writer (a `rag ingest`) holds the store. The lock is re-entrant within one thread, so
    # the other writer is a thread of its own.
    held, release = threading.Event(), threading.Event()

    def other_writer() -> None:
        with WriterLock(settings.data_dir):
            held.set()
            release.wait(30)

    writer = threading.Thread(target=other_writer)
    writer.start()
    assert held.wait(10)
    steps = corpus.upload([str(f)])
    seen = [next(steps), next(steps)]
    assert seen[1][1].startswith("Waiting for another ingest")
    release.set()
    writer.join()
    rows, msg = list(steps)[-1]
    assert rows[0][:2] == ["queued_note.txt", "indexed"] and "1 indexed" in msg
    assert corpus.remove("queued_note").startswith("Deleted queued_note")


def test_upload_types_are_the_readers_types() -> None:
    from index.readers import SUPPORTED_EXTENSIONS

    assert set(SUPPORTED_TYPES) == set(SUPPORTED_EXTENSIONS)


def test_read_only_app_explains_instead_of_writing(built: tuple[Settings, Pipeline]) -> None:
    settings, pipeline = built
    corpus = CorpusService(pipeline, settings, None, None)
    assert list(corpus.upload(["x.txt"]))[-1][1].startswith("Uploads are disabled")
    assert corpus.remove("x").startswith("Deleting is disabled")


def test_build_app_exposes_the_chat_endpoint_without_launching(built: tuple[Settings, Pipeline]) -> None:
    settings, pipeline = built
    app = build_app(pipeline, settings)
    assert isinstance(app, gr.Blocks)
    names = [d.api_name for d in app.fns.values() if d.api_visibility == "public"]
    assert names == ["chat"]
