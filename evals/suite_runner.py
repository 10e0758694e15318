"""`rag eval --suite`: several question sets, each over its corpus, ours and the naive baseline, one report.

>>> from functools import partial
>>> from index.ingest import ingest_paths  # doctest: +SKIP
>>> suite = load_suite(DEFAULT_SUITE).select(["squad2"])  # doctest: +SKIP
>>> result = run_suite(suite, Path("build/eval-suite"), Settings.from_env(),
...                    partial(ingest_paths, progress=False), sample=40)  # doctest: +SKIP
>>> result.summary["sets"]["squad2"]["ours"]["answer_accuracy"]  # doctest: +SKIP

Our index per corpus is the one `rag eval` uses (evals/runner.py: `eval-index/<key>`); the
baseline's sits beside it (`eval-index/naive-<key>`, evals/naive.py). Both are reused when the
corpus is unchanged. The gate compares our figures per set with a committed suite summary.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from evals import naive
from evals.gate import Regression, compare_sets
from evals.judge import judge_records, skip_reason
from evals.metrics import percentile
from evals.questions import load_questions
from evals.runner import (
    Ingest,
    answer_all,
    corpus_fingerprint,
    corpus_info,
    eval_settings,
    file_sha,
    load_baseline,
)
from evals.scoring import SCORE_KEYS, summarise
from evals.suite import Suite, sample_questions
from evals.suite_report import write_suite_reports
from rag.errors import ConfigError
from rag.settings import Settings

# The binding summary keys, macro-averaged over the sets at the top of a suite summary.
BINDING_KEYS = ("answer_accuracy", "key_fact_recall", "hit_at_1", "hit_at_5", "mrr", "citation_resolve_rate",
                "citation_support_rate", "abstention_recall", "false_abstention_rate")  # fmt: skip


@dataclass
class SetRun:
    """One set's results: our records and summary, the baseline's (None with `naive=False`), timings."""

    name: str
    ours: dict[str, Any]
    records: list[dict[str, Any]]
    naive: dict[str, Any] | None
    naive_records: list[dict[str, Any]]
    timings_s: dict[str, float]


@dataclass
class SuiteResult:
    """A suite run: the combined summary, per-set regressions, and where the report is."""

    summary: dict[str, Any]
    regressions: list[Regression]
    out_dir: Path
    sets: list[SetRun] = field(default_factory=list, repr=False)

    @property
    def exit_code(self) -> int:
        return 1 if self.regressions else 0

    @property
    def report_md(self) -> Path:
        return self.out_dir / "report.md"

    def records_of(self, name: str) -> list[dict[str, Any]]:
        """Our per-question records of one set."""
        return next(r.records for r in self.sets if r.name == name)

    @property
    def report_html(self) -> Path:
        return self.out_dir / "report.html"


def macro_average(summaries: Sequence[Mapping[str, Any]], keys: Sequence[str]) -> dict[str, float | None]:
    """Each key's mean over the summaries where it is a number (None where none has it).

    >>> macro_average([{"a": 0.5, "b": None}, {"a": 1.0, "b": None}, {"a": None}], ["a", "b"])
    {'a': 0.75, 'b': None}
    """
    out: dict[str, float | None] = {}
    for k in keys:
        vals = [float(s[k]) for s in summaries if isinstance(s.get(k), int | float)]
        out[k] = statistics.fmean(vals) if vals else None
    return out


def load_suite_baseline(path: Path, sample: dict[str, int] | None) -> dict[str, Any]:
    """A committed suite summary; ConfigError when it is a single-set summary or from another sample."""
    base = load_baseline(path)
    if not isinstance(base.get("sets"), dict):
        raise ConfigError(
            f"baseline {path} is a single-set summary (no 'sets'); --suite needs a suite summary.json"
        )
    if base.get("sample") != sample:

        def show(s: Any) -> str:
            return f"--sample {s['n']} --seed {s['seed']}" if s else "the full sets"

        raise ConfigError(
            f"baseline {path} was made with {show(base.get('sample'))}, this run uses {show(sample)}: "
            "compare like with like (evals/baselines/suite_ci.json is the CI sample's baseline)"
        )
    return base


def run_suite(
    suite: Suite,
    out: Path,
    settings: Settings,
    ingest: Ingest,
    baseline: Path | None = None,
    sample: int | None = None,
    seed: int = 0,
    with_naive: bool = True,
    progress: bool = True,
) -> SuiteResult:
    """Run every set of `suite` (ours and, unless `with_naive` is False, the baseline); write the report."""
    t_start = time.perf_counter()
    sample_spec = {"n": sample, "seed": seed} if sample else None
    base = load_suite_baseline(baseline, sample_spec) if baseline is not None else None
    question_sets = {s.name: load_questions(s.questions) for s in suite.sets}  # bad files fail first
    root = settings.data_dir.parent / "eval-index"
    embed: Any = None
    runs: list[SetRun] = []
    for s in suite.sets:
        qs = question_sets[s.name]
        if sample:
            qs = sample_questions(qs, sample, seed, s.name)
        t0 = time.perf_counter()
        es = eval_settings(s.corpus, settings)
        fingerprint, n_files = corpus_fingerprint(s.corpus)
        ingested = ingest([s.corpus], es)
        t1 = time.perf_counter()
        from rag.pipeline import build_pipeline  # late: it loads the model stack

        pipeline = build_pipeline(es)
        try:
            records = answer_all(pipeline, qs, es.k, progress, desc=f"{s.name}: ours")
        finally:
            close = getattr(pipeline, "close", None)
            if callable(close):
                close()
        reason = skip_reason(es)
        if reason is None:
            judge_records(records, es, progress)
        t2 = time.perf_counter()
        ours = summarise(records, judged=reason)
        ours.update(
            k=es.k,
            questions={"path": str(s.questions), "n": len(qs), "sha256": file_sha(s.questions),
                       "ids_sha256": _ids_sha(q.id for q in qs)},
            corpus=corpus_info(s.corpus, fingerprint, n_files, ingested, es),
        )  # fmt: skip
        timings = {"ours_ingest": t1 - t0, "ours_answer": t2 - t1}
        naive_summary, naive_records = None, []
        if with_naive:
            if embed is None:
                t_load = time.perf_counter()
                embed = naive.naive_embedding()
                timings["naive_model_load"] = time.perf_counter() - t_load
            idx = naive.open_or_build(s.corpus, root, embed=embed, progress=progress)
            t3 = time.perf_counter()
            naive_records = naive.answer_questions(idx, qs, progress, desc=f"{s.name}: naive")
            timings.update(naive_index=idx.seconds, naive_answer=time.perf_counter() - t3)
            naive_summary = summarise(naive_records)
            naive_summary["index"] = {"dir": str(idx.directory), "chunks": idx.chunks, "reused": idx.reused,
                                      "seconds": round(idx.seconds, 2), **naive.SETTINGS}  # fmt: skip
        timings["total"] = time.perf_counter() - t0
        runs.append(SetRun(s.name, ours, records, naive_summary, naive_records, timings))

    regressions = (
        compare_sets({r.name: r.ours for r in runs}, {k: v["ours"] for k, v in base["sets"].items()})
        if base is not None
        else []
    )
    summary = combine(suite, runs, settings, sample_spec)
    summary["timings_s"]["total"] = round(time.perf_counter() - t_start, 2)
    summary.update(
        baseline=str(baseline) if baseline is not None else None,
        gate=("fail" if regressions else "pass") if base is not None else "no baseline",
        regressions=[str(r) for r in regressions],
        unbaselined_sets=[r.name for r in runs if base is not None and r.name not in base["sets"]],
    )
    out.mkdir(parents=True, exist_ok=True)
    with (out / "per_question.jsonl").open("w", encoding="utf-8") as f:
        for r in runs:
            for system, recs in (("ours", r.records), ("naive", r.naive_records)):
                for rec in recs:
                    f.write(json.dumps({"set": r.name, "system": system, **rec}, ensure_ascii=False,
                                       default=str) + "\n")  # fmt: skip
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str) + "\n", encoding="utf-8")
    write_suite_reports(
        out,
        summary,
        {r.name: r.records for r in runs},
        {r.name: r.naive_records for r in runs if r.naive_records},
        base,
        regressions,
    )
    return SuiteResult(summary, regressions, out, runs)


def combine(
    suite: Suite, runs: Sequence[SetRun], settings: Settings, sample: dict[str, int] | None
) -> dict[str, Any]:
    """The suite summary: binding keys macro-averaged over the sets at the top, every set under "sets"."""
    ours = [r.ours for r in runs]
    naives = [r.naive for r in runs if r.naive is not None]
    totals = [float(rec["timings_ms"]["total"]) for r in runs for rec in r.records]
    summary: dict[str, Any] = {
        **macro_average(ours, SCORE_KEYS),
        "n_questions": sum(s["n_questions"] for s in ours),
        "n_answerable": sum(s["n_answerable"] for s in ours),
        # Pooled over every question: a mean of per-set percentiles is not a percentile.
        "latency_p50_ms": percentile(totals, 50),
        "latency_p95_ms": percentile(totals, 95),
        "aggregate": "macro average over the sets (each set counts once); n_* are totals; latency pooled",
        "naive": macro_average(naives, SCORE_KEYS) if naives else None,
        "suite": {"path": str(suite.path), "name": suite.name, "description": suite.description},
        "sample": sample,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "settings": settings.public(),
        "sets": {
            r.name: {"ours": r.ours, "naive": r.naive, "timings_s": {k: round(v, 2) for k, v in r.timings_s.items()}}
            for r in runs
        },
        "timings_s": {r.name: round(r.timings_s["total"], 2) for r in runs},
    }  # fmt: skip
    return summary


def _ids_sha(ids: Any) -> str:
    import hashlib

    return hashlib.sha256("\n".join(ids).encode()).hexdigest()[:16]
