"""report.md and report.html: settings, corpus, metric table against the baseline, plots, failures first."""

from __future__ import annotations

import base64
import html
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from evals import plots
from evals.gate import Regression
from evals.scoring import LATENCY_KEYS, SCORE_KEYS

# Settings that change answers; the full set is in summary.json.
KEY_SETTINGS = (
    "embed_model",
    "embed_runtime",
    "chunk_size",
    "chunk_overlap",
    "k",
    "candidates",
    "fusion",
    "dense_weight",
    "max_sentences",
    "abstain_threshold",
    "llm_backend",
    "llm_model",
)
PLOT_TITLES = {
    "metrics": "Metrics against the baseline",
    "latency": "Latency",
    "types": "By question type",
}


def write_plots(
    out_dir: Path,
    summary: Mapping[str, Any],
    records: Sequence[Mapping[str, Any]],
    baseline: Mapping[str, Any] | None,
) -> dict[str, Path]:
    """Draw the report's plots into out_dir/plots/."""
    d = out_dir / "plots"
    return {
        "metrics": plots.metric_bars(summary, baseline, d / "metrics.png"),
        "latency": plots.latency_hist(records, d / "latency.png"),
        "types": plots.type_breakdown(records, d / "types.png"),
    }


def metric_rows(
    summary: Mapping[str, Any], baseline: Mapping[str, Any] | None, regressions: Sequence[Regression]
) -> list[list[str]]:
    """Rows of (metric, value, n, baseline, delta, status) for both reports."""
    bad = {r.metric for r in regressions}
    rows = []
    for name in (*SCORE_KEYS, *LATENCY_KEYS):
        entry = summary.get("metrics", {}).get(name, {})
        value, base = summary.get(name), (baseline or {}).get(name)
        delta = value - base if isinstance(value, int | float) and isinstance(base, int | float) else None
        if entry.get("skipped"):
            status = f"skipped: {entry['skipped']}"
        elif name in bad:
            status = "REGRESSED"
        else:
            status = "" if baseline is None or delta is None else "ok"
        rows.append(
            [
                name,
                fmt(value, name),
                str(entry.get("n", "")),
                fmt(base, name),
                fmt(delta, name, True),
                status,
            ]
        )
    return rows


def write_reports(
    out_dir: Path,
    summary: Mapping[str, Any],
    records: Sequence[Mapping[str, Any]],
    baseline: Mapping[str, Any] | None,
    regressions: Sequence[Regression],
) -> tuple[Path, Path]:
    """Write report.md (plots as files beside it) and report.html (plots embedded); return both paths."""
    pngs = write_plots(out_dir, summary, records, baseline)
    md, htm = out_dir / "report.md", out_dir / "report.html"
    md.write_text(render_markdown(summary, records, baseline, regressions, pngs, out_dir), encoding="utf-8")
    htm.write_text(render_html(summary, records, baseline, regressions, pngs), encoding="utf-8")
    return md, htm


def _header(summary: Mapping[str, Any], regressions: Sequence[Regression], has_base: bool) -> list[str]:
    c = summary.get("corpus", {})
    verdict = "no baseline given"
    if has_base:
        verdict = (
            f"{len(regressions)} metric(s) regressed" if regressions else "no regression against the baseline"
        )
    return [
        f"Questions: {summary.get('questions', {}).get('path', '?')} "
        f"({summary['n_questions']} questions, {summary['n_answerable']} answerable)",
        f"Corpus: {c.get('path', '?')} (fingerprint {c.get('fingerprint', '?')}, "
        f"{c.get('articles', '?')} articles, {c.get('chunks', '?')} chunks)",
        f"Run: {summary.get('created', '?')}; gate: {verdict}",
    ]


def _settings_rows(summary: Mapping[str, Any]) -> list[list[str]]:
    s = summary.get("settings", {})
    return [[k, str(s.get(k))] for k in KEY_SETTINGS if k in s]


def _failing(records: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [r for r in records if r.get("failure")]


def _retrieved(r: Mapping[str, Any], n: int = 3) -> str:
    return ", ".join(h["article_id"] for h in r.get("hits", [])[:n]) or "nothing"


def render_markdown(
    summary: Mapping[str, Any],
    records: Sequence[Mapping[str, Any]],
    baseline: Mapping[str, Any] | None,
    regressions: Sequence[Regression],
    pngs: Mapping[str, Path],
    out_dir: Path,
) -> str:
    """The Markdown report; plot images are linked relative to the report."""
    lines = ["# Eval report", ""]
    lines += [f"- {h}" for h in _header(summary, regressions, baseline is not None)]
    lines += [f"- **Regression**: {reg}" for reg in regressions]
    lines += ["", "## Metrics", ""]
    lines += md_table(
        ["metric", "value", "n", "baseline", "delta", "status"], metric_rows(summary, baseline, regressions)
    )
    lines += ["", "## Latency per stage (ms)", ""]
    lat = summary.get("latency_ms", {})
    lines += md_table(
        ["stage", "p50", "p95", "n"],
        [[k, fmt(v["p50"], "_ms"), fmt(v["p95"], "_ms"), str(v["n"])] for k, v in lat.items()],
    )
    lines += ["", "## Plots", ""]
    for key, p in pngs.items():
        lines += [f"![{PLOT_TITLES[key]}]({p.relative_to(out_dir).as_posix()})", ""]
    failing = _failing(records)
    lines += [f"## Failing questions ({len(failing)} of {len(records)})", ""]
    for r in failing:
        lines += [
            f"### {r['id']} ({r['type']}): {r['question']}",
            "",
            f"- **What went wrong**: {r['failure']}",
            f"- **Expected**: {r['expected_answer'] or '(abstain)'}; key facts: {', '.join(r['key_facts']) or '-'}",
            f"- **Answer**{' (abstained)' if r['abstained'] else ''}: {r['answer'] or '(empty)'}",
            f"- **Retrieved**: {_retrieved(r)}; expected sources: {', '.join(r['sources']) or '-'}",
            "",
        ]
    lines += ["## All questions", ""]
    rows = [[*row[:-1], md_cell(row[-1])] for row in _question_rows(records)]
    lines += md_table(["id", "type", "result", "key-fact recall", "ms", "question"], rows)
    lines += ["", "## Settings", ""]
    lines += md_table(["setting", "value"], _settings_rows(summary))
    return "\n".join(lines) + "\n"


def render_html(
    summary: Mapping[str, Any],
    records: Sequence[Mapping[str, Any]],
    baseline: Mapping[str, Any] | None,
    regressions: Sequence[Regression],
    pngs: Mapping[str, Path],
) -> str:
    """A self-contained HTML report: plots embedded as base64 PNG, all text escaped."""
    e = html.escape
    parts = ["<h1>Eval report</h1>", "<ul>"]
    parts += [f"<li>{e(h)}</li>" for h in _header(summary, regressions, baseline is not None)]
    parts += [f'<li class="bad"><b>Regression</b>: {e(str(reg))}</li>' for reg in regressions]
    parts += ["</ul>", "<h2>Metrics</h2>"]
    parts.append(
        html_table(
            ["metric", "value", "n", "baseline", "delta", "status"],
            metric_rows(summary, baseline, regressions),
        )
    )
    lat = summary.get("latency_ms", {})
    parts += [
        "<h2>Latency per stage (ms)</h2>",
        html_table(
            ["stage", "p50", "p95", "n"],
            [[k, fmt(v["p50"], "_ms"), fmt(v["p95"], "_ms"), str(v["n"])] for k, v in lat.items()],
        ),
    ]
    parts.append("<h2>Plots</h2>")
    for key, p in pngs.items():
        data = base64.b64encode(p.read_bytes()).decode("ascii")
        parts.append(
            f'<figure><img alt="{e(PLOT_TITLES[key])}" src="data:image/png;base64,{data}"><figcaption>{e(PLOT_TITLES[key])}</figcaption></figure>'
        )
    failing = _failing(records)
    parts.append(f"<h2>Failing questions ({len(failing)} of {len(records)})</h2>")
    for r in failing:
        parts += [
            f"<h3>{e(r['id'])} ({e(r['type'])}): {e(r['question'])}</h3><ul>",
            f'<li class="bad"><b>What went wrong</b>: {e(r["failure"])}</li>',
            f"<li><b>Expected</b>: {e(r['expected_answer'] or '(abstain)')}; key facts: {e(', '.join(r['key_facts']) or '-')}</li>",
            f"<li><b>Answer</b>{' (abstained)' if r['abstained'] else ''}: {e(r['answer'] or '(empty)')}</li>",
            f"<li><b>Retrieved</b>: {e(_retrieved(r))}; expected sources: {e(', '.join(r['sources']) or '-')}</li></ul>",
        ]
    parts.append("<h2>All questions</h2>")
    rows = _question_rows(records)
    parts.append(html_table(["id", "type", "result", "key-fact recall", "ms", "question"], rows))
    parts += ["<h2>Settings</h2>", html_table(["setting", "value"], _settings_rows(summary))]
    style = (
        "body{font-family:system-ui,sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;color:#222}"
        "table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left}"
        "th{background:#f3f3f3}.bad,td.bad{color:#b00020}img{max-width:100%}figure{margin:1em 0}"
    )
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Eval report</title><style>{style}</style></head>'
        f"<body>{''.join(parts)}</body></html>\n"
    )


def fmt(value: Any, name: str, signed: bool = False) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value)
    if name.endswith("_ms"):
        return f"{value:+.1f}" if signed else f"{value:.1f}"
    return f"{value:+.3f}" if signed else f"{value:.3f}"


def md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def md_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(md_cell(c) for c in row) + " |" for row in rows]
    return out


def html_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>"
        + "".join(
            f"<td{' class=bad' if c in ('REGRESSED', 'FAIL') else ''}>{html.escape(c)}</td>" for c in row
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _question_rows(records: Sequence[Mapping[str, Any]]) -> list[list[str]]:
    """id, type, result, key-fact recall, ms, question: one row a question, for both reports."""
    return [
        [
            r["id"],
            r["type"],
            "pass" if not r.get("failure") else "FAIL",
            fmt(r["metrics"]["key_fact_recall"], ""),
            fmt(r["timings_ms"]["total"], "_ms"),
            r["question"],
        ]
        for r in records
    ]
