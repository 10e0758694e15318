"""What `rag serve` wires into the UI: the Evals tab's runner and report view, for real."""

from __future__ import annotations

import json
from pathlib import Path

from rag.cli import _eval_runner
from rag.settings import Settings
from ui.evals_view import latest_report, question_sets, run_eval

ROOT = Path(__file__).resolve().parent.parent


def test_eval_button_runs_the_dev_set_by_name_and_shows_the_report(tmp_path: Path) -> None:
    settings = Settings.from_env({}, data_dir=tmp_path / "store")
    reports = tmp_path / "eval-runs"
    runner = _eval_runner(settings, reports)
    sets = question_sets()
    assert sets["seed_dev"] == ROOT / "evals" / "questions" / "seed_dev.jsonl"
    message, html, out_dir = run_eval(runner, "seed_dev", None, sets)
    out = latest_report(reports)
    assert out is not None and out.parent == reports and out_dir == str(out)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["n_questions"] == 12 and summary["citation_resolve_rate"] == 1.0
    assert message == "Eval of question set seed_dev finished."
    assert str(tmp_path) not in message + html and str(ROOT) not in message + html
    assert "answer_accuracy" in html and "data:image/png;base64" in html  # metrics and inlined plots
    missing, _, none = run_eval(runner, str(tmp_path / "nope.jsonl"), None, sets)
    assert "Unknown question set" in missing and none is None
