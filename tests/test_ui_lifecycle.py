"""`rag serve` over a day, in a real Chromium: it starts on an empty index, takes uploads and a
terminal's `rag ingest` while serving, keeps two conversations across a restart, and answers while
an upload is ingested.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from browser_helpers import free_port, open_page
from fake_llm import FakeLLMServer, Reply
from playwright.sync_api import Browser, Page, expect

from index.ingest import delete_article, ingest_paths
from rag.embedding import load_embedder
from rag.pipeline import build_pipeline
from rag.settings import PROJECT_ROOT, Settings
from ui.app import build_app
from ui.main import launch

pytestmark = pytest.mark.browser
expect.set_options(timeout=30_000)

RAG = str(PROJECT_ROOT / ".venv" / "bin" / "rag")
DRONES = "How many drones did Ukrainian air defenses shoot down during the overnight attack on Kharkiv?"
TREHUBOV = "Who is Viktor Trehubov?"
LANTERN = (
    "# Sunflower Lantern delivers generators\n\nOn June 12 the Sunflower Lantern volunteer group "
    "delivered 317 generators to hospitals in Kharkiv, its coordinator said.\n"
)


class Serve:
    """`rag serve` as a user starts it, in a subprocess on a fixed port."""

    def __init__(self, data_dir: Path, port: int) -> None:
        self.data_dir, self.port = data_dir, port
        self.url = f"http://127.0.0.1:{port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = data_dir.parent / "serve.log"
        self.log: Any = None

    def start(self) -> float:
        env = {**os.environ, "RAG_DATA_DIR": str(self.data_dir)}
        t0 = time.perf_counter()
        self.log = self.log_path.open("ab")  # closed in stop()
        self.proc = subprocess.Popen([RAG, "serve", "--port", str(self.port)], env=env,
                                     stdout=subprocess.DEVNULL, stderr=self.log)  # fmt: skip
        while time.perf_counter() - t0 < 120:
            assert self.proc.poll() is None, self.log_path.read_text()
            try:
                if httpx.get(self.url + "/", timeout=1).status_code == 200:
                    return time.perf_counter() - t0
            except httpx.HTTPError:
                time.sleep(0.1)
        raise AssertionError("rag serve did not come up within 120 s")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=30)
            self.proc = None
            self.log.close()


def ask(page: Page, question: str, n_answers: int) -> None:
    page.locator("#question textarea").fill(question)
    page.locator("#ask-btn").click()
    expect(page.locator("#chat .rag-answer:not(.streaming)")).to_have_count(n_answers)


def test_serve_starts_empty_takes_an_upload_and_a_terminal_ingest_without_restart(
    browser: Browser, tmp_path: Path
) -> None:
    serve = Serve(tmp_path / "store", free_port())
    serve.start()
    try:
        page = open_page(browser, serve.url)
        expect(page.locator("#empty-note")).to_contain_text("The index is empty")
        expect(page.locator("#empty-note")).to_contain_text("rag ingest PATH")
        expect(page.locator("#examples")).to_be_hidden()  # no example questions without articles
        page.screenshot(path=str(PROJECT_ROOT / "docs" / "screenshots" / "empty-index.png"))
        page.locator("#question textarea").fill(DRONES)
        page.locator("#ask-btn").click()
        expect(page.locator("#chat .rag-notice")).to_contain_text("The index is empty")

        doc = tmp_path / "lantern.md"
        doc.write_text(LANTERN, encoding="utf-8")
        page.get_by_role("tab", name="Corpus").click()
        expect(page.locator("#ingest-btn")).to_be_enabled()  # the tab is mounted before a file is given
        page.locator("#upload input[type=file]").set_input_files(str(doc))
        page.locator("#upload").get_by_text("lantern.md").first.wait_for(timeout=60_000)
        page.locator("#ingest-btn").click()
        expect(page.locator("#ingest-status")).to_contain_text("indexed")
        expect(page.locator("#empty-note")).to_be_hidden()
        page.get_by_role("tab", name="Ask").click()
        expect(page.locator("#examples")).to_contain_text("What do the articles say about Sunflower Lantern")

        # a terminal's `rag ingest` while the UI serves: answerable as soon as it ends, no restart
        env = {**os.environ, "RAG_DATA_DIR": str(serve.data_dir)}
        out = subprocess.run([RAG, "ingest", str(PROJECT_ROOT / "data" / "corpus"), "--quiet"], env=env,
                             capture_output=True, text=True, timeout=300)  # fmt: skip
        assert out.returncode == 0, out.stderr
        ask(page, TREHUBOV, 1)
        expect(page.locator("#chat .rag-answer").last).to_contain_text("Trehubov said")
        ask(page, "How many generators did the Sunflower Lantern group deliver?", 2)
        expect(page.locator("#chat .rag-answer").last).to_contain_text("317")
    finally:
        serve.stop()


def test_two_conversations_survive_a_restart_of_rag_serve(browser: Browser, tmp_path: Path) -> None:
    settings = Settings.from_env({}, data_dir=tmp_path / "store")
    assert ingest_paths([PROJECT_ROOT / "data" / "corpus"], settings, progress=False).ok
    serve = Serve(settings.data_dir, free_port())
    serve.start()
    page = open_page(browser, serve.url)  # one browser profile: its localStorage outlives the server
    try:
        ask(page, DRONES, 1)
        expect(page.locator("#conv-list label")).to_have_count(1)  # stored: the question is finished
        page.locator("#new-conv").click()
        expect(page.locator("#chat .rag-answer")).to_have_count(0)
        ask(page, TREHUBOV, 1)
        expect(page.locator("#conv-list label")).to_have_count(2)
        serve.stop()
        serve.start()
        page.reload()
        page.locator("#question textarea").wait_for()
        convs = page.locator("#conv-list")
        expect(convs.locator("label")).to_have_count(2)
        expect(page.locator("#chat")).to_contain_text("Trehubov said")  # the last one reopens
        convs.get_by_text("How many drones").click()
        expect(page.locator("#chat")).to_contain_text(DRONES)
        expect(page.locator("#chat .rag-answer").last).to_contain_text("21")
        page.locator("#chat .rag-answer .cite").first.click()  # its citations still open the article
        expect(page.locator("#article-view mark#cited")).to_contain_text("21")
        ask(page, "And how many were wounded?", 2)  # the conversation goes on where it was
        expect(convs.locator("label")).to_have_count(2)
    finally:
        serve.stop()


@pytest.fixture
def llm_app(tmp_path: Path) -> Iterator[tuple[str, FakeLLMServer, Settings]]:
    with FakeLLMServer() as llm:
        settings = Settings.from_env({}, data_dir=tmp_path / "store", ui_port=free_port()).replace(
            llm_backend="openai", llm_base_url=llm.openai_url, llm_model="fake-model", llm_timeout=30.0
        )
        embedder = load_embedder(settings)
        assert ingest_paths(
            [PROJECT_ROOT / "data" / "corpus"], settings, progress=False, embedder=embedder
        ).ok
        app = build_app(
            build_pipeline(settings, embedder), settings, ingest=ingest_paths, delete=delete_article
        )
        _, url, _ = launch(app, settings, prevent_thread_lock=True, quiet=True)
        yield url.rstrip("/"), llm, settings
        app.close()


def test_uploading_while_a_question_is_being_answered(
    browser: Browser, llm_app: tuple[str, FakeLLMServer, Settings], tmp_path: Path
) -> None:
    url, llm, _ = llm_app
    # the LLM streams a few words, then stalls: the question is mid-answer while the upload runs
    llm.replies.append(Reply("Air defenses shot down 21 of the 49 drones [1].", stall_after=3, stall=12.0))
    page = open_page(browser, url)
    page.locator("#chat").wait_for()
    page.get_by_label("llm").check()
    page.locator("#question textarea").fill(DRONES)
    page.locator("#ask-btn").click()
    streaming = page.locator("#chat .rag-answer.streaming")
    expect(streaming).to_be_visible()

    doc = tmp_path / "lantern.md"
    doc.write_text(LANTERN, encoding="utf-8")
    page.get_by_role("tab", name="Corpus").click()
    expect(page.locator("#ingest-btn")).to_be_enabled()  # the tab is mounted before a file is given
    page.locator("#upload input[type=file]").set_input_files(str(doc))
    page.locator("#upload").get_by_text("lantern.md").first.wait_for()
    page.locator("#ingest-btn").click()
    expect(page.locator("#ingest-status")).to_contain_text("indexed")
    assert streaming.count() == 1, "the answer finished before the upload: nothing ran side by side"

    page.get_by_role("tab", name="Ask").click()
    expect(streaming).to_have_count(0)
    expect(page.locator("#chat .rag-answer").last).to_contain_text("21")
    page.get_by_label("extractive").check()
    ask(page, "How many generators did the Sunflower Lantern group deliver?", 2)
    expect(page.locator("#chat .rag-answer").last).to_contain_text("317")
