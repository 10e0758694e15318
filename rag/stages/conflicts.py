"""Sources that disagree: answering sentences from different sources that give different values
for what the question asks (a figure, a date, a name) are reported as a conflict, each value
with its citations, outlet and date, and every value is quoted in the answer.

A source updating its own figure is a development, not a disagreement: each source speaks
through its newest answering sentence, and two sources only disagree when their newest reports
are close in time (or undated). Undated articles count as separate sources.
"""

from __future__ import annotations

import dataclasses
import re

from rag.answering import AnswerContext
from rag.evidence import Sentence
from rag.stages._common import rebuilt
from rag.types import Answer, Conflict, ConflictValue
from rag.values import answering, comparable, unit_of, value_of

SAME_TIME_DAYS = 3  # reports further apart than this describe different moments, not a disagreement
CONFLICT_MARGIN = 2.0  # only sentences that answer nearly as well as the best one are compared
SAME_TOPIC = 0.6  # ... and that hold most of the question's words (idf-weighted)
MAX_VALUES = 4


class Conflicts:
    name = "conflicts"
    order = 30

    def applies(self, ctx: AnswerContext, answer: Answer) -> bool:
        return not answer.abstained and ctx.plan.answer_type is not None and ctx.plan.kind != "timeline"

    def apply(self, ctx: AnswerContext, answer: Answer) -> Answer:
        plan = ctx.plan
        pool = answering(ctx.evidence, CONFLICT_MARGIN)
        if not pool:
            return answer
        best_sem = max(s.feature("sem") for s in pool)
        best_unit = unit_of(
            value_of(pool[0].text, plan.answer_type, plan.query, pool[0].hit.chunk.published) or ""
        )
        newest: dict[str, list[tuple[Sentence, str]]] = {}  # source -> its newest day's answering values
        for s in pool:
            if s.hit.chunk.published is None and plan.dates.bound:
                continue  # an undated article has no say in a date-bound answer
            v = value_of(s.text, plan.answer_type, plan.query, s.hit.chunk.published)
            if v is None:
                continue
            same_unit = (
                best_unit is not None and unit_of(v) == best_unit
            )  # "100 firefighters" vs "80 firefighters"
            if not same_unit and (s.feature("lex_window") < SAME_TOPIC or s.feature("sem") < best_sem - 0.1):
                continue  # not plainly about the same thing as the best answer
            who = _source(s)
            held = newest.get(who, [])
            if not held or _day(s) > _day(held[0][0]):
                newest[who] = [(s, v)]
            elif _day(s) == _day(held[0][0]):
                held.append((s, v))  # one outlet quoting two claims on one day: both stand
        groups = _disagreeing([r for rs in newest.values() for r in rs])
        if len(groups) < 2:
            return answer
        if answer.mode != "extractive":
            return answer  # generated text: its citations are the model's, not these sentences
        kept = _chosen(ctx, answer)
        for _, members in groups:
            if not any(
                any(m is k or (m.article_id, m.span) == (k.article_id, k.span) for k in kept) for m in members
            ):
                kept.append(members[0])
        if any(s.label for s in answer.sentences):  # placed in time (latest, as of): keep newest first
            kept.sort(key=lambda s: -_day(s))
            top = _day(kept[0])
            labels: list[str | None] = [
                None if not _day(s) else "latest" if _day(s) == top else "earlier" for s in kept
            ]
        else:
            labels = [None] * len(kept)
        out = rebuilt(answer, kept, labels, lead=answer.lead, layout=answer.layout)
        number = {(c.article_id, c.start, c.end): c.n for c in out.citations}
        values = tuple(
            ConflictValue(
                value=v,
                citations=tuple(
                    dict.fromkeys(
                        number[(m.article_id, m.span.start, m.span.end)]
                        for m in members
                        if (m.article_id, m.span.start, m.span.end) in number
                    )
                ),
                source=members[0].hit.chunk.source,
                published=members[0].hit.chunk.published,
            )
            for v, members in groups
        )
        return dataclasses.replace(out, conflicts=(Conflict(_about(plan.query), values),))


_WHAT_IS = re.compile(
    r"^(what|which)\s+(is|are|was|were|has been|have been)\s+|^(according to [^,]+,\s*)"
    r"|^(do|does|did|are|were)\s+(the\s+)?(sources|outlets|reports|articles|papers|accounts)\s+"
    r"(agree|disagree|differ|match)\s+(on|about|over)\s+",
    re.I,
)
_TIME_WORDS = re.compile(r"\b(the\s+)?(latest|current|most recent|newest|now)\s+", re.I)


def _about(query: str) -> str:
    """What the values describe, from the question: 'What is the latest death toll from X?' ->
    'the death toll from X'."""
    text = _WHAT_IS.sub("", query.rstrip("?.! ").strip())
    text = _TIME_WORDS.sub(lambda m: "the " if m.group(1) else "", text)
    return text[:1].lower() + text[1:]


def _chosen(ctx: AnswerContext, answer: Answer) -> list[Sentence]:
    """The evidence sentences the answer quotes, in its order."""
    spans = [(c.article_id, c.start, c.end) for c in answer.citations]
    by_span = {(s.article_id, s.span.start, s.span.end): s for s in ctx.evidence.sentences}
    return [by_span[k] for k in spans if k in by_span]


def _source(s: Sentence) -> str:
    ch = s.hit.chunk
    return f"{ch.source}" if ch.source and ch.published else f"article:{ch.article_id}"


def _day(s: Sentence) -> int:
    d = s.hit.chunk.published
    return d.toordinal() if d else 0


def _disagreeing(reports: list[tuple[Sentence, str]]) -> list[tuple[str, list[Sentence]]]:
    """Values of reports close in time to the newest one and in the best report's unit, grouped;
    best-supported value first."""
    if not reports:
        return []
    best = max(reports, key=lambda r: r[0].p)[1]
    reports = [(s, v) for s, v in reports if comparable(v, best)]
    latest = max(_day(s) for s, _ in reports)
    current = [(s, v) for s, v in reports if not _day(s) or latest - _day(s) <= SAME_TIME_DAYS]
    groups: dict[str, list[Sentence]] = {}
    for s, v in sorted(current, key=lambda r: -r[0].p):
        groups.setdefault(v, []).append(s)
    ranked = sorted(groups.items(), key=lambda kv: (-len(kv[1]), -kv[1][0].p))
    return ranked[:MAX_VALUES]


STAGE = Conflicts()
