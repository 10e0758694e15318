"""'Latest', 'now', 'as of DATE': the newest evidence that answers leads; older figures follow as
older, never first. An as-of answer stands on the newest evidence published by that date (the
plan's filter already left later articles out) and says which date that is. Undated articles
never lead a date-bound answer.
"""

from __future__ import annotations

from rag.answering import AnswerContext
from rag.dates import day_label
from rag.evidence import Sentence
from rag.stages._common import extractive, rebuilt
from rag.types import Answer
from rag.values import answering, comparable, value_of

EARLIER = 2  # older answering sentences kept after the newest


class Recency:
    name = "recency"
    order = 20

    def applies(self, ctx: AnswerContext, answer: Answer) -> bool:
        d, plan = ctx.plan.dates, ctx.plan
        if plan.kind == "timeline" or not extractive(answer):
            return False
        if d.latest or d.as_of is not None:
            return True
        return plan.kind == "factoid" and plan.answer_type == "number" and _changing(ctx)

    def apply(self, ctx: AnswerContext, answer: Answer) -> Answer:
        pool = answering(ctx.evidence)
        chosen_ids = {(s.article_id, s.span) for s in pool}
        quoted_spans = {(c.article_id, c.start) for c in answer.citations}
        for s in ctx.evidence.sentences:  # the draft's own sentences stay candidates
            if (s.article_id, s.span.start) in quoted_spans and (s.article_id, s.span) not in chosen_ids:
                pool.append(s)
        dated = [s for s in pool if s.hit.chunk.published is not None]
        if not dated:
            return answer  # nothing dated answers it: the draft stands (its sentences say "undated")
        newest = max(s.hit.chunk.published for s in dated)  # type: ignore[type-var]
        lead = [s for s in dated if s.hit.chunk.published == newest]
        lead.sort(key=lambda s: -s.p)
        older = sorted((s for s in dated if s.hit.chunk.published != newest), key=lambda s: -s.p)[:EARLIER]
        older.sort(key=lambda s: s.hit.chunk.published, reverse=True)  # type: ignore[arg-type, return-value]
        first = lead[:2] if ctx.plan.broad else lead[:1]  # an overview of the newest day: two of its lines
        chosen: list[Sentence] = [*first, *older]
        labels = [*["latest"] * len(first), *["earlier"] * len(older)]
        as_of = ctx.plan.dates.as_of
        head = f"As of {day_label(as_of)}, the newest report is from {day_label(newest)}." if as_of else None
        return rebuilt(answer, chosen, labels, lead=head)


def _changing(ctx: AnswerContext) -> bool:
    """Whether dated answering sentences give different figures on different days: a figure that
    moves (a toll, a count) is answered newest first even when the question does not say 'latest'."""
    plan = ctx.plan
    pool = answering(ctx.evidence)
    first = next((v for v in (value_of(s.text, plan.answer_type, plan.query) for s in pool) if v), None)
    seen: dict[str, set[object]] = {}
    for s in pool:
        v = value_of(s.text, plan.answer_type, plan.query, s.hit.chunk.published)
        if v is not None and first is not None and comparable(v, first) and s.hit.chunk.published is not None:
            seen.setdefault(v, set()).add(s.hit.chunk.published)
    days = {d for ds in seen.values() for d in ds}
    return len(seen) > 1 and len(days) > 1


STAGE = Recency()
