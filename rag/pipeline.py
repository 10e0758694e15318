"""The question-answering pipeline: plan -> retrieve -> answer (a registered answerer) -> stages.

Usage:
    pipeline = build_pipeline(Settings.from_env())
    answer = pipeline.ask("How many drones were shot down over Kharkiv?")
    for event in pipeline.stream("What about Vovchansk?", history=[Turn("...Kupiansk?")]):
        print(event.delta, end="")
    pipeline.close()
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Iterator, Sequence

from rag.answer_model import AnswerModel, load_answer_model
from rag.answering import AnswerContext, Answerer, answer_of, load_answerers, load_stages, run_stages
from rag.compose import finished
from rag.embedding import Embedder, load_embedder
from rag.errors import ConfigError, LLMError
from rag.lexical import idf_lookup
from rag.plan import QueryPlan, build_plan
from rag.retrieve import HybridRetriever, Retrieval
from rag.settings import Settings
from rag.storage import Storage, open_storage
from rag.types import Answer, AnswerEvent, Article, ArticleInfo, Filters, Trace, Turn

_TRACE_KEYS = ("k", "candidates", "fusion", "dense_weight", "rrf_k", "recency_weight", "max_sentences",
               "abstain_threshold", "embed_model", "embed_runtime", "chunk_size", "chunk_overlap", "llm_backend",
               "llm_model")  # fmt: skip


class Pipeline:
    def __init__(
        self, settings: Settings, storage: Storage, embedder: Embedder, model: AnswerModel | None = None
    ) -> None:
        settings.validate()
        self.settings = settings
        self.storage = storage
        self.embedder = embedder
        self.retriever = HybridRetriever(storage, embedder, settings)
        self.answerers: dict[str, Answerer] = load_answerers(settings)
        self.stages = load_stages(settings)
        self.model = model or load_answer_model(settings.answer_model)
        self._closed = False

    def modes(self) -> list[str]:
        """The answer modes on offer (extractive first; 'llm' only with a configured backend)."""
        return list(self.answerers)

    # --- answering
    def plan(
        self,
        question: str,
        history: Sequence[Turn] | None = None,
        filters: Filters | None = None,
        *,
        k: int | None = None,
        mode: str | None = None,
    ) -> QueryPlan:
        """The question interpreted once: what to search, which kind of answer, which dates."""
        mode = mode or "extractive"
        if mode not in self.answerers:
            raise ConfigError(
                f"answer mode {mode!r} is not available; choose one of: {', '.join(self.modes())}"
            )
        if k is not None and k <= 0:
            raise ConfigError(f"k must be greater than 0, got {k}")
        dates = self.storage.catalog.date_range()
        return build_plan(question, history, filters, k=k or self.settings.k, mode=mode, corpus_dates=dates)

    def ask(
        self,
        question: str,
        history: Sequence[Turn] | None = None,
        filters: Filters | None = None,
        *,
        k: int | None = None,
        mode: str | None = None,
    ) -> Answer:
        """Answer one question; every sentence of the answer cites an exact stored span."""
        return answer_of(self.stream(question, history, filters, k=k, mode=mode))

    def stream(
        self,
        question: str,
        history: Sequence[Turn] | None = None,
        filters: Filters | None = None,
        *,
        k: int | None = None,
        mode: str | None = None,
    ) -> Iterator[AnswerEvent]:
        """Text deltas as they are produced; the last event carries the whole Answer, whose text
        replaces the deltas (invalid LLM markers removed, a failed backend's text replaced)."""
        t0 = time.perf_counter()
        t = time.perf_counter()
        plan = self.plan(question, history, filters, k=k, mode=mode)
        plan_ms = (time.perf_counter() - t) * 1000
        retrieval = self.retriever.search(plan)
        ctx = self._context(plan, retrieval, {"plan": round(plan_ms, 3), **retrieval.timings_ms})
        streamed = False
        try:
            draft: Answer | None = None
            for event in self.answerers[plan.mode].stream(ctx):
                if event.answer is None:
                    streamed = True
                    yield event
                else:
                    draft = event.answer
            assert draft is not None, f"answerer {plan.mode!r} ended without an answer"
        except LLMError as exc:
            notice = f"The LLM backend failed: {exc} Showing the extractive answer instead."
            fallback = dataclasses.replace(
                ctx, trace=dataclasses.replace(ctx.trace, notes=(*ctx.trace.notes, notice))
            )
            draft = answer_of(self.answerers["extractive"].stream(fallback))
            draft = dataclasses.replace(draft, notice=notice)
        answer = finished(run_stages(self.stages, ctx, draft))
        total = round((time.perf_counter() - t0) * 1000, 3)
        answer_ms = round(total - sum(ctx.trace.timings_ms.values()), 3)
        timings = {**answer.trace.timings_ms, "answer": answer_ms, "total": total}
        answer = dataclasses.replace(answer, trace=dataclasses.replace(answer.trace, timings_ms=timings))
        if not streamed:
            for piece in re.findall(r"\S+\s*", answer.text):
                yield AnswerEvent(piece)
        yield AnswerEvent("", answer)

    def _context(self, plan: QueryPlan, r: Retrieval, timings: dict[str, float]) -> AnswerContext:
        notes: list[str] = []
        if plan.rewritten:
            notes.append(f"follow-up rewritten as: {plan.query}")
        if plan.dates.prefer_recent:
            notes.append(
                "date-aware: newer articles favoured"
                + (f" (as of {plan.dates.as_of})" if plan.dates.as_of else "")
            )
        pub = self.settings.public()
        trace = Trace(
            question=plan.question,
            query=plan.query,
            hits=r.hits,
            settings={key: pub[key] for key in _TRACE_KEYS},
            timings_ms=timings,
            filters=plan.user_filters.to_json() if plan.user_filters else {},
            notes=tuple(notes),
            plan=plan.to_json(),
        )
        return AnswerContext(plan, r, self.settings, idf_lookup(self.storage.lexical), trace, self.model)

    # --- the corpus, for the UI and the evals
    def article(self, article_id: str) -> Article | None:
        return self.storage.catalog.article(article_id)

    def articles(self) -> list[ArticleInfo]:
        return self.storage.catalog.article_infos()

    def article_count(self) -> int:
        return self.storage.catalog.counts()[0]

    def outlets(self) -> list[str]:
        return self.storage.catalog.sources()

    def refresh(self) -> None:
        """See what another process (an ingest, a delete) wrote since this pipeline opened."""
        self.storage.catalog.forget_cached()
        self.storage.refresh()

    def close(self) -> None:
        """Release the store (idempotent)."""
        if not self._closed:
            self._closed = True
            self.storage.close()

    def __enter__(self) -> Pipeline:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def build_pipeline(
    settings: Settings, embedder: Embedder | None = None, model: AnswerModel | None = None
) -> Pipeline:
    """Open the store of `settings.data_dir` and the embedding model, ready to answer.

    >>> # with build_pipeline(Settings.from_env()) as p: print(p.ask("Who is Viktor Trehubov?").text)
    """
    storage = open_storage(settings)  # first: a missing index or another model is reported before loading one
    try:
        embedder = embedder or load_embedder(settings)
        return Pipeline(settings, storage, embedder, model)
    except BaseException:
        storage.close()
        raise
