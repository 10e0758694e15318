"""The LLM answer mode (OpenAI-compatible or Ollama, through llama-index): offered only when a
backend is configured. Generated sentences are verified against the passages they cite
(rag.llm_answer); a backend failure raises LLMError, and the pipeline falls back to extractive."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator

from rag.answering import AnswerContext, step
from rag.llm_answer import llm_answer_events
from rag.settings import Settings
from rag.types import AnswerEvent


class LLMAnswerer:
    name = "llm"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def stream(self, ctx: AnswerContext) -> Iterator[AnswerEvent]:
        plan = ctx.plan
        t = time.perf_counter()
        # Deltas are the raw generation; the final answer's text (invalid markers removed,
        # renumbered, dated) replaces them.
        for event in llm_answer_events(
            plan.question, plan.query, ctx.retrieval.hits, self.settings, plan.history
        ):
            if event.answer is None:
                yield event
                continue
            a = event.answer
            generated = a.trace.timings_ms.get("generate", (time.perf_counter() - t) * 1000)
            trace = dataclasses.replace(
                ctx.trace,
                timings_ms={**ctx.trace.timings_ms, "generate": round(generated, 3)},
                notes=ctx.trace.notes + a.trace.notes,
                steps=ctx.trace.steps + (step(self.name, t, backend=self.settings.llm_backend),),
            )
            yield AnswerEvent("", dataclasses.replace(a, trace=trace))  # mode: the backend name


def create(settings: Settings) -> LLMAnswerer | None:
    return LLMAnswerer(settings) if settings.llm_backend else None
