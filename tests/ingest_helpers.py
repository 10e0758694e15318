"""Helpers for the ingestion tests: generated seed-format articles and store consistency checks."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from rag.settings import Settings
from rag.storage import Storage, open_storage

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"


def word(i: int) -> str:
    """A made-up word unique to article i (letters only, so BM25 keeps it whole)."""
    letters = "".join(chr(97 + (i // 26**k) % 26) for k in range(3))
    return f"zor{letters}quim"


def article_text(i: int, sentences: int = 12, extra: str = "") -> str:
    """A seed-format .txt article: date header, title, body with words unique to article i."""
    w = word(i)
    body = " ".join(
        f"Sentence {j} of the {w} report says the harbour council of {w} approved {j * 7 + i} new berths."
        for j in range(sentences)
    )
    day = i % 28 + 1
    return f" date 2024-03-{day:02d} en English\nTitle {i} about {w}\n\n{body}{extra}\n"


def write_corpus(folder: Path, n: int, sentences: int = 12, start: int = 0) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(start, start + n):
        p = folder / f"art{i:03d}.txt"
        p.write_text(article_text(i, sentences), encoding="utf-8")
        paths.append(p)
    return paths


def make_settings(tmp: Path, **over: object) -> Settings:
    return Settings.from_env({}, data_dir=tmp / "store", **over)


def chroma_ids(storage: Storage, article_id: str | None = None) -> list[str]:
    """Every id in the Chroma collection (with repeats, if there ever were any)."""
    where = {"article_id": article_id} if article_id else None
    return list(storage.vectors.collection.get(include=[], where=where)["ids"])


def catalog_ids(storage: Storage, article_id: str | None = None) -> list[str]:
    if article_id is None:
        rows = storage.catalog.db.execute("SELECT id FROM chunks")
    else:
        rows = storage.catalog.db.execute("SELECT id FROM chunks WHERE article_id=?", (article_id,))
    return [r[0] for r in rows]


def assert_consistent(settings: Settings) -> tuple[int, int]:
    """Chroma, catalog and BM25 hold the same chunks, each once; returns (articles, chunks)."""
    storage = open_storage(settings)
    try:
        in_chroma = chroma_ids(storage)
        in_catalog = catalog_ids(storage)
        dupes = [i for i, n in Counter(in_chroma).items() if n > 1]
        assert not dupes, f"duplicate vectors: {dupes[:5]}"
        assert storage.vectors.count() == len(in_chroma)
        assert set(in_chroma) == set(in_catalog), (
            sorted(set(in_chroma) ^ set(in_catalog))[:10],
            len(in_chroma),
            len(in_catalog),
        )
        # BM25 on disk (loaded as a reader would, no rebuild) matches the catalog exactly
        from rag.lexical import LexicalIndex

        saved = LexicalIndex.load(storage.bm25_dir)
        assert saved is not None, "no BM25 index saved beside the store"
        assert saved.fingerprint == storage.lexical_fingerprint()
        assert sorted(saved.ids) == sorted(in_catalog)
        # what Chroma stores for each chunk is exactly its span of the stored article
        got = storage.vectors.collection.get(include=["documents", "metadatas"])
        for cid, doc, meta in zip(got["ids"], got["documents"], got["metadatas"], strict=True):
            art = storage.catalog.article(str(meta["article_id"]))
            assert art is not None, cid
            assert art.text[int(meta["start"]) : int(meta["end"])] == doc, cid
        return storage.catalog.counts()
    finally:
        storage.close()
