"""Everything stored for one data directory, opened together and checked for consistency.

`Storage` owns the catalog (SQLite), the vectors (Chroma) and the lexical index (BM25) and
keeps the three in step: BM25 is rebuilt whenever its fingerprint differs from the catalog's.
"""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from rag.catalog import Catalog
from rag.errors import ModelMismatchError, StoreError
from rag.lexical import LexicalIndex, fingerprint
from rag.settings import Settings
from rag.store import VectorStore


@dataclass
class Storage:
    settings: Settings
    catalog: Catalog
    vectors: VectorStore
    _lexical: LexicalIndex | None = None

    @property
    def bm25_dir(self) -> Path:
        return self.settings.data_dir / "bm25"

    _verified_at: tuple[int, int] | None = None

    @property
    def lexical(self) -> LexicalIndex:
        """The BM25 index, rebuilt first if it does not match the catalog.

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

    def rebuild_lexical(self) -> LexicalIndex:
        # Fingerprint first: if a writer commits in between, the index looks stale, never fresh.
        fp = self.lexical_fingerprint()
        rows = list(self.catalog.iter_chunk_rows())
        facets = {a: (s, _d(p), lang) for a, s, p, lang in self.catalog.facets()}
        lex = LexicalIndex.build(rows, facets, fp)
        with contextlib.suppress(OSError):  # a read-only reader still gets a consistent in-memory index
            lex.save(self.bm25_dir)
        self._lexical = lex
        return lex

    def refresh(self) -> None:
        """Pick up writes made by another process or another Storage on the same directory."""
        self._lexical = None
        self._verified_at = None

    def disk_bytes(self) -> int:
        root = self.settings.data_dir
        return sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) if root.exists() else 0

    def close(self) -> None:
        self.catalog.close()


def store_exists(settings: Settings) -> bool:
    """Whether `settings.data_dir` holds a store (its catalog), without opening anything."""
    return (settings.data_dir / "catalog.sqlite").exists()


def open_storage(settings: Settings, create: bool = False, dim: int | None = None) -> Storage:
    """Open (or with create=True, create) the store of `settings.data_dir`.

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
    return Storage(settings, catalog, vectors)


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
