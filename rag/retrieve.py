"""Hybrid retrieval: dense (Chroma) and BM25 (bm25s) candidates, fused, filtered, de-duplicated.

Both retrievers get the same filters (Chroma's `where`, a bm25s weight mask). Candidates from
either side are rescored with their exact stored vectors, so weighted fusion compares every
candidate on both signals, not only those that happened to appear in both lists.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

import numpy as np

from rag.catalog import ChunkRecord
from rag.embedding import Embedder
from rag.plan import DateIntent, QueryPlan, build_plan
from rag.settings import Settings
from rag.storage import Storage
from rag.types import Filters, Hit


@dataclass(frozen=True)
class Retrieval:
    """What retrieval found for a plan: ranked hits, their stored records (vectors, sentence spans)
    and the query vector, with each stage's time."""

    hits: tuple[Hit, ...]
    records: Mapping[str, ChunkRecord]
    query_vec: np.ndarray
    timings_ms: Mapping[str, float] = field(default_factory=dict)


class HybridRetriever:
    def __init__(self, storage: Storage, embedder: Embedder, settings: Settings) -> None:
        self.storage = storage
        self.embedder = embedder
        self.settings = settings

    def retrieve(self, question: str, k: int | None = None, filters: Filters | None = None) -> Retrieval:
        """Retrieve for a bare question (tests, the llama-index adapter): plans it, then searches."""
        return self.search(build_plan(question, filters=filters, k=k or self.settings.k))

    def search(self, plan: QueryPlan) -> Retrieval:
        """The plan's top k passages: dense and BM25 candidates, fused, filtered, de-duplicated."""
        s = self.settings
        timings: dict[str, float] = {}
        query, filters = plan.search_text, plan.filters

        t = time.perf_counter()
        qvec = self.embedder.embed_query(query)
        timings["embed_query"] = _ms(t)

        t = time.perf_counter()
        dense = self.storage.vectors.query(qvec, s.candidates, filters)
        timings["dense"] = _ms(t)

        t = time.perf_counter()
        lexical = self.storage.lexical.search(query, s.candidates, filters)
        timings["lexical"] = _ms(t)

        t = time.perf_counter()
        ids = list(dict.fromkeys([cid for cid, _ in dense] + [cid for cid, _ in lexical]))
        records = self.storage.catalog.chunk_records(ids)
        ids = [i for i in ids if i in records]
        hits = self._fuse(ids, records, qvec, dense, lexical, plan.dates)
        hits = _dedup(hits, records, s.dedup_threshold)[: plan.k]
        ranked = tuple(
            Hit(h.chunk, i + 1, h.score, h.dense, h.lexical, h.dense_rank, h.lexical_rank)
            for i, h in enumerate(hits)
        )
        timings["fuse"] = _ms(t)
        return Retrieval(ranked, records, qvec, timings)

    def _fuse(
        self,
        ids: list[str],
        records: dict[str, ChunkRecord],
        qvec: np.ndarray,
        dense: list[tuple[str, float]],
        lexical: list[tuple[str, float]],
        intent: DateIntent,
    ) -> list[Hit]:
        s = self.settings
        if not ids:
            return []
        dense_rank = {cid: i + 1 for i, (cid, _) in enumerate(dense)}
        lex_rank = {cid: i + 1 for i, (cid, _) in enumerate(lexical)}
        lex_score = dict(lexical)
        top_lex = max(lex_score.values(), default=0.0) or 1.0
        vecs = np.stack([records[i].vec for i in ids])
        cos = vecs @ qvec  # exact dense score for every candidate, from the stored vectors
        fused: list[float] = []
        for j, cid in enumerate(ids):
            if s.fusion == "rrf":  # weighted RRF; dense_weight 0.5 is the standard equal-weight form
                f = 2 * s.dense_weight / (s.rrf_k + dense_rank[cid]) if cid in dense_rank else 0.0
                f += 2 * (1 - s.dense_weight) / (s.rrf_k + lex_rank[cid]) if cid in lex_rank else 0.0
            else:
                f = s.dense_weight * float(cos[j]) + (1 - s.dense_weight) * lex_score.get(cid, 0.0) / top_lex
            fused.append(f)
        if intent.prefer_recent:
            fused = _recency(fused, [records[i].chunk.published for i in ids], s.recency_weight, s.fusion)
        order = sorted(range(len(ids)), key=lambda j: -fused[j])
        return [
            Hit(
                chunk=records[ids[j]].chunk,
                rank=0,
                score=round(fused[j], 6),
                dense=round(float(cos[j]), 6),
                lexical=round(lex_score[ids[j]], 6) if ids[j] in lex_score else None,
                dense_rank=dense_rank.get(ids[j]),
                lexical_rank=lex_rank.get(ids[j]),
            )
            for j in order
        ]


def _recency(scores: list[float], dates: list[date | None], weight: float, fusion: str) -> list[float]:
    known = [d.toordinal() for d in dates if d]
    if not known:
        return scores
    newest, oldest = max(known), min(known)
    span = max(newest - oldest, 1)
    scale = max(scores) if fusion == "rrf" else 1.0  # keep the boost proportional to RRF's small scores
    out = []
    for sc, d in zip(scores, dates, strict=True):
        fresh = (d.toordinal() - oldest) / span if d else 0.0
        out.append(sc + weight * scale * fresh)
    return out


def _dedup(hits: list[Hit], records: dict[str, ChunkRecord], threshold: float) -> list[Hit]:
    """Drop a hit whose vector is nearly identical to a better one (syndicated copies, reposts)."""
    kept: list[Hit] = []
    kept_vecs: list[np.ndarray] = []
    for h in hits:
        v = records[h.chunk.id].vec
        if any(float(v @ kv) >= threshold for kv in kept_vecs):
            continue
        kept.append(h)
        kept_vecs.append(v)
    return kept


def group_by_date(hits: Sequence[Hit]) -> list[tuple[date | None, list[Hit]]]:
    """Hits grouped by publication date, oldest first, undated last (for 'what happened' questions)."""
    groups: dict[date | None, list[Hit]] = {}
    for h in hits:
        groups.setdefault(h.chunk.published, []).append(h)
    return sorted(groups.items(), key=lambda kv: (kv[0] is None, kv[0] or date.min))


def _ms(t: float) -> float:
    return round((time.perf_counter() - t) * 1000, 3)


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    d = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(a @ b) / d if d else 0.0 if not math.isnan(d) else 0.0
