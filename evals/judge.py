"""LLM-judged faithfulness and relevancy through llama-index's evaluators (only with an LLM configured)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tqdm import tqdm

from evals.scoring import NO_LLM
from rag.settings import Settings


def skip_reason(settings: Settings) -> str | None:
    """Why the LLM-judged metrics cannot run, or None when they can."""
    return NO_LLM if settings.llm_backend is None else None


def judge_records(records: Sequence[dict[str, Any]], settings: Settings, progress: bool = False) -> None:
    """Fill each answered record's metrics["faithfulness"] and ["relevancy"] with 1.0/0.0 from the judge.

    Abstentions are not judged (None). A judge call that fails leaves None and notes the error in
    record["judge_error"], so a flaky backend lowers n instead of scoring the answer 0.
    """
    from llama_index.core.evaluation import FaithfulnessEvaluator, RelevancyEvaluator

    from rag.llm import make_llm

    llm = make_llm(settings)
    faithful, relevant = FaithfulnessEvaluator(llm=llm), RelevancyEvaluator(llm=llm)
    todo = [r for r in records if not r["abstained"] and r["answer"].strip()]
    for r in tqdm(todo, desc="LLM judge", unit="q", disable=not progress):
        # The passages the answer was built from: the judge checks the answer against them.
        contexts = [h["text"] for h in r["hits"]] or [c["quote"] for c in r["citations"]]
        try:
            f = faithful.evaluate(query=r["question"], response=r["answer"], contexts=contexts)
            v = relevant.evaluate(query=r["question"], response=r["answer"], contexts=contexts)
        except Exception as e:  # any backend failure: record it, keep judging the rest
            r["judge_error"] = f"{type(e).__name__}: {e}"
            continue
        r["metrics"]["faithfulness"] = f.score
        r["metrics"]["relevancy"] = v.score
        r["judge_feedback"] = {"faithfulness": f.feedback, "relevancy": v.feedback}
