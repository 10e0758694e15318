"""Everything stored for one data directory, opened together and kept consistent.

`Storage` owns the catalog (SQLite), the vectors (Chroma) and the lexical index (BM25). Writers
keep the three in step and publish each completed run as a new generation; readers follow the
generations, so every serving process sees an ingest within about a second of its end.
"""

from __future__ import annotations

import shutil
import sqlite3
import threading
import time
from datetime import date
from pathlib import Path

from rag.catalog import Catalog
from rag.errors import ModelMismatchError, StoreError
from rag.lexical import LexicalIndex, clean, fingerprint
from rag.lock import writer_active
from rag.settings import Settings
from rag.store import VectorStore

GENERATION = "generation"  # catalog meta: bumped by a writer once a run's writes are complete
DIRTY = "writing"  # catalog meta: "1" from a run's first write until it completes
PUBLISHED_BM25 = "bm25"  # catalog meta: the fingerprint of the BM25 index the last generation saved
FOLLOW_SECONDS = 0.5  # how often a reader looks for a new generation (one SQLite read)


class Storage:
    """The catalog, the vectors and the BM25 index of one data directory, kept in step.

    A *writer* (ingest, delete; it holds the WriterLock) checks BM25 against the catalog and
    rebuilds it when they differ, then `publish()`es: BM25 saved, then the catalog's generation
    bumped. A *reader* (the query pipeline, `rag serve`) never rebuilds while a writer works: it
    answers from the generation it opened (its Chroma client and the BM25 index saved with it)
    and, at most every FOLLOW_SECONDS, looks for a newer generation; when there is one it reopens
    Chroma (an embedded client keeps the HNSW index it loaded and never sees another process's
    writes) and loads the BM25 index the writer saved. A reader never sees an article half
    written: vectors are stored before the catalog rows that name them, and a hit whose catalog
    row is missing is dropped at retrieval.
    """

    def __init__(
        self, settings: Settings, catalog: Catalog, vectors: VectorStore, writer: bool = False
    ) -> None:
        self.settings = settings
        self.catalog = catalog
        self.writer = writer
        self._vectors = vectors
        self._lexical: LexicalIndex | None = None
        self._verified_at: tuple[int, int] | None = None
        self._generation = catalog.get_meta(GENERATION)
        self._checked_at = time.monotonic()
        self._rebuilt = False
        self._lock = threading.RLock()  # one reload at a time; queries go on with what they hold
        self._switcher: threading.Thread | None = None

    @property
    def bm25_dir(self) -> Path:
        return self.settings.data_dir / "bm25"

    @property
    def generation(self) -> str | None:
        """The generation this Storage answers from (None: the store predates generations)."""
        return self._generation

    @property
    def vectors(self) -> VectorStore:
        if not self.writer:
            self.follow()
        return self._vectors

    @property
    def lexical(self) -> LexicalIndex:
        """The BM25 index. A writer's is checked against the catalog and rebuilt if stale; a
        reader's is the one saved with its generation (see the class docstring)."""
        if self.writer:
            return self._checked_lexical()
        self.follow()
        lex = self._lexical
        return lex if lex is not None else self._load_lexical()

    def follow(self, force: bool = False) -> bool:
        """Reader: move to the newest published generation; True if it did so now.

        Cheap when nothing changed: one SQLite read, at most every FOLLOW_SECONDS. When a writer
        has published, the new generation is loaded in a background thread (Chroma reopened and
        warmed, BM25 loaded: ~0.7 s at 10k chunks) while questions go on with the current one,
        so no question waits for it. `force` loads now, in this thread.
        """
        now = time.monotonic()
        if not force and now - self._checked_at < FOLLOW_SECONDS:
            return False
        self._checked_at = now
        generation = self.catalog.get_meta(GENERATION)
        if force:
            self._switch(generation)
            return True
        if generation == self._generation or self._switcher is not None:
            return False
        with self._lock:
            if self._switcher is None and generation != self._generation:
                self._switcher = threading.Thread(
                    target=self._switch, args=(generation,), name="rag-follow", daemon=True
                )
                self._switcher.start()
        return False

    def _switch(self, generation: str | None) -> None:
        """Load `generation` beside the current one, then swap (vectors first, then BM25)."""
        try:
            with self._lock:
                lex = self._saved_lexical()
                self._vectors.reopen()  # builds and warms the new client, then swaps it in
                self.catalog.forget_cached()
                self._lexical = lex
                self._generation = generation
        finally:
            self._switcher = None

    def refresh(self) -> None:
        """Pick up writes made by another process or another Storage on the same directory, now."""
        if self.writer:
            self._lexical = None
            self._verified_at = None
        else:
            self.follow(force=True)

    def preload(self) -> threading.Thread:
        """Reader: load the BM25 index in a background thread (1.5 s at 100k chunks), so that a
        server can answer its first page meanwhile. A question that needs BM25 before the load
        ends waits for it (the load holds the lock `_load_lexical` takes), it never fails."""
        started = threading.Event()

        def load() -> None:
            with self._lock:
                started.set()
                self._load_lexical()

        thread = threading.Thread(target=load, name="rag-bm25-load", daemon=True)
        thread.start()
        started.wait()  # the lock is held: from here on, a question waits for this load
        return thread

    def _load_lexical(self) -> LexicalIndex:
        with self._lock:
            if self._lexical is None:
                self._lexical = self._saved_lexical()
            return self._lexical

    def _saved_lexical(self) -> LexicalIndex:
        """Reader: the saved BM25 index; built in memory (never saved by a reader) only if none is
        saved, or if a killed run left it stale and no writer is at work to publish a fresh one."""
        lex = LexicalIndex.load(self.bm25_dir)
        if lex is not None and lex.fingerprint == self.catalog.get_meta(PUBLISHED_BM25):
            return lex  # what the writer published: no scan of the catalog needed
        if lex is None or (
            lex.fingerprint != self.lexical_fingerprint() and not writer_active(self.settings.data_dir)
        ):
            lex = self._build()
        return lex

    def _checked_lexical(self) -> LexicalIndex:
        """Writer: the BM25 index, rebuilt first if it does not match the catalog.

        The fingerprint (a pass over every chunk key: ~300 ms at 100k chunks) is only recomputed
        when SQLite reports that the catalog changed since the last check.
        """
        version = self._catalog_version()
        if self._lexical is not None and self._verified_at == version:
            return self._lexical
        if self._lexical is None:
            self._lexical = LexicalIndex.load(self.bm25_dir)
        if self._lexical is None or self._lexical.fingerprint != self.lexical_fingerprint():
            self.rebuild_lexical()
        self._verified_at = version
        assert self._lexical is not None
        return self._lexical

    def _catalog_version(self) -> tuple[int, int]:
        """Changes when anyone commits to the catalog: data_version for other connections, total_changes for ours."""
        db = self.catalog.db
        return int(db.execute("PRAGMA data_version").fetchone()[0]), int(db.total_changes)

    def lexical_fingerprint(self) -> str:
        """The fingerprint a BM25 index consistent with the catalog carries.

        Built from chunk ids, spans and article content hashes, not ids alone: an article edited
        in place keeps its chunk ids, and a run killed before its BM25 save must still be seen as
        stale by the next one.
        """
        return fingerprint(self.catalog.chunk_keys())

    def _build(self) -> LexicalIndex:
        # Fingerprint first: if a writer commits in between, the index looks stale, never fresh.
        fp = self.lexical_fingerprint()
        rows = list(self.catalog.iter_chunk_rows())
        facets = {a: (s, _d(p), lang) for a, s, p, lang in self.catalog.facets()}
        return LexicalIndex.build(rows, facets, fp)

    def rebuild_lexical(self) -> LexicalIndex:
        """Build BM25 from the catalog and save it beside the store (writers)."""
        lex = self._build()
        lex.save(self.bm25_dir)
        self._lexical = lex
        self._rebuilt = True
        return lex

    def publish(self, rebuild: bool) -> None:
        """Writer, at the end of a run: BM25 saved consistent with the catalog, then (if anything
        was written) a new generation, which tells readers to reload both Chroma and BM25."""
        lex = self.rebuild_lexical() if rebuild else self._checked_lexical()  # (rebuilt if stale)
        clean(self.bm25_dir)  # what a save killed half-way left, even when nothing is saved now
        if rebuild or self._rebuilt or self.catalog.get_meta(DIRTY) == "1" or self._generation is None:
            self._generation = str(int(self.catalog.get_meta(GENERATION) or 0) + 1)
            with self.catalog.transaction():
                self.catalog.set_meta(PUBLISHED_BM25, lex.fingerprint)
                self.catalog.set_meta(GENERATION, self._generation)

    def disk_bytes(self) -> int:
        root = self.settings.data_dir
        return sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) if root.exists() else 0

    def close(self) -> None:
        switcher = self._switcher
        if switcher is not None:
            switcher.join(timeout=30)
        self._vectors.close()
        self.catalog.close()


def store_exists(settings: Settings) -> bool:
    """Whether `settings.data_dir` holds a store (its catalog), without opening anything."""
    return (settings.data_dir / "catalog.sqlite").exists()


def open_storage(
    settings: Settings, create: bool = False, dim: int | None = None, writer: bool = False
) -> Storage:
    """Open (or with create=True, create) the store of `settings.data_dir`.

    `writer=True` for ingestion and deletion, which hold the WriterLock (see Storage).

    >>> # storage = open_storage(Settings.from_env(), create=True, dim=384)
    """
    cat_path = settings.data_dir / "catalog.sqlite"
    if not create and not store_exists(settings):
        raise StoreError(
            f"no index in {settings.data_dir}. Run `rag ingest PATH` first (e.g. `rag ingest data/corpus`)."
        )
    catalog = Catalog(cat_path)
    built = catalog.get_meta("embed_model")
    try:
        _check_model(settings, built)
    except ModelMismatchError:
        catalog.close()
        raise
    vectors = VectorStore(settings, create=create, expected_dim=dim)
    if create and not built:
        catalog.set_meta("embed_model", settings.embed_model)
        catalog.set_meta("embed_runtime", settings.embed_runtime)
    return Storage(settings, catalog, vectors, writer=writer)


def check_model(settings: Settings) -> None:
    """Raise ModelMismatchError if the store was built with another embedding model.

    Cheap (no model load, no Chroma): ingestion calls it before loading the configured model, so
    a mismatch is reported as such and not as a failure to load a model the index cannot use.
    """
    cat_path = settings.data_dir / "catalog.sqlite"
    if not cat_path.exists():
        return
    catalog = Catalog(cat_path, readonly=True)
    try:
        built = catalog.get_meta("embed_model")
    except sqlite3.Error:  # a catalog without tables yet: nothing was built
        built = None
    finally:
        catalog.close()
    _check_model(settings, built)


def _check_model(settings: Settings, built: str | None) -> None:
    if built and built != settings.embed_model:
        raise ModelMismatchError(
            f"the index in {settings.data_dir} was built with embedding model {built!r}, but "
            f"{settings.embed_model!r} is configured. Set RAG_EMBED_MODEL={built} to use it, "
            "or choose another --data-dir to build a new index."
        )


def wipe(settings: Settings) -> None:
    """Delete a data directory's store (tests and `--rebuild`)."""
    shutil.rmtree(settings.data_dir, ignore_errors=True)


def _d(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None
