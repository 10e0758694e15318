"""Serving many chat clients at once, and an ingest beside a server (issue 13, defect 8).

Behaviour only: the figures (latency, answers/s) are printed by bench/load.py, never asserted here.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from index.ingest import delete_article, ingest_paths
from rag.embedding import load_embedder
from rag.errors import ConfigError
from rag.pipeline import Pipeline, build_pipeline
from rag.settings import PROJECT_ROOT, Settings
from ui.app import build_app
from ui.chat import ChatService
from ui.main import launch

QUESTIONS = (
    "How many drones did Ukrainian air defenses shoot down during the overnight attack on Kharkiv?",
    "Who is Viktor Trehubov?",
    "What are Russian forces doing in Kupiansk?",
    "How many people were injured in the assault on Kharkiv?",
)
CLIENTS = 80  # more than the 64 waiting events the queue used to accept


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Pipeline]]:
    """`rag serve`'s app over data/corpus, launched in-process with the production settings."""
    root = tmp_path_factory.mktemp("load")
    settings = Settings.from_env({}, data_dir=root / "store", ui_port=_free_port())
    report = ingest_paths(
        [PROJECT_ROOT / "data" / "corpus"], settings, progress=False, embedder=load_embedder(settings)
    )
    assert report.ok
    pipeline = build_pipeline(settings)
    app = build_app(pipeline, settings, ingest=ingest_paths, delete=delete_article)
    _, url, _ = launch(app, settings, prevent_thread_lock=True, quiet=True)
    yield url.rstrip("/"), pipeline
    app.close()


def _reply_text(result: Any) -> str:
    reply = result[1][-1]["content"]
    return reply if isinstance(reply, str) else str(reply)


def test_many_clients_at_once_each_get_their_own_cited_answer(served: tuple[str, Pipeline]) -> None:
    """80 clients ask at the same moment (more than the queue used to hold): none is refused, and
    each gets the answer to its own question, with the citations it gets when asked alone."""
    from gradio_client import Client

    url, pipeline = served
    alone = {q: pipeline.ask(q) for q in QUESTIONS}
    assert all(a.citations for a in alone.values())
    clients = [
        Client(url + "/", verbose=False, analytics_enabled=False, download_files=False)
        for _ in range(CLIENTS)
    ]
    start = threading.Barrier(CLIENTS)
    results: dict[int, Any] = {}

    def ask(i: int) -> None:
        start.wait()
        try:
            results[i] = clients[i].predict(
                QUESTIONS[i % len(QUESTIONS)], "", "", [], 5, "extractive", "", api_name="/chat"
            )
        except Exception as exc:  # noqa: BLE001 - a refused or failed question is the failure reported
            results[i] = exc

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    failed = {i: r for i, r in results.items() if isinstance(r, Exception)}
    assert len(results) == CLIENTS and not failed, failed
    for i, result in results.items():
        answer = alone[QUESTIONS[i % len(QUESTIONS)]]
        reply, sources = _reply_text(result), result[2]
        for c in answer.citations:  # the same passages, numbered the same, with their cards
            assert f"ref-0-{c.n}" in reply and f"ref-0-{c.n}" in sources
        first_words = re.findall(r"\w+", answer.sentences[0].text)[:6]
        assert all(w in reply for w in first_words), (i, reply[:200])
    assert "21" in _reply_text(results[0])  # the drones question, answered from its article


def test_an_extractive_answer_is_sent_in_one_update_not_one_per_word(served: tuple[str, Pipeline]) -> None:
    url, pipeline = served
    settings = pipeline.settings
    steps = list(ChatService(pipeline, settings).chat(QUESTIONS[0], []))
    # the "searching" placeholder, the whole answer at once, the final render with its sources
    assert len(steps) == 3
    answer = steps[-1][2][-1][1]
    assert (
        "streaming" in steps[1][1][-1]["content"]
        and re.findall(r"\w+", answer.text)[-1] in steps[1][1][-1]["content"]
    )
    per_word = list(ChatService(pipeline, settings.replace(ui_stream_ms=0)).chat(QUESTIONS[0], []))
    assert len(per_word) == len(re.findall(r"\S+\s*", answer.text)) + 2  # RAG_UI_STREAM_MS=0: every word


def test_queue_settings_come_from_the_environment_and_are_checked(served: tuple[str, Pipeline]) -> None:
    s = Settings.from_env(
        {
            "RAG_UI_CONCURRENCY": "6",
            "RAG_UI_QUEUE_SIZE": "500",
            "RAG_UI_STREAM_MS": "0",
            "RAG_INGEST_NICE": "5",
        }
    )
    assert (s.ui_concurrency, s.ui_queue_size, s.ui_stream_ms, s.ingest_nice) == (6, 500, 0, 5)
    for var, bad in (
        ("RAG_UI_CONCURRENCY", "0"),
        ("RAG_UI_QUEUE_SIZE", "-1"),
        ("RAG_UI_STREAM_MS", "-5"),
        ("RAG_INGEST_NICE", "20"),
    ):
        with pytest.raises(ConfigError, match=var):
            Settings.from_env({var: bad})
    settings = served[1].settings.replace(ui_concurrency=3, ui_queue_size=99)
    app = build_app(served[1], settings)  # built, not launched
    assert app._queue.max_size == 99 and app._queue.default_concurrency_limit == 3
    chat = next(fn for fn in app.fns.values() if fn.api_name == "chat")
    assert chat.concurrency_limit == 3


def _nice_of_threads(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError, IndexError):
            out.append(int((task / "stat").read_text().rsplit(")", 1)[1].split()[16]))
    return out


@pytest.mark.skipif(
    not Path("/proc/self/task").is_dir(), reason="needs Linux /proc to read thread priorities"
)
def test_rag_ingest_runs_every_thread_at_the_configured_lower_priority(tmp_path: Path) -> None:
    """A `rag ingest` beside a server lowers its own priority (RAG_INGEST_NICE), the embedding
    runtime's threads included, and still ingests everything."""
    base = os.getpriority(os.PRIO_PROCESS, 0)
    env = {
        **os.environ,
        "RAG_DATA_DIR": str(tmp_path / "store"),
        "RAG_INGEST_NICE": "7",
        "HF_HUB_OFFLINE": "1",
    }
    proc = subprocess.Popen(
        [sys.executable, "-c", "import sys; from rag.cli import main; sys.exit(main())", "ingest", str(PROJECT_ROOT / "data" / "corpus"), "--quiet"],
        cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    most_threads: list[int] = []
    while proc.poll() is None:
        seen = _nice_of_threads(proc.pid) if Path(f"/proc/{proc.pid}").exists() else []
        if len(seen) > len(most_threads) and min(seen, default=base) != base:
            most_threads = seen
        time.sleep(0.02)
    out, err = proc.communicate()
    assert proc.returncode == 0, err.decode()[-2000:]
    assert "indexed" in out.decode()
    assert len(most_threads) > 1 and set(most_threads) == {min(19, base + 7)}, most_threads


def test_lower_priority_covers_threads_started_before_it() -> None:
    code = (
        "import os, threading, time\n"
        "from rag.priority import lower_priority\n"
        "ev = threading.Event(); got = []\n"
        "t = threading.Thread(target=lambda: (ev.wait(), got.append(os.getpriority(os.PRIO_PROCESS, 0))))\n"
        "base = os.getpriority(os.PRIO_PROCESS, 0)\n"
        "t.start(); now = lower_priority(4); ev.set(); t.join()\n"
        "print(now - base, got[0] - base, lower_priority(0) - base)\n"
    )
    if os.getpriority(os.PRIO_PROCESS, 0) > 15:
        pytest.skip("the test process already runs at the lowest priorities")
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["4", "4", "4"]


def test_an_llm_answer_still_streams_in_groups_of_tokens(served: tuple[str, Pipeline]) -> None:
    """Coalescing does not hold an LLM's answer back until the end: its first tokens are shown while
    the rest is still coming, and more follow after a pause."""
    from fake_llm import DEFAULT_MODEL, FakeLLMServer, Reply

    _, pipeline = served
    with FakeLLMServer() as llm:
        settings = pipeline.settings.replace(
            llm_backend="openai", llm_base_url=llm.openai_url, llm_model=DEFAULT_MODEL, llm_timeout=30.0
        )
        llm.replies.append(Reply("Air defenses shot down 21 of the 49 drones [1].", stall_after=3, stall=0.6))
        svc = ChatService(build_pipeline(settings, pipeline.embedder), settings)
        shown: list[tuple[float, str]] = []
        for step in svc.chat(QUESTIONS[0], [], mode="llm"):
            shown.append((time.monotonic(), step[1][-1]["content"]))
    partials = [(t, c) for t, c in shown[1:-1] if "streaming" in c]
    assert len(partials) >= 2, shown  # the first tokens, then more after the pause
    assert "Air" in partials[0][1] and "21" not in partials[0][1]
    assert shown[-1][0] - partials[0][0] >= 0.5  # shown during the pause, not with the final answer
    assert len(partials[-1][1]) > len(partials[0][1]) and "21" in shown[-1][1]
