"""Score one answered question into a per-question record, and summarise records into summary.json."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from evals import metrics as m
from evals.calibration import expected_calibration_error
from evals.conflicts import conflict_recalled, false_value_flags
from evals.questions import Question
from rag.types import Answer

# Metric names whose value lies in [0, 1]; the report's bar chart and the gate use this order.
SCORE_KEYS = (
    "answer_accuracy",
    "key_fact_recall",
    "hit_at_1",
    "hit_at_5",
    "hit_at_k",
    "mrr",
    "recall_at_k",
    "passage_hit_at_k",
    "passage_mrr",
    "passage_recall_at_k",
    "citation_resolve_rate",
    "citation_support_rate",
    "abstention_precision",
    "abstention_recall",
    "false_abstention_rate",
    "faithfulness",
    "relevancy",
    "false_value_rate",
    "false_value_with_flag",
    "false_value_alone",
    "conflict_recall",
)
# Per-question flags behind the false-value rates (evals/conflicts.py), in summary-key order.
FALSE_VALUE_KEYS = ("false_value", "false_value_with_flag", "false_value_alone")
LATENCY_KEYS = ("latency_p50_ms", "latency_p95_ms")
NO_LLM = "no LLM configured"


def retrieval_values(q: Question, passages: Sequence[tuple[str, str]], k: int) -> dict[str, Any]:
    """Article- and passage-level retrieval metrics of ranked (article_id, text) passages."""
    ranked_articles = [a for a, _ in passages]
    art_rel = [a in set(q.sources) for a in ranked_articles]
    pas_rel = m.passage_relevance(passages, q.key_facts, q.sources)
    has_src, has_facts = bool(q.sources), bool(q.key_facts)
    return {
        "hit_at_1": m.hit_at_k(art_rel, 1) if has_src else None,
        "hit_at_5": m.hit_at_k(art_rel, 5) if has_src else None,
        "hit_at_k": m.hit_at_k(art_rel, k) if has_src else None,
        "rr": m.reciprocal_rank(art_rel) if has_src else None,
        "recall_at_k": m.article_recall_at_k(ranked_articles, q.sources, k),
        "passage_hit_at_k": m.hit_at_k(pas_rel, k) if has_facts else None,
        "passage_rr": m.reciprocal_rank(pas_rel) if has_facts else None,
        "passage_recall_at_k": m.passage_recall_at_k(passages, q.key_facts, q.sources, k),
    }


def answer_values(
    q: Question, stated: str, abstained: bool, conflicts: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """Key facts, planted wrong values and reported conflicts of one answer's stated text."""
    scored = q.answerable and bool(q.key_facts)
    missing = m.missing_facts(q.key_facts, stated) if q.answerable else []
    planted = (
        false_value_flags(stated, q.key_facts, q.wrong_answers, conflicts)
        if q.answerable and not abstained
        else dict.fromkeys(FALSE_VALUE_KEYS)
    )
    return {
        "key_fact_recall": m.key_fact_recall(q.key_facts, stated) if scored else None,
        "accurate": (not abstained and not missing) if q.answerable else None,
        "missing": missing,
        **planted,
        "conflict_recalled": conflict_recalled(q.conflict_values, conflicts),
    }


def score_question(
    q: Question, answer: Answer, article_text: Callable[[str], str | None], total_ms: float, k: int
) -> dict[str, Any]:
    """One per_question.jsonl record: the question, the answer, its hits, every metric and timings."""
    hits = sorted(answer.trace.hits, key=lambda h: h.rank)
    passages = [(h.chunk.article_id, h.chunk.text) for h in hits]
    # Read through the JSON so the `conflicts` field counts wherever the Answer carries it.
    conflicts = answer.to_json().get("conflicts") or []

    # An abstention states nothing, whatever polite text it carries.
    stated = "" if answer.abstained else answer.text
    cites = []
    # Closest passages shown beside an abstention are quotes too: they must resolve as well.
    for closest, group in ((False, answer.citations), (True, answer.closest)):
        for c in group:
            d = c.to_json()
            d["resolves"] = m.citation_resolves(c.quote, c.start, c.end, article_text(c.article_id))
            d["closest"] = closest
            cites.append(d)
    cited_text = " ".join(
        (article_text(c.article_id) or "")[c.start : c.end] for c in answer.citations if c.end > c.start
    )
    answered = q.answerable and bool(q.key_facts) and not answer.abstained
    av = answer_values(q, stated, answer.abstained, conflicts)
    missing = av.pop("missing")
    correct = av["accurate"] if q.answerable else answer.abstained
    values: dict[str, Any] = {
        **retrieval_values(q, passages, k),
        **av,
        "citation_supported": m.all_facts_present(q.key_facts, cited_text) if answered else None,
        "citations_resolved": sum(c["resolves"] for c in cites),
        "citations_total": len(cites),
        "faithfulness": None,
        "relevancy": None,
    }
    return {
        "id": q.id,
        "question": q.question,
        "type": q.type,
        "kind": q.kind,
        "answerable": q.answerable,
        "expected_answer": q.answer,
        "key_facts": list(q.key_facts),
        "sources": list(q.sources),
        "answer": answer.text,
        "abstained": answer.abstained,
        "confidence": answer.confidence,
        "mode": answer.mode,
        "notice": answer.notice,
        "correct": correct,
        "missing_facts": missing,
        "failure": failure_reason(q.answerable, answer.abstained, answer.confidence, missing, cites),
        "metrics": values,
        "timings_ms": {**answer.trace.timings_ms, "total": total_ms},
        "citations": cites,
        "conflicts": conflicts,
        "hits": [h.to_json() for h in hits],
    }


def failure_reason(
    answerable: bool,
    abstained: bool,
    confidence: float,
    missing: Sequence[str],
    cites: Sequence[dict[str, Any]],
) -> str | None:
    """Why a question failed, in words for the report; None when it passed.

    >>> failure_reason(True, False, 0.8, ["49"], [])
    'missing key facts: 49'
    >>> failure_reason(False, False, 0.7, [], [{"n": 1, "resolves": True}])
    'answered an unanswerable question (confidence 0.70)'
    """
    reasons = []
    if answerable and abstained:
        reasons.append(f"abstained on an answerable question (confidence {confidence:.2f})")
    elif answerable and missing:
        reasons.append("missing key facts: " + ", ".join(missing))
    elif not answerable and not abstained:
        reasons.append(f"answered an unanswerable question (confidence {confidence:.2f})")
    bad = [str(c["n"]) for c in cites if not c["resolves"]]
    if bad:
        reasons.append("citations that do not resolve: " + ", ".join(bad))
    return "; ".join(reasons) or None


def summarise(
    records: Sequence[dict[str, Any]], judged: str | None = NO_LLM, breakdown: bool = True
) -> dict[str, Any]:
    """summary.json's metric keys: flat values (the binding contract) plus {"metrics": {name: {value, n}}}.

    `judged` is None when the LLM-judged metrics were computed, else the reason they were skipped.
    With `breakdown`, questions that carry a `kind` are also summarised per kind ("by_kind").
    """
    vals = [r["metrics"] for r in records]
    abst = [bool(r["abstained"]) for r in records]
    ans = [bool(r["answerable"]) for r in records]
    out: dict[str, m.Metric] = {
        "answer_accuracy": m.rate(v["accurate"] for v in vals),
        "key_fact_recall": m.mean(v["key_fact_recall"] for v in vals),
        "hit_at_1": m.mean(v["hit_at_1"] for v in vals),
        "hit_at_5": m.mean(v["hit_at_5"] for v in vals),
        "hit_at_k": m.mean(v["hit_at_k"] for v in vals),
        "mrr": m.mean(v["rr"] for v in vals),
        "recall_at_k": m.mean(v["recall_at_k"] for v in vals),
        "passage_hit_at_k": m.mean(v["passage_hit_at_k"] for v in vals),
        "passage_mrr": m.mean(v["passage_rr"] for v in vals),
        "passage_recall_at_k": m.mean(v["passage_recall_at_k"] for v in vals),
        "citation_support_rate": m.rate(v["citation_supported"] for v in vals),
        "abstention_precision": m.abstention_precision(abst, ans),
        "abstention_recall": m.abstention_recall(abst, ans),
        "false_abstention_rate": m.false_abstention_rate(abst, ans),
        # Of the answered questions that have a planted wrong value that can count (evals/conflicts.py).
        "false_value_rate": m.rate(v.get("false_value") for v in vals),
        "false_value_with_flag": m.rate(v.get("false_value_with_flag") for v in vals),
        "false_value_alone": m.rate(v.get("false_value_alone") for v in vals),
        "conflict_recall": m.rate(v.get("conflict_recalled") for v in vals),
    }
    total = sum(v["citations_total"] for v in vals)
    resolved = sum(v["citations_resolved"] for v in vals)
    out["citation_resolve_rate"] = m.Metric(resolved / total if total else None, total)
    for name in ("faithfulness", "relevancy"):
        out[name] = m.Metric(None, 0, judged) if judged else m.mean(v[name] for v in vals)
    totals = [float(r["timings_ms"]["total"]) for r in records]
    out["latency_p50_ms"] = m.Metric(m.percentile(totals, 50), len(totals))
    out["latency_p95_ms"] = m.Metric(m.percentile(totals, 95), len(totals))

    summary: dict[str, Any] = {name: metric.value for name, metric in out.items()}
    summary["n_questions"] = len(records)
    summary["n_answerable"] = sum(ans)
    summary["n_unanswerable"] = len(records) - sum(ans)
    summary["latency_ms"] = stage_latencies(records)
    # Calibration of the answered questions (the naive baseline has no confidence: None).
    answered = [r for r in records if not r["abstained"] and r.get("confidence") is not None]
    summary["expected_calibration_error"] = expected_calibration_error(
        [float(r["confidence"]) for r in answered], [bool(r["correct"]) for r in answered]
    )
    kinds = by_group(records, "kind") if breakdown else {}
    if kinds:
        summary["by_kind"] = kinds
    summary["metrics"] = {name: out[name].to_json() for name in (*SCORE_KEYS, *LATENCY_KEYS)}
    return summary


def stage_latencies(records: Sequence[dict[str, Any]]) -> dict[str, dict[str, float | int | None]]:
    """p50/p95 of every stage named in the answers' timings, plus the wall-clock total."""
    stages: dict[str, list[float]] = {}
    for r in records:
        for stage, ms in r["timings_ms"].items():
            stages.setdefault(stage, []).append(float(ms))
    # Pipeline order (dicts keep the order the stages ran in), the total last.
    order = [s for s in stages if s != "total"] + (["total"] if "total" in stages else [])
    return {
        s: {"p50": m.percentile(stages[s], 50), "p95": m.percentile(stages[s], 95), "n": len(stages[s])}
        for s in order
    }


GROUP_KEYS = ("answer_accuracy", "key_fact_recall", "hit_at_5", "abstention_recall", "false_abstention_rate",
              "false_value_rate", "conflict_recall")  # fmt: skip


def by_group(records: Sequence[dict[str, Any]], field: str) -> dict[str, dict[str, Any]]:
    """Key metrics per value of a record field (e.g. "kind"), with n and share correct; {} when unset."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        if r.get(field) is not None:
            groups.setdefault(str(r[field]), []).append(r)
    out: dict[str, dict[str, Any]] = {}
    for name, rs in groups.items():
        s = summarise(rs, breakdown=False)
        out[name] = {
            "n": len(rs),
            "correct": sum(bool(r["correct"]) for r in rs) / len(rs),
            **{k: s[k] for k in GROUP_KEYS},
        }
    return out
