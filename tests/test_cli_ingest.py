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
        assert f"another process (pid {holder.pid}) is writing to {data}" in out.stderr
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
