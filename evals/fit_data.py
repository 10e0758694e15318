"""The data the answer-model fit works on: every suite question planned, retrieved and turned into
evidence once, through the real pipeline, so that a candidate model only re-scores features."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

from tqdm import tqdm

from evals.questions import Question, load_questions
from evals.runner import eval_settings
from evals.suite import SuiteSet, load_suite
from rag.answer_model import AnswerModel
from rag.answering import AnswerContext
from rag.evidence import Evidence
from rag.plan import QueryPlan
from rag.settings import PROJECT_ROOT, Settings

SUITE = PROJECT_ROOT / "evals" / "suites" / "default.toml"


@dataclass(frozen=True)
class Item:
    set: str
    q: Question
    ctx: AnswerContext  # plan, retrieval, idf, trace: everything but the model's scores
    ev0: Evidence  # features of every retrieved sentence

    @property
    def plan(self) -> QueryPlan:
        return self.ctx.plan


def default_sets() -> list[SuiteSet]:
    """The sets of the default suite."""
    return list(load_suite(SUITE).sets)


def collect(sets: Sequence[SuiteSet], settings: Settings) -> list[Item]:
    """Plan, retrieve and describe every question of every set (indexes reused from `rag eval`)."""
    from index.ingest import ingest_paths
    from rag.pipeline import build_pipeline

    items: list[Item] = []
    for fs in sets:
        es = eval_settings(fs.corpus, settings)
        ingest_paths([fs.corpus], es, progress=False)
        pipeline = build_pipeline(es, model=AnswerModel.blank())  # left open: contexts keep its BM25 idf
        for q in tqdm(load_questions(fs.questions), desc=f"collect {fs.name}", unit="q"):
            plan = pipeline.plan(q.question)
            ctx = pipeline._context(plan, pipeline.retriever.search(plan), {})
            items.append(Item(fs.name, q, ctx, ctx.evidence))
    return items


def rescore(ev: Evidence, model: AnswerModel) -> Evidence:
    """The same sentences scored by another model, best first."""
    if not ev.sentences:
        return ev
    import numpy as np

    z, p = model.sentence_scores(np.array([s.x for s in ev.sentences]))
    ss = sorted(
        (
            dataclasses.replace(s, p=float(v), score=float(w))
            for s, v, w in zip(ev.sentences, p, z, strict=True)
        ),
        key=lambda s: -s.p,
    )
    return dataclasses.replace(ev, sentences=tuple(ss))
