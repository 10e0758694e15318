"""Eval reports and plots: Markdown and self-contained HTML, failures first, readable PNGs."""

from __future__ import annotations

import base64
import os
import re
import struct
from pathlib import Path

from eval_helpers import sample_records

from evals.gate import compare
from evals.plots import sweep_chart
from evals.report import write_reports
from evals.runner import latest_report
from evals.scoring import summarise

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _png_size(data: bytes) -> tuple[int, int]:
    assert data.startswith(PNG_MAGIC)
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def _reports(tmp_path: Path, worse: bool = True) -> tuple[str, str, dict]:
    recs = sample_records()
    recs[1]["question"] = "Who evacuates <people> & why?"  # must be escaped in HTML
    summary = summarise(recs)
    summary.update({"corpus": {"path": "corpus", "fingerprint": "abc123", "articles": 2, "chunks": 2}})
    summary["settings"] = {"k": 5, "chunk_size": 128}
    baseline = dict(summary, answer_accuracy=0.9 if worse else summary["answer_accuracy"])
    md, html = write_reports(tmp_path, summary, recs, baseline, compare(summary, baseline))
    return md.read_text(), html.read_text(), summary


def test_markdown_report_has_metric_table_plots_and_failures_first(tmp_path: Path) -> None:
    md, _, summary = _reports(tmp_path)
    row = next(line for line in md.splitlines() if line.startswith("| answer_accuracy "))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells == ["answer_accuracy", f"{summary['answer_accuracy']:.3f}", "3", "0.900",
                     f"{summary['answer_accuracy'] - 0.9:+.3f}", "REGRESSED"]  # fmt: skip
    assert "| faithfulness | - | 0 | - | - | skipped: no LLM configured |" in md
    assert "fingerprint abc123" in md and "| chunk_size | 128 |" in md
    assert "**Regression**: answer_accuracy: 0.900 ->" in md
    failing = md.index("## Failing questions (2 of 4)")
    assert failing < md.index("## All questions")
    section = md[failing : md.index("## All questions")]
    assert "missing key facts: Kupiansk" in section and "abstained on an answerable question" in section
    assert "q1" not in section and "q4" not in section
    for name in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md):
        assert _png_size((tmp_path / name).read_bytes())[0] > 300


def test_html_report_is_self_contained_and_escaped(tmp_path: Path) -> None:
    _, html, _ = _reports(tmp_path)
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', html)
    assert len(images) == 3
    for data in images:
        width, height = _png_size(base64.b64decode(data))
        assert width > 300 and height > 200
    assert "Who evacuates &lt;people&gt; &amp; why?" in html
    assert "<people>" not in html
    assert "class=bad>REGRESSED<" in html
    assert 'src="plots/' not in html  # nothing points outside the file


def test_no_regression_means_a_passing_verdict(tmp_path: Path) -> None:
    md, _, _ = _reports(tmp_path, worse=False)
    assert "gate: no regression against the baseline" in md
    assert "REGRESSED" not in md


def test_sweep_chart_draws_a_png(tmp_path: Path) -> None:
    rows: list[dict[str, float | None]] = [
        {"answer_accuracy": 0.8, "mrr": 0.9},
        {"answer_accuracy": 0.6, "mrr": None},
    ]
    path = sweep_chart(rows, ["k=3", "k=5"], ["answer_accuracy", "mrr"], tmp_path / "sweep.png")
    assert _png_size(path.read_bytes())[0] > 300


def test_latest_report_is_the_newest_run(tmp_path: Path) -> None:
    assert latest_report(tmp_path / "missing") is None
    assert latest_report(tmp_path) is None
    old, new = tmp_path / "run-a" / "report.html", tmp_path / "sweep" / "k=3" / "report.html"
    for p in (old, new):
        p.parent.mkdir(parents=True)
        p.write_text("<html></html>")
    os.utime(old, (1_000_000, 1_000_000))
    assert latest_report(tmp_path) == new
