"""Crash safety: `rag ingest` killed with SIGKILL at any point; the next ingest completes the store.

A real `rag ingest` subprocess is killed at several points: by time (during start-up) and on events
seen from outside (the first vectors written but not committed; the first batch committed, so
the second is being embedded; the BM25 index being saved). The next ingest must then leave every chunk stored exactly once, the same
chunks as a clean ingest of the same corpus, BM25 consistent with Chroma, and every article
findable; and it must only embed what the killed run had not committed.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from ingest_helpers import ROOT, VENV_BIN, assert_consistent, catalog_ids, make_settings, word, write_corpus

from index.ingest import DIRTY, EMBED_GROUP, ingest_paths
from rag.embedding import Embedder, load_embedder
from rag.pipeline import build_pipeline
from rag.settings import Settings
from rag.storage import open_storage

pytestmark = pytest.mark.slow

N_ARTICLES = 150
SENTENCES = 8
CHUNK_SIZE = 32  # about one sentence a chunk: > EMBED_GROUP chunks, so a run commits in two batches


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return load_embedder(Settings.from_env({}))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("crash") / "corpus"
    write_corpus(folder, N_ARTICLES, sentences=SENTENCES)
    return folder


@pytest.fixture(scope="module")
def reference(corpus: Path, tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> set[str]:
    """The chunk ids of a clean, uninterrupted ingest of the corpus."""
    settings = make_settings(tmp_path_factory.mktemp("reference"), chunk_size=CHUNK_SIZE)
    report = ingest_paths([corpus], settings, progress=False, embedder=embedder)
    assert report.ok and report.articles_total == N_ARTICLES
    assert report.chunks_total > EMBED_GROUP, "the corpus must need more than one batch"
    storage = open_storage(settings)
    try:
        return set(catalog_ids(storage))
    finally:
        storage.close()


def _catalog_chunks(data: Path) -> int:
    try:
        db = sqlite3.connect(f"file:{data / 'catalog.sqlite'}?mode=ro", uri=True, timeout=0.1)
        try:
            return int(db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0])
        finally:
            db.close()
    except sqlite3.Error:
        return 0


def _writing_first_batch(data: Path) -> bool:
    """The run marked itself dirty (its first vectors are being written) and committed nothing yet."""
    try:
        db = sqlite3.connect(f"file:{data / 'catalog.sqlite'}?mode=ro", uri=True, timeout=0.1)
        try:
            row = db.execute("SELECT value FROM meta WHERE key=?", (DIRTY,)).fetchone()
            chunks = int(db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0])
        finally:
            db.close()
    except sqlite3.Error:
        return False
    return bool(row and row[0] == "1" and chunks == 0)


def _bm25_saving(data: Path) -> bool:
    root = data / "bm25"
    try:
        return any(p.name.startswith(".tmp-") for p in root.iterdir())
    except OSError:
        return False


def _after(seconds: float) -> Callable[[Path, float], bool]:
    return lambda _data, elapsed: elapsed >= seconds


def _kill_when(corpus: Path, data: Path, when: Callable[[Path, float], bool]) -> float:
    """Run `rag ingest` and SIGKILL it as soon as `when(data_dir, elapsed)` holds; returns the time."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    proc = subprocess.Popen(
        [str(VENV_BIN / "rag"), "ingest", str(corpus), "--data-dir", str(data),
         "--chunk-size", str(CHUNK_SIZE), "--quiet"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=ROOT,
    )  # fmt: skip
    t0 = time.monotonic()
    try:
        while proc.poll() is None:
            elapsed = time.monotonic() - t0
            if when(data, elapsed):
                os.kill(proc.pid, signal.SIGKILL)
                break
            assert elapsed < 120, "the ingest neither finished nor reached the kill point"
            time.sleep(0.002)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL, (
        f"the run finished (rc {proc.returncode}) before the kill point"
    )
    return time.monotonic() - t0


KILL_POINTS: dict[str, Callable[[Path, float], bool]] = {
    "during start-up": _after(1.0),
    # Event-based, not timed: a faster machine must not finish before the kill.
    "between the first vectors and their catalog commit": lambda data, _t: _writing_first_batch(data),
    "while the second batch is embedded": lambda data, _t: _catalog_chunks(data) > 0,
    "while BM25 is saved": lambda data, _t: _bm25_saving(data),
}


@pytest.mark.parametrize("point", list(KILL_POINTS))
def test_a_killed_ingest_is_completed_by_the_next_one(
    point: str, corpus: Path, reference: set[str], tmp_path: Path, embedder: Embedder
) -> None:
    settings = make_settings(tmp_path, chunk_size=CHUNK_SIZE)
    _kill_when(corpus, settings.data_dir, KILL_POINTS[point])
    committed = _catalog_chunks(settings.data_dir)
    if point == "while the second batch is embedded":
        assert 0 < committed < len(reference)
    if point == "while BM25 is saved":
        assert committed == len(reference)

    report = ingest_paths([corpus], settings, progress=False, embedder=embedder)
    assert report.ok, [f for f in report.files if f.status == "failed"]
    # nothing a killed BM25 save leaves behind (a .tmp-* folder, a .CURRENT-* file) survives the rerun
    leftovers = [p.name for p in (settings.data_dir / "bm25").iterdir() if p.name.startswith(".")]
    assert leftovers == [], leftovers
    # only what the killed run had not committed is embedded again
    assert report.texts_embedded == len(reference) - committed
    assert assert_consistent(settings) == (N_ARTICLES, len(reference))
    storage = open_storage(settings)
    try:
        assert set(catalog_ids(storage)) == reference
    finally:
        storage.close()

    pipeline = build_pipeline(settings, embedder=embedder)
    try:
        for i in range(N_ARTICLES):
            hits = pipeline.retriever.retrieve(f"{word(i)} harbour council", k=5).hits
            assert f"art{i:03d}" in {h.chunk.article_id for h in hits}, (i, [h.chunk.id for h in hits])
    finally:
        pipeline.storage.close()
    again = ingest_paths([corpus], settings, progress=False, embedder=embedder)
    assert again.texts_embedded == 0 and again.count("unchanged") == N_ARTICLES


def test_what_a_killed_bm25_save_left_is_cleaned_by_the_next_run(tmp_path: Path, embedder: Embedder) -> None:
    """A SIGKILL inside LexicalIndex.save leaves a `.tmp-*` folder or a `.CURRENT-*` file (and after
    the CURRENT switch, the previous generation): the next run removes them even if it saves nothing."""
    corpus = tmp_path / "corpus"
    write_corpus(corpus, 3)
    settings = make_settings(tmp_path)
    assert ingest_paths([corpus], settings, progress=False, embedder=embedder).ok
    bm25 = settings.data_dir / "bm25"
    (bm25 / ".tmp-3-0123456789abcdef-4242").mkdir()
    (bm25 / ".tmp-3-0123456789abcdef-4242" / "params.index.json").write_text("{}")
    (bm25 / ".CURRENT-4242").write_text("3-0123456789abcdef")
    (bm25 / "2-fedcba9876543210").mkdir()
    again = ingest_paths([corpus], settings, progress=False, embedder=embedder)
    assert again.texts_embedded == 0 and again.count("unchanged") == 3
    current = (bm25 / "CURRENT").read_text().strip()
    assert sorted(p.name for p in bm25.iterdir()) == sorted(["CURRENT", current])
    assert_consistent(settings)


@pytest.fixture(scope="module")
def full_run_seconds(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> float:
    """How long an uninterrupted `rag ingest` subprocess of the corpus takes here."""
    data = tmp_path_factory.mktemp("timed") / "store"
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    t0 = time.monotonic()
    subprocess.run(
        [str(VENV_BIN / "rag"), "ingest", str(corpus), "--data-dir", str(data), "--chunk-size", str(CHUNK_SIZE),
         "--quiet"], env=env, cwd=ROOT, check=True, capture_output=True,
    )  # fmt: skip
    return time.monotonic() - t0


@pytest.mark.parametrize("seed", [1, 2])
def test_a_kill_at_a_random_time_is_completed_by_the_next_run(
    seed: int, corpus: Path, reference: set[str], full_run_seconds: float, tmp_path: Path, embedder: Embedder
) -> None:
    """The CI slice of bench/crash_kill.py (20 random points over 500 files): a kill at a seeded
    random time of the run, then a rerun; the store equals an uninterrupted one."""
    import random

    at = random.Random(seed).uniform(0.05, 0.95) * full_run_seconds
    settings = make_settings(tmp_path, chunk_size=CHUNK_SIZE)
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    proc = subprocess.Popen(
        [str(VENV_BIN / "rag"), "ingest", str(corpus), "--data-dir", str(settings.data_dir),
         "--chunk-size", str(CHUNK_SIZE), "--quiet"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=ROOT,
    )  # fmt: skip
    try:
        proc.wait(timeout=at)  # finished before the kill point on a fast day: still checked below
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    committed = _catalog_chunks(settings.data_dir)
    report = ingest_paths([corpus], settings, progress=False, embedder=embedder)
    assert report.ok and report.texts_embedded == len(reference) - committed
    assert assert_consistent(settings) == (N_ARTICLES, len(reference))
    storage = open_storage(settings)
    try:
        assert set(catalog_ids(storage)) == reference
    finally:
        storage.close()
    assert [p.name for p in (settings.data_dir / "bm25").iterdir() if p.name.startswith(".")] == []
