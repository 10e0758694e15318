"""Opening the vector store: embedded Chroma by default, a Chroma server when RAG_CHROMA_URL is set.

The collection records which embedding model built it; opening it with another model raises
ModelMismatchError instead of returning meaningless neighbours.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np

from rag.errors import ModelMismatchError, StoreError
from rag.settings import Settings
from rag.types import Chunk, Filters

# Chroma reads these at import; telemetry must be off before the first import.
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

UPSERT_BATCH = 2000


def date_key(d: date) -> int:
    """Dates as YYYYMMDD integers: Chroma's $gte/$lte compare numbers only."""
    return d.year * 10000 + d.month * 100 + d.day


class _ReadWriteLock:
    """Many dense queries at once, or one reopen, which waits for the queries in flight.

    Hand-written: the standard library has none, and this is all we need of one (writer
    preference, so a reopen is not starved by a stream of queries).
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._readers = 0
        self._writer = False

    @contextmanager
    def reading(self) -> Iterator[None]:
        with self._cond:
            while self._writer:
                self._cond.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                if self._readers == 0:
                    self._cond.notify_all()

    @contextmanager
    def writing(self) -> Iterator[None]:
        with self._cond:
            while self._writer:
                self._cond.wait()
            self._writer = True
            while self._readers:
                self._cond.wait()
        try:
            yield
        finally:
            with self._cond:
                self._writer = False
                self._cond.notify_all()


# Spellings of a store's path ("chroma/.", "chroma/./.", ...) held by reopened clients in this
# process; 0, the plain path, is shared with every other client (e.g. an ingest in this process).
_ALIASES: dict[str, set[int]] = {}
_ALIASES_LOCK = threading.Lock()


def _take_alias(data_dir: Path) -> int:
    """A spelling no live client of ours uses, so that Chroma builds a fresh System for it."""
    with _ALIASES_LOCK:
        used = _ALIASES.setdefault(str(data_dir), set())
        alias = next(n for n in range(1, len(used) + 2) if n not in used)
        used.add(alias)
        return alias


def _free_alias(data_dir: Path, alias: int) -> None:
    if alias:
        with _ALIASES_LOCK:
            _ALIASES.get(str(data_dir), set()).discard(alias)


class VectorStore:
    """The Chroma collection of chunk vectors, with the metadata that filters need."""

    def __init__(self, settings: Settings, create: bool = False, expected_dim: int | None = None) -> None:
        self.settings = settings
        self._rw = _ReadWriteLock()
        self._alias = 0  # which spelling of the path our client uses (see reopen)
        self.client, self.location = self._connect()
        self.collection = self._open(self.client, create, expected_dim)

    def _connect(self, alias: int = 0) -> tuple[Any, str]:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        settings = self.settings
        chroma_settings = ChromaSettings(anonymized_telemetry=False)
        try:
            if settings.chroma_url:
                url = urlparse(settings.chroma_url)
                client = chromadb.HttpClient(
                    host=url.hostname or "127.0.0.1",
                    port=url.port or (443 if url.scheme == "https" else 8000),
                    ssl=url.scheme == "https",
                    settings=chroma_settings,
                )
                return client, settings.chroma_url
            path = settings.data_dir / "chroma"
            path.mkdir(parents=True, exist_ok=True)
            # Chroma shares one System (and its loaded HNSW index) per path string; "chroma/." is
            # the same folder under another key, so a reopened client loads afresh beside the old.
            spelled = str(path) + "/." * alias
            return chromadb.PersistentClient(path=spelled, settings=chroma_settings), str(path)
        except Exception as exc:  # connection refused, bad path...
            raise StoreError(
                f"cannot open the Chroma store at {settings.chroma_url or settings.data_dir}: {exc}"
            ) from exc

    def reopen(self) -> None:
        """See what other processes wrote: an embedded client keeps the HNSW index it loaded.

        A new client is opened beside the old one (under another spelling of the path, so Chroma
        does not hand back its cached System) and warmed with one query, which loads the HNSW
        index from disk (~0.6 s at 10k chunks, docs/reliability.md); only then are queries switched
        to it, after the ones in flight on the old client have finished, and the old one closed.
        Questions meanwhile are answered from the old index: no stall. A Chroma server is always
        current: nothing to do.
        """
        if self.settings.chroma_url:
            return
        alias = _take_alias(self.settings.data_dir)
        try:
            client, _ = self._connect(alias)
            collection = self._open(client, False, None)
        except BaseException:
            _free_alias(self.settings.data_dir, alias)
            raise
        if collection.count():
            probe = np.zeros(int((collection.metadata or {}).get("dim") or 384), dtype=np.float32)
            probe[0] = 1.0
            collection.query(query_embeddings=[probe], n_results=1, include=[])
        with self._rw.writing():
            old, old_alias = self.client, self._alias
            self.client, self.collection, self._alias = client, collection, alias
        old.close()
        _free_alias(self.settings.data_dir, old_alias)

    def close(self) -> None:
        """Release the client (and, if it is the last one on this path, Chroma's System)."""
        close = getattr(self.client, "close", None)
        if close is not None and not self.settings.chroma_url:
            with self._rw.writing():
                close()
            _free_alias(self.settings.data_dir, self._alias)

    def _open(self, client: Any, create: bool, dim: int | None) -> Any:
        s = self.settings
        names = [c if isinstance(c, str) else c.name for c in client.list_collections()]
        if s.collection not in names:
            if not create:
                raise StoreError(
                    f"no index at {self.location} (collection {s.collection!r}). Run `rag ingest PATH` first."
                )
            meta = {"embed_model": s.embed_model, "embed_runtime": s.embed_runtime, "dim": dim or 0}
            return client.create_collection(
                s.collection,
                embedding_function=None,  # we always pass vectors: Chroma must never fetch its own model
                metadata=meta,
                configuration={
                    "hnsw": {
                        "space": "cosine",
                        "ef_construction": s.hnsw_construction_ef,
                        "ef_search": s.hnsw_search_ef,
                        "max_neighbors": s.hnsw_m,
                    }
                },
            )
        col = client.get_collection(s.collection, embedding_function=None)
        built_with = (col.metadata or {}).get("embed_model")
        if built_with and built_with != s.embed_model:
            raise ModelMismatchError(
                f"the index at {self.location} was built with embedding model {built_with!r}, "
                f"but {s.embed_model!r} is configured. Set RAG_EMBED_MODEL={built_with} to use it, "
                "or choose another --data-dir (or collection) to build a new index."
            )
        return col

    @property
    def built_with(self) -> dict[str, Any]:
        return dict(self.collection.metadata or {})

    def count(self) -> int:
        with self._rw.reading():
            return int(self.collection.count())

    def all_ids(self) -> set[str]:
        ids: set[str] = set()
        offset, page = 0, 10000
        with self._rw.reading():
            while True:
                got = self.collection.get(include=[], limit=page, offset=offset)["ids"]
                ids.update(got)
                if len(got) < page:
                    return ids
                offset += page

    def upsert(self, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        for i in range(0, len(chunks), UPSERT_BATCH):
            part = chunks[i : i + UPSERT_BATCH]
            self.collection.upsert(
                ids=[c.id for c in part],
                embeddings=vectors[i : i + UPSERT_BATCH].astype(np.float32),
                documents=[c.text for c in part],
                metadatas=[chunk_metadata(c) for c in part],
            )

    def delete(self, ids: Sequence[str]) -> None:
        for i in range(0, len(ids), UPSERT_BATCH):
            self.collection.delete(ids=list(ids[i : i + UPSERT_BATCH]))

    def delete_articles(self, article_ids: Sequence[str]) -> None:
        if article_ids:
            self.collection.delete(where={"article_id": {"$in": list(article_ids)}})

    def query(self, vector: np.ndarray, n: int, filters: Filters | None) -> list[tuple[str, float]]:
        """(chunk_id, cosine similarity), best first; fewer than `n` when the store (or the filter)
        holds fewer. No count() first: it scans the whole collection (16 ms at 100k chunks, issue
        14), and Chroma (1.x, embedded and server) returns what it has when asked for more."""
        if n <= 0:
            return []
        with self._rw.reading():
            res = self.collection.query(
                query_embeddings=[vector.astype(np.float32)],
                n_results=n,
                where=where_clause(filters),
                include=["distances"],
            )
        return [(cid, 1.0 - float(d)) for cid, d in zip(res["ids"][0], res["distances"][0], strict=True)]


def chunk_metadata(c: Chunk) -> dict[str, Any]:
    meta: dict[str, Any] = {"article_id": c.article_id, "n": c.n, "start": c.start, "end": c.end}
    if c.title:
        meta["title"] = c.title
    if c.source:
        meta["source"] = c.source
    if c.language:
        meta["language"] = c.language
    meta["has_date"] = c.published is not None
    meta["published"] = date_key(c.published) if c.published else 0
    return meta


def where_clause(f: Filters | None) -> dict[str, Any] | None:
    """Filters as a Chroma `where` (Chroma's own metadata filtering, applied inside the HNSW search)."""
    if f is None or f.empty:
        return None
    parts: list[dict[str, Any]] = []
    if f.since or f.until:
        rng: list[dict[str, Any]] = [{"has_date": True}]
        if f.since:
            rng.append({"published": {"$gte": date_key(f.since)}})
        if f.until:
            rng.append({"published": {"$lte": date_key(f.until)}})
        dated: dict[str, Any] = {"$and": rng}
        parts.append({"$or": [dated, {"has_date": False}]} if f.keep_undated else dated)
    if f.sources:
        parts.append({"source": {"$in": list(f.sources)}})
    if f.languages:
        parts.append({"language": {"$in": list(f.languages)}})
    if f.article_ids:
        parts.append({"article_id": {"$in": list(f.article_ids)}})
    return parts[0] if len(parts) == 1 else {"$and": parts}
