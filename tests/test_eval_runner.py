"""`rag eval` end to end: the real ingest and pipeline on a copy of the seed corpus and dev set."""

from __future__ import annotations

import csv
import json
import shutil
from functools import partial
from pathlib import Path

import pytest

from evals.runner import EvalResult, latest_report, run_eval
from evals.sweep import run_sweep
from index.ingest import ingest_paths
from rag.settings import Settings

ROOT = Path(__file__).parent.parent
BINDING = ("answer_accuracy", "key_fact_recall", "hit_at_1", "hit_at_5", "mrr", "citation_resolve_rate",
           "citation_support_rate", "abstention_recall", "false_abstention_rate")  # fmt: skip
ingest = partial(ingest_paths, progress=False)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    ws = tmp_path_factory.mktemp("eval")
    shutil.copytree(ROOT / "data" / "corpus", ws / "corpus")
    shutil.copy(ROOT / "evals" / "questions" / "seed_dev.jsonl", ws / "dev.jsonl")
    return ws


@pytest.fixture(scope="module")
def settings(workspace: Path) -> Settings:
    return Settings.from_env({}, data_dir=workspace / "store")


@pytest.fixture(scope="module")
def baseline_run(workspace: Path, settings: Settings) -> EvalResult:
    return run_eval(workspace / "dev.jsonl", workspace / "corpus", workspace / "base", settings, ingest,
                    progress=False)  # fmt: skip


@pytest.mark.slow
def test_a_run_writes_every_artifact_with_the_binding_keys(workspace: Path, baseline_run: EvalResult) -> None:
    out = baseline_run.out_dir
    summary = json.loads((out / "summary.json").read_text())
    for key in BINDING:
        assert summary[key] is None or 0.0 <= summary[key] <= 1.0, key
        assert summary["metrics"][key]["n"] >= 0
    n = sum(1 for line in (workspace / "dev.jsonl").read_text().splitlines() if line.strip())
    assert summary["n_questions"] == n
    assert summary["latency_p50_ms"] <= summary["latency_p95_ms"]
    # Every quote shown to a user must be the stored article's exact span.
    assert summary["citation_resolve_rate"] == 1.0 and summary["metrics"]["citation_resolve_rate"]["n"] > 0
    assert summary["faithfulness"] is None and summary["metrics"]["faithfulness"]["skipped"]
    records = [json.loads(line) for line in (out / "per_question.jsonl").read_text().splitlines()]
    assert [r["id"] for r in records] == [
        json.loads(x)["id"] for x in (workspace / "dev.jsonl").read_text().split("\n") if x
    ]
    assert all(r["hits"] and "total" in r["timings_ms"] for r in records)
    assert (out / "report.md").stat().st_size > 0 and (out / "report.html").stat().st_size > 0
    assert baseline_run.exit_code == 0
    assert Path(summary["corpus"]["index_dir"]).parent == workspace / "eval-index"


@pytest.mark.slow
def test_a_worsened_setting_fails_the_gate_and_the_index_is_reused(
    workspace: Path, settings: Settings, baseline_run: EvalResult
) -> None:
    worse = settings.replace(k=1, abstain_threshold=0.99)
    result = run_eval(workspace / "dev.jsonl", workspace / "corpus", workspace / "worse", worse, ingest,
                      baseline=baseline_run.out_dir / "summary.json", progress=False)  # fmt: skip
    assert result.summary["corpus"]["ingest"]["unchanged"] == result.summary["corpus"]["files"]
    assert result.summary["corpus"]["index_dir"] == baseline_run.summary["corpus"]["index_dir"]
    regressed = {r.metric: r for r in result.regressions}
    assert "answer_accuracy" in regressed
    assert regressed["answer_accuracy"].current < baseline_run.summary["answer_accuracy"]
    assert result.exit_code == 1
    assert result.summary["gate"] == "fail"
    assert "REGRESSED" in (result.out_dir / "report.md").read_text()
    assert latest_report(workspace) == result.out_dir / "report.html"


@pytest.mark.slow
def test_a_sweep_writes_one_comparison(workspace: Path, settings: Settings) -> None:
    md = run_sweep(workspace / "dev.jsonl", workspace / "corpus", workspace / "sweep", settings, ingest,
                   {"k": ["1", "5"]}, progress=False)  # fmt: skip
    rows = list(csv.DictReader((md.parent / "sweep.csv").open()))
    assert [r["k"] for r in rows] == ["1", "5"]
    for r in rows:
        summary = json.loads((md.parent / r["run"] / "summary.json").read_text())
        assert summary["k"] == int(r["k"])
        assert float(r["answer_accuracy"]) == pytest.approx(summary["answer_accuracy"])
    text = md.read_text()
    assert "| k | answer_accuracy |" in text and "(k=1/report.md)" in text
    assert (md.parent / "sweep.png").stat().st_size > 0
