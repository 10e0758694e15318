"""Writing a run's changes: embed changed files group by group, then store each group so that a
crash at any point leaves only what the next run repairs (orphan vectors, or articles to redo).

Within a group: new vectors go to Chroma first, then the catalog commits the articles, chunks and
manifest rows in one SQLite transaction, then stale vectors are deleted. So the catalog never
names a vector that is gone.
"""

from __future__ import annotations

import dataclasses
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
from tqdm import tqdm

from index.chunking import chunk_article, embedding_text, make_splitter, sentence_spans_in
from rag.catalog import ChunkRecord, FileEntry
from rag.embedding import Embedder
from rag.settings import Settings
from rag.storage import DIRTY, Storage
from rag.types import Article, Chunk

EMBED_GROUP = 1024  # texts per embedding call: large enough for length sorting to pay off


@dataclass
class Pending:
    """A changed file whose articles wait to be embedded and stored."""

    path: str
    status: str  # "indexed" or "updated"
    content_hash: str
    articles: list[Article]
    problems: tuple[tuple[str, str], ...] = ()  # (status, reason) of its lines that are not ingested
    kept: tuple[str, ...] = ()  # articles indexed before whose lines are now bad: kept as they were
    chunks: dict[str, list[Chunk]] = field(default_factory=dict)
    reused: set[str] = field(default_factory=set)  # articles whose text did not change

    @property
    def article_ids(self) -> tuple[str, ...]:
        return tuple(a.id for a in self.articles) + self.kept


def embed_and_store(
    pending: list[Pending], storage: Storage, embedder: Embedder, settings: Settings, progress: bool
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

    def chunk(p: Pending) -> Pending:
        for a in p.articles:
            if a.id not in p.reused:
                p.chunks[a.id] = chunk_article(a, splitter)
        return p

    bar = tqdm(total=len(pending), desc="embedding", unit="file", disable=not progress)
    group: list[Pending] = []
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


def _store_group(group: list[Pending], storage: Storage, embedder: Embedder, settings: Settings) -> None:
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
    old_ids = {a.id: stored_chunk_ids(storage, a.id) for p in group for a in p.articles}
    stale: list[str] = []
    gone_articles: list[str] = []
    manifest = catalog.files()  # once per group, not once per file
    for p in group:
        prev = manifest.get(p.path)
        now = set(p.article_ids)
        if prev:
            gone_articles.extend(a for a in prev.article_ids if a not in now)
        for aid, cs in p.chunks.items():
            new = {c.id for c in cs}
            stale.extend(i for i in old_ids[aid] if i not in new)
    mark_dirty(storage)
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
            catalog.put_file(
                FileEntry(p.path, p.content_hash, p.article_ids, file_chunks(storage, p), p.problems)
            )
    if stale:
        storage.vectors.delete(stale)
    storage.vectors.delete_articles(gone_articles)


def file_chunks(storage: Storage, p: Pending) -> int:
    """Chunks stored for a pending file: its new chunks, plus those of reused and kept articles."""
    return sum(len(c) for c in p.chunks.values()) + sum(chunk_count(storage, a) for a in (*p.reused, *p.kept))


def stored_chunk_ids(storage: Storage, article_id: str) -> list[str]:
    rows = storage.catalog.db.execute("SELECT id FROM chunks WHERE article_id=?", (article_id,))
    return [r[0] for r in rows]


def chunk_count(storage: Storage, article_id: str) -> int:
    return len(stored_chunk_ids(storage, article_id))


def remove_file(storage: Storage, entry: FileEntry) -> None:
    mark_dirty(storage)
    with storage.catalog.transaction():  # catalog first: a crash before the vectors leaves orphans only
        for aid in entry.article_ids:
            storage.catalog.delete_article(aid)
        storage.catalog.delete_file(entry.path)
    storage.vectors.delete_articles(list(entry.article_ids))


def mark_dirty(storage: Storage) -> None:
    if storage.catalog.get_meta(DIRTY) != "1":
        storage.catalog.set_meta(DIRTY, "1")


def reconcile(storage: Storage) -> None:
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
                    storage.catalog.put_file(dataclasses.replace(entry, content_hash=""))
        storage.vectors.delete_articles(broken)
