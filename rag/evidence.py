"""Every retrieved sentence, described by the features the answer model reads, and scored.

A sentence's features say how well it matches the question (meaning, idf-weighted words, names,
numbers, the asked period), whether it holds the kind of thing asked for, and where it comes
from (passage rank, position). The learned sentence model (rag.answer_model) turns them into
the probability that the sentence holds the answer. Boilerplate never becomes evidence.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from rag.answer_model import AnswerModel
from rag.boilerplate import is_boilerplate, trim_span
from rag.catalog import ChunkRecord
from rag.dates import years_in
from rag.extractive import NUMBER_RE, canon, question_terms, type_ok
from rag.lexical import terms
from rag.plan import QueryPlan
from rag.retrieve import Retrieval
from rag.types import Hit, Span

SENTENCE_FEATURES = (
    "sem", "chunk_sem", "lex", "lex_window", "rare", "chunk_cov", "type_ok", "type_missing", "retrieval",
    "rank_inv", "lede", "length", "novelty", "names", "numbers", "period_in", "period_out",
    "window_period",
)  # fmt: skip
_RANGE = re.compile(r"\b(1\d{3}|20\d{2})\s*(?:-|–|—|to|until|through)\s*(1\d{3}|20\d{2}|present|now)\b", re.I)
_SINCE_YEAR = re.compile(r"\bsince\s+(?:(?:early|late|mid)[\s-]+)?(1\d{3}|20\d{2})\b", re.I)
_QNAME = re.compile(r"\b[A-Z][\w’'-]+")


@dataclass(frozen=True)
class Sentence:
    """A candidate answer sentence: an exact span of its hit's chunk, its features and score."""

    hit: Hit
    index: int  # position among the chunk's sentences
    span: Span
    text: str
    vec: np.ndarray
    x: np.ndarray  # features, in SENTENCE_FEATURES order
    p: float  # P(it is the sentence that answers), a softmax over the question's sentences
    score: float  # the sentence model's linear score (comparable across questions)
    terms: frozenset[str]  # stemmed terms of the sentence and its neighbours

    @property
    def article_id(self) -> str:
        return self.hit.chunk.article_id

    def feature(self, name: str) -> float:
        return float(self.x[SENTENCE_FEATURES.index(name)])


@dataclass(frozen=True)
class Evidence:
    """The scored sentences of a retrieval, best first, with what the question asked about."""

    sentences: tuple[Sentence, ...]
    qweight: dict[str, float]  # the question's topical terms (stemmed) and their idf
    names: tuple[str, ...]  # names the question mentions (lower case)
    chunk_terms: dict[str, frozenset[str]]  # chunk id -> its terms (with title)


def score_evidence(
    plan: QueryPlan, r: Retrieval, idf: Callable[[str], float], model: AnswerModel
) -> Evidence:
    """Features and scores for every non-boilerplate sentence of the retrieved passages."""
    qterms = question_terms(plan.search_text, plan.broad or plan.kind == "timeline")
    qweight: dict[str, float] = {}
    for t in qterms:  # a synonym group weighs as its rarest member asked
        folded = next(iter(canon([t])))
        qweight[folded] = max(qweight.get(folded, 0.0), idf(t))
    total = sum(qweight.values()) or 1.0
    names = _question_names(plan.query)
    numbers = {n for n in NUMBER_RE.findall(plan.query) if n[:1].isdigit()} - {
        str(y) for y in years_in(plan.query)
    }
    top = max((h.score for h in r.hits), default=1.0) or 1.0
    rows: list[tuple[Hit, int, Span, str, np.ndarray, list[float], frozenset[str]]] = []
    seen: set[tuple[str, int, int]] = set()
    chunk_terms: dict[str, frozenset[str]] = {}
    for h in r.hits:
        rec = r.records.get(h.chunk.id)
        if rec is None:
            continue
        ch = h.chunk
        cterms = frozenset(canon(terms(ch.text + " " + (ch.title or ""))))
        chunk_terms[ch.id] = cterms
        cov = sum(w for t, w in qweight.items() if t in cterms) / total
        texts = [ch.text[s.start - ch.start : s.end - ch.start] for s in ch.sentences]
        sterms = [canon(terms(t)) for t in texts]
        years = [_years_and_ranges(t) for t in texts]
        flagged = {(f.start, f.end) for f in ch.injection}
        for i, span in enumerate(ch.sentences):
            key = (ch.article_id, span.start, span.end)
            if key in seen:
                continue
            if (
                (span.start, span.end) in flagged or _furniture(ch.text, span, ch.start, texts[i], ch.source)
            ) and not _asked_about(sterms[i], qweight, total):
                # Page furniture, or an instruction to the reader or an AI (rag.injection): never an
                # answer unless the question is about it ("what is its bias rating?").
                continue
            seen.add(key)
            s, e = trim_span(ch.text, span.start - ch.start, span.end - ch.start)
            if e <= s:
                continue
            text = ch.text[s:e]
            window = (
                sterms[i]
                | (sterms[i - 1] if i else set())
                | (sterms[i + 1] if i + 1 < len(sterms) else set())
            )
            sem = float(rec.sent_vecs[i] @ r.query_vec) if i < len(rec.sent_vecs) else float(h.dense or 0.0)
            near = years[max(i - 1, 0) : i + 2]
            x = _features(plan, h, i, text, sem, sterms[i], window, qweight, total, cov, top, names, numbers,
                          years[i], [y for ys in near for y in ys])  # fmt: skip
            rows.append((h, i, Span(s + ch.start, e + ch.start), text, _vec(rec, i), x, frozenset(window)))
    if not rows:
        return Evidence((), qweight, names, chunk_terms)
    X = np.array([row[5] for row in rows], dtype=np.float64)
    z, p = model.sentence_scores(X)
    sentences = [
        Sentence(h, i, span, text, vec, X[j], float(p[j]), float(z[j]), window)
        for j, (h, i, span, text, vec, _, window) in enumerate(rows)
    ]
    sentences.sort(key=lambda c: -c.p)
    return Evidence(tuple(sentences), qweight, names, chunk_terms)


def _features(
    plan: QueryPlan, h: Hit, i: int, text: str, sem: float, sterms: set[str], window: set[str],
    qweight: dict[str, float], total: float, cov: float, top: float, names: tuple[str, ...], numbers: set[str],
    years: list[tuple[int, int]], near_years: list[tuple[int, int]],
) -> list[float]:  # fmt: skip
    low = text.lower()
    rare = sorted(qweight, key=lambda t: -qweight[t])[:2]  # the question's two most specific words
    ok = type_ok(plan.answer_type, text, plan.query)
    content = sterms - set(qweight)
    period = plan.dates.period
    return [
        sem,
        h.dense or 0.0,
        sum(w for t, w in qweight.items() if t in sterms) / total,
        sum(w for t, w in qweight.items() if t in window) / total,
        sum(t in window for t in rare) / len(rare) if rare else 1.0,
        cov,
        1.0 if plan.answer_type and ok else 0.0,
        1.0 if plan.answer_type and not ok else 0.0,
        h.score / top,
        1.0 / h.rank,
        1.0 if h.chunk.n == 0 and i == 0 else 0.0,
        min(len(text.split()) / 40.0, 1.0),
        len(content) / max(len(sterms), 1),
        sum(n in low for n in names) / len(names) if names else 1.0,
        sum(n in text for n in numbers) / len(numbers) if numbers else 1.0,
        1.0 if period and _overlaps(years, period) else 0.0,
        1.0 if period and years and not _overlaps(years, period) else 0.0,
        1.0 if period and _overlaps(near_years, period) else 0.0,
    ]


def _vec(rec: ChunkRecord, i: int) -> np.ndarray:
    return rec.sent_vecs[i] if i < len(rec.sent_vecs) else rec.vec


def _asked_about(sterms: set[str], qweight: dict[str, float], total: float) -> bool:
    return sum(w for t, w in qweight.items() if t in sterms) / total >= 0.6


def _furniture(chunk_text: str, span: Span, offset: int, text: str, source: str | None) -> bool:
    s, e = span.start - offset, span.end - offset
    line_start = chunk_text.rfind("\n", 0, s) + 1
    line_end = chunk_text.find("\n", e)
    line_end = len(chunk_text) if line_end < 0 else line_end
    whole_line = not chunk_text[line_start:s].strip() and not chunk_text[e:line_end].strip()
    return is_boilerplate(text, source, whole_line)


def _question_names(query: str) -> tuple[str, ...]:
    """Capitalised words of the question after its first word (lower case): names it is about."""
    words = _QNAME.findall(query)
    first = query.split()[0] if query.split() else ""
    return tuple(dict.fromkeys(w.lower() for w in words if w != first and len(w) > 1))


def _years_and_ranges(text: str) -> list[tuple[int, int]]:
    spans = [(int(a), 2100 if not b[:1].isdigit() else int(b)) for a, b in _RANGE.findall(text)]
    spans += [(int(y), 2100) for y in _SINCE_YEAR.findall(text)]
    return spans + [(y, y) for y in years_in(text)]


def _overlaps(years: Sequence[tuple[int, int]], period: tuple[int, int]) -> bool:
    return any(a <= period[1] and b >= period[0] for a, b in years)
