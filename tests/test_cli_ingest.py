"""`rag ingest` and `rag stats` as users run them: real subprocesses, real model, real store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from ingest_helpers import ROOT, VENV_BIN, article_text, assert_consistent, make_settings, write_corpus

pytestmark = pytest.mark.slow  # every test starts `rag` (imports and model load: a few seconds)

SEED = ROOT / "data" / "corpus"


def rag(*args: str | Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    return subprocess.run(
        [str(VENV_BIN / "rag"), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=ROOT,
    )


def _table(stdout: str) -> dict[str, tuple[str, str]]:
    """file name -> (status, rest of line) from the ingest summary table."""
    rows = {}
    for line in stdout.splitlines()[1:]:
        parts = line.split()
        if len(parts) >= 2 and parts[0] in (
            "indexed",
            "updated",
            "unchanged",
            "removed",
            "skipped",
            "failed",
        ):
            path = next(p for p in parts if "/" in p)
            rows[Path(path).name] = (parts[0], line)
    return rows


def test_ingest_seed_corpus_twice_then_stats(tmp_path: Path) -> None:
    data = tmp_path / "store"
    first = rag("ingest", SEED, "--data-dir", data)
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines()[0].split() == ["status", "chunks", "file"]
    rows = _table(first.stdout)
    assert sorted(rows) == sorted(p.name for p in SEED.iterdir())
    assert all(status == "indexed" for status, _ in rows.values())
    assert "3 indexed" in first.stdout and "index: 3 articles" in first.stdout
    assert "embedding" in first.stderr and "file/s" in first.stderr and "chunks=" in first.stderr, (
        "tqdm bar while embedding"
    )
    assert "DEBUG" not in first.stderr

    second = rag("ingest", SEED, "--data-dir", data)
    assert second.returncode == 0, second.stderr
    assert [s for s, _ in _table(second.stdout).values()] == ["unchanged"] * 3
    assert "3 unchanged" in second.stdout and "0 chunks embedded" in second.stdout
    assert "embedding" not in second.stderr

    text = rag("stats", "--data-dir", data)
    js = rag("stats", "--data-dir", data, "--json")
    assert text.returncode == js.returncode == 0, (text.stderr, js.stderr)
    stats = json.loads(js.stdout)
    settings = make_settings(tmp_path)
    articles, chunks = assert_consistent(settings)
    assert (
        (stats["articles"], stats["chunks"], stats["vectors"])
        == (articles, chunks, chunks)
        == (3, chunks, chunks)
    )
    assert stats["outlets"] == ["BNN Newsroom", "DW News"]
    assert stats["date_range"] == ["2023-12-31", "2025-11-11"]
    assert stats["embed_model"] == settings.embed_model
    assert stats["generation"] == "1", "the unchanged re-ingest published no new generation"
    assert stats["store"] == str(data / "chroma") and stats["data_dir"] == str(data)
    disk = sum(p.stat().st_size for p in data.rglob("*") if p.is_file())
    assert stats["size_mb"] > 0 and abs(stats["size_mb"] - disk / 1e6) < 0.5
    for needle in ("articles", "chunks", "BNN Newsroom, DW News", "2023-12-31", "2025-11-11",
                   settings.embed_model, str(data / "chroma"), "size mb"):  # fmt: skip
        assert needle in text.stdout, needle


def test_bad_files_exit_1_with_a_summary_and_quiet_has_no_bar(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    write_corpus(corpus, 2)
    (corpus / "binary.txt").write_bytes(b"\x00\xff" * 100)
    (corpus / "empty.txt").write_bytes(b"")
    (corpus / "big.txt").write_text(article_text(9, sentences=300), encoding="utf-8")
    data = tmp_path / "store"
    out = rag("ingest", corpus, "--data-dir", data, "--max-file-mb", "0.02", "--quiet")
    assert out.returncode == 1, (out.stdout, out.stderr)
    rows = _table(out.stdout)
    assert rows["binary.txt"][0] == "failed" and "binary" in rows["binary.txt"][1]
    assert rows["empty.txt"][0] == "skipped" and "empty" in rows["empty.txt"][1]
    assert rows["big.txt"][0] == "skipped" and "limit" in rows["big.txt"][1]
    assert rows["art000.txt"][0] == rows["art001.txt"][0] == "indexed"
    assert "2 indexed, 2 skipped, 1 failed" in out.stdout
    assert "embedding" not in out.stderr, "--quiet shows no progress bar"
    assert assert_consistent(make_settings(tmp_path))[0] == 2

    (corpus / "binary.txt").unlink()
    fixed = rag("ingest", corpus, "--data-dir", data, "--max-file-mb", "1", "--quiet")
    assert fixed.returncode == 0, fixed.stderr
    assert _table(fixed.stdout)["big.txt"][0] == "indexed"


HOLD_LOCK = """
import sys, time
from pathlib import Path
from rag.lock import WriterLock
with WriterLock(Path(sys.argv[1])):
    print("locked", flush=True)
    time.sleep(120)
"""


def test_second_writer_exits_at_once_with_a_clear_message(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    write_corpus(corpus, 1)
    data = tmp_path / "store"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(data)], stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        t0 = time.monotonic()
        out = rag("ingest", corpus, "--data-dir", data, timeout=60)
        elapsed = time.monotonic() - t0
        assert out.returncode == 2, (out.stdout, out.stderr)
        assert (
            f"another process (pid {holder.pid}: " in out.stderr
            and f"is writing to {data} since " in out.stderr
        )
        assert "Nothing was changed" in out.stderr and "Wait for that ingest to finish" in out.stderr
        assert "rag ingest: error:" in out.stderr and "Traceback" not in out.stderr
        assert elapsed < 20, f"the second writer waited {elapsed:.1f} s"  # the holder sleeps 120 s
        assert holder.poll() is None
        assert not (data / "catalog.sqlite").exists(), "the refused writer touched nothing"
    finally:
        holder.kill()
        holder.wait()
    # the OS drops the lock of a killed holder: the next ingest goes through
    again = rag("ingest", corpus, "--data-dir", data, "--quiet")
    assert again.returncode == 0, again.stderr
    assert "1 indexed" in again.stdout


REFUSED = """
import sys, time
from rag.cli import main
t0 = time.perf_counter()
rc = main(sys.argv[1:])
heavy = [m for m in ("index.ingest", "chromadb", "numpy", "torch", "onnxruntime") if m in sys.modules]
print(rc, round(time.perf_counter() - t0, 3), ",".join(heavy) or "-")
"""


def test_a_refused_writer_loads_nothing_heavy_and_leaves_the_store_unchanged(tmp_path: Path) -> None:
    """The lock is tried before the imports, the model and Chroma (which took the refusal to 1.4-1.8 s
    while the holder kept the CPU busy). Timings are printed by bench/lock_refusal.py, not asserted."""
    corpus = tmp_path / "corpus"
    write_corpus(corpus, 2)
    data = tmp_path / "store"
    assert rag("ingest", corpus / "art000.txt", "--data-dir", data, "--quiet").returncode == 0
    before = {p: p.stat().st_mtime_ns for p in data.rglob("*") if p.is_file() and p.name != ".write.lock"}
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(data)], stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        out = subprocess.run(
            [sys.executable, "-c", REFUSED, "ingest", str(corpus), "--data-dir", str(data)],
            capture_output=True, text=True, timeout=60, cwd=ROOT,
            env={k: v for k, v in os.environ.items() if not k.startswith("RAG_")},
        )  # fmt: skip
        rc, _seconds, heavy = out.stdout.split()
        assert rc == "2" and heavy == "-", (out.stdout, out.stderr)
        assert f"pid {holder.pid}" in out.stderr and "Traceback" not in out.stderr
    finally:
        holder.kill()
        holder.wait()
    after = {p: p.stat().st_mtime_ns for p in data.rglob("*") if p.is_file() and p.name != ".write.lock"}
    assert after == before, "the refused writer changed the store"


def test_duplicate_paths_and_bad_jsonl_lines_from_the_command_line(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    paths = write_corpus(corpus, 2)
    (corpus / "mixed.jsonl").write_text(
        '{"id": "jl-1", "text": "The ferry to Izium resumed on Monday."}\n'
        '{"id": "jl-2", "text": "Bread deliveries doubled in March."}\n'
        '{"id": "jl-1", "text": "A second line with the first id."}\n'
        '{"id": "jl-4", "text": \n',
        encoding="utf-8",
    )
    data = tmp_path / "store"
    out = rag("ingest", corpus, paths[0], corpus / "mixed.jsonl", paths[0], "--data-dir", data, "--quiet")
    assert out.returncode == 1, (out.stdout, out.stderr)
    assert "Traceback" not in out.stderr
    lines = [line for line in out.stdout.splitlines() if "mixed.jsonl" in line]
    assert lines[0].split()[:2] == ["indexed", "2"] or lines[0].split()[0] == "indexed"
    assert "mixed.jsonl, line 3: duplicate id 'jl-1' (first on line 1)" in lines[1]
    assert "mixed.jsonl, line 4: invalid JSON" in lines[2]
    assert sum("art000.txt" in line for line in out.stdout.splitlines()) == 1
    assert "3 indexed, 2 failed" in out.stdout
    assert assert_consistent(make_settings(tmp_path))[0] == 4
