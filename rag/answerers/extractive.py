"""The default answer mode: quote the retrieved sentences that answer the question.

The evidence (every retrieved sentence, scored by the learned sentence model) comes from the
context; rag.selection chooses the sentences and decides, with the learned answer model, whether
to abstain. Post-answer stages (rag/stages) then place the answer in time and flag disagreement.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator

from rag.answering import AnswerContext, step
from rag.compose import abstention, quoted
from rag.evidence import Sentence
from rag.selection import Selection, select
from rag.settings import Settings
from rag.types import Answer, AnswerEvent


class ExtractiveAnswerer:
    name = "extractive"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def stream(self, ctx: AnswerContext) -> Iterator[AnswerEvent]:
        yield AnswerEvent("", self.answer(ctx))

    def answer(self, ctx: AnswerContext) -> Answer:
        t = time.perf_counter()
        s = self.settings
        sel = select(
            ctx.plan, ctx.evidence, ctx.retrieval.hits, ctx.model, s.max_sentences, s.abstain_threshold
        )
        return draft_answer(ctx, sel, step(self.name, t, confidence=round(sel.confidence, 4),
                                           abstained=sel.abstained, why=sel.reason, chosen=len(sel.chosen)))  # fmt: skip


def draft_answer(ctx: AnswerContext, sel: Selection, decided: dict[str, object]) -> Answer:
    """The Answer for a selection: quoted sentences in reading order, or an abstention."""
    trace = dataclasses.replace(ctx.trace, steps=ctx.trace.steps + (decided,))
    if sel.abstained:
        return abstention(ctx.retrieval.hits, trace, sel.confidence, ExtractiveAnswerer.name)
    chosen = reading_order(list(sel.chosen))
    sentences, citations = quoted([(c.hit.chunk, c.span) for c in chosen])
    text = " ".join(f"{x.text} [{x.citations[0]}]" for x in sentences)
    return Answer(text, sentences, citations, False, round(sel.confidence, 4), trace, ExtractiveAnswerer.name)


def reading_order(chosen: list[Sentence]) -> list[Sentence]:
    """Sentences of one article stay together in text order; articles follow their best sentence."""
    first: dict[str, int] = {}
    for i, c in enumerate(chosen):
        first.setdefault(c.article_id, i)
    return sorted(chosen, key=lambda c: (first[c.article_id], c.span.start))


def create(settings: Settings) -> ExtractiveAnswerer:
    return ExtractiveAnswerer(settings)
