"""The default answerer: picks the retrieved sentences that answer the question, and quotes them.

Each candidate sentence is scored on semantic similarity (its late-pooled vector, stored at
ingest), idf-weighted lexical coverage of the question, and whether it holds the kind of thing
the question asks for (a number, a date, a name). A few non-redundant sentences are chosen and
ordered to read well. Every answer sentence is a verbatim span of a stored article, so every
citation resolves by construction. When the best evidence is weak, it abstains and shows the
closest passages as "not an answer".
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from rag.catalog import ChunkRecord
from rag.lexical import english_stopwords, terms
from rag.types import Hit, Span

# Words that carry the question's form, not its topic.
_QUESTION_STOP = set(
    [
        "what",
        "which",
        "who",
        "whom",
        "whose",
        "when",
        "where",
        "why",
        "how",
        "many",
        "much",
        "did",
        "does",
        "do",
        "is",
        "are",
        "was",
        "were",
        "has",
        "have",
        "had",
        "according",
        "say",
        "said",
        "tell",
        "told",
        "give",
        "gave",
        "besides",
        "other",
        "about",
        "there",
        "their",
        "they",
        "them",
        "its",
        "it",
        "this",
        "that",
        "these",
        "those",
        "can",
        "could",
        "would",
        "should",
        "will",
        "shall",
        "may",
        "might",
        "one",
        "ones",
        "kind",
        "type",
    ]
)
_NUMBER = re.compile(
    r"\b\d[\d,.]*\b|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|"
    r"hundred|hundreds|thousand|thousands|million|millions|dozen|dozens)\b",
    re.I,
)
_DATE = re.compile(
    r"\b(19|20)\d\d\b|\b(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s+\d|\b\d{1,2}\s+"
    r"(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)|\b(monday|tuesday|wednesday|thursday|friday|saturday|"
    r"sunday|yesterday|today|last (week|month|year)|overnight)\b",
    re.I,
)
_YEARLIKE = re.compile(r"\b(?:19|20)\d\d\b|\b\d+(?:[.,]\d+)?\b")
# A sentence that opens like this adds to the one before it (pronoun openers only refer back).
_CONTINUES = re.compile(r"^(in addition|additionally|also|moreover|furthermore|besides|as well)\b", re.I)
_NAME = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-z\u00C0-\u024F’'-]+(?:\s+[A-Z][a-z\u00C0-\u024F’'-]+)*")


@dataclass(frozen=True)
class Weights:
    semantic: float = 0.45
    lexical: float = 0.35
    answer_type: float = 0.10
    retrieval: float = 0.10
    keep_ratio: float = 0.80  # further sentences must score this close to the best one
    redundancy: float = 0.90  # cosine above which two sentences say the same thing


@dataclass(frozen=True)
class Candidate:
    hit: Hit
    span: Span
    text: str
    score: float
    semantic: float
    lexical: float
    type_ok: bool
    vec: np.ndarray


@dataclass(frozen=True)
class Extraction:
    chosen: list[Candidate]
    ranked: list[Candidate]
    confidence: float
    answer_type: str | None
    abstained: bool


def question_terms(question: str) -> list[str]:
    """The topical terms of a question: stopwords and question-form words dropped before stemming."""
    qt = terms(question, english_stopwords() | _QUESTION_STOP)
    return list(dict.fromkeys(qt)) or terms(question)


def _type_ok(kind: str | None, sentence: str, question: str) -> bool:
    if kind == "number":
        return bool(_NUMBER.search(sentence))
    if kind == "date":
        return bool(_DATE.search(sentence))
    if kind in ("name", "place"):
        asked = question.lower()
        return any(m.group().lower() not in asked for m in _NAME.finditer(sentence))
    return False


def extract(
    question: str,
    query_vec: np.ndarray,
    hits: Sequence[Hit],
    records: Mapping[str, ChunkRecord],
    idf: Callable[[str], float],
    max_sentences: int,
    threshold: float,
    weights: Weights = Weights(),
    chronological: bool = False,
    kind: str | None = None,
) -> Extraction:
    """Score every sentence of the hits, choose the answer, and decide whether to abstain.

    `question` is the query as searched; `kind` its expected answer type (from the QueryPlan).
    """
    qterms = question_terms(question)
    qweight = {t: idf(t) for t in qterms}
    total = sum(qweight.values()) or 1.0
    top_hit = max((h.score for h in hits), default=1.0) or 1.0

    cands: list[Candidate] = []
    seen: set[tuple[str, int, int]] = set()
    chunk_cov: dict[str, float] = {}
    for h in hits:
        rec = records.get(h.chunk.id)
        if rec is None:
            continue
        chunk_terms = set(terms(h.chunk.text + " " + (h.chunk.title or "")))
        chunk_cov[h.chunk.id] = sum(w for t, w in qweight.items() if t in chunk_terms) / total
        sims = rec.sent_vecs @ query_vec if len(rec.sent_vecs) else np.zeros(0)
        for i, span in enumerate(h.chunk.sentences):
            key = (h.chunk.article_id, span.start, span.end)
            if key in seen:
                continue
            seen.add(key)
            text = h.chunk.text[span.start - h.chunk.start : span.end - h.chunk.start]
            st = set(terms(text))
            lex = sum(w for t, w in qweight.items() if t in st) / total
            ok = _type_ok(kind, text, question)
            sem = float(sims[i]) if i < len(sims) else 0.0
            score = (
                weights.semantic * sem
                + weights.lexical * lex
                + weights.answer_type * (1.0 if ok else 0.0)
                + weights.retrieval * (h.score / top_hit)
            )
            vec = rec.sent_vecs[i] if i < len(rec.sent_vecs) else rec.vec
            cands.append(Candidate(h, span, text, score, sem, lex, ok, vec))

    ranked = sorted(cands, key=lambda c: -c.score)
    if not ranked:
        return Extraction([], [], 0.0, kind, True)
    best = ranked[0]
    # Confidence: how well the best evidence matches in meaning, and how much of the question's
    # specific vocabulary its passage covers (unanswerable questions miss their rare terms).
    confidence = 0.5 * max(best.semantic, 0.0) + 0.5 * chunk_cov.get(best.hit.chunk.id, 0.0)
    if kind is not None and not best.type_ok:
        confidence *= 0.8
    # A question pinned to a year or number that its evidence never mentions asks about something else.
    evidence = (
        best.hit.chunk.text + " " + (best.hit.chunk.published.isoformat() if best.hit.chunk.published else "")
    )
    asked_numbers = set(_YEARLIKE.findall(question))
    if asked_numbers and not any(num in evidence for num in asked_numbers):
        confidence *= 0.5
    confidence = float(min(max(confidence, 0.0), 1.0))
    if confidence < threshold:
        return Extraction([], ranked, confidence, kind, True)

    chosen = [best]
    for c in ranked[1:]:
        if len(chosen) >= max_sentences or c.score < weights.keep_ratio * best.score:
            break
        if any(float(c.vec @ o.vec) >= weights.redundancy or c.text == o.text for o in chosen):
            continue
        chosen.append(c)
    chosen = _with_continuations(chosen, cands, max_sentences + 1)
    return Extraction(_reading_order(chosen, chronological), ranked, confidence, kind, False)


def _with_continuations(chosen: list[Candidate], cands: list[Candidate], limit: int) -> list[Candidate]:
    """Add the next sentence of a chosen one when it plainly continues it ("In addition, ...")."""
    by_pos = {(c.hit.chunk.article_id, c.span.start): c for c in cands}
    ordered = sorted(cands, key=lambda c: (c.hit.chunk.article_id, c.span.start))
    nxt = {
        (a.hit.chunk.article_id, a.span.start): b
        for a, b in zip(ordered, ordered[1:], strict=False)
        if a.hit.chunk.article_id == b.hit.chunk.article_id
        and "\n" not in a.hit.chunk.text[a.span.end - a.hit.chunk.start : b.span.start - a.hit.chunk.start]
    }
    out = list(chosen)
    for c in chosen:
        follower = nxt.get((c.hit.chunk.article_id, c.span.start))
        if (
            follower is not None
            and len(out) < limit
            and _CONTINUES.match(follower.text)
            and all(
                o.span != follower.span or o.hit.chunk.article_id != follower.hit.chunk.article_id
                for o in out
            )
        ):
            out.append(follower)
    del by_pos
    return out


def _reading_order(chosen: list[Candidate], chronological: bool) -> list[Candidate]:
    """Sentences of one article stay together in text order; articles follow relevance, or date."""
    first: dict[str, int] = {}
    for i, c in enumerate(chosen):
        first.setdefault(c.hit.chunk.article_id, i)

    def key(c: Candidate) -> tuple[object, ...]:
        d = c.hit.chunk.published
        group: object = (
            (d is None, d.toordinal() if d else 0) if chronological else first[c.hit.chunk.article_id]
        )
        return (group, c.hit.chunk.article_id, c.span.start)

    return sorted(chosen, key=key)
