"""A day with your own corpus, in a real Chromium: escaping, filters at the field, outlets by prefix,
widening filters, corpus search and reading, upload refusals, /config, and conversations in the sidebar.

One app is launched in-process per module; tests/test_ui_lifecycle.py covers `rag serve` restarts.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from browser_helpers import free_port, open_page, served
from playwright.sync_api import Browser, Locator, Page, expect

from index.ingest import ingest_paths
from rag.embedding import load_embedder
from rag.pipeline import build_pipeline
from rag.settings import PROJECT_ROOT, Settings

pytestmark = pytest.mark.browser
expect.set_options(timeout=20_000)  # two cores shared with other jobs: queued events can take seconds

DRONES = "How many drones did Ukrainian air defenses shoot down during the overnight attack on Kharkiv?"
BAKERY = (
    " date 2024-03-04 en English\n"
    "The Saltivka bakers' plan is a multilayered 'layer cake' of ovens & generators, "
    'its owner said: "<bread> comes first, then the rest."\n'
)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    root = tmp_path_factory.mktemp("ui-day")
    (root / "docs").mkdir()
    (root / "docs" / "saltivka_bakers.txt").write_text(BAKERY, encoding="utf-8")
    settings = Settings.from_env(
        {}, data_dir=root / "store", ui_port=free_port(), ui_title="Flood & war desk"
    )
    report = ingest_paths([PROJECT_ROOT / "data" / "corpus", root / "docs"], settings, progress=False,
                          embedder=load_embedder(settings))  # fmt: skip
    assert report.ok
    return settings


@pytest.fixture(scope="module")
def server(store: Settings) -> Iterator[str]:
    with served(build_pipeline(store), store) as url:
        yield url


@pytest.fixture
def page(browser: Browser, server: str) -> Iterator[Page]:
    pg = open_page(browser, server)
    yield pg
    pg.context.close()


def ask(page: Page, question: str, turn: int) -> None:
    """Ask, and wait for answer `turn` (0-based) to be rendered in full."""
    page.locator("#question textarea").fill(question)
    page.locator("#ask-btn").click()
    expect(page.locator("#chat .rag-answer:not(.streaming)")).to_have_count(turn + 1)
    expect(page.locator("#sources .sources-head")).to_contain_text(
        "No answer" if page.locator("#chat .rag-answer .abstain").count() > turn else f"answer {turn + 1}"
    )


def field(page: Page, elem_id: str) -> Locator:
    return page.locator(f"#{elem_id}").locator("input, textarea").first


def test_title_comes_from_settings_and_examples_from_the_corpus(page: Page) -> None:
    expect(page.locator("#app-title h1")).to_have_text("Flood & war desk")
    assert page.title() == "Flood & war desk"
    expect(page.locator("#examples")).to_contain_text("What do the articles say about Escalating Tensions")
    for old in ("Kharkiv news", "Kupiansk?", "Who is Viktor Trehubov?"):
        assert old not in page.locator("body").inner_text()
    page.locator("#examples").get_by_text("Escalating Tensions").first.click()
    expect(page.locator("#question textarea")).to_have_value(
        "What do the articles say about Escalating Tensions: Russia Retaliates with Missile Strikes on Kharkiv?"
    )


def test_quotes_ampersands_and_angle_brackets_read_right_in_the_chat_bubble(page: Page) -> None:
    ask(page, "What is the Saltivka bakers' plan?", 0)
    bubble = page.locator("#chat .rag-answer").last.inner_text()
    assert "multilayered 'layer cake' of ovens & generators" in bubble
    assert '"<bread> comes first' in bubble
    for literal in ("&#x27;", "&#39;", "&amp;", "&lt;", "&quot;", "&#35;"):
        assert literal not in bubble, literal
    card = page.locator("#sources .src-card.ref-0-1").inner_text()
    assert "'layer cake'" in card and "<bread>" in card


def test_outlets_by_prefix_and_widening_filters_after_an_abstention(page: Page) -> None:
    outlets = page.locator("#outlets input")
    outlets.fill("bnn")
    outlets.press("Enter")
    field(page, "since").fill("2025-06-01")
    ask(page, DRONES, 0)
    reply = page.locator("#chat .rag-answer").last
    expect(reply.locator(".abstain")).to_be_visible()
    expect(reply.locator(".filters-note")).to_contain_text("since 2025-06-01, outlet BNN Newsroom")
    expect(page.locator("#outlets-msg")).to_have_text("")
    widen = page.locator("#widen-btn")
    expect(widen).to_be_visible()
    widen.click()
    page.locator("#sources .src-card.ref-1-1").wait_for(timeout=30_000)
    expect(page.locator("#chat .rag-answer").last).to_contain_text("21")
    expect(field(page, "since")).to_have_value("")
    expect(widen).to_be_hidden()
    # a name that matches no outlet is named at the field, with the outlets that exist
    outlets.fill("Reuters")
    outlets.press("Enter")
    expect(page.locator("#outlets-msg")).to_contain_text("no indexed outlet matches 'Reuters'")
    expect(page.locator("#outlets-msg")).to_contain_text("'BNN Newsroom', 'DW News'")


def test_corpus_search_reads_the_text_and_a_row_opens_the_article(page: Page) -> None:
    page.get_by_role("tab", name="Corpus").click()
    table = page.locator("#articles")
    expect(table).to_contain_text("Escalating Tensions")
    # language and chunks stay on screen at 1440 px
    for name in ("language", "chunks"):
        box = table.get_by_role("columnheader", name=name).first.bounding_box()
        assert box is not None and box["x"] + box["width"] <= 1440 and box["width"] > 40, (name, box)
    search = field(page, "corpus-search")
    search.fill("Trehubov")
    expect(table).to_contain_text("001_e71635c8b88c33de")
    expect(table).not_to_contain_text("Escalating Tensions")
    expect(table).to_contain_text("“The Russians are trying to hold on")  # first sentence, not a hash
    table.get_by_role("gridcell").filter(has_text="“The Russians are trying").first.click()
    expect(page.locator("#corpus-article")).to_contain_text("Viktor Trehubov")
    assert (
        table.locator("input:visible, textarea:visible, [contenteditable=true]").count() == 0
    )  # no edit box
    framed = table.locator("[role=gridcell].cell-selected, [role=gridcell].cell-selected span").evaluate_all(
        "es => es.filter(e => getComputedStyle(e).boxShadow !== 'none').length"
    )
    assert framed == 0 and table.locator("[role=gridcell] button:visible").count() == 0
    page.screenshot(path=str(PROJECT_ROOT / "docs" / "screenshots" / "corpus-search.png"))
    search.fill("zzyzx quokka")
    expect(page.locator("#corpus-search-msg")).to_contain_text("No article matches 'zzyzx quokka'")


def test_config_shows_no_server_path_and_uploads_of_other_types_are_refused(
    server: str, store: Settings
) -> None:
    with httpx.Client(base_url=server, timeout=20) as client:
        config = client.get("/config").text
        for path in (store.data_dir.resolve(), PROJECT_ROOT, Path.home(), Path(os.getcwd())):
            assert str(path) not in config, path
        for name in ("run.sh", "setup.exe", "logo.svg", "page.html.sh"):
            r = client.post("/gradio_api/upload", files={"files": (name, b"x")})
            assert r.status_code == 415, (name, r.status_code)
            assert name in r.text and ".txt .md .html .htm .pdf .jsonl" in r.text.replace(",", "")
        ok = client.post("/gradio_api/upload", files={"files": ("page.html", b"<h1>x</h1><p>y</p>")})
        assert ok.status_code == 200 and ok.json()[0].endswith("page.html")


def test_conversations_in_the_sidebar_new_open_rename_delete_reload(page: Page) -> None:
    ask(page, DRONES, 0)
    convs = page.locator("#conv-list")
    expect(convs.locator("label")).to_have_count(1)
    page.locator("#new-conv").click()
    expect(page.locator("#chat .rag-answer")).to_have_count(0)
    ask(page, "Who is Viktor Trehubov?", 0)
    expect(convs.locator("label")).to_have_count(2)  # "New conversation" kept the first one
    convs.get_by_text("How many drones").click()
    expect(page.locator("#chat")).to_contain_text("How many drones")
    expect(page.locator("#chat")).not_to_contain_text("Trehubov")
    expect(page.locator("#chat .rag-answer").last).to_contain_text("21")
    field(page, "conv-title").fill("Drone counts")
    page.locator("#rename-conv").click()
    expect(convs).to_contain_text("Drone counts")
    page.reload()
    page.locator("#question textarea").wait_for()
    expect(convs.locator("label")).to_have_count(2)
    expect(page.locator("#chat")).to_contain_text("Who is Viktor Trehubov?")  # the last one asked in
    convs.get_by_text("Drone counts").click()
    expect(page.locator("#chat")).to_contain_text("How many drones")
    page.screenshot(path=str(PROJECT_ROOT / "docs" / "screenshots" / "conversations.png"))
    page.locator("#delete-conv").click()
    page.locator("#delete-conv-yes").click()
    expect(convs.locator("label")).to_have_count(1)
    expect(convs).not_to_contain_text("Drone counts")
