"""Hybrid retrieval: dense (Chroma) and BM25 (bm25s) candidates, fused, filtered, de-duplicated.

Both retrievers get the same filters (Chroma's `where`, a bm25s weight mask). Candidates from
either side are rescored with their exact stored vectors, so weighted fusion compares every
candidate on both signals, not only those that happened to appear in both lists.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

import numpy as np

from rag.catalog import ChunkRecord, ChunkVectors
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
        # Only vectors for fusion and de-duplication; texts and metadata for the kept hits alone.
        vecs = self.storage.catalog.vectors(ids)
        ids = [i for i in ids if i in vecs]  # a chunk not in the catalog is mid-write: skip it
        scored = self._fuse(query, plan.quote, ids, vecs, qvec, dense, lexical, plan.dates)
        records: dict[str, ChunkRecord] = {}

        def record(cid: str) -> ChunkRecord | None:
            if cid not in records:
                records.update(self.storage.catalog.chunk_records([cid]))
            return records.get(cid)

        kept = _dedup(scored, vecs, record, s.dedup_threshold, plan.k)
        records.update(self.storage.catalog.chunk_records([c.id for c in kept if c.id not in records]))
        ranked = tuple(
            Hit(
                records[c.id].chunk,
                i + 1,
                c.score,
                c.dense,
                c.lexical,
                c.dense_rank,
                c.lexical_rank,
                c.sentence,
            )
            for i, c in enumerate(c for c in kept if c.id in records)
        )
        timings["fuse"] = _ms(t)
        return Retrieval(ranked, {h.chunk.id: records[h.chunk.id] for h in ranked}, qvec, timings)

    def _phrases(self, query: str, ids: list[str]) -> dict[str, float]:
        """How much of the query (or of the passage it quotes) a candidate repeats verbatim:
        the share of its words in the longest repeated run, cubed so that only near-complete
        runs count. BM25 and the vectors score words and meaning, not word order: a pasted
        quote matched a dozen template sentences that differ from it in one name about as
        well as its own sentence."""
        words = _WORDS.findall(query.lower())
        if len(words) < PHRASE_N:
            return {}
        shingles = {tuple(words[i : i + PHRASE_N]) for i in range(len(words) - PHRASE_N + 1)}
        out: dict[str, float] = {}
        for cid, text in self.storage.catalog.chunk_texts(ids).items():
            best = longest_shared_run(_WORDS.findall(text.lower()), shingles, set(words))
            if best:
                out[cid] = ((best + PHRASE_N - 1) / len(words)) ** 3
        return out

    def _fuse(
        self,
        query: str,
        quote: str | None,
        ids: list[str],
        vecs: Mapping[str, ChunkVectors],
        qvec: np.ndarray,
        dense: list[tuple[str, float]],
        lexical: list[tuple[str, float]],
        intent: DateIntent,
    ) -> list[_Scored]:
        """Every candidate scored on both signals, best first.

        Weighted fusion's dense signal is the candidate's best sentence similarity (its stored
        sentence vectors), not the chunk vector alone: a chunk averages several sentences, and a
        question that matches one of them well (a quoted sentence, a precise fact) was ranked
        below chunks that match loosely throughout (docs/evals.md, fusion sweep).
        """
        s = self.settings
        if not ids:
            return []
        dense_rank = {cid: i + 1 for i, (cid, _) in enumerate(dense)}
        lex_rank = {cid: i + 1 for i, (cid, _) in enumerate(lexical)}
        lex_score = dict(lexical)
        top_lex = max(lex_score.values(), default=0.0) or 1.0
        cos = np.stack([vecs[i].vec for i in ids]) @ qvec  # exact chunk cosine for every candidate
        best = np.array([float((vecs[i].sent_vecs @ qvec).max()) if len(vecs[i].sent_vecs) else cos[j]
                         for j, i in enumerate(ids)])  # fmt: skip
        phrase = self._phrases(quote or query, ids) if s.phrase_weight else {}
        fused: list[float] = []
        for j, cid in enumerate(ids):
            if s.fusion == "rrf":  # weighted RRF; dense_weight 0.5 is the standard equal-weight form
                f = 2 * s.dense_weight / (s.rrf_k + dense_rank[cid]) if cid in dense_rank else 0.0
                f += 2 * (1 - s.dense_weight) / (s.rrf_k + lex_rank[cid]) if cid in lex_rank else 0.0
            else:
                f = s.dense_weight * float(best[j]) + (1 - s.dense_weight) * lex_score.get(cid, 0.0) / top_lex
                f += s.phrase_weight * phrase.get(cid, 0.0)
            fused.append(f)
        if intent.prefer_recent:
            fused = _recency(fused, self.storage.lexical.published(ids), s.recency_weight, s.fusion)
        order = sorted(range(len(ids)), key=lambda j: -fused[j])
        return [
            _Scored(
                id=ids[j],
                score=round(fused[j], 6),
                dense=round(float(cos[j]), 6),
                lexical=round(lex_score[ids[j]], 6) if ids[j] in lex_score else None,
                dense_rank=dense_rank.get(ids[j]),
                lexical_rank=lex_rank.get(ids[j]),
                sentence=round(float(best[j]), 6),
            )
            for j in order
        ]


@dataclass(frozen=True)
class _Scored:
    """A fused candidate before its text is loaded."""

    id: str
    score: float
    dense: float
    lexical: float | None
    dense_rank: int | None
    lexical_rank: int | None
    sentence: float


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


def _dedup(
    scored: list[_Scored],
    vecs: Mapping[str, ChunkVectors],
    record: Callable[[str], ChunkRecord | None],
    threshold: float,
    k: int,
) -> list[_Scored]:
    """The best `k` candidates, one dropped when it repeats a better one (a syndicated copy, a repost).

    A repeat is a near-identical vector that also states the same figures and names: a copy
    whose number or name changed is news, and is kept (docs/evals.md: dropping such copies cost
    passage recall on the conflicting-sources set). Texts are read only for near-identical pairs.
    """
    kept: list[_Scored] = []
    for c in scored:
        if len(kept) >= k:
            break
        v = vecs[c.id].vec
        twins = [o for o in kept if float(v @ vecs[o.id].vec) >= threshold]
        if twins and any(_facts(record, c.id) == _facts(record, o.id) for o in twins):
            continue
        kept.append(c)
    return kept


def _facts(record: Callable[[str], ChunkRecord | None], cid: str) -> frozenset[str]:
    rec = record(cid)
    return checkable_facts(rec.chunk.text) if rec else frozenset()


PHRASE_N = 4  # words per shingle: a shorter shared run is ordinary phrasing, not a quote


def longest_shared_run(toks: list[str], shingles: set[tuple[str, ...]], vocab: set[str]) -> int:
    """The longest run of consecutive positions of `toks` whose PHRASE_N-word shingle is one of
    `shingles` (built from words in `vocab`). Only positions where PHRASE_N words in a row are in
    `vocab` can match, so only those are looked up: most candidates share a few scattered words
    with the question and cost one pass of set lookups."""
    at = [i for i, t in enumerate(toks) if t in vocab]
    best = run = 0
    last = -2
    for j in range(len(at) - PHRASE_N + 1):
        i = at[j]
        if at[j + PHRASE_N - 1] - i == PHRASE_N - 1 and tuple(toks[i : i + PHRASE_N]) in shingles:
            run = run + 1 if i == last + 1 else 1
            last = i
            if run > best:
                best = run
    return best


_WORDS = re.compile(r"\w+")
_FACT = re.compile(r"\d+(?:[.,]\d+)*|\b[A-Z][\w'’-]+")


def checkable_facts(text: str) -> frozenset[str]:
    """The figures and capitalised names of a passage: what a changed copy would change."""
    return frozenset(_FACT.findall(text))


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
