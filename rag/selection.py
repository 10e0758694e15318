"""Choosing the answer sentences from the scored evidence, and deciding whether to abstain.

A factoid question gets its best sentence and the few that score close to it; a broad question
("what happened in X?") gets the most informative sentences of the top passages, at most two per
article. The answer model's probability that the composed answer is right becomes the answer's
confidence; a factoid answer abstains below the model's threshold, a broad one only when the
passages are off topic (the question's names or most of its words are missing from them).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass

from rag.answer_model import AnswerModel
from rag.evidence import Evidence, Sentence
from rag.plan import QueryPlan
from rag.types import Hit

ANSWER_FEATURES = (
    "score1", "margin", "p1", "sem1", "lex1", "lexw1", "cov1", "miss_best", "miss_idf", "miss_share",
    "names1", "type_missing1", "period_asked", "period_found", "top_dense", "broad",
)  # fmt: skip
REDUNDANT = 0.9  # cosine above which two sentences say the same thing
BROAD_SENTENCES = 4
PER_ARTICLE = 2  # a broad answer's sentences from one article, at most
BROAD_MARGIN = 2.0  # sentence-model score below the best that an overview still quotes
LEDE_BONUS = 1.0
# A sentence that opens with an additive connective carries on its predecessor's point ("It is hard
# to get there logistically. In addition, a huge number of drones are involved."): when the
# predecessor answers, the continuation is part of the same answer.
CONTINUES = re.compile(
    r"^(?:in addition|additionally|also|moreover|furthermore|besides|what is more|what's more|on top of that)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Selection:
    chosen: tuple[Sentence, ...]
    x: tuple[float, ...]  # answer features, in ANSWER_FEATURES order
    confidence: float  # P(the answer is right), from the answer model
    abstained: bool
    reason: str  # why it answered or abstained, for the trace


def select(
    plan: QueryPlan,
    ev: Evidence,
    hits: Sequence[Hit],
    model: AnswerModel,
    max_sentences: int,
    threshold: float | None = None,
) -> Selection:
    """The answer sentences for `plan` and the abstention decision (`threshold` overrides the model's)."""
    threshold = model.threshold if threshold is None else threshold
    x = answer_features(plan, ev, hits)
    quoted = _quoting(plan.quote, ev) if plan.quote else ()
    if quoted:  # the passage the question quotes, verbatim: no doubt is left to model
        return Selection(quoted, tuple(x), 1.0, False, "the question quotes this passage")
    if plan.dates.period and ev.sentences:
        # A question bound to a period is answered only by sentences that place themselves in it
        # (a year or range in the sentence or beside it); with none, the passages lack the answer.
        within = tuple(s for s in ev.sentences if s.feature("window_period"))
        if not within:
            a, b = plan.dates.period
            return Selection(
                (), tuple(x), 0.0, True, f"no passage mentions {a}" + (f"-{b}" if b != a else "")
            )
        ev = dataclasses.replace(ev, sentences=within)
    confidence = model.answer_probability(x) if ev.sentences else 0.0
    if not ev.sentences:
        return Selection((), tuple(x), 0.0, True, "no sentence to quote")
    if plan.broad:
        feats = dict(zip(ANSWER_FEATURES, x, strict=True))
        if feats["miss_share"] >= 0.5 or _names_missing(ev, hits):
            return Selection(
                (), tuple(x), confidence, True, "the passages are not about the question's topic"
            )
        return Selection(broad_sentences(ev), tuple(x), confidence, False, "overview of the top passages")
    if confidence < threshold:
        return Selection((), tuple(x), confidence, True, f"confidence {confidence:.2f} < {threshold:.2f}")
    return Selection(
        factoid_sentences(ev, model.keep_ratio, max_sentences), tuple(x), confidence, False, "answered"
    )


def factoid_sentences(ev: Evidence, keep_ratio: float, limit: int) -> tuple[Sentence, ...]:
    """The best sentence and the few that score close to it (no repeats). Other sources' values
    for the same thing are added by the conflicts stage, not here."""
    best = ev.sentences[0]
    chosen = [best]
    for s in ev.sentences[1:]:
        if len(chosen) >= limit or s.p < keep_ratio * best.p:
            break
        if not _redundant(s, chosen):
            chosen.append(s)
    return _with_continuations(ev, chosen, limit)


def _with_continuations(ev: Evidence, chosen: Sequence[Sentence], limit: int) -> tuple[Sentence, ...]:
    """`chosen`, each followed by the next sentence of its chunk when that one carries on its point."""
    after = {(s.hit.chunk.id, s.index): s for s in ev.sentences}
    out: list[Sentence] = []
    taken: set[tuple[str, int]] = set()
    for s in chosen:
        for t in (s, after.get((s.hit.chunk.id, s.index + 1))):
            if t is None or (t.hit.chunk.id, t.index) in taken:
                continue
            if t is not s and (len(out) >= limit or not CONTINUES.match(t.text.lstrip(' "“'))):
                continue
            out.append(t)
            taken.add((t.hit.chunk.id, t.index))
    return tuple(out)


def broad_sentences(ev: Evidence, limit: int = BROAD_SENTENCES) -> tuple[Sentence, ...]:
    """The most informative sentences across the top passages: no repeats, at most two per article.
    A news lede (an article's first sentence) summarises its story, so an overview favours ledes."""
    best = ev.sentences[0]
    chosen: list[Sentence] = []
    per: dict[str, int] = {}
    near = [s for s in ev.sentences if s.score >= best.score - BROAD_MARGIN]
    for s in sorted(near, key=lambda s: -(s.score + LEDE_BONUS * s.feature("lede"))):
        if len(chosen) >= limit:
            break
        if per.get(s.article_id, 0) >= PER_ARTICLE or _redundant(s, chosen):
            continue
        chosen.append(s)
        per[s.article_id] = per.get(s.article_id, 0) + 1
    return tuple(chosen)


def answer_features(plan: QueryPlan, ev: Evidence, hits: Sequence[Hit]) -> list[float]:
    """Question-level features: how good the best evidence is, and what the passages lack."""
    ss = ev.sentences
    best = ss[0] if ss else None
    covered: set[str] = set().union(*ev.chunk_terms.values()) if ev.chunk_terms else set()
    missing = {t: w for t, w in ev.qweight.items() if t not in covered}
    top_idf = max(ev.qweight.values(), default=1.0) or 1.0
    total = sum(ev.qweight.values()) or 1.0
    unmatched = [w for t, w in ev.qweight.items() if best is not None and t not in best.terms]
    return [
        best.score if best else -10.0,
        best.score - ss[1].score if len(ss) > 1 and best else 0.0,
        best.p if best else 0.0,
        best.feature("sem") if best else 0.0,
        best.feature("lex") if best else 0.0,
        best.feature("lex_window") if best else 0.0,
        best.feature("chunk_cov") if best else 0.0,
        max(unmatched, default=0.0) / top_idf,
        max(missing.values(), default=0.0) / top_idf,
        sum(missing.values()) / total,
        best.feature("names") if best else 0.0,
        best.feature("type_missing") if best else 0.0,
        1.0 if plan.dates.period else 0.0,
        1.0 if plan.dates.period and any(s.feature("period_in") for s in ss[:10]) else 0.0,
        float(hits[0].dense or 0.0) if hits else 0.0,
        1.0 if plan.broad else 0.0,
    ]


def _flat(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.lower()))


def _quoting(quote: str, ev: Evidence) -> tuple[Sentence, ...]:
    """Sentences that hold the quoted passage word for word (or that it holds, when it spans several)."""
    q = _flat(quote)
    hits = [s for s in ev.sentences if q in _flat(s.text) or (len(_flat(s.text)) > 40 and _flat(s.text) in q)]
    return tuple(hits[:3])


def _redundant(s: Sentence, chosen: Sequence[Sentence]) -> bool:
    return any(float(s.vec @ o.vec) >= REDUNDANT or s.text == o.text for o in chosen)


def _names_missing(ev: Evidence, hits: Sequence[Hit]) -> bool:
    """Whether a name the question asks about appears in none of the passages."""
    if not ev.names:
        return False
    texts = " ".join(f"{h.chunk.title or ''} {h.chunk.text}".lower() for h in hits)
    return any(n not in texts for n in ev.names)
