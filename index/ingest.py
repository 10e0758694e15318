"""Incremental, idempotent, crash-safe ingestion: files -> articles -> chunks -> vectors.

Usage:
    report = ingest_paths([Path("data/corpus")], Settings.from_env())

Per run: scan (hash every file; unchanged files cost nothing), read and chunk what changed,
embed in large length-sorted batches, then for each batch upsert the vectors into Chroma and
commit the catalog in one SQLite transaction. Chunk ids are deterministic, so a run killed at
any point is completed by the next one with every chunk stored exactly once; the manifest only
records a file after its chunks are stored. BM25 is rebuilt from the catalog at the end.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from index.chunking import chunk_article, embedding_text, make_splitter, sentence_spans_in
from index.discover import Candidate, discover
from index.readers import read_path
from rag.catalog import ChunkRecord, FileEntry
from rag.embedding import Embedder, ingest_runtime, load_embedder
from rag.errors import ReadError, SkipFile
from rag.lock import WriterLock
from rag.settings import Settings
from rag.storage import Storage, check_model, open_storage, store_exists
from rag.types import Article, Chunk, FileStatus, IngestReport

EMBED_GROUP = 1024  # texts per embedding call: large enough for length sorting to pay off
CHUNKER = "sentences-v5"  # bump when chunk boundaries change, so stores built before are re-chunked


@dataclass
class _Pending:
    """A changed file whose articles wait to be embedded and stored."""

    path: str
    status: str  # "indexed" or "updated"
    content_hash: str
    articles: list[Article]
    chunks: dict[str, list[Chunk]] = field(default_factory=dict)
    reused: set[str] = field(default_factory=set)  # articles whose text did not change


def ingest_paths(
    paths: Sequence[Path],
    settings: Settings,
    prune: bool = False,
    progress: bool = True,
    embedder: Embedder | None = None,
) -> IngestReport:
    """Ingest files and directories into the store of `settings.data_dir`."""
    t0 = time.perf_counter()
    with WriterLock(settings.data_dir):
        check_model(settings)  # before loading the model: a mismatch is the error to report
        loader = _ModelLoader(settings, embedder)
        candidates, roots = discover(paths, settings.max_file_bytes)
        if not store_exists(settings):
            # A new store: every file is new, so the model can load while Chroma opens (~3 s of
            # a 2,000-article ingest).
            loader.start(sum(c.size for c in candidates if c.problem is None))
        storage = open_storage(settings, create=True, dim=embedder.dim if embedder else None)
        try:
            statuses, embedded = _run(candidates, roots, settings, storage, loader, prune, progress)
            articles, chunks = storage.catalog.counts()
            used = loader.get() if loader.started else None
            return IngestReport(
                files=tuple(statuses),
                texts_embedded=embedded,  # counted here: a cached embedder may serve others too
                embed_runtime=used.runtime if used else None,
                seconds=time.perf_counter() - t0,
                chunks_total=chunks,
                articles_total=articles,
            )
        finally:
            storage.close()


class _ModelLoader:
    """Loads the embedder in a background thread from the first changed file on.

    The model loads only when something changed, so an unchanged re-ingest never pays for it; when
    it does load (3.5-5 s for torch-bf16), it overlaps with reading the remaining files.
    """

    def __init__(self, settings: Settings, embedder: Embedder | None) -> None:
        self._settings = settings
        self._future: Future[Embedder] | None = None
        if embedder is not None:
            self._future = Future()
            self._future.set_result(embedder)

    @property
    def started(self) -> bool:
        return self._future is not None

    def start(self, workload_bytes: int) -> None:
        """Start loading the model that suits `workload_bytes` of changed files (once)."""
        if self._future is None:
            pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="model-load")
            runtime = ingest_runtime(self._settings, workload_bytes)
            self._future = pool.submit(load_embedder, self._settings, runtime)
            pool.shutdown(wait=False)

    def get(self) -> Embedder:
        assert self._future is not None, "start() comes first"
        return self._future.result()  # re-raises a load error (e.g. a missing model) here


def _run(
    candidates: list[Candidate],
    roots: list[Path],
    settings: Settings,
    storage: Storage,
    loader: _ModelLoader,
    prune: bool,
    progress: bool,
) -> tuple[list[FileStatus], int]:
    catalog = storage.catalog
    _reconcile(storage)
    chunking = f"{CHUNKER}/{settings.chunk_size}/{settings.chunk_overlap}/{int(settings.embed_context)}"
    rechunk = catalog.get_meta("chunking") not in (None, chunking)
    manifest = catalog.files()
    statuses: list[FileStatus] = []
    embedded = 0
    pending: list[_Pending] = []
    seen: set[str] = set()
    claimed: dict[str, str] = {}  # article id -> file that provides it in this run
    for entry in manifest.values():
        for aid in entry.article_ids:
            claimed.setdefault(aid, entry.path)

    workload = sum(
        c.size
        for c in candidates
        if c.problem is None
        and (rechunk or c.key not in manifest or manifest[c.key].content_hash != c.content_hash)
    )
    for cand in tqdm(candidates, desc="scanning", unit="file", disable=not progress or len(candidates) < 50):
        seen.add(cand.key)
        if cand.problem is not None:
            statuses.append(FileStatus(cand.key, cand.problem[0], cand.problem[1]))
            continue
        old = manifest.get(cand.key)
        if old is not None and old.content_hash == cand.content_hash and not rechunk:
            statuses.append(FileStatus(cand.key, "unchanged", None, old.article_ids, old.chunks))
            continue
        try:
            articles = read_path(cand.path, root=cand.root)
        except SkipFile as exc:
            statuses.append(FileStatus(cand.key, "skipped", str(exc)))
            continue
        except (ReadError, OSError, UnicodeError, ValueError) as exc:
            statuses.append(FileStatus(cand.key, "failed", str(exc)))
            continue
        clash = [a.id for a in articles if claimed.get(a.id, cand.key) != cand.key]
        if clash:
            statuses.append(
                FileStatus(
                    cand.key, "failed", f"article id {clash[0]!r} already comes from {claimed[clash[0]]}"
                )
            )
            continue
        for a in articles:
            claimed[a.id] = cand.key
        loader.start(workload)
        pending.append(_Pending(cand.key, "updated" if old else "indexed", cand.content_hash, articles))

    if pending:
        embedder = loader.get()
        for p in pending:  # reuse check in this thread: the catalog connection is not shared
            for a in p.articles:
                stored = catalog.article(a.id)
                if (
                    stored is not None
                    and stored.content_hash == a.content_hash
                    and stored.text == a.text
                    and not rechunk
                ):
                    p.reused.add(a.id)
        embedded = _embed_and_store(pending, storage, embedder, settings, progress)
    for p in pending:
        n = sum(len(c) for c in p.chunks.values()) + sum(_chunk_count(storage, a) for a in p.reused)
        statuses.append(FileStatus(p.path, p.status, None, tuple(a.id for a in p.articles), n))  # type: ignore[arg-type]

    for key, entry in manifest.items():
        if key in seen or not any(_under(key, r) for r in roots):
            continue
        if prune:
            _remove_file(storage, entry)
            statuses.append(
                FileStatus(key, "removed", "no longer in the corpus (--prune)", entry.article_ids)
            )
    catalog.set_meta("chunking", chunking)
    if pending or prune or storage.lexical is None:
        storage.rebuild_lexical()
    else:
        _ = storage.lexical  # rebuilds only if inconsistent (e.g. after a crash)
    catalog.set_meta(DIRTY, "0")  # the run completed: the next one may skip the full reconcile
    return statuses, embedded


def _embed_and_store(
    pending: list[_Pending], storage: Storage, embedder: Embedder, settings: Settings, progress: bool
) -> int:
    """Chunk in a background thread while the model embeds the previous group; returns texts embedded.

    The model releases the GIL while it runs, so chunking overlaps with inference instead of
    preceding it. It must stay cheap (~5 s of CPU for 2,000 articles, tokens counted in batches):
    torch-bf16 keeps both cores busy, and a costlier chunker slowed every batch it overlapped. Groups are still embedded and
    written one after another, in file order: crash safety is unchanged.
    """
    splitter = make_splitter(
        settings.chunk_size,
        settings.chunk_overlap,
        embedder.token_counter(),
        embedder.count_tokens_many,
        additive=embedder.tokens_split_at_whitespace,
    )

    def chunk(p: _Pending) -> _Pending:
        for a in p.articles:
            if a.id not in p.reused:
                p.chunks[a.id] = chunk_article(a, splitter)
        return p

    bar = tqdm(total=len(pending), desc="embedding", unit="file", disable=not progress)
    group: list[_Pending] = []
    size = done = 0
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="chunking") as pool:
        for p in pool.map(chunk, pending):
            group.append(p)
            size += sum(len(c) for c in p.chunks.values())
            if size >= EMBED_GROUP:
                _store_group(group, storage, embedder, settings)
                done += size
                bar.set_postfix(chunks=done, refresh=False)
                bar.update(len(group))
                group, size = [], 0
    if group:
        _store_group(group, storage, embedder, settings)
        bar.set_postfix(chunks=done + size, refresh=False)
        bar.update(len(group))
    bar.close()
    return done + size


def _store_group(group: list[_Pending], storage: Storage, embedder: Embedder, settings: Settings) -> None:
    chunks = [c for p in group for cs in p.chunks.values() for c in cs]
    texts, spans = [], []
    for c in chunks:
        text, offset = embedding_text(c, settings.embed_context)
        texts.append(text)
        spans.append(sentence_spans_in(c, offset))
    if chunks:
        vecs, sent_vecs = embedder.embed_with_spans(texts, spans)
    else:
        vecs, sent_vecs = np.zeros((0, embedder.dim), dtype=np.float32), []
    records = {c.id: ChunkRecord(c, vecs[i], sent_vecs[i]) for i, c in enumerate(chunks)}

    catalog = storage.catalog
    old_ids = {a.id: _stored_chunk_ids(storage, a.id) for p in group for a in p.articles}
    stale: list[str] = []
    gone_articles: list[str] = []
    manifest = catalog.files()  # once per group, not once per file
    for p in group:
        prev = manifest.get(p.path)
        now = {a.id for a in p.articles}
        if prev:
            gone_articles.extend(a for a in prev.article_ids if a not in now)
        for aid, cs in p.chunks.items():
            new = {c.id for c in cs}
            stale.extend(i for i in old_ids[aid] if i not in new)
    _mark_dirty(storage)
    # New vectors first, then the catalog, then the deletions: the catalog never names a vector that
    # is gone, so a crash at any point leaves only orphan vectors, which the next run deletes.
    storage.vectors.upsert(chunks, vecs)
    with catalog.transaction():
        for aid in gone_articles:
            catalog.delete_article(aid)
        for p in group:
            for a in p.articles:
                if a.id in p.reused:
                    continue
                catalog.put_article(a, p.path, [records[c.id] for c in p.chunks[a.id]])
            n = sum(len(c) for c in p.chunks.values()) + sum(_chunk_count(storage, a) for a in p.reused)
            catalog.put_file(FileEntry(p.path, p.content_hash, tuple(a.id for a in p.articles), n))
    if stale:
        storage.vectors.delete(stale)
    storage.vectors.delete_articles(gone_articles)


def _stored_chunk_ids(storage: Storage, article_id: str) -> list[str]:
    rows = storage.catalog.db.execute("SELECT id FROM chunks WHERE article_id=?", (article_id,))
    return [r[0] for r in rows]


def _chunk_count(storage: Storage, article_id: str) -> int:
    return len(_stored_chunk_ids(storage, article_id))


def _remove_file(storage: Storage, entry: FileEntry) -> None:
    _mark_dirty(storage)
    with storage.catalog.transaction():  # catalog first: a crash before the vectors leaves orphans only
        for aid in entry.article_ids:
            storage.catalog.delete_article(aid)
        storage.catalog.delete_file(entry.path)
    storage.vectors.delete_articles(list(entry.article_ids))


def delete_article(article_id: str, settings: Settings) -> int:
    """Remove one article (its chunks, vectors and BM25 entries); returns the chunks removed."""
    with WriterLock(settings.data_dir):
        storage = open_storage(settings)
        try:
            n = _chunk_count(storage, article_id)
            _mark_dirty(storage)
            with storage.catalog.transaction():
                storage.catalog.delete_article(article_id)
                for entry in storage.catalog.files().values():
                    if article_id in entry.article_ids:
                        rest = tuple(a for a in entry.article_ids if a != article_id)
                        if rest:
                            # a JSONL file keeps its other articles; forget its hash so a re-ingest re-reads it
                            storage.catalog.put_file(FileEntry(entry.path, "", rest, entry.chunks - n))
                        else:
                            storage.catalog.delete_file(entry.path)
            storage.vectors.delete_articles([article_id])
            storage.rebuild_lexical()
            storage.catalog.set_meta(DIRTY, "0")
            return n
        finally:
            storage.close()


DIRTY = "writing"  # catalog meta key: set before a run's first write, cleared when it completes


def _mark_dirty(storage: Storage) -> None:
    if storage.catalog.get_meta(DIRTY) != "1":
        storage.catalog.set_meta(DIRTY, "1")


def _reconcile(storage: Storage) -> None:
    """Repair what a killed run may have left: vectors without catalog rows, and the reverse.

    Listing every id in Chroma costs ~3 s per 10k chunks, so it only happens when the last run
    did not finish (the dirty mark) or the two counts disagree.
    """
    if storage.catalog.get_meta(DIRTY) != "1" and storage.vectors.count() == storage.catalog.counts()[1]:
        return
    in_chroma = storage.vectors.all_ids()
    in_catalog = storage.catalog.chunk_ids()
    orphans = sorted(in_chroma - in_catalog)
    if orphans:
        storage.vectors.delete(orphans)
    missing = in_catalog - in_chroma
    if missing:
        # Forget these articles entirely (not just their files' hashes): an article whose stored text
        # still matches its file would otherwise be reused as it is, its vectors still missing.
        broken = sorted({cid.rsplit(":", 1)[0] for cid in missing})
        with storage.catalog.transaction():
            for aid in broken:
                storage.catalog.delete_article(aid)
            for entry in storage.catalog.files().values():
                if set(broken) & set(entry.article_ids):
                    storage.catalog.put_file(FileEntry(entry.path, "", entry.article_ids, entry.chunks))
        storage.vectors.delete_articles(broken)


def _under(key: str, root: Path) -> bool:
    return key == str(root) or key.startswith(str(root).rstrip("/") + "/")


__all__ = ["Candidate", "delete_article", "ingest_paths"]
