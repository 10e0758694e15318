"""What `rag serve` wires into the UI: the Evals tab's runner and report view, for real."""

from __future__ import annotations

import json
from pathlib import Path

from rag.cli import _eval_runner
from rag.settings import Settings
from ui.evals_view import latest_report, run_eval

ROOT = Path(__file__).resolve().parent.parent


def test_eval_button_runs_the_dev_set_and_shows_the_report(tmp_path: Path) -> None:
    settings = Settings.from_env({}, data_dir=tmp_path / "store")
    reports = tmp_path / "eval-runs"
    runner = _eval_runner(settings, reports)
    message, html = run_eval(runner, str(ROOT / "evals" / "questions" / "seed_dev.jsonl"))
    out = latest_report(reports)
    assert out is not None and out.parent == reports
    summary = json.loads((out / "summary.json").read_text())
    assert summary["n_questions"] == 12 and summary["citation_resolve_rate"] == 1.0
    assert "Eval finished" in message and str(out) in message
    assert (
        "answer_accuracy" in html and "data:image/png;base64" in html
    )  # metrics and inlined plots (in an iframe)
    missing, _ = run_eval(runner, str(tmp_path / "nope.jsonl"))
    assert "not found" in missing
