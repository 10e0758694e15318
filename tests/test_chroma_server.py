"""The same ingest and query code against a Chroma server (`chroma run` on loopback)."""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from ingest_helpers import (
    VENV_BIN,
    article_text,
    assert_consistent,
    chroma_ids,
    make_settings,
    word,
    write_corpus,
)

from index.ingest import ingest_paths
from rag.embedding import Embedder, load_embedder
from rag.errors import ModelMismatchError
from rag.pipeline import build_pipeline
from rag.settings import Settings
from rag.storage import open_storage
from rag.types import Filters

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def chroma_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    path = tmp_path_factory.mktemp("chroma-server")
    port = _free_port()
    log = (path / "server.log").open("w")
    proc = subprocess.Popen(
        [
            str(VENV_BIN / "chroma"),
            "run",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--path",
            str(path / "db"),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, (path / "server.log").read_text()
            try:
                with urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, "chroma server did not answer its heartbeat in 60 s"
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return load_embedder(Settings.from_env({}))


def test_ingest_reingest_update_and_query_through_a_chroma_server(
    tmp_path: Path, chroma_url: str, embedder: Embedder
) -> None:
    corpus = tmp_path / "corpus"
    paths = write_corpus(corpus, 3, sentences=25)
    settings = make_settings(tmp_path, chroma_url=chroma_url, collection="server_test")

    first = ingest_paths([corpus], settings, progress=False, embedder=embedder)
    assert [f.status for f in first.files] == ["indexed"] * 3 and first.texts_embedded == first.chunks_total
    storage = open_storage(settings)
    try:
        from chromadb.api.fastapi import FastAPI  # what chromadb.HttpClient talks through

        assert isinstance(storage.vectors.client._server, FastAPI), type(storage.vectors.client._server)
        assert storage.vectors.location == chroma_url
        assert not (settings.data_dir / "chroma").exists(), "no embedded store beside a server"
        assert storage.vectors.collection.configuration["hnsw"]["max_neighbors"] == settings.hnsw_m
        assert storage.vectors.collection.configuration["hnsw"]["ef_search"] == settings.hnsw_search_ef
    finally:
        storage.close()
    assert assert_consistent(settings)[1] == first.chunks_total

    before = embedder.texts_embedded
    again = ingest_paths([corpus], settings, progress=False, embedder=embedder)
    assert again.texts_embedded == 0 and embedder.texts_embedded == before
    assert [f.status for f in again.files] == ["unchanged"] * 3

    old_n = next(f.chunks for f in first.files if f.article_ids == ("art001",))
    paths[1].write_text(article_text(1, sentences=4), encoding="utf-8")
    changed = ingest_paths([corpus], settings, progress=False, embedder=embedder)
    new_n = next(f.chunks for f in changed.files if f.article_ids == ("art001",))
    assert changed.texts_embedded == new_n < old_n
    storage = open_storage(settings)
    try:
        assert sorted(chroma_ids(storage, "art001")) == sorted(f"art001:{n}" for n in range(new_n))
    finally:
        storage.close()
    assert assert_consistent(settings)[1] == changed.chunks_total == first.chunks_total - old_n + new_n

    pipeline = build_pipeline(settings, embedder=embedder)
    try:
        for i in range(3):
            hits = pipeline.retriever.retrieve(f"harbour council of {word(i)} berths", k=3).hits
            assert hits and hits[0].chunk.article_id == f"art{i:03d}", [h.chunk.id for h in hits]
            assert hits[0].dense is not None, "the dense side answered through the server"
    finally:
        pipeline.storage.close()


def test_a_server_collection_built_with_another_model_is_refused(
    tmp_path: Path, chroma_url: str, embedder: Embedder
) -> None:
    corpus = tmp_path / "corpus"
    write_corpus(corpus, 1)
    settings = make_settings(tmp_path / "a", chroma_url=chroma_url, collection="model_test")
    ingest_paths([corpus], settings, progress=False, embedder=embedder)
    # another data directory (fresh catalog) pointing at the same server collection, another model
    other = make_settings(
        tmp_path / "b", chroma_url=chroma_url, collection="model_test", embed_model="other/model"
    )
    with pytest.raises(ModelMismatchError) as err:
        ingest_paths([corpus], other, progress=False, embedder=embedder)
    assert "other/model" in str(err.value) and settings.embed_model in str(err.value)


def test_a_server_query_for_more_neighbours_than_stored_returns_what_there_is(
    tmp_path: Path, chroma_url: str, embedder: Embedder
) -> None:
    """No count() before a query (issue 14): the server answers n_results beyond the collection
    or the filter with what it holds."""
    corpus = tmp_path / "corpus"
    write_corpus(corpus, 2, sentences=12)
    settings = make_settings(tmp_path, chroma_url=chroma_url, collection="few_test")
    report = ingest_paths([corpus], settings, progress=False, embedder=embedder)
    pipeline = build_pipeline(settings, embedder=embedder)
    try:
        vectors = pipeline.storage.vectors
        q = embedder.embed_query(f"harbour council of {word(0)}")
        got = vectors.query(q, 1000, None)
        assert len({cid for cid, _ in got}) == len(got) == report.chunks_total < 1000
        one = vectors.query(q, 1000, Filters(article_ids=("art000",)))
        assert one and all(cid.startswith("art000:") for cid, _ in one)
        assert sorted(cid for cid, _ in one) == sorted(chroma_ids(pipeline.storage, "art000"))
        hits = pipeline.retriever.retrieve(f"harbour council of {word(1)} berths", k=50).hits
        assert hits and hits[0].chunk.article_id == "art001"
    finally:
        pipeline.close()
