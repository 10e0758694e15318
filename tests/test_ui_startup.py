"""`serve()` answers its first page before the store and the BM25 index have loaded (issue 14: cold start on a
large store), and a question asked meanwhile waits for the load and is answered once it ends.

The real serve(): real store, model, Gradio server and HTTP. The only addition is a gate in front
of the real `LexicalIndex.load`, so that "before the load ends" is a state the test controls
instead of a race (at 100k chunks the load takes 1.5 s; on three articles, milliseconds).
"""

from __future__ import annotations

import re
import socket
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from rag.lexical import LexicalIndex
from rag.settings import Settings
from ui.main import serve

QUESTION = "How many drones were shot down over Kharkiv?"
BM25_CELL = r"<td>[\d.]+ <span class=\"rank\">#\d+</span></td><td class='snippet'>"  # a hit's BM25 score


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_page_is_served_before_bm25_loads_and_an_early_question_waits_for_it(
    seed_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gradio_client import Client

    gate = threading.Event()
    loads: list[float] = []
    real_load = LexicalIndex.load.__func__  # type: ignore[attr-defined]

    def gated_load(cls: type[LexicalIndex], root: Path) -> LexicalIndex | None:
        gate.wait(30)  # on a product that loads BM25 before serving, serve() waits here
        loads.append(time.monotonic())
        return real_load(cls, root)

    monkeypatch.setattr(LexicalIndex, "load", classmethod(gated_load))
    settings = Settings.from_env({}, data_dir=seed_settings.data_dir, ui_port=_free_port())
    app, url, _ = serve(settings, prevent_thread_lock=True)
    try:
        page = httpx.get(url, timeout=30)
        assert page.status_code == 200 and "<html" in page.text.lower()
        assert not loads, "the page came after the BM25 load"

        result: dict[str, Any] = {}

        def ask() -> None:
            client = Client(url, verbose=False, analytics_enabled=False, download_files=False)
            result["out"] = client.predict(QUESTION, "", "", [], 5, "extractive", "", api_name="/chat")
            result["at"] = time.monotonic()

        asker = threading.Thread(target=ask)
        asker.start()
        asker.join(3.0)
        assert asker.is_alive() and "out" not in result, "answered without the BM25 index"
        gate.set()
        asker.join(60)
        assert "out" in result, "the early question was not answered after the load"
        assert loads and result["at"] >= loads[0]
        _, messages, _, trace, *_ = result["out"]
        answer = str(messages[-1]["content"])
        assert messages[-1]["role"] == "assistant" and "drones" in answer, answer
        assert 'class="cite' in answer, answer  # a cited answer, not an error or an abstention
        assert "lexical" in trace and re.search(BM25_CELL, trace), trace
    finally:
        gate.set()
        app.get_blocks().close()
