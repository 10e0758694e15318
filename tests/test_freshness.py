"""Readers see what another process ingested (issue 13, item 6): a running `rag serve` answers from
freshly ingested articles within seconds, through the dense retriever too, with no restart; and a
reader switches generations only when a writer has published one (no BM25 rebuilds mid-ingest).

Real processes: `rag serve` and `rag ingest` are subprocesses on a real store, the question goes
through the app's /chat API over loopback HTTP.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from bs4 import BeautifulSoup
from ingest_helpers import ROOT, make_settings, word, write_corpus

from index.ingest import EMBED_GROUP, ingest_paths
from rag.embedding import Embedder, load_embedder
from rag.settings import Settings
from rag.storage import open_storage

pytestmark = pytest.mark.slow

VISIBLE_WITHIN_S = 5.0  # after `rag ingest` exits


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return load_embedder(Settings.from_env({}))


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env["PYTHONPATH"] = str(ROOT)
    return env


def _rag(*args: str | Path) -> list[str]:
    return [sys.executable, "-m", "rag.cli", *map(str, args)]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def served(tmp_path: Path, embedder: Embedder) -> Iterator[tuple[Settings, str]]:
    """A store of 10 articles, served by a real `rag serve` process."""
    settings = make_settings(tmp_path)
    write_corpus(tmp_path / "old", 10)
    assert ingest_paths([tmp_path / "old"], settings, progress=False, embedder=embedder).ok
    port = _free_port()
    proc = subprocess.Popen(
        _rag("serve", "--data-dir", settings.data_dir, "--port", str(port)),
        cwd=ROOT, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        t0 = time.monotonic()
        while True:
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else "rag serve exited"
            assert time.monotonic() - t0 < 120, "rag serve did not come up within 120 s"
            try:
                if httpx.get(url + "/", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        yield settings, url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _ask(client: Any, question: str) -> list[tuple[str, int | None, int | None]]:
    """The trace's hits of an answer from /chat: (chunk id, dense rank, BM25 rank), in rank order."""
    result = client.predict(question, "", "", [], 5, "extractive", "", api_name="/chat")
    soup = BeautifulSoup(result[3], "html.parser")
    hits = []
    for row in soup.select("table.hits tbody tr"):
        cells = row.find_all("td")
        code = row.find("code")
        if code is None or len(cells) < 6:
            continue

        def rank(cell: Any) -> int | None:
            m = re.search(r"#(\d+)", cell.get_text())
            return int(m.group(1)) if m else None

        hits.append((code.get_text(), rank(cells[4]), rank(cells[5])))
    return hits


def test_a_running_server_answers_from_articles_another_process_ingested(
    served: tuple[Settings, str], tmp_path: Path
) -> None:
    from gradio_client import Client

    settings, url = served
    client = Client(url + "/", verbose=False, analytics_enabled=False, download_files=False)
    new = range(100, 104)
    write_corpus(tmp_path / "new", len(new), start=new[0])
    questions = {
        i: f"What did the harbour council of {word(i)} approve in the {word(i)} report?" for i in new
    }
    before = _ask(client, questions[new[0]])
    assert not any(cid.startswith(f"art{new[0]}:") for cid, _, _ in before)

    done = subprocess.run(
        _rag("ingest", tmp_path / "new", "--data-dir", settings.data_dir, "--quiet"),
        cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    ended = time.monotonic()
    waited: dict[int, float] = {}
    for i in new:
        while True:
            hits = _ask(client, questions[i])
            top = hits[0] if hits else ("", None, None)
            if top[0].startswith(f"art{i}:") and top[1] is not None:
                waited[i] = time.monotonic() - ended
                break
            assert time.monotonic() - ended < VISIBLE_WITHIN_S, (
                f"art{i} not answered by both retrievers {VISIBLE_WITHIN_S} s after the ingest: {hits}"
            )
            time.sleep(0.1)
    # the dense retriever ranks the new article's chunk among its best, not just BM25
    for i in new:
        hits = _ask(client, questions[i])
        ranks = [d for cid, d, _ in hits if cid.startswith(f"art{i}:")]
        assert ranks and min(r for r in ranks if r is not None) <= 3, (i, hits)
    print(f"\n[freshness] new articles answered {max(waited.values()):.2f} s after `rag ingest` exited")


def test_a_reader_switches_only_to_published_generations(tmp_path: Path, embedder: Embedder) -> None:
    """While a writer commits group after group, a reader keeps one consistent generation (its
    Chroma and its BM25 as they were published) and rebuilds nothing; when the writer publishes,
    the reader loads the saved BM25 and reopens Chroma."""
    settings = make_settings(tmp_path, chunk_size=32)
    write_corpus(tmp_path / "old", 5, sentences=8)
    assert ingest_paths([tmp_path / "old"], settings, progress=False, embedder=embedder).ok
    reader = open_storage(settings)
    try:
        generation = reader.generation
        assert generation is not None
        lexical = reader.lexical
        old_ids = set(lexical.ids)
        assert reader.vectors.count() == len(old_ids)

        write_corpus(tmp_path / "new", 150, sentences=8, start=100)  # > EMBED_GROUP chunks: 2+ commits
        proc = subprocess.Popen(
            _rag("ingest", tmp_path / "new", "--data-dir", settings.data_dir, "--chunk-size", "32", "--quiet"),
            cwd=ROOT, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        committed_seen = 0
        switched_at: int | None = None  # catalog chunks when the reader moved to the next generation
        while proc.poll() is None and switched_at is None:
            committed = reader.catalog.counts()[1]
            lex = reader.lexical
            if reader.generation != generation:
                switched_at = committed  # published: the writer's last commit came before
                break
            committed_seen = max(committed_seen, committed - len(old_ids))
            assert lex is lexical, "the reader rebuilt or reloaded BM25 mid-ingest"
            assert set(lex.ids) == old_ids
            time.sleep(0.05)
        assert proc.wait(timeout=300) == 0, proc.stderr.read().decode() if proc.stderr else ""
        assert committed_seen >= EMBED_GROUP, "the reader was not polled between the writer's commits"
        assert switched_at in (None, reader.catalog.counts()[1]), "switched before the run was complete"

        deadline = time.monotonic() + VISIBLE_WITHIN_S
        while reader.generation == generation:  # loaded in the background, then switched
            assert time.monotonic() < deadline, "the reader did not move to the published generation"
            _ = reader.vectors
            time.sleep(0.1)
        now = reader.lexical
        assert now is not lexical
        chunks = reader.catalog.counts()[1]
        assert len(now.ids) == reader.vectors.count() == chunks > len(old_ids)
        assert now.fingerprint == reader.lexical_fingerprint()
    finally:
        reader.close()
