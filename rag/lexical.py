"""The BM25 side of retrieval (bm25s), saved beside the store.

Every saved index carries the fingerprint of the chunk ids it was built from. The store is
consistent when that fingerprint equals the catalog's; ingestion rebuilds after every change,
and a reader that finds a stale or missing index rebuilds it too. Saves go to a fresh folder
and a one-line CURRENT file is replaced atomically, so a killed build never leaves a half index.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import math
import os
import re
import shutil
from collections.abc import Callable, Iterable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from rag.types import Filters

STOPWORDS = "en"


def _bm25s() -> Any:
    """bm25s, imported on first use; it sets its own logger to DEBUG at import, which we undo."""
    import bm25s

    logging.getLogger("bm25s").setLevel(logging.WARNING)
    return bm25s


def fingerprint(chunk_ids: Iterable[str]) -> str:
    ids = sorted(chunk_ids)
    h = hashlib.sha1("\n".join(ids).encode()).hexdigest()[:16]
    return f"{len(ids)}-{h}"


def _stemmer() -> Any:
    try:
        import Stemmer  # PyStemmer: "logistics" must match "logistic"

        return Stemmer.Stemmer("english")
    except ImportError:  # pragma: no cover - PyStemmer is a dependency
        return None


class LexicalIndex:
    def __init__(self, retriever: Any, docs: list[dict[str, Any]], fp: str) -> None:
        self.retriever = retriever
        self.docs = docs
        self.fingerprint = fp
        self.ids = [d["id"] for d in docs]
        self._published = np.array([d["published"] for d in docs], dtype=np.int64)
        self._source = np.array([d["source"] or "" for d in docs], dtype=object)
        self._language = np.array([d["language"] or "" for d in docs], dtype=object)
        self._article = np.array([d["article_id"] for d in docs], dtype=object)
        self._stem = _stemmer()

    @classmethod
    def build(
        cls,
        rows: Sequence[tuple[str, str, str]],
        facets: dict[str, tuple[str | None, date | None, str | None]],
        fp: str | None = None,
    ) -> LexicalIndex:
        """rows: (chunk_id, article_id, text); facets: article_id -> (source, published, language).

        `fp` is the fingerprint to record (default: that of the chunk ids).
        """
        bm25s = _bm25s()

        docs = []
        for cid, aid, _ in rows:
            source, published, language = facets.get(aid, (None, None, None))
            key = published.year * 10000 + published.month * 100 + published.day if published else 0
            docs.append(
                {"id": cid, "article_id": aid, "source": source, "published": key, "language": language}
            )
        retriever = bm25s.BM25()
        if rows:
            tokens = bm25s.tokenize(
                [r[2] for r in rows], stopwords=STOPWORDS, stemmer=_stemmer(), show_progress=False
            )
            retriever.index(tokens, show_progress=False)
        return cls(retriever, docs, fp or fingerprint(cid for cid, _, _ in rows))

    def save(self, root: Path) -> None:
        """Save as a new generation folder, then point CURRENT at it (atomic), then clean up.

        Only a writer (holding the WriterLock) saves: readers may be loading the previous folder.
        """
        root.mkdir(parents=True, exist_ok=True)
        target = root / self.fingerprint
        tmp = root / f".tmp-{self.fingerprint}-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        if self.docs:
            self.retriever.save(str(tmp), show_progress=False)
        (tmp / "docs.json").write_text(json.dumps(self.docs))
        shutil.rmtree(target, ignore_errors=True)
        os.replace(tmp, target)
        cur_tmp = root / f".CURRENT-{os.getpid()}"
        cur_tmp.write_text(self.fingerprint)
        os.replace(cur_tmp, root / "CURRENT")
        clean(root)

    @classmethod
    def load(cls, root: Path) -> LexicalIndex | None:
        bm25s = _bm25s()

        try:
            fp = (root / "CURRENT").read_text().strip()
            folder = root / fp
            docs = json.loads((folder / "docs.json").read_text())
            retriever = bm25s.BM25.load(str(folder), show_progress=False) if docs else bm25s.BM25()
        except (OSError, ValueError):
            return None
        return cls(retriever, docs, fp)

    def search(self, query: str, n: int, filters: Filters | None = None) -> list[tuple[str, float]]:
        """(chunk_id, BM25 score), best first; only chunks that pass `filters`."""
        bm25s = _bm25s()

        if not self.docs:
            return []
        tokens = bm25s.tokenize(
            [query], stopwords=STOPWORDS, stemmer=self._stem, return_ids=False, show_progress=False
        )
        vocab = self.retriever.vocab_dict
        words = [t for t in tokens[0] if t in vocab]
        if not words:
            return []
        mask = self._mask(filters)
        if mask is not None and not mask.any():
            return []
        scores = self.retriever.get_scores(words, weight_mask=mask)
        return [(self.ids[int(i)], float(scores[i])) for i in top_k(scores, n)]

    def published(self, chunk_ids: Sequence[str]) -> list[date | None]:
        """Publication dates of chunks, from the index's own facets (no catalog read)."""
        if not hasattr(self, "_row"):
            self._row = {cid: i for i, cid in enumerate(self.ids)}
        out: list[date | None] = []
        for cid in chunk_ids:
            i = self._row.get(cid)
            key = int(self._published[i]) if i is not None else 0
            out.append(date(key // 10000, key // 100 % 100, key % 100) if key else None)
        return out

    def _mask(self, f: Filters | None) -> np.ndarray | None:
        if f is None or f.empty:
            return None
        m = np.ones(len(self.docs), dtype=bool)
        if f.since or f.until:
            dated = self._published > 0
            rng = dated.copy()
            if f.since:
                rng &= self._published >= f.since.year * 10000 + f.since.month * 100 + f.since.day
            if f.until:
                rng &= self._published <= f.until.year * 10000 + f.until.month * 100 + f.until.day
            m &= rng | (~dated if f.keep_undated else False)
        if f.sources:
            m &= np.isin(self._source, list(f.sources))
        if f.languages:
            m &= np.isin(self._language, list(f.languages))
        if f.article_ids:
            m &= np.isin(self._article, list(f.article_ids))
        return m.astype(np.float32)


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the `k` best positive scores, best first (ties: lower index first).

    Not bm25s's own selection (`np.argpartition(scores, -k)` over every document): on BM25
    scores, mostly zeros and many ties, numpy's introselect degenerates, 70-150 ms at 300k
    chunks for one question in 20 (issue 14). Only the documents that scored are ranked here.
    """
    hit = np.flatnonzero(scores > 0)
    if len(hit) > k > 0:  # keep every document at least as good as the k-th: ties at the cut too
        kth = -np.partition(-scores[hit], k - 1)[k - 1]
        hit = hit[scores[hit] >= kth]
    return hit[np.lexsort((hit, -scores[hit]))][: max(k, 0)]


_TOKEN = re.compile(r"(?u)\b\w\w+\b")


@functools.lru_cache(maxsize=200_000)
def _stem_word(word: str) -> str:
    stem = _stemmer_cached()
    return stem.stemWord(word) if stem is not None else word


@functools.lru_cache(maxsize=1)
def _stemmer_cached() -> Any:
    return _stemmer()


def terms(text: str, extra_stop: frozenset[str] = frozenset()) -> list[str]:
    """The terms BM25 sees in `text`: bm25s's token pattern, English stopwords removed, stemmed."""
    from bm25s.stopwords import STOPWORDS_EN

    return [
        _stem_word(w) for w in _TOKEN.findall(text.lower()) if w not in STOPWORDS_EN and w not in extra_stop
    ]


@functools.lru_cache(maxsize=1)
def english_stopwords() -> frozenset[str]:
    """NLTK's English stopword list, read from the copy bundled with llama-index-core."""
    import importlib.util

    spec = importlib.util.find_spec("llama_index.core")
    origin = Path(spec.origin).parent if spec and spec.origin else Path(".")
    path = origin / "_static" / "nltk_cache" / "corpora" / "stopwords" / "english"
    try:
        return frozenset(w.strip() for w in path.read_text().split() if w.strip())
    except OSError:  # pragma: no cover - the file ships with llama-index-core
        from bm25s.stopwords import STOPWORDS_EN

        return frozenset(STOPWORDS_EN)


def idf_lookup(index: LexicalIndex) -> Callable[[str], float]:
    """Inverse document frequency of a term in the chunk collection (unknown terms get the maximum)."""
    n = max(len(index.docs), 1)
    vocab = getattr(index.retriever, "vocab_dict", None) or {}
    indptr = index.retriever.scores.get("indptr") if getattr(index.retriever, "scores", None) else None
    top = math.log(1 + (n + 0.5) / 0.5)

    def idf(term: str) -> float:
        tid = vocab.get(term)
        if tid is None or indptr is None:
            return top
        df = int(indptr[tid + 1] - indptr[tid])
        return math.log(1 + (n - df + 0.5) / (df + 0.5))

    return idf


def clean(root: Path) -> list[str]:
    """Remove what CURRENT does not reference: older generations, and the `.tmp-*` folders and
    `.CURRENT-*` files a save killed half-way leaves behind. Writers only. Returns the names removed."""
    try:
        current = (root / "CURRENT").read_text().strip()
        entries = list(root.iterdir())
    except OSError:
        return []
    removed = []
    for p in entries:
        if p.name in (current, "CURRENT"):
            continue
        if p.is_dir():
            shutil.rmtree(p, ignore_errors=True)
        elif p.name.startswith(".CURRENT-"):
            p.unlink(missing_ok=True)
        else:
            continue
        removed.append(p.name)
    return removed
