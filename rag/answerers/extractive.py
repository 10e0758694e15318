"""The default answer mode: quote the retrieved sentences that answer the question (rag.extractive)."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator

from rag.answering import AnswerContext, step
from rag.compose import abstention, quoted
from rag.extractive import Weights, extract
from rag.settings import Settings
from rag.types import Answer, AnswerEvent


class ExtractiveAnswerer:
    name = "extractive"

    def __init__(self, settings: Settings, weights: Weights | None = None) -> None:
        self.settings = settings
        self.weights = weights or Weights()

    def stream(self, ctx: AnswerContext) -> Iterator[AnswerEvent]:
        yield AnswerEvent("", self.answer(ctx))

    def answer(self, ctx: AnswerContext, notice: str | None = None) -> Answer:
        s, plan, r = self.settings, ctx.plan, ctx.retrieval
        t = time.perf_counter()
        ex = extract(
            plan.query,
            r.query_vec,
            r.hits,
            r.records,
            ctx.idf,
            s.max_sentences,
            s.abstain_threshold,
            self.weights,
            chronological=plan.kind == "timeline" or (plan.broad and plan.kind == "overview"),
            kind=plan.answer_type,
        )
        trace = ctx.trace
        decided = step(
            self.name, t, confidence=round(ex.confidence, 4), abstained=ex.abstained, chosen=len(ex.chosen)
        )
        trace = dataclasses.replace(trace, steps=trace.steps + (decided,))
        if ex.abstained:
            return abstention(r.hits, trace, ex.confidence, self.name, notice=notice)
        sentences, citations = quoted([(c.hit.chunk, c.span) for c in ex.chosen])
        text = " ".join(f"{x.text} [{x.citations[0]}]" for x in sentences)
        return Answer(
            text, sentences, citations, False, round(ex.confidence, 4), trace, self.name, (), notice
        )


def create(settings: Settings) -> ExtractiveAnswerer:
    return ExtractiveAnswerer(settings)
