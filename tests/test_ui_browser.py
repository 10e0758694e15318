"""The real app in a real Chromium (Playwright): ask, cite, abstain, filter, upload, export, XSS, file routes, API.

One app is launched per module over an index built from data/corpus, so the model loads once.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from browser_helpers import free_port, open_page, served
from playwright.sync_api import Browser, Dialog, Page, expect

from index.ingest import ingest_paths
from rag.embedding import load_embedder
from rag.pipeline import build_pipeline
from rag.settings import PROJECT_ROOT, Settings

pytestmark = pytest.mark.browser

DRONES = "How many drones did Ukrainian air defenses shoot down during the overnight attack on Kharkiv?"
EUROVISION = "Who won the 2024 Eurovision Song Contest?"
XSS_DOC = (
    " date 2024-03-04 en English\n"
    "The Zorya bakery in Saltivka baked 4812 loaves <script>window.__xss=1</script> for the shelters "
    '<img src=x onerror="window.__xss=1;alert(2)"> during the blackout, its owner said.\n'
    'Volunteers posted a <a href="javascript:window.__xss=1;alert(1)">link</a> and '
    '<svg onload="window.__xss=1;alert(3)"> a drawing of the bakery.\n'
)
SCREENSHOT = PROJECT_ROOT / "docs" / "screenshots" / "chat.png"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A real index of data/corpus plus one document full of script payloads."""
    root = tmp_path_factory.mktemp("ui-browser")
    docs = root / "docs"
    docs.mkdir()
    (docs / "zorya_bakery.txt").write_text(XSS_DOC, encoding="utf-8")
    settings = Settings.from_env({}, data_dir=root / "store", ui_port=free_port())
    embedder = load_embedder(settings)
    report = ingest_paths(
        [PROJECT_ROOT / "data" / "corpus", docs], settings, progress=False, embedder=embedder
    )
    assert report.ok
    return settings


@pytest.fixture(scope="module")
def server(store: Settings) -> Iterator[str]:
    """The app, launched in-process on a free loopback port with the production launch settings."""
    with served(build_pipeline(store), store) as url:
        yield url


@pytest.fixture
def page(browser: Browser, server: str) -> Iterator[Page]:
    pg = open_page(browser, server)
    yield pg
    pg.context.close()


def ask(page: Page, question: str, turn: int = 0) -> None:
    """Type a question, send it, and wait until the answer for `turn` is rendered with its sources."""
    page.locator("#question textarea").fill(question)
    page.locator("#ask-btn").click()
    page.locator(f"#sources .src-card.ref-{turn}-1, #sources .src-card.ref-{turn}-c1").first.wait_for()
    expect(page.locator("#chat .rag-answer.streaming")).to_have_count(0)


def source_titles(page: Page) -> list[str]:
    return page.locator("#sources .src-card .src-title").all_inner_texts()


def test_answer_with_markers_and_sources_and_the_cited_span(page: Page) -> None:
    t0 = time.perf_counter()
    page.locator("#question textarea").fill(DRONES)
    page.locator("#ask-btn").click()
    page.locator("#chat .rag-answer").first.wait_for()
    page.wait_for_function("() => (document.querySelector('#chat .rag-answer')?.innerText || '').length > 3")
    first_token_ms = (time.perf_counter() - t0) * 1000
    page.locator("#sources .src-card.ref-0-1").wait_for()
    print(f"\n[ui] browser: first streamed text {first_token_ms:.0f} ms after the click")
    answer = page.locator("#chat .rag-answer").last
    assert re.search(r"\[1\]", answer.inner_text())
    assert "21" in answer.inner_text()
    markers = answer.locator(".cite")
    assert markers.count() >= 1
    cards = page.locator("#sources .src-card:not(.closest)")
    assert cards.count() == markers.count()
    quote = page.locator("#sources .src-card.ref-0-1 mark").inner_text()
    assert quote and quote in answer.inner_text()

    markers.first.click()
    cited = page.locator("#article-view mark#cited")
    expect(cited).to_have_text(quote)
    expect(cited).to_be_in_viewport()
    assert page.locator("#article-view .article-body").inner_text().count(quote) >= 1

    # a card opens the article too, at its own span
    cards.last.click()
    last_quote = page.locator("#sources .src-card:not(.closest) mark").last.inner_text()
    expect(cited).to_have_text(last_quote)

    markers.first.click()
    expect(cited).to_have_text(quote)
    page.wait_for_timeout(500)  # let the scroll script of the last click finish before framing the shot
    page.set_viewport_size({"width": 1440, "height": 1250})
    page.evaluate("window.scrollTo(0, 0); document.scrollingElement.scrollTop = 0")
    expect(cited).to_be_in_viewport()
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT))

    page.locator("#why").get_by_text("Why this answer").click()
    expect(page.locator("#trace table.hits")).to_be_visible()
    expect(page.locator("#trace")).to_contain_text("Query as searched")


def test_unanswerable_question_abstains_and_shows_closest_passages(page: Page) -> None:
    ask(page, EUROVISION)
    reply = page.locator("#chat .rag-answer").last
    expect(reply.locator(".abstain")).to_contain_text("do not contain an answer")
    assert reply.locator(".cite").count() == 0
    expect(page.locator("#sources .sources-head")).to_contain_text("not an answer")
    closest = page.locator("#sources .src-card.closest")
    assert closest.count() >= 1
    expect(closest.first.locator(".badge")).to_have_text("not an answer")


def test_follow_up_and_date_filter_change_the_sources(page: Page) -> None:
    ask(page, DRONES)
    before = source_titles(page)
    page.locator("#since").locator("input, textarea").first.fill("2024-01-01")
    ask(page, DRONES, turn=1)
    after = source_titles(page)
    assert after != before
    assert "Escalating Tensions: Russia Retaliates with Missile Strikes on Kharkiv" in before
    assert "Escalating Tensions: Russia Retaliates with Missile Strikes on Kharkiv" not in after
    # a malformed date is refused with a message at the field; chat, input and trace stay as they were
    answers = page.locator("#chat .rag-answer").count()
    page.locator("#since").locator("input, textarea").first.fill("01/2024")
    page.locator("#question textarea").fill(DRONES)
    page.locator("#ask-btn").click()
    expect(page.locator("#since-msg")).to_contain_text("Since must be a date like 2024-01-31")
    page.locator("#since").scroll_into_view_if_needed()
    page.screenshot(path=str(SCREENSHOT.parent / "filter-error.png"))
    page.wait_for_timeout(800)
    assert page.locator("#chat .rag-answer").count() == answers
    expect(page.locator("#question textarea")).to_have_value(DRONES)
    assert page.get_by_text("Error", exact=True).count() == 0  # no red "Error" badges anywhere
    # since after until: named at the Until field
    page.locator("#since").locator("input, textarea").first.fill("2024-03-01")
    page.locator("#until").locator("input, textarea").first.fill("2024-01-01")
    page.locator("#ask-btn").click()
    expect(page.locator("#until-msg")).to_contain_text("is after Until")
    expect(page.locator("#since-msg")).to_have_text("")
    page.locator("#until").locator("input, textarea").first.fill("")
    page.locator("#since").locator("input, textarea").first.fill("")
    page.locator("#question textarea").click()  # leaving the field re-checks it
    expect(page.locator("#until-msg")).to_have_text("")


def test_upload_a_new_article_then_get_it_cited(page: Page, tmp_path: Path) -> None:
    doc = tmp_path / "lantern_volunteers.txt"
    doc.write_text(
        " date 2024-06-14 en English\nOn June 12 the Sunflower Lantern volunteer group delivered 317 "
        "generators to hospitals in Kharkiv, its coordinator said.\n",
        encoding="utf-8",
    )
    page.get_by_role("tab", name="Corpus").click()
    page.locator("#upload input[type=file]").set_input_files(str(doc))
    page.locator("#upload").get_by_text("lantern_volunteers.txt").first.wait_for()
    page.locator("#ingest-btn").click()
    expect(page.locator("#ingest-status")).to_contain_text("indexed")
    expect(page.locator("#ingest-msg")).to_contain_text("1 indexed")
    expect(page.locator("#articles")).to_contain_text("lantern_volunteers")
    page.locator("#corpus-search input, #corpus-search textarea").first.fill("lantern")
    expect(page.locator("#articles")).not_to_contain_text("002_88f33951d7bac3d7")

    page.get_by_role("tab", name="Ask").click()
    ask(page, "How many generators did the Sunflower Lantern volunteer group deliver?")
    expect(page.locator("#chat .rag-answer").last).to_contain_text("317")
    page.locator("#sources .src-card.ref-0-1").click()
    expect(page.locator("#article-view")).to_contain_text("lantern_volunteers")
    expect(page.locator("#article-view mark#cited")).to_contain_text("317 generators")

    # delete it again: the next answer cannot cite it
    page.get_by_role("tab", name="Corpus").click()
    page.locator("#delete-pick input").first.click()
    page.get_by_role("option", name=re.compile("lantern_volunteers")).click()
    page.locator("#delete-btn").click()
    expect(page.locator("#delete-question")).to_contain_text("and its uploaded copy")
    page.locator("#delete-no").click()
    expect(page.locator("#delete-msg")).to_contain_text("Nothing was deleted")
    expect(page.locator("#articles")).to_contain_text("lantern_volunteers")
    page.locator("#delete-btn").click()
    page.locator("#delete-yes").click()
    expect(page.locator("#delete-msg")).to_contain_text("Deleted lantern_volunteers")
    expect(page.locator("#delete-msg")).to_contain_text("uploaded file lantern_volunteers.txt was removed")
    expect(page.locator("#articles")).not_to_contain_text("lantern_volunteers")


def test_export_markdown_and_json(page: Page) -> None:
    ask(page, DRONES)
    quote = page.locator("#sources .src-card.ref-0-1 mark").inner_text()
    expect(page.locator("#export-json")).to_be_enabled()
    with page.expect_download() as dl:
        page.locator("#export-json").click()
    data = json.loads(Path(dl.value.path()).read_text(encoding="utf-8"))
    first = data["exchanges"][-1]
    assert first["question"] == DRONES
    ev = first["evidence"][0]
    assert ev["quote"] == quote and ev["article_id"] and ev["outlet"] and ev["published"]
    assert first["settings"]["k"] == 5
    with page.expect_download() as dl:
        page.locator("#export-md").click()
    md = Path(dl.value.path()).read_text(encoding="utf-8")
    assert f"## {len(data['exchanges'])}. {DRONES}" in md and f"> {quote}" in md and ev["article_id"] in md


def test_document_payloads_are_shown_literally_and_never_run(page: Page) -> None:
    dialogs: list[str] = []

    def record(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", record)
    ask(page, "How many loaves did the Zorya bakery in Saltivka bake?")
    answer = page.locator("#chat .rag-answer").last
    expect(answer).to_contain_text("4812")
    page.locator("#sources .src-card.ref-0-1").click()
    body = page.locator("#article-view .article-body")
    expect(body).to_contain_text("<script>window.__xss=1</script>")
    text = page.locator("#chat").inner_text() + page.locator("#sources").inner_text() + body.inner_text()
    for payload in ("<script>", "<img src=x onerror=", 'href="javascript:', "<svg onload="):
        assert payload in text, payload
    # no element from the document made it into the DOM
    assert page.locator("#chat img[src=x], #sources img[src=x], #article-view img[src=x]").count() == 0
    assert page.locator("#article-view svg[onload], #article-view a[href^=javascript]").count() == 0
    page.wait_for_timeout(300)
    assert page.evaluate("typeof window.__xss") == "undefined"
    assert dialogs == []


def test_file_routes_refuse_traversal_and_the_store(server: str, store: Settings) -> None:
    catalog = store.data_dir / "catalog.sqlite"
    assert catalog.is_file()
    targets = [
        "/gradio_api/file=/etc/passwd",
        "/gradio_api/file=../../../../etc/passwd",
        "/gradio_api/file=..%2F..%2F..%2F..%2Fetc%2Fpasswd",
        "/file=../../etc/passwd",
        "/file=/etc/passwd",
        f"/gradio_api/file={catalog}",
        f"/file={catalog}",
        f"/gradio_api/file={PROJECT_ROOT / 'pyproject.toml'}",
        "/gradio_api/file=pyproject.toml",
    ]
    with httpx.Client(base_url=server, timeout=10) as client:
        for path in targets:
            r = client.get(path)
            assert r.status_code in (403, 404), (path, r.status_code)
            assert "root:" not in r.text and "SQLite format" not in r.text


def test_api_client_calls_the_chat_endpoint(server: str) -> None:
    from gradio_client import Client

    client = Client(server + "/", verbose=False, analytics_enabled=False, download_files=False)
    result: Any = client.predict(DRONES, "", "", [], 5, "extractive", "", api_name="/chat")
    messages = result[1]
    reply = messages[-1]["content"]
    text = reply if isinstance(reply, str) else json.dumps(reply)
    assert re.search(r"\[1\]", text) and "21" in text
    assert "src-card" in result[2]


def test_cold_start_of_a_served_existing_index(store: Settings) -> None:
    """`python -m ui.main --data-dir X` to the first served page and to the first streamed answer."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "ui.main", "--data-dir", str(store.data_dir), "--port", str(port)],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        page_s = None
        while time.perf_counter() - t0 < 90:
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else "exited"
            try:
                if httpx.get(url + "/", timeout=1).status_code == 200:
                    page_s = time.perf_counter() - t0
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        assert page_s is not None, "the UI did not come up within 90 s"
        from gradio_client import Client

        client = Client(url + "/", verbose=False, analytics_enabled=False, download_files=False)
        t1 = time.perf_counter()
        job = client.submit(DRONES, "", "", [], 5, "extractive", "", api_name="/chat")
        first_ms = None
        while not job.done():
            outs = job.outputs()
            if len(outs) >= 2:  # the placeholder, then the first streamed text
                first_ms = (time.perf_counter() - t1) * 1000
                break
            time.sleep(0.01)
        total = job.result()
        total_ms = (time.perf_counter() - t1) * 1000
        print(
            f"\n[ui] cold start to first page: {page_s:.2f} s; first streamed token: "
            f"{first_ms if first_ms is not None else total_ms:.0f} ms; whole answer {total_ms:.0f} ms"
        )
        assert "[1]" in json.dumps(total[1])
        assert page_s < 60
    finally:
        proc.terminate()
        proc.wait(timeout=20)
