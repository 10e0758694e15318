"""Dated answers in a real Chromium: dates and outlets on answer lines and cards, the "sources
disagree" block whose values open their spans, timelines as dated lists, and both in the exports."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser_helpers import free_port, open_page, served
from playwright.sync_api import Browser, Page, expect
from test_news_answers import FLOOD
from test_ui_browser import ask

from index.ingest import ingest_paths
from rag.pipeline import build_pipeline
from rag.settings import PROJECT_ROOT, Settings

pytestmark = pytest.mark.browser
NEWS = PROJECT_ROOT / "evals" / "sets" / "news" / "corpus.jsonl"
LATEST = "What is the latest death toll from the Marrow flood?"
TIMELINE = "How did the death toll from the Orrin Dam failure develop?"
SHOTS = PROJECT_ROOT / "docs" / "screenshots"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("ui-news")
    flood = root / "flood.jsonl"
    with flood.open("w", encoding="utf-8") as f:
        for aid, source, day, title, text in FLOOD:
            f.write(json.dumps({"id": aid, "source": source, "title": title, "text": text,
                                **({"date": day} if day else {})}) + "\n")  # fmt: skip
    settings = Settings.from_env({}, data_dir=root / "store", ui_port=free_port())
    assert ingest_paths([flood, NEWS], settings, progress=False).ok
    pipeline = build_pipeline(settings)
    with served(pipeline, settings) as url:
        yield url
    pipeline.close()


@pytest.fixture
def page(browser: Browser, server: str) -> Iterator[Page]:
    pg = open_page(browser, server)
    yield pg
    pg.context.close()


def test_latest_answer_shows_dates_outlets_and_a_disagreement_that_opens_its_spans(page: Page) -> None:
    ask(page, LATEST)
    answer = page.locator("#chat .rag-answer").last
    whens = answer.locator(".answer-text .when").all_inner_texts()
    assert whens and whens[0].startswith("Latest, 5 Mar 2025,")
    block = answer.locator(".conflicts")
    expect(block).to_be_visible()
    assert "Sources disagree" in block.inner_text()
    values = block.locator(".conflict-value")
    assert sorted(values.all_inner_texts()) == ["12", "15"]
    for i in range(values.count()):
        value = values.nth(i)
        text = value.inner_text()
        value.click()
        mark = page.locator("#article-view mark#cited")
        expect(mark).to_contain_text(text)
    cards = page.locator("#sources .src-card .src-meta").all_inner_texts()
    assert any("5 Mar 2025" in c for c in cards) and any("Ledger" in c for c in cards)
    page.screenshot(path=str(SHOTS / "conflicts.png"), full_page=False)


def test_timeline_is_a_dated_list_oldest_first(page: Page) -> None:
    ask(page, TIMELINE)
    items = page.locator("#chat .rag-answer").last.locator("ol.timeline li")
    assert items.count() >= 3
    days = [re.match(r"(\d{1,2} \w{3} \d{4})", t).group(1) for t in items.all_inner_texts()]  # type: ignore[union-attr]
    from datetime import datetime

    parsed = [datetime.strptime(d, "%d %b %Y") for d in days]
    assert parsed == sorted(parsed) and len(set(parsed)) == len(parsed)
    items.first.scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / "timeline.png"), full_page=False)
    items.first.locator(".cite").first.click()
    expect(page.locator("#article-view mark#cited")).to_be_visible()


def test_exports_carry_dates_and_disagreements(page: Page, tmp_path: Path) -> None:
    ask(page, LATEST)
    with page.expect_download() as md_info:
        page.locator("#export-md").click()
    md = Path(md_info.value.path()).read_text(encoding="utf-8")
    assert "Latest, 5 Mar 2025" in md and "Sources disagree" in md and "**15**" in md
    with page.expect_download() as js_info:
        page.locator("#export-json").click()
    data = json.loads(Path(js_info.value.path()).read_text(encoding="utf-8"))
    answer = data["exchanges"][-1]["answer"]
    assert {v["value"].split()[0] for v in answer["conflicts"][0]["values"]} == {"12", "15"}
    assert all(s["published"] for s in answer["sentences"])
