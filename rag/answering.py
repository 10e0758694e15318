"""The answering contract: an answerer turns a plan and its retrieval into a draft Answer, and
post-answer stages refine it. Both are found, not wired: a module in `rag/answerers/` that
defines `create(settings)` adds an answer mode; a module in `rag/stages/` that defines `STAGE`
adds a stage. Adding either is one new file.

    ctx = AnswerContext(plan, retrieval, settings, idf, trace)
    draft = answer_of(answerers[plan.mode].stream(ctx))
    answer = run_stages(stages, ctx, draft)
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import pkgutil
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Protocol

from rag.answer_model import AnswerModel
from rag.evidence import Evidence, score_evidence
from rag.plan import QueryPlan
from rag.retrieve import Retrieval
from rag.settings import Settings
from rag.types import Answer, AnswerEvent, Trace


@dataclass(frozen=True)
class AnswerContext:
    """Everything an answerer or a stage may read. Nothing in it is re-derived downstream."""

    plan: QueryPlan
    retrieval: Retrieval
    settings: Settings
    idf: Callable[[str], float]  # inverse document frequency of a stemmed term in the index
    trace: Trace  # the trace so far: plan, hits, settings, retrieval timings
    model: AnswerModel  # the learned sentence and answer models

    @functools.cached_property
    def evidence(self) -> Evidence:
        """Every retrieved sentence with its features and score, computed once, on first use."""
        return score_evidence(self.plan, self.retrieval, self.idf, self.model)


def with_evidence(ctx: AnswerContext, evidence: Evidence) -> AnswerContext:
    """A copy of `ctx` whose evidence is given (the model fit re-scores evidence, not retrieval)."""
    new = dataclasses.replace(ctx)
    new.__dict__["evidence"] = evidence  # the cached_property's slot
    return new


class Answerer(Protocol):
    """Streams text deltas (possibly none), then one event carrying the draft Answer."""

    name: str

    def stream(self, ctx: AnswerContext) -> Iterator[AnswerEvent]: ...


class Stage(Protocol):
    """A post-answer step: takes the plan and retrieval (in ctx) and the draft, returns the answer."""

    name: str
    order: int  # stages run in ascending order

    def applies(self, ctx: AnswerContext, answer: Answer) -> bool: ...

    def apply(self, ctx: AnswerContext, answer: Answer) -> Answer: ...


def answer_of(events: Iterator[AnswerEvent]) -> Answer:
    """The Answer carried by the last event of a stream."""
    answer = None
    for event in events:
        if event.answer is not None:
            answer = event.answer
    if answer is None:
        raise RuntimeError("an answerer's stream ended without an Answer")
    return answer


def run_stages(stages: Sequence[Stage], ctx: AnswerContext, answer: Answer) -> Answer:
    """Apply each stage that applies, recording its step (name, time, what changed) in the trace."""
    steps: list[dict[str, Any]] = []
    for stage in stages:
        if not stage.applies(ctx, answer):
            continue
        t = time.perf_counter()
        before = answer
        answer = stage.apply(ctx, answer)
        steps.append(
            {
                "step": stage.name,
                "ms": round((time.perf_counter() - t) * 1000, 3),
                "changed": _changes(before, answer),
            }
        )
    trace = dataclasses.replace(answer.trace, steps=answer.trace.steps + tuple(steps))
    return dataclasses.replace(answer, trace=trace)


def _changes(a: Answer, b: Answer) -> list[str]:
    fields = ("sentences", "citations", "conflicts", "lead", "abstained", "confidence", "text")
    return [f for f in fields if getattr(a, f) != getattr(b, f)]


def _modules(package: str) -> list[ModuleType]:
    pkg = importlib.import_module(package)
    names = sorted(m.name for m in pkgutil.iter_modules(pkg.__path__) if not m.name.startswith("_"))
    return [importlib.import_module(f"{package}.{name}") for name in names]


def load_answerers(settings: Settings, package: str = "rag.answerers") -> dict[str, Answerer]:
    """Answer modes on offer, extractive first: each module's `create(settings)`, when not None."""
    found: dict[str, Answerer] = {}
    for module in _modules(package):
        answerer = module.create(settings)
        if answerer is not None:
            found[answerer.name] = answerer
    order = sorted(found, key=lambda name: (name != "extractive", name))
    return {name: found[name] for name in order}


def load_stages(settings: Settings, package: str = "rag.stages") -> list[Stage]:
    """Every module's `STAGE` in `package`, by order (settings may switch stages off)."""
    stages = [m.STAGE for m in _modules(package) if hasattr(m, "STAGE")]
    off = set(settings.disabled_stages)
    return sorted((s for s in stages if s.name not in off), key=lambda s: (s.order, s.name))


def step(name: str, started: float, **info: Any) -> dict[str, Any]:
    """A trace step for an answerer: its name, its time, and what it decided."""
    return {"step": name, "ms": round((time.perf_counter() - started) * 1000, 3), **info}


def timings_with(trace: Trace, **extra: float) -> Mapping[str, float]:
    return {**trace.timings_ms, **{k: round(v, 3) for k, v in extra.items()}}
