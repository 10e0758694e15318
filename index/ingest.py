"""Incremental, idempotent, crash-safe ingestion: files -> articles -> chunks -> vectors.

Usage:
    report = ingest_paths([Path("data/corpus")], Settings.from_env())

Per run: scan (hash every file; unchanged files cost nothing), read and chunk what changed,
embed in large length-sorted batches, then for each batch upsert the vectors into Chroma and
commit the catalog in one SQLite transaction (index/store_writer.py). Chunk ids are
deterministic, so a run killed at any point is completed by the next one with every chunk stored
exactly once; the manifest only records a file after its chunks are stored. BM25 is rebuilt from
the catalog at the end, and only then is the run published to readers (Storage.publish).

Every path given or found gets a status, and so does every JSONL line that is not ingested: a bad
line, a duplicate id or an oversized article fails or skips alone, never the rest of its file.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from tqdm import tqdm

from index.chunking import size_problem
from index.discover import Candidate, discover
from index.readers import LineProblem, read_file
from index.store_writer import (
    DIRTY,
    EMBED_GROUP,
    Pending,
    chunk_count,
    embed_and_store,
    file_chunks,
    mark_dirty,
    reconcile,
    remove_file,
)
from rag.catalog import FileEntry
from rag.embedding import Embedder, ingest_runtime, load_embedder
from rag.errors import ReadError, SkipFile
from rag.lock import WriterLock
from rag.settings import Settings
from rag.storage import Storage, check_model, open_storage, store_exists
from rag.types import FileStatus, IngestReport

CHUNKER = "sentences-v5"  # bump when chunk boundaries change, so stores built before are re-chunked


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
        candidates, roots = discover(paths, settings.max_file_bytes, settings.max_html_bytes)
        if not store_exists(settings):
            # A new store: every file is new, so the model can load while Chroma opens (~3 s of
            # a 2,000-article ingest).
            loader.start(sum(c.size for c in candidates if c.problem is None))
        storage = open_storage(settings, create=True, dim=embedder.dim if embedder else None, writer=True)
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
    reconcile(storage)
    catalog.reflag()  # a store flagged by an older detector (or none) is flagged again, in place
    chunking = f"{CHUNKER}/{settings.chunk_size}/{settings.chunk_overlap}/{int(settings.embed_context)}"
    rechunk = catalog.get_meta("chunking") not in (None, chunking)
    manifest = catalog.files()
    rows: list[FileStatus | Pending] = []  # in input order; a Pending becomes its statuses at the end
    embedded = 0
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
            rows.append(FileStatus(cand.key, cand.problem[0], cand.problem[1]))
            continue
        old = manifest.get(cand.key)
        if old is not None and old.content_hash == cand.content_hash and not rechunk:
            flagged = catalog.flagged_counts(old.article_ids)
            rows.append(FileStatus(cand.key, "unchanged", None, old.article_ids, old.chunks, flagged))
            rows.extend(FileStatus(cand.key, s, r) for s, r in old.problems)  # type: ignore[arg-type]
            continue
        pending = _read(cand, old, settings, claimed)
        if isinstance(pending, list):
            rows.extend(pending)
            continue
        for a in pending.articles:
            claimed[a.id] = cand.key
        loader.start(workload)
        rows.append(pending)

    pending_files = [r for r in rows if isinstance(r, Pending)]
    if pending_files:
        embedder = loader.get()
        for p in pending_files:  # reuse check in this thread: the catalog connection is not shared
            for a in p.articles:
                stored = catalog.article(a.id)
                if (
                    stored is not None
                    and stored.content_hash == a.content_hash
                    and stored.text == a.text
                    and not rechunk
                ):
                    p.reused.add(a.id)
        embedded = embed_and_store(pending_files, storage, embedder, settings, progress)
    statuses: list[FileStatus] = []
    for r in rows:
        if isinstance(r, FileStatus):
            statuses.append(r)
            continue
        flagged = catalog.flagged_counts(r.article_ids)
        statuses.append(FileStatus(r.path, r.status, None, r.article_ids, file_chunks(storage, r), flagged))  # type: ignore[arg-type]
        statuses.extend(FileStatus(r.path, s, why) for s, why in r.problems)  # type: ignore[arg-type]

    for key, entry in manifest.items():
        if key in seen or not any(_under(key, r) for r in roots):
            continue
        if prune:
            remove_file(storage, entry)
            statuses.append(
                FileStatus(key, "removed", "no longer in the corpus (--prune)", entry.article_ids)
            )
    catalog.set_meta("chunking", chunking)
    storage.publish(rebuild=bool(pending_files) or prune)
    catalog.set_meta(DIRTY, "0")  # the run completed: the next one may skip the full reconcile
    return statuses, embedded


def _read(
    cand: Candidate, old: FileEntry | None, settings: Settings, claimed: dict[str, str]
) -> Pending | list[FileStatus]:
    """Read a changed file: its articles to store with the problems of its other lines, or the
    statuses of a file that yields nothing to store (which leaves what it stored before as it was)."""
    try:
        got = read_file(cand.path, root=cand.root)
    except SkipFile as exc:
        return [FileStatus(cand.key, "skipped", str(exc))]
    except (ReadError, OSError, UnicodeError, ValueError) as exc:
        return [FileStatus(cand.key, "failed", str(exc))]
    jsonl = bool(got.lines)
    name = _display_name(cand)
    problems = list(got.problems)
    articles = []
    for a in got.articles:
        line = got.lines.get(a.id, 0)
        where = f"{name}, line {line}: " if jsonl else ""
        if (why := size_problem(a.text, settings.max_article_chars)) is not None:
            problems.append(LineProblem(line, "skipped", where + why))
        elif (owner := claimed.get(a.id, cand.key)) != cand.key:
            problems.append(
                LineProblem(line, "failed", f"{where}article id {a.id!r} already comes from {owner}")
            )
        else:
            articles.append(a)
    problems.sort(key=lambda q: q.line)
    if not articles:
        if not problems:
            return [FileStatus(cand.key, "skipped", f"{name}: no articles")]
        return [FileStatus(cand.key, q.status, q.reason) for q in problems]  # type: ignore[arg-type]
    kept: tuple[str, ...] = ()
    if old is not None and problems:
        # Articles indexed before whose lines now have a problem keep their stored version until
        # the line is fixed or removed: a typo must not delete an article.
        now = {a.id for a in articles}
        kept = tuple(aid for aid in old.article_ids if aid not in now and claimed.get(aid) == cand.key)
    return Pending(
        cand.key,
        "updated" if old else "indexed",
        cand.content_hash,
        articles,
        problems=tuple((q.status, q.reason) for q in problems),
        kept=kept,
    )


def _display_name(cand: Candidate) -> str:
    try:
        return str(cand.path.relative_to(cand.root))
    except ValueError:
        return str(cand.path)


def delete_article(article_id: str, settings: Settings) -> int:
    """Remove one article (its chunks, vectors and BM25 entries); returns the chunks removed."""
    with WriterLock(settings.data_dir):
        storage = open_storage(settings, writer=True)
        try:
            n = chunk_count(storage, article_id)
            mark_dirty(storage)
            with storage.catalog.transaction():
                storage.catalog.delete_article(article_id)
                for entry in storage.catalog.files().values():
                    if article_id in entry.article_ids:
                        rest = tuple(a for a in entry.article_ids if a != article_id)
                        if rest:
                            # a JSONL file keeps its other articles; forget its hash so a re-ingest re-reads it
                            storage.catalog.put_file(
                                dataclasses.replace(
                                    entry, content_hash="", article_ids=rest, chunks=entry.chunks - n
                                )
                            )
                        else:
                            storage.catalog.delete_file(entry.path)
            storage.vectors.delete_articles([article_id])
            storage.publish(rebuild=True)
            storage.catalog.set_meta(DIRTY, "0")
            return n
        finally:
            storage.close()


def _under(key: str, root: Path) -> bool:
    return key == str(root) or key.startswith(str(root).rstrip("/") + "/")


__all__ = ["DIRTY", "EMBED_GROUP", "Candidate", "delete_article", "ingest_paths"]
