"""'How did X develop?', 'timeline of X', 'what happened since …': one line per date, oldest first.

Each line is the most informative answering sentence published that day (several outlets on one
day: the best one), with its outlet and citation. Undated articles have no place on a timeline.
"""

from __future__ import annotations

from datetime import date

from rag.answering import AnswerContext
from rag.evidence import Sentence
from rag.selection import LEDE_BONUS
from rag.stages._common import extractive, rebuilt
from rag.types import Answer

MAX_DATES = 6
TIMELINE_MARGIN = 2.5  # sentence-model score below the best that a timeline line may have


class Timeline:
    name = "timeline"
    order = 10

    def applies(self, ctx: AnswerContext, answer: Answer) -> bool:
        return ctx.plan.kind == "timeline" and extractive(answer)

    def apply(self, ctx: AnswerContext, answer: Answer) -> Answer:
        ev = ctx.evidence
        best = ev.sentences[0].score if ev.sentences else 0.0
        by_day: dict[date, Sentence] = {}
        # A news lede sums up its day's story, so a day's line favours it (as overviews do).
        ranked = sorted(ev.sentences, key=lambda s: -(s.score + LEDE_BONUS * s.feature("lede")))
        for s in ranked:  # best first: the first sentence seen for a day is its best
            day = s.hit.chunk.published
            if day is None or s.score < best - TIMELINE_MARGIN or day in by_day:
                continue
            if ctx.plan.answer_type and s.feature("type_missing"):
                continue  # "how did the toll develop": a line without a figure says nothing of it
            by_day[day] = s
        if len(by_day) < 2:
            return answer  # nothing to put in order: the draft stands
        chosen = [by_day[d] for d in sorted(by_day)[-MAX_DATES:]]
        return rebuilt(answer, chosen, layout="timeline", lead="Timeline, oldest first:")


STAGE = Timeline()
