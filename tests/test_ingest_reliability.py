"""Ingestion under messy input (issue 13): duplicate paths and ids, bad JSONL lines, huge or
unpunctuated articles, hidden files. Real model, real Chroma, real BM25.

Nothing indexed is ever lost or duplicated: every test ends with the store consistent.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ingest_helpers import article_text, assert_consistent, catalog_ids, make_settings, word, write_corpus

from index.ingest import ingest_paths
from rag.embedding import Embedder, load_embedder
from rag.settings import Settings
from rag.storage import open_storage
from rag.types import FileStatus, IngestReport

pytestmark = pytest.mark.slow  # each test ingests with the real model


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return load_embedder(Settings.from_env({}))


def _ingest(paths: list[Path], settings: Settings, embedder: Embedder) -> IngestReport:
    return ingest_paths(paths, settings, progress=False, embedder=embedder)


def _rows(report: IngestReport) -> list[tuple[str, str, str | None]]:
    return [(Path(f.path).name, f.status, f.reason) for f in report.files]


def _body(i: int, sentences: int = 3) -> str:
    return article_text(i, sentences).split("\n\n", 1)[1].strip()


def _jsonl(path: Path, rows: list[dict[str, str] | str]) -> Path:
    path.write_text(
        "\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n", encoding="utf-8"
    )
    return path


def _article_text(settings: Settings, article_id: str) -> str | None:
    storage = open_storage(settings)
    try:
        art = storage.catalog.article(article_id)
        return art.text if art else None
    finally:
        storage.close()


# --- item 2: duplicate paths and ids ---------------------------------------------------------


def test_the_same_file_given_twice_is_ingested_once(tmp_path: Path, embedder: Embedder) -> None:
    corpus = tmp_path / "corpus"
    paths = write_corpus(corpus, 2)
    settings = make_settings(tmp_path)
    report = _ingest([paths[0], paths[0]], settings, embedder)
    assert _rows(report) == [("art000.txt", "indexed", None)]
    assert report.ok
    assert assert_consistent(settings) == (1, report.chunks_total)


def test_a_folder_and_a_file_inside_it_ingest_the_file_once(tmp_path: Path, embedder: Embedder) -> None:
    corpus = tmp_path / "corpus"
    paths = write_corpus(corpus, 3)
    settings = make_settings(tmp_path)
    # the file spelled through a detour resolves to the same path
    detour = corpus / ".." / "corpus" / paths[1].name
    report = _ingest([corpus, detour, paths[2]], settings, embedder)
    assert sorted(_rows(report)) == [(f"art00{i}.txt", "indexed", None) for i in range(3)]
    assert report.ok
    assert assert_consistent(settings)[0] == 3
    again = _ingest([paths[2], corpus], settings, embedder)
    assert sorted(_rows(again)) == [(f"art00{i}.txt", "unchanged", None) for i in range(3)]


def test_a_duplicate_id_in_a_jsonl_fails_only_its_second_line(tmp_path: Path, embedder: Embedder) -> None:
    corpus = _jsonl(
        tmp_path / "dup.jsonl",
        [{"id": "jl-1", "text": _body(1)}, {"id": "jl-2", "text": _body(2)},
         {"id": "jl-1", "text": _body(3)}, {"id": "jl-4", "text": _body(4)}],
    )  # fmt: skip
    settings = make_settings(tmp_path)
    report = _ingest([corpus], settings, embedder)
    assert _rows(report) == [
        ("dup.jsonl", "indexed", None),
        ("dup.jsonl", "failed", "dup.jsonl, line 3: duplicate id 'jl-1' (first on line 1)"),
    ]
    assert report.files[0].article_ids == ("jl-1", "jl-2", "jl-4")
    assert not report.ok  # exit code 1: a file had problems
    assert assert_consistent(settings)[0] == 3
    assert _article_text(settings, "jl-1") == _body(1)  # the first occurrence wins


def test_the_same_id_in_two_files_fails_the_second_naming_the_first(
    tmp_path: Path, embedder: Embedder
) -> None:
    a = _jsonl(tmp_path / "a.jsonl", [{"id": "x", "text": _body(1)}, {"id": "y", "text": _body(2)}])
    b = _jsonl(tmp_path / "b.jsonl", [{"id": "z", "text": _body(3)}, {"id": "x", "text": _body(4)}])
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    (tmp_path / "one" / "same.txt").write_text(article_text(5), encoding="utf-8")
    (tmp_path / "two" / "same.txt").write_text(article_text(6), encoding="utf-8")
    settings = make_settings(tmp_path)
    report = _ingest([a, b, tmp_path / "one", tmp_path / "two"], settings, embedder)
    rows = _rows(report)
    assert ("a.jsonl", "indexed", None) in rows and ("b.jsonl", "indexed", None) in rows
    assert ("b.jsonl", "failed", f"b.jsonl, line 2: article id 'x' already comes from {a}") in rows
    assert (
        "same.txt",
        "failed",
        f"article id 'same' already comes from {tmp_path / 'one' / 'same.txt'}",
    ) in rows
    assert sum(1 for r in rows if r[1] == "failed") == 2 and not report.ok
    assert assert_consistent(settings)[0] == 4  # x, y, z, same
    assert _article_text(settings, "x") == _body(1) and _article_text(settings, "same") is not None
    # a later run keeps the first owner, and reports the clash again
    again = _ingest([a, b, tmp_path / "one", tmp_path / "two"], settings, embedder)
    assert sum(1 for f in again.files if f.status == "failed") == 2 and again.texts_embedded == 0
    assert _article_text(settings, "x") == _body(1)


# --- item 3: one bad JSONL line ---------------------------------------------------------------


def _mixed_rows() -> list[dict[str, str] | str]:
    return [
        {"id": "m1", "text": _body(1)},
        {"id": "m2", "text": _body(2)},
        '{"id": "m3", "text": "broken',
        {"id": "m4", "text": _body(4)},
        {"id": "m5", "title": "no text"},
        {"id": "m6", "text": _body(6)},
    ]


def test_a_bad_jsonl_line_fails_alone_and_the_manifest_remembers_it(
    tmp_path: Path, embedder: Embedder
) -> None:
    path = _jsonl(tmp_path / "mixed.jsonl", _mixed_rows())
    settings = make_settings(tmp_path)
    first = _ingest([path], settings, embedder)
    rows = _rows(first)
    assert rows[0] == ("mixed.jsonl", "indexed", None)
    assert first.files[0].article_ids == ("m1", "m2", "m4", "m6")
    assert rows[1][:2] == ("mixed.jsonl", "failed")
    assert (rows[1][2] or "").startswith("mixed.jsonl, line 3: invalid JSON: ")
    assert rows[2] == ("mixed.jsonl", "failed", "mixed.jsonl, line 5: missing required field 'text'")
    assert len(rows) == 3 and not first.ok
    assert assert_consistent(settings) == (4, first.chunks_total)

    # unchanged: the same statuses, nothing read or embedded again
    again = _ingest([path], settings, embedder)
    assert again.texts_embedded == 0
    assert [(n, s, r) for n, s, r in _rows(again)] == [("mixed.jsonl", "unchanged", None), *rows[1:]]
    assert not again.ok

    # fixed: only the fixed lines are embedded; the file is clean
    fixed = _mixed_rows()
    fixed[2] = {"id": "m3", "text": _body(3)}
    fixed[4] = {"id": "m5", "title": "now with text", "text": _body(5)}
    _jsonl(path, fixed)
    done = _ingest([path], settings, embedder)
    assert _rows(done) == [("mixed.jsonl", "updated", None)] and done.ok
    storage = open_storage(settings)
    try:
        new_chunks = len(catalog_ids(storage, "m3")) + len(catalog_ids(storage, "m5"))
    finally:
        storage.close()
    assert done.texts_embedded == new_chunks > 0
    assert assert_consistent(settings)[0] == 6


def test_a_line_broken_after_indexing_keeps_its_indexed_article(tmp_path: Path, embedder: Embedder) -> None:
    rows: list[dict[str, str] | str] = [{"id": f"k{i}", "text": _body(i)} for i in range(3)]
    path = _jsonl(tmp_path / "k.jsonl", rows)
    settings = make_settings(tmp_path)
    _ingest([path], settings, embedder)
    rows[1] = '{"id": "k1", "text": '  # an editor broke the line: its article is not lost
    _jsonl(path, rows)
    report = _ingest([path], settings, embedder)
    assert [s for _, s, _ in _rows(report)] == ["updated", "failed"]
    assert _article_text(settings, "k1") == _body(1)
    assert assert_consistent(settings)[0] == 3
    del rows[1]  # the line is now removed on purpose: its article goes
    _jsonl(path, rows)
    assert _ingest([path], settings, embedder).ok
    assert _article_text(settings, "k1") is None and assert_consistent(settings)[0] == 2


N_BIG = 10_000


def test_a_10000_article_jsonl_is_not_lost_to_one_bad_line(tmp_path: Path, embedder: Embedder) -> None:
    lines = [json.dumps({"id": f"n{i}", "text": f"Item {i} about {word(i)}."}) for i in range(N_BIG)]
    lines.insert(5000, '{"id": "bad", "text": "unterminated}')
    path = tmp_path / "big.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    settings = make_settings(tmp_path)
    report = _ingest([path], settings, embedder)
    assert [(s, len(f.article_ids)) for f, s in ((f, f.status) for f in report.files)] == [
        ("indexed", N_BIG),
        ("failed", 0),
    ]
    assert (report.files[1].reason or "").startswith("big.jsonl, line 5001: invalid JSON")
    assert assert_consistent(settings) == (N_BIG, N_BIG)


# --- item 5: huge and unpunctuated articles ---------------------------------------------------


def test_articles_over_the_character_cap_or_without_sentences_are_skipped(
    tmp_path: Path, embedder: Embedder
) -> None:
    corpus = tmp_path / "corpus"
    write_corpus(corpus, 1)
    long_prose = article_text(7, sentences=80)  # ~7,000 characters of sentences
    (corpus / "long.txt").write_text(long_prose, encoding="utf-8")
    words = " ".join(f"word{i % 97}" for i in range(4_000))  # ~28,000 characters, no boundary
    (corpus / "dump.txt").write_text(words, encoding="utf-8")
    _jsonl(corpus / "mix.jsonl", [{"id": "short", "text": _body(8)}, {"id": "long", "text": long_prose}])
    settings = make_settings(tmp_path, max_article_chars=5_000)
    report = _ingest([corpus], settings, embedder)
    rows = {(n, s): r for n, s, r in _rows(report)}
    assert "over the 5,000-character limit" in (rows[("long.txt", "skipped")] or "")
    assert "RAG_MAX_ARTICLE_CHARS" in (rows[("long.txt", "skipped")] or "")
    assert "without a sentence boundary" in (rows[("dump.txt", "skipped")] or "")
    assert (rows[("mix.jsonl", "skipped")] or "").startswith("mix.jsonl, line 2: article is ")
    assert rows[("mix.jsonl", "indexed")] is None and rows[("art000.txt", "indexed")] is None
    assert report.ok, "skipping is not a failure"
    assert assert_consistent(settings)[0] == 2  # art000 and short
    bigger = make_settings(tmp_path, max_article_chars=50_000)
    more = _ingest([corpus], bigger, embedder)
    assert {(n, s) for n, s, _ in _rows(more)} >= {("long.txt", "indexed"), ("dump.txt", "skipped")}


# --- smaller defects ---------------------------------------------------------------------------


def test_hidden_files_and_folders_get_a_status(tmp_path: Path, embedder: Embedder) -> None:
    corpus = tmp_path / "corpus"
    write_corpus(corpus, 1)
    (corpus / ".draft.txt").write_text(article_text(1), encoding="utf-8")
    (corpus / ".git").mkdir()
    (corpus / ".git" / "notes.txt").write_text(article_text(2), encoding="utf-8")
    (corpus / "sub" / ".cache").mkdir(parents=True)
    settings = make_settings(tmp_path)
    report = _ingest([corpus], settings, embedder)
    got = {(Path(f.path).relative_to(corpus).as_posix(), f.status, f.reason) for f in report.files}
    assert got == {
        ("art000.txt", "indexed", None),
        (".draft.txt", "skipped", "hidden file"),
        (".git", "skipped", "hidden folder (not searched)"),
        ("sub/.cache", "skipped", "hidden folder (not searched)"),
    }
    # given by name, a hidden file is what the user asked for
    named = _ingest([corpus / ".draft.txt"], settings, embedder)
    assert [(f.status, f.article_ids) for f in named.files] == [("indexed", (".draft",))]


def test_the_file_size_limit_reads_its_env_var_and_speaks_mib(tmp_path: Path, embedder: Embedder) -> None:
    settings = Settings.from_env({"RAG_MAX_FILE_MB": "0.02", "RAG_DATA_DIR": str(tmp_path / "store")})
    assert settings.max_file_bytes == int(0.02 * 1024 * 1024)
    assert Settings.from_env({}).max_file_bytes == 20 * 1024 * 1024
    big = tmp_path / "big.txt"
    big.write_text(article_text(3, sentences=400), encoding="utf-8")
    (status,) = _ingest([big], settings, embedder).files
    size = big.stat().st_size / 1024 / 1024
    assert status == FileStatus(
        str(big),
        "skipped",
        f"file is {size:.3g} MiB, over the 0.02 MiB limit (RAG_MAX_FILE_MB or --max-file-mb raise it)",
    )
    # HTML pages have their own, lower limit (parsing costs ~60 MB of RAM per MiB)
    page = tmp_path / "page.html"
    page.write_text(
        "<html><body><article>" + "<p>The council met on Monday.</p>" * 2000 + "</article></body></html>"
    )
    html_limited = Settings.from_env({"RAG_MAX_HTML_MB": "0.05", "RAG_DATA_DIR": str(tmp_path / "store")})
    assert (html_limited.max_html_bytes, Settings.from_env({}).max_html_bytes) == (52428, 5 * 2**20)
    (status,) = _ingest([page], html_limited, embedder).files
    assert status.status == "skipped" and "MiB limit for HTML pages (RAG_MAX_HTML_MB" in (status.reason or "")
