"""The question-answering pipeline: rewrite -> retrieve -> answer (extractive, or an LLM backend).

Usage:
    pipeline = build_pipeline(Settings.from_env())
    answer = pipeline.ask("How many drones were shot down over Kharkiv?")
    for event in pipeline.stream("What about Vovchansk?", history=[Turn("...Kupiansk?")]):
        print(event.delta, end="")
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Iterator, Sequence

from rag.embedding import Embedder, load_embedder
from rag.errors import LLMError
from rag.extractive import ABSTAIN_TEXT, Weights, citation_for, extract, passage_citation
from rag.followup import rewrite
from rag.lexical import idf_lookup
from rag.retrieve import HybridRetriever, Retrieval
from rag.settings import Settings
from rag.storage import Storage, open_storage
from rag.types import Answer, AnswerEvent, AnswerSentence, Article, ArticleInfo, Filters, Trace, Turn

_WHAT_HAPPENED = re.compile(r"\bwhat (has )?happen|\btimeline\b|\bhow did .* (develop|unfold|evolve)", re.I)


class Pipeline:
    def __init__(self, settings: Settings, storage: Storage, embedder: Embedder) -> None:
        self.settings = settings
        self.storage = storage
        self.embedder = embedder
        self.retriever = HybridRetriever(storage, embedder, settings)
        self.weights = Weights()

    # --- answering
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
        answer: Answer | None = None
        for event in self.stream(question, history, filters, k=k, mode=mode):
            if event.answer is not None:
                answer = event.answer
        assert answer is not None
        return answer

    def stream(
        self,
        question: str,
        history: Sequence[Turn] | None = None,
        filters: Filters | None = None,
        *,
        k: int | None = None,
        mode: str | None = None,
    ) -> Iterator[AnswerEvent]:
        """Text deltas as they are produced; the last event carries the whole Answer."""
        t0 = time.perf_counter()
        question = question.strip()
        t = time.perf_counter()
        query = rewrite(question, history)
        rewrite_ms = (time.perf_counter() - t) * 1000
        retrieval = self.retriever.retrieve(query, k=k, filters=filters, question=question)
        timings = {"rewrite": round(rewrite_ms, 3), **retrieval.timings_ms}
        notes: list[str] = []
        if query != question:
            notes.append(f"follow-up rewritten as: {query}")
        if retrieval.intent.prefer_recent:
            notes.append(
                "date-aware: newer articles favoured"
                + (f" (as of {retrieval.intent.as_of})" if retrieval.intent.as_of else "")
            )
        use_llm = (mode or "extractive") != "extractive"
        if use_llm:
            try:
                yield from self._llm(question, query, retrieval, history, filters, timings, notes, t0)
                return
            except LLMError as exc:
                notice = f"The LLM backend failed: {exc} Showing the extractive answer instead."
                notes.append(notice)
                answer = self._extractive(question, query, retrieval, filters, timings, notes, t0, notice)
        else:
            answer = self._extractive(question, query, retrieval, filters, timings, notes, t0, None)
        for piece in re.findall(r"\S+\s*", answer.text):
            yield AnswerEvent(piece)
        yield AnswerEvent("", answer)

    def _extractive(
        self,
        question: str,
        query: str,
        r: Retrieval,
        filters: Filters | None,
        timings: dict[str, float],
        notes: list[str],
        t0: float,
        notice: str | None,
    ) -> Answer:
        s = self.settings
        t = time.perf_counter()
        ex = extract(
            query,
            r.query_vec,
            r.hits,
            r.records,
            idf_lookup(self.storage.lexical),
            s.max_sentences,
            s.abstain_threshold,
            self.weights,
            chronological=bool(_WHAT_HAPPENED.search(question)),
        )
        timings["answer"] = round((time.perf_counter() - t) * 1000, 3)
        timings["total"] = round((time.perf_counter() - t0) * 1000, 3)
        trace = Trace(
            question,
            query,
            tuple(r.hits),
            self._trace_settings(),
            timings,
            _filters_json(filters),
            tuple(notes),
        )
        if ex.abstained:
            closest = tuple(passage_citation(i + 1, h) for i, h in enumerate(r.hits[:3]))
            return Answer(
                ABSTAIN_TEXT, (), (), True, round(ex.confidence, 4), trace, "extractive", closest, notice
            )
        citations = tuple(citation_for(i + 1, c) for i, c in enumerate(ex.chosen))
        sentences = tuple(AnswerSentence(c.text, (i + 1,), "quoted") for i, c in enumerate(ex.chosen))
        text = " ".join(f"{s.text} [{s.citations[0]}]" for s in sentences)
        return Answer(
            text, sentences, citations, False, round(ex.confidence, 4), trace, "extractive", (), notice
        )

    def _llm(
        self,
        question: str,
        query: str,
        r: Retrieval,
        history: Sequence[Turn] | None,
        filters: Filters | None,
        timings: dict[str, float],
        notes: list[str],
        t0: float,
    ) -> Iterator[AnswerEvent]:
        from rag.llm_answer import llm_answer_events

        if self.settings.llm_backend is None:
            raise LLMError("no LLM backend is configured (set RAG_LLM_BASE_URL and RAG_LLM_MODEL).")
        # Deltas are the raw generation; the final event's answer.text (invalid markers removed,
        # renumbered) replaces them. A failure mid-stream falls back to extractive, which
        # likewise replaces whatever was streamed.
        for event in llm_answer_events(question, query, r.hits, self.settings, tuple(history or ())):
            if event.answer is None:
                yield event
                continue
            a = event.answer
            timings = {**timings, **a.trace.timings_ms, "total": round((time.perf_counter() - t0) * 1000, 3)}
            trace = dataclasses.replace(
                a.trace,
                timings_ms=timings,
                filters=_filters_json(filters),
                notes=tuple(notes) + a.trace.notes,
                settings=self._trace_settings(),
            )
            yield AnswerEvent("", dataclasses.replace(a, trace=trace))

    def _trace_settings(self) -> dict[str, object]:
        pub = self.settings.public()
        keys = ("k", "candidates", "fusion", "dense_weight", "rrf_k", "recency_weight", "max_sentences",
                "abstain_threshold", "embed_model", "embed_runtime", "chunk_size", "chunk_overlap", "llm_backend", "llm_model")  # fmt: skip
        return {k: pub[k] for k in keys}

    # --- the corpus, for the UI and the evals
    def article(self, article_id: str) -> Article | None:
        return self.storage.catalog.article(article_id)

    def articles(self) -> list[ArticleInfo]:
        return self.storage.catalog.article_infos()

    def outlets(self) -> list[str]:
        return self.storage.catalog.sources()

    def refresh(self) -> None:
        """See what another process (an ingest, a delete) wrote since this pipeline opened."""
        self.storage.catalog.forget_cached()
        self.storage.refresh()


def build_pipeline(settings: Settings, embedder: Embedder | None = None) -> Pipeline:
    """Open the store of `settings.data_dir` and the embedding model, ready to answer.

    >>> # pipeline = build_pipeline(Settings.from_env()); pipeline.ask("Who is Viktor Trehubov?").text
    """
    storage = open_storage(settings)  # first: a missing index or another model is reported before loading one
    try:
        embedder = embedder or load_embedder(settings)
    except BaseException:
        storage.close()
        raise
    return Pipeline(settings, storage, embedder)


def _filters_json(f: Filters | None) -> dict[str, object]:
    return f.to_json() if f else {}
