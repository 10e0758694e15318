"""The catalog: full article texts, chunk spans with their sentence spans and vectors, and the
manifest of ingested files, in one SQLite file beside the Chroma store.

Chroma answers "which chunks are near this vector"; the catalog answers everything else
(article text for the article view, sentence vectors for the answerer, what was ingested from
which file with which hash). SQLite transactions make each ingest batch all-or-nothing.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np

from rag.flag_store import flagged_counts, flags_from_json, flags_json, reflag
from rag.injection import flag_sentences
from rag.types import Article, ArticleInfo, Chunk, Span

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS articles (
    id TEXT PRIMARY KEY, title TEXT, text TEXT NOT NULL, source TEXT, published TEXT,
    language TEXT, url TEXT, path TEXT, content_hash TEXT, byline TEXT, section TEXT,
    extra TEXT NOT NULL DEFAULT '{}', file TEXT
);
CREATE TABLE IF NOT EXISTS chunks (
    id TEXT PRIMARY KEY, article_id TEXT NOT NULL, n INTEGER NOT NULL,
    start INTEGER NOT NULL, "end" INTEGER NOT NULL, spans TEXT NOT NULL,
    vec BLOB NOT NULL, sent_vecs BLOB NOT NULL, injection TEXT
);
CREATE INDEX IF NOT EXISTS chunks_article ON chunks(article_id);
CREATE TABLE IF NOT EXISTS files (
    path TEXT PRIMARY KEY, content_hash TEXT NOT NULL, article_ids TEXT NOT NULL, chunks INTEGER NOT NULL,
    problems TEXT NOT NULL DEFAULT '[]'
);
"""
# Columns added after stores were built: (table, column, definition), added when missing.
# chunks.injection: JSON [[start, end, reason], ...] of flagged sentences; NULL in stores built before
# the detector, whose chunks are flagged when read and stored flagged by the next ingest (reflag).
MIGRATIONS = (("files", "problems", "TEXT NOT NULL DEFAULT '[]'"), ("chunks", "injection", "TEXT"))


@dataclass(frozen=True)
class ChunkRecord:
    """A stored chunk with its vectors (float32, L2-normalised)."""

    chunk: Chunk
    vec: np.ndarray
    sent_vecs: np.ndarray  # (len(chunk.sentences), dim)


@dataclass(frozen=True)
class ChunkVectors:
    """A chunk's stored vectors alone (what fusion and de-duplication need)."""

    vec: np.ndarray
    sent_vecs: np.ndarray  # (sentences, dim)


@dataclass(frozen=True)
class FileEntry:
    """One ingested file in the manifest. A partly good file (a JSONL corpus with bad lines) keeps
    its good articles here and its bad lines in `problems`, so an unchanged re-ingest reports the
    same statuses without reading or embedding anything."""

    path: str
    content_hash: str
    article_ids: tuple[str, ...]
    chunks: int
    problems: tuple[tuple[str, str], ...] = ()  # (status, reason) of each line not ingested


class Catalog:
    def __init__(self, path: Path, readonly: bool = False) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        if not readonly:
            self.db.executescript(SCHEMA)
            for table, column, definition in MIGRATIONS:
                have = {r[1] for r in self.db.execute(f"PRAGMA table_info({table})")}
                if column not in have:
                    self.db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {definition}")
        self._article_cache: dict[str, Article] = {}
        self._date_range: tuple[tuple[int, int], tuple[date | None, date | None]] | None = None

    def close(self) -> None:
        self.db.close()

    def forget_cached(self) -> None:
        """Drop cached articles, after another process may have rewritten them."""
        self._article_cache.clear()

    # --- meta
    def get_meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    # --- writes (callers wrap these in `transaction()`)
    def transaction(self) -> _Tx:
        return _Tx(self.db)

    def put_article(self, article: Article, file: str, records: Sequence[ChunkRecord]) -> None:
        """Replace an article and all its chunks."""
        self.delete_article(article.id)
        self.db.execute(
            "INSERT INTO articles VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                article.id, article.title, article.text, article.source,
                article.published.isoformat() if article.published else None, article.language,
                article.url, article.path, article.content_hash, article.byline, article.section,
                json.dumps(article.extra, sort_keys=True), file,
            ),
        )  # fmt: skip
        self.db.executemany(
            'INSERT INTO chunks(id, article_id, n, start, "end", spans, vec, sent_vecs, injection)'
            " VALUES (?,?,?,?,?,?,?,?,?)",
            [
                (
                    r.chunk.id, r.chunk.article_id, r.chunk.n, r.chunk.start, r.chunk.end,
                    json.dumps([[s.start, s.end] for s in r.chunk.sentences]),
                    r.vec.astype(np.float16).tobytes(), r.sent_vecs.astype(np.float16).tobytes(),
                    flags_json(r.chunk.injection),
                )
                for r in records
            ],
        )  # fmt: skip
        self._article_cache.pop(article.id, None)

    def delete_article(self, article_id: str) -> None:
        self.db.execute("DELETE FROM chunks WHERE article_id=?", (article_id,))
        self.db.execute("DELETE FROM articles WHERE id=?", (article_id,))
        self._article_cache.pop(article_id, None)

    def put_file(self, entry: FileEntry) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO files(path, content_hash, article_ids, chunks, problems) VALUES (?,?,?,?,?)",
            (
                entry.path, entry.content_hash, json.dumps(list(entry.article_ids)), entry.chunks,
                json.dumps([list(p) for p in entry.problems]),
            ),
        )  # fmt: skip

    def delete_file(self, path: str) -> None:
        self.db.execute("DELETE FROM files WHERE path=?", (path,))

    # --- reads
    def files(self) -> dict[str, FileEntry]:
        rows = self.db.execute(
            "SELECT path, content_hash, article_ids, chunks, problems FROM files"
        ).fetchall()
        return {
            p: FileEntry(p, h, tuple(json.loads(a)), c, tuple((s, r) for s, r in json.loads(q)))
            for p, h, a, c, q in rows
        }

    def article(self, article_id: str) -> Article | None:
        if article_id in self._article_cache:
            return self._article_cache[article_id]
        row = self.db.execute(
            "SELECT id, title, text, source, published, language, url, path, content_hash, byline,"
            " section, extra FROM articles WHERE id=?",
            (article_id,),
        ).fetchone()
        if row is None:
            return None
        art = Article(
            id=row[0], title=row[1], text=row[2], source=row[3], published=_date(row[4]), language=row[5],
            url=row[6], path=row[7], content_hash=row[8] or "", byline=row[9], section=row[10],
            extra=json.loads(row[11]),
        )  # fmt: skip
        if len(self._article_cache) > 512:
            self._article_cache.clear()
        self._article_cache[article_id] = art
        return art

    def article_infos(self) -> list[ArticleInfo]:
        rows = self.db.execute(
            "SELECT a.id, a.title, a.source, a.published, a.language, a.path, COUNT(c.id)"
            " FROM articles a LEFT JOIN chunks c ON c.article_id = a.id GROUP BY a.id"
            " ORDER BY a.published DESC, a.id"
        ).fetchall()
        return [ArticleInfo(r[0], r[1], r[2], _date(r[3]), r[4], r[6], r[5]) for r in rows]

    def article_ids(self) -> set[str]:
        return {r[0] for r in self.db.execute("SELECT id FROM articles")}

    def chunk_ids(self) -> set[str]:
        return {r[0] for r in self.db.execute("SELECT id FROM chunks")}

    def chunk_keys(self) -> list[str]:
        """What the BM25 index is built from, one string per chunk: id, span and the article's content
        hash. An edit that keeps an article's chunk ids still changes these (see Storage.lexical)."""
        rows = self.db.execute(
            'SELECT c.id, c.start, c."end", a.content_hash FROM chunks c JOIN articles a ON a.id = c.article_id'
        )
        return [f"{cid}@{start}-{end}#{h or ''}" for cid, start, end, h in rows]

    def counts(self) -> tuple[int, int]:
        a = self.db.execute("SELECT COUNT(*) FROM articles").fetchone()[0]
        c = self.db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
        return int(a), int(c)

    def chunk_records(self, chunk_ids: Sequence[str]) -> dict[str, ChunkRecord]:
        """Chunks with their vectors, by id (one query; used for every answer)."""
        if not chunk_ids:
            return {}
        marks = ",".join("?" * len(chunk_ids))
        rows = self.db.execute(
            f'SELECT id, article_id, n, start, "end", spans, vec, sent_vecs, injection FROM chunks WHERE id IN ({marks})',
            list(chunk_ids),
        ).fetchall()
        out: dict[str, ChunkRecord] = {}
        for cid, aid, n, start, end, spans, vec, sent_vecs, injection in rows:
            art = self.article(aid)
            if art is None:
                continue
            sents = tuple(Span(s, e) for s, e in json.loads(spans))
            text = art.text[start:end]
            flags = (
                flags_from_json(injection) if injection is not None else flag_sentences(text, start, sents)
            )
            chunk = Chunk(
                id=cid, article_id=aid, n=n, text=text, start=start, end=end, title=art.title,
                source=art.source, published=art.published, language=art.language, sentences=sents,
                injection=flags,
            )  # fmt: skip
            v = np.frombuffer(vec, dtype=np.float16).astype(np.float32)
            sv = np.frombuffer(sent_vecs, dtype=np.float16).astype(np.float32).reshape(len(sents), -1)
            out[cid] = ChunkRecord(chunk, v, sv)
        return out

    def vectors(self, chunk_ids: Sequence[str]) -> dict[str, ChunkVectors]:
        """Chunk and sentence vectors by chunk id, without texts or article rows (one query)."""
        if not chunk_ids:
            return {}
        marks = ",".join("?" * len(chunk_ids))
        rows = self.db.execute(
            f"SELECT id, vec, sent_vecs FROM chunks WHERE id IN ({marks})", list(chunk_ids)
        ).fetchall()
        out: dict[str, ChunkVectors] = {}
        for cid, vec, sent_vecs in rows:
            v = np.frombuffer(vec, dtype=np.float16).astype(np.float32)
            sv = np.frombuffer(sent_vecs, dtype=np.float16).astype(np.float32).reshape(-1, v.shape[0])
            out[cid] = ChunkVectors(v, sv)
        return out

    def reflag(self) -> int:
        """Flag every chunk with this detector version when the store was flagged by another or none
        (rag.flag_store.reflag); returns the chunks flagged now."""
        return reflag(self)

    def flagged_counts(self, article_ids: Sequence[str]) -> int:
        """Flagged sentences over the chunks of `article_ids` (for the ingest report)."""
        return flagged_counts(self, article_ids)

    def chunk_texts(self, chunk_ids: Sequence[str]) -> dict[str, str]:
        """Chunk texts by id, cut from their articles in SQL (one query, no article rows loaded)."""
        if not chunk_ids:
            return {}
        marks = ",".join("?" * len(chunk_ids))
        rows = self.db.execute(
            'SELECT c.id, substr(a.text, c.start + 1, c."end" - c.start) FROM chunks c'
            f" JOIN articles a ON a.id = c.article_id WHERE c.id IN ({marks})",
            list(chunk_ids),
        ).fetchall()
        return dict(rows)

    def iter_chunk_rows(self) -> Iterator[tuple[str, str, str]]:
        """(chunk_id, article_id, text) for every chunk, in a stable order (for BM25)."""
        cur = self.db.execute(
            'SELECT c.id, c.article_id, substr(a.text, c.start + 1, c."end" - c.start), a.title'
            " FROM chunks c JOIN articles a ON a.id = c.article_id ORDER BY c.id"
        )
        for cid, aid, text, title in cur:
            yield cid, aid, (f"{title}\n{text}" if title else text)

    def facets(self) -> list[tuple[str, str | None, str | None, str | None]]:
        """(article_id, source, published, language) for every article (for BM25 filter masks)."""
        return list(self.db.execute("SELECT id, source, published, language FROM articles"))

    def sources(self) -> list[str]:
        rows = self.db.execute(
            "SELECT DISTINCT source FROM articles WHERE source IS NOT NULL ORDER BY source"
        )
        return [r[0] for r in rows]

    def date_range(self) -> tuple[date | None, date | None]:
        """Oldest and newest publication dates (every question's plan reads them).

        The MIN/MAX is a scan of the articles table, texts included (≈ linear in the corpus), so it
        is kept until SQLite reports a commit: `data_version` changes on another connection's
        commit, `total_changes` on ours (two PRAGMA reads, microseconds).
        """
        version = (int(self.db.execute("PRAGMA data_version").fetchone()[0]), self.db.total_changes)
        if self._date_range is None or self._date_range[0] != version:
            lo, hi = self.db.execute("SELECT MIN(published), MAX(published) FROM articles").fetchone()
            self._date_range = (version, (_date(lo), _date(hi)))
        return self._date_range[1]


class _Tx:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, *_: object) -> None:
        self.db.execute("ROLLBACK" if exc_type else "COMMIT")


def _date(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def iter_batches(items: Iterable[str], size: int) -> Iterator[list[str]]:
    batch: list[str] = []
    for it in items:
        batch.append(it)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
