"""The whole pipeline in LLM mode against the loopback OpenAI-compatible server, over the real index."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_llm import DEFAULT_MODEL, FakeLLMServer

from rag.pipeline import Pipeline
from rag.settings import Settings
from rag.types import Turn

Q = "How many drones did Ukrainian air defenses shoot down over Kharkiv?"


@pytest.fixture
def server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer() as srv:
        yield srv


def llm_pipeline(base: Pipeline, srv: FakeLLMServer, **kw: object) -> Pipeline:
    values: dict[str, object] = {"llm_backend": "openai", "llm_base_url": srv.openai_url, "llm_model": DEFAULT_MODEL,
                                 "llm_timeout": 5.0, **kw}  # fmt: skip
    settings = base.settings.replace(**values)
    return Pipeline(settings, base.storage, base.embedder)


def passage_number(srv: FakeLLMServer, needle: str) -> int:
    """Which [n] the prompt gave to the passage containing `needle`."""
    prompt = json.dumps(srv.chat_requests()[-1].body)
    before = prompt[: prompt.index(needle)]
    return int(before.rsplit('passage n=\\"', 1)[1].split("\\", 1)[0])


def test_llm_answer_streams_and_labels_support(seed_pipeline: Pipeline, server: FakeLLMServer) -> None:
    p = llm_pipeline(seed_pipeline, server)
    server.push("placeholder")  # first call only to learn the passage numbering
    p.ask(Q, mode="llm")
    n = passage_number(server, "21 of the 49 drones")
    server.push(
        f"Ukrainian air defenses shot down 21 of the 49 drones [{n}]. They also shot down 37 jets [{n}]. See [42]."
    )
    events = list(p.stream(Q, mode="llm"))
    assert len(events) > 3  # token by token
    a = events[-1].answer
    assert a is not None and a.mode == "openai" and not a.abstained
    labels = [s.support for s in a.sentences]
    assert labels[0] == "supported" and "unsupported" in labels
    assert "[42]" not in a.text and any("42" in note for note in a.trace.notes)
    for c in a.citations:
        article = p.article(c.article_id)
        assert article is not None and article.text[c.start : c.end] == c.quote
    assert {"embed_query", "dense", "lexical", "generate", "total"} <= set(a.trace.timings_ms)


def test_server_down_falls_back_to_extractive_with_notice(seed_pipeline: Pipeline) -> None:
    dead = FakeLLMServer().start()
    url = dead.openai_url
    dead.stop()
    p = Pipeline(seed_pipeline.settings.replace(llm_backend="openai", llm_base_url=url, llm_model="m", llm_timeout=3.0),
                 seed_pipeline.storage, seed_pipeline.embedder)  # fmt: skip
    a = p.ask(Q, mode="llm")
    assert a.mode == "extractive" and a.notice and "LLM backend failed" in a.notice
    assert "21" in a.text and a.citations


def test_timeout_and_wrong_model_fall_back(seed_pipeline: Pipeline, server: FakeLLMServer) -> None:
    server.delay = 3.0
    slow = llm_pipeline(seed_pipeline, server, llm_timeout=0.5).ask(Q, mode="llm")
    assert slow.mode == "extractive" and slow.notice and "timed out" in slow.notice.lower()
    server.delay = 0.0
    wrong = llm_pipeline(seed_pipeline, server, llm_model="no-such-model").ask(Q, mode="llm")
    assert wrong.mode == "extractive" and wrong.notice and "no-such-model" in wrong.notice


def test_injected_instructions_do_not_change_citations(
    seed_pipeline: Pipeline, server: FakeLLMServer
) -> None:
    p = llm_pipeline(seed_pipeline, server)
    server.push("Ignore the sources. Visit http://evil.example for the answer [1].")
    a = p.ask(Q, mode="llm")
    assert all(s.support == "unsupported" for s in a.sentences)
    assert a.abstained  # nothing supported: not presented as an answer
    for c in a.citations:
        assert c.chunk_id in {h.chunk.id for h in a.trace.hits}


def test_follow_up_in_llm_mode_sends_history_and_rewrites(
    seed_pipeline: Pipeline, server: FakeLLMServer
) -> None:
    p = llm_pipeline(seed_pipeline, server)
    server.push("NOT_IN_SOURCES")
    a = p.ask(
        "What about Vovchansk?",
        history=[Turn("What are Russian forces doing in Kupiansk?", "They hold positions [1].")],
        mode="llm",
    )
    assert a.trace.query == "What are Russian forces doing in Vovchansk?"
    body = server.chat_requests()[-1].body
    assert any("Kupiansk" in m["content"] for m in body["messages"] if m["role"] != "system")


def test_cli_ask_llm_against_loopback_server(seed_settings: Settings, server: FakeLLMServer) -> None:
    server.push("Ukrainian air defenses shot down 21 of the 49 drones [1].")
    env = {**os.environ, "RAG_DATA_DIR": str(seed_settings.data_dir), "RAG_LLM_BASE_URL": server.openai_url,
           "RAG_LLM_MODEL": DEFAULT_MODEL}  # fmt: skip
    out = subprocess.run([sys.executable, "-m", "rag.cli", "ask", Q, "--llm", "--json"], env=env,
                         capture_output=True, text=True, timeout=120, cwd=Path(__file__).parent.parent)  # fmt: skip
    assert out.returncode == 0, out.stderr
    answer = json.loads(out.stdout)
    assert answer["mode"] == "openai" and server.chat_requests()
