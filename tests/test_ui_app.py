"""The UI handlers over a real index built from data/corpus: chat, citations, filters, corpus writes."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path

import gradio as gr
import pytest

from index.ingest import delete_article, ingest_paths
from rag.embedding import Embedder, load_embedder
from rag.pipeline import Pipeline, build_pipeline
from rag.settings import PROJECT_ROOT, Settings
from ui import render
from ui.app import build_app
from ui.chat import ChatService, InputError
from ui.corpus import CorpusService

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


def test_exports_are_written_for_the_latest_answer(built: tuple[Settings, Pipeline]) -> None:
    settings, pipeline = built
    svc = ChatService(pipeline, settings)
    assert svc.exports([]) == (None, None)
    _, exchanges = _run(svc, DRONES, [])
    md, js = svc.exports(exchanges)
    assert Path(md).read_text().startswith(f"# {DRONES}")
    assert exchanges[0][1].citations[0].quote in Path(js).read_text()


def test_upload_and_delete_go_through_the_injected_writers(
    built: tuple[Settings, Pipeline], tmp_path: Path, embedder: Embedder
) -> None:
    settings, pipeline = built
    corpus = CorpusService(pipeline, settings, ingest_paths, delete_article, embedder)
    f = tmp_path / "volunteers_note.txt"
    f.write_text(
        " date 2024-05-02 en English\nThe Sunflower Lantern brigade delivered 317 generators to Kharkiv.\n"
    )
    bad = tmp_path / "notes.exe"
    bad.write_text("x")
    rows, msg = corpus.upload([str(f), str(bad)])
    assert {r[0]: r[1] for r in rows} == {"notes.exe": "skipped", "volunteers_note.txt": "indexed"}
    assert "1 indexed" in msg
    assert any(r[0] == "volunteers_note" for r in corpus.rows("volunteers"))
    answer = pipeline.ask("How many generators did the Sunflower Lantern brigade deliver?")
    assert any(c.article_id == "volunteers_note" for c in answer.citations)
    assert corpus.remove("volunteers_note").startswith("Deleted volunteers_note")
    assert corpus.rows("volunteers") == []
    assert "volunteers_note" not in {
        c.article_id for c in pipeline.ask("Sunflower Lantern generators").citations
    }


def test_read_only_app_explains_instead_of_writing(built: tuple[Settings, Pipeline]) -> None:
    settings, pipeline = built
    corpus = CorpusService(pipeline, settings, None, None)
    assert corpus.upload(["x.txt"])[1].startswith("Uploads are disabled")
    assert corpus.remove("x").startswith("Deleting is disabled")


def test_build_app_exposes_the_chat_endpoint_without_launching(built: tuple[Settings, Pipeline]) -> None:
    settings, pipeline = built
    app = build_app(pipeline, settings)
    assert isinstance(app, gr.Blocks)
    names = [d.api_name for d in app.fns.values() if d.api_visibility == "public"]
    assert names == ["chat"]
