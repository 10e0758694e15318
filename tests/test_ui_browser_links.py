"""URLs in answers are inert text in the chat unless the user opts in (RAG_LINKIFY_URLS), in a real
Chromium: Gradio's Markdown must not turn a bare URL into a link either (issue 13, defect 1)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from browser_helpers import free_port, served
from playwright.sync_api import Browser, Page, expect

from index.ingest import ingest_paths
from rag.embedding import load_embedder
from rag.pipeline import build_pipeline
from rag.settings import Settings

pytestmark = pytest.mark.browser

REPORT = (
    "Ministry publishes flood report\n 2025-03-10 en English\n"
    "The water ministry published its flood report at https://ministry.example/flood-report on Monday, "
    "a spokesman said. The report counts 212 flooded homes in the Vessa valley.\n"
)
QUESTION = "Where did the water ministry publish its flood report?"
URL = "https://ministry.example/flood-report"


@pytest.fixture(scope="module", params=[False, True], ids=["default", "linkify"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, bool]]:
    linkify = bool(request.param)
    root = tmp_path_factory.mktemp("ui-links")
    (root / "docs").mkdir()
    (root / "docs" / "flood_report.txt").write_text(REPORT, encoding="utf-8")
    over = {"linkify_urls": True} if linkify else {}
    settings = Settings.from_env({}, data_dir=root / "store", ui_port=free_port(), **over)
    assert ingest_paths([root / "docs"], settings, progress=False, embedder=load_embedder(settings)).ok
    with served(build_pipeline(settings), settings) as url:
        yield url, linkify


@pytest.fixture
def page(browser: Browser, server: tuple[str, bool]) -> Iterator[Page]:
    ctx = browser.new_context(viewport={"width": 1440, "height": 1000})
    pg = ctx.new_page()
    pg.set_default_timeout(30_000)
    pg.goto(server[0])
    pg.locator("#question textarea").wait_for()
    yield pg
    ctx.close()


def test_a_url_in_an_answer_is_a_link_only_when_opted_in(page: Page, server: tuple[str, bool]) -> None:
    page.locator("#question textarea").fill(QUESTION)
    page.locator("#ask-btn").click()
    expect(page.locator("#chat .rag-answer:not(.streaming)")).to_have_count(1)
    answer = page.locator("#chat .rag-answer")
    expect(answer).to_contain_text(URL)  # the reader still sees the address, exactly
    links = page.locator("#chat a[href*='ministry.example']")
    if server[1]:
        expect(links).to_have_count(1)
        assert links.get_attribute("href") == URL
        assert "noopener" in (links.get_attribute("rel") or "")
    else:
        expect(links).to_have_count(0)
        assert page.locator("a[href*='ministry.example']").count() == 0  # nowhere on the page
