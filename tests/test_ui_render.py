"""Pure rendering and handler helpers of the UI: escaping, highlights, cards, trace, exports, checks."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

import pytest

from rag.errors import ConfigError
from rag.outlets import describe_filters, resolve_outlets
from rag.settings import Settings
from rag.types import Answer, AnswerSentence, Article, ArticleInfo, Chunk, Citation, Hit, Trace
from ui import render
from ui.chat import FilterError, InputError, make_filters, mode_choices, parse_date
from ui.corpus import article_rows, safe_name
from ui.evals_view import NO_RUNNER_NOTE, latest_report, question_sets, report_html, run_eval
from ui.export import export_json, export_markdown, write_exports
from ui.main import check_exposure, is_loopback
from ui.trace_view import trace_html

XSS = "<script>window.__xss=1</script><img src=x onerror=alert(2)> *bold* [1](javascript:alert(1)) $x$"
TEXT = (
    "Intro paragraph about the city.\n\nDuring the night attack, air defenses shot down 21 of 49 drones. "
    "Later that day, officials reported damage. " + XSS + " The end."
)
QUOTE = "During the night attack, air defenses shot down 21 of 49 drones."
START = TEXT.index(QUOTE)


def _article() -> Article:
    return Article(
        id="a1",
        title="Night <b>attack</b>",
        text=TEXT,
        source="Outlet & Co",
        published=date(2024, 2, 3),
        language="en",
    )


def _cite(n: int = 1, quote: str = QUOTE, start: int = START) -> Citation:
    return Citation(
        n,
        "a1",
        "a1:0",
        start,
        start + len(quote),
        quote,
        "Night <b>attack</b>",
        "Outlet & Co",
        date(2024, 2, 3),
        "en",
    )


def _answer(abstained: bool = False, mode: str = "extractive", support: str = "quoted") -> Answer:
    chunk = Chunk(
        "a1:0", "a1", 0, TEXT, 0, len(TEXT), "Night <b>attack</b>", "Outlet & Co", date(2024, 2, 3), "en"
    )
    hit = Hit(chunk, 1, 0.5, dense=0.61, lexical=7.25, dense_rank=1, lexical_rank=2)
    trace = Trace(
        "q?",
        "q rewritten",
        (hit,),
        {"k": 5},
        {"retrieve": 12.0, "total": 20.0},
        {"since": "2024-01-01"},
        ("a note",),
    )
    if abstained:
        return Answer("No answer in the corpus.", (), (), True, 0.1, trace, mode, (_cite(),))
    sent = AnswerSentence(QUOTE, (1,), support)  # type: ignore[arg-type]
    return Answer(f"{QUOTE} [1]", (sent,), (_cite(),), False, 0.8, trace, mode)


def test_esc_md_makes_html_and_markdown_inert() -> None:
    out = render.esc_md(XSS)
    assert "<" not in out and ">" not in out
    for ch in "*[]$`":
        assert ch not in out
    assert "&lt;script&gt;" in out


def test_answer_html_has_one_clickable_marker_per_citation() -> None:
    out = render.answer_html(_answer(), turn=2)
    assert re.findall(r'class="cite (ref-\d+-\d+)"', out) == ["ref-2-1"]
    assert ">[1]</span>" in out
    # one line, wrapped in a block element: Markdown never parses inside it
    assert "\n" not in out and out.startswith('<div class="rag-answer">')


def test_answer_html_says_plainly_when_abstaining() -> None:
    out = render.answer_html(_answer(abstained=True), turn=0)
    assert "No answer in the corpus." in out
    assert "not an answer" in out
    assert 'class="cite' not in out


def test_highlighted_passage_marks_exactly_the_span_with_word_context() -> None:
    before, span, after, cut_a, cut_b = render.passage_window(TEXT, START, START + len(QUOTE), context=30)
    assert span == QUOTE
    assert before and not before[0].isspace() and TEXT[:START].endswith(before)
    assert cut_b and TEXT[START + len(QUOTE) :].startswith(after)
    html = render.highlighted_passage(TEXT, START, START + len(QUOTE), context=30)
    assert f"<mark>{QUOTE}</mark>" in html


def test_source_card_shows_metadata_escaped_and_the_quote_in_context() -> None:
    card = render.source_card(_cite(), 0, TEXT, None)
    assert "Night &lt;b&gt;attack&lt;/b&gt;" in card
    assert "Outlet &amp; Co" in card and "3 Feb 2024" in card and ">en<" in card
    assert f"<mark>{QUOTE}</mark>" in card and "Intro paragraph" in card
    assert "ref-0-1" in card


def test_sources_panel_labels_support_only_in_llm_mode() -> None:
    assert "not supported" not in render.sources_html(_answer(), 0, {"a1": TEXT})
    llm = render.sources_html(_answer(mode="openai", support="unsupported"), 0, {"a1": TEXT})
    assert "not supported" in llm


def test_sources_panel_marks_closest_passages_as_not_an_answer() -> None:
    out = render.sources_html(_answer(abstained=True), 3, {"a1": TEXT})
    assert "not an answer" in out and "ref-3-c1" in out


def test_article_view_marks_the_cited_span_and_escapes_the_rest() -> None:
    out = render.article_html(_article(), START, START + len(QUOTE))
    m = re.search(r'<mark id="cited">(.*?)</mark>', out)
    assert m and m.group(1) == QUOTE
    assert "<script>" not in out and "&lt;script&gt;" in out and "<img" not in out


def test_trace_html_shows_query_scores_and_timings() -> None:
    out = trace_html(_answer())
    assert "q rewritten" in out and "0.610" in out and "7.25" in out and "retrieve 12 ms" in out
    assert "a note" in out and "since=2024-01-01" in out
    assert "<script>" not in out


def test_exports_hold_the_evidence_and_settings(tmp_path: Path) -> None:
    a = _answer()
    data = export_json("How many?", a)
    assert data["evidence"][0]["quote"] == QUOTE
    assert data["evidence"][0]["outlet"] == "Outlet & Co" and data["evidence"][0]["published"] == "2024-02-03"
    assert data["settings"] == {"k": 5}
    md = export_markdown("How many?", a)
    assert f"> {QUOTE}" in md and "a1" in md and "2024-02-03" in md
    p_md, p_js = write_exports("Drones", [("How many?", a), ("And later?", a)], tmp_path, "x")
    exported = json.loads(p_js.read_text())
    assert exported["title"] == "Drones" and [e["question"] for e in exported["exchanges"]] == [
        "How many?",
        "And later?",
    ]
    assert all(e["evidence"][0]["quote"] == QUOTE for e in exported["exchanges"])
    md = p_md.read_text()
    assert md.startswith("# Drones") and "## 1. How many?" in md and "## 2. And later?" in md
    assert md.count(f"> {QUOTE}") == 2


def test_date_controls_are_validated_with_a_clear_message() -> None:
    assert parse_date("Since", " 2024-01-05 ") == date(2024, 1, 5)
    assert parse_date("Since", "") is None
    with pytest.raises(InputError, match="Since must be a date like"):
        parse_date("Since", "01/05/2024")
    with pytest.raises(FilterError, match="after Until") as bad:
        make_filters("2024-02-01", "2024-01-01", None)
    assert bad.value.field == "until"
    with pytest.raises(FilterError) as bad:
        make_filters("yesterday", "", None)
    assert bad.value.field == "since"
    f = make_filters("2024-01-01", "", ["DW News"])
    assert f is not None and f.since == date(2024, 1, 1) and f.sources == ("DW News",)
    assert make_filters("", "", []) is None


def test_outlets_match_case_insensitively_and_by_prefix() -> None:
    known = ["BNN Newsroom", "DW News", "DW Russian"]
    f = make_filters("", "", ["dw news", "bnn"], known)
    assert f is not None and f.sources == ("DW News", "BNN Newsroom")
    f = make_filters("", "", ["DW"], known)
    assert f is not None and f.sources == ("DW News", "DW Russian")
    with pytest.raises(FilterError, match="Indexed outlets: 'BNN Newsroom', 'DW News'") as bad:
        make_filters("", "", ["Reuters"], known)
    assert bad.value.field == "outlets"
    assert resolve_outlets([" Dw  news "], known) == ("DW News",)
    assert describe_filters({"since": "2024-01-01", "sources": ["DW News"], "languages": []}) == (
        "since 2024-01-01, outlet DW News"
    )


def test_llm_mode_is_offered_only_with_a_backend() -> None:
    assert mode_choices(Settings()) == ["extractive"]
    assert mode_choices(Settings(llm_backend="openai")) == ["extractive", "llm"]


def test_remote_host_without_login_refuses_to_start() -> None:
    check_exposure(Settings())
    with pytest.raises(ConfigError, match="RAG_UI_USER"):
        check_exposure(Settings(ui_host="0.0.0.0"))
    check_exposure(Settings(ui_host="0.0.0.0", allow_remote=True))
    check_exposure(Settings(ui_host="0.0.0.0", ui_user="u", ui_password="p"))
    assert is_loopback("127.0.0.2") and is_loopback("::1") and not is_loopback("192.168.1.4")


def test_corpus_rows_filter_and_upload_names_are_safe() -> None:
    infos = [
        ArticleInfo("a1", "Kharkiv strikes", "BNN", date(2023, 12, 31), "en", 5),
        ArticleInfo("a2", "Kupiansk", "DW News", None, None, 4),
    ]
    assert [r[0] for r in article_rows(infos, "")] == ["a1", "a2"]
    assert [r[0] for r in article_rows(infos, "dw kup")] == ["a2"]
    assert safe_name("../../etc/passwd") == "passwd"
    assert safe_name("..\\x y.txt") == "x_y.txt"


def test_evals_tab_without_runner_or_report_explains_what_to_do(tmp_path: Path) -> None:
    assert latest_report(tmp_path) is None
    msg, html, out = run_eval(None, "seed_dev")
    assert msg == NO_RUNNER_NOTE and "No eval run yet" in html and out is None
    (tmp_path / "r1").mkdir()
    (tmp_path / "r1" / "report.md").write_text("# Eval <b>report</b>\n| metric | value |")
    found = latest_report(tmp_path)
    assert found == tmp_path / "r1"
    assert "Eval &lt;b&gt;report" in report_html(found)


def test_html_report_is_shown_in_a_script_free_sandbox(tmp_path: Path) -> None:
    (tmp_path / "report.html").write_text('<h1>Eval</h1><script>alert(1)</script><p class="x">ok</p>')
    out = report_html(tmp_path)
    assert '<iframe class="report" sandbox=""' in out
    assert "<script>" not in out and "&lt;script&gt;" in out
    sets = {"mine": tmp_path / "q.jsonl"}
    msg, html, ran = run_eval(lambda q: tmp_path, "mine", None, sets)
    assert msg == "Eval of question set mine finished." and "iframe" in html and ran == str(tmp_path)
    assert str(tmp_path) not in msg + html  # no server path in the page


def test_evals_tab_takes_sets_by_name_only(tmp_path: Path) -> None:
    (tmp_path / "evals" / "questions").mkdir(parents=True)
    (tmp_path / "evals" / "questions" / "dev.jsonl").write_text("{}\n")
    (tmp_path / "evals" / "sets" / "floods").mkdir(parents=True)
    (tmp_path / "evals" / "sets" / "floods" / "questions.jsonl").write_text("{}\n")
    sets = question_sets(tmp_path)
    assert list(sets) == ["dev", "floods"]
    ran: list[Path] = []
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "report.md").write_text("# report")

    def runner(q: Path) -> Path:
        ran.append(q)
        return tmp_path / "r"

    msg, _, out = run_eval(runner, "/etc/passwd", None, sets)
    assert "Unknown question set '/etc/passwd'" in msg and "dev, floods" in msg and out is None
    msg, _, _ = run_eval(runner, str(tmp_path / "missing.jsonl"), None, sets)
    assert msg.startswith("Unknown question set") and ran == []  # a typed path is never opened
    run_eval(runner, "floods", None, sets)
    up = tmp_path / "upload.jsonl"
    msg, _, _ = run_eval(runner, "dev", str(up), sets)
    assert ran == [sets["floods"], up] and msg == "Eval of uploaded file upload.jsonl finished."


def test_chat_bubble_escapes_once_so_quotes_and_ampersands_read_right() -> None:
    out = render.esc_md("a multilayered 'layer cake' & <b>\"x\"</b> #1")
    assert out == "a multilayered &#39;layer cake&#39; &amp; &lt;b&gt;&quot;x&quot;&lt;/b&gt; &#35;1"
    assert "&#x27;" not in out and "&amp;#" not in out and "&&" not in out


def test_untitled_articles_show_their_first_sentence_not_a_hash() -> None:
    text = "  Kharkiv was hit overnight by drones, officials said. Later, more came.\n"
    assert render.first_sentence(text) == "Kharkiv was hit overnight by drones, officials said."
    long = "word " * 40 + "end."
    short = render.first_sentence(long, 30)
    assert short.endswith("…") and len(short) <= 31 and " wor…" not in short
    assert (
        render.title_of(None, text, "001_e71635c8b88c33de")
        == "“Kharkiv was hit overnight by drones, officials said.”"
    )
    assert render.title_of("Real", text, "x") == "Real" and render.title_of(None, "", "x") == "x"
    art = Article(id="001_e71635c8b88c33de", title=None, text=text)
    assert "001_e71635c8b88c33de</h3>" not in render.article_html(art)
    infos = [ArticleInfo("001_e71635c8b88c33de", None, None, None, None, 1)]
    rows = article_rows(infos, "", {"001_e71635c8b88c33de": render.title_of(None, text, "")})
    assert rows[0][1].startswith("“Kharkiv was hit")
