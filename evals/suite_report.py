"""The suite's report.md and report.html: per set, ours beside the naive baseline, plots, failures, timings.

Both files are rendered from one list of blocks (heading, text, list, table, image), so they hold
the same content; the HTML embeds the PNGs, the Markdown links them (out/plots/*.png).
"""

from __future__ import annotations

import base64
import html
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from evals import suite_plots
from evals.gate import Regression
from evals.report import KEY_SETTINGS, fmt, html_table, md_table
from evals.scoring import GROUP_KEYS, LATENCY_KEYS, SCORE_KEYS

FAILURES_SHOWN = 12  # failing questions listed per set; the rest are counted
ANSWER_CHARS = 220
TIMING_COLUMNS = (
    ("ours_ingest", "ours: ingest"),
    ("ours_answer", "ours: answer"),
    ("naive_model_load", "naive: load model"),
    ("naive_index", "naive: index (build or load)"),
    ("naive_answer", "naive: answer"),
    ("total", "set total (with start-up)"),
)
Block = tuple[
    Any, ...
]  # ("h", level, text) | ("p", text) | ("ul", [text]) | ("table", headers, rows) | ("img", title, path)


def write_suite_reports(
    out: Path,
    summary: Mapping[str, Any],
    records: Mapping[str, Sequence[Mapping[str, Any]]],
    naive_records: Mapping[str, Sequence[Mapping[str, Any]]],
    baseline: Mapping[str, Any] | None,
    regressions: Sequence[Regression],
) -> tuple[Path, Path]:
    """Draw the plots into out/plots/ and write out/report.md and out/report.html."""
    sets = summary["sets"]
    d = out / "plots"
    pngs = {
        "bars": suite_plots.set_bars(sets, d / "sets.png"),
        "reliability": suite_plots.reliability(records, d / "reliability.png"),
        "abstention": suite_plots.abstention_tradeoff(records, d / "abstention.png"),
        "latency": suite_plots.latency(records, naive_records, d / "latency.png"),
    }
    blocks = build_blocks(summary, records, baseline, regressions, pngs)
    md, htm = out / "report.md", out / "report.html"
    md.write_text(render_md(blocks, out), encoding="utf-8")
    htm.write_text(render_html(blocks, str(summary.get("suite", {}).get("name", "suite"))), encoding="utf-8")
    return md, htm


def metric_table(
    name: str, ours: Mapping[str, Any], naive: Mapping[str, Any] | None, base: Mapping[str, Any] | None,
    regressed: set[str],
) -> list[list[str]]:  # fmt: skip
    """Rows of (metric, ours, n, naive, n, baseline, delta, status) for one set."""
    rows = []
    for key in (*SCORE_KEYS, *LATENCY_KEYS):
        o, nv = ours.get("metrics", {}).get(key, {}), (naive or {}).get("metrics", {}).get(key, {})
        value, b = ours.get(key), (base or {}).get(key)
        if value is None and (naive or {}).get(key) is None and b is None:
            continue
        delta = value - b if isinstance(value, int | float) and isinstance(b, int | float) else None
        status = "REGRESSED" if key in regressed else ("ok" if delta is not None else "")
        if o.get("skipped"):
            status = f"skipped: {o['skipped']}"
        rows.append([key, fmt(value, key), str(o.get("n", "")), fmt((naive or {}).get(key), key),
                     str(nv.get("n", "")) if naive else "", fmt(b, key), fmt(delta, key, True), status])  # fmt: skip
    ece = ours.get("expected_calibration_error")
    rows.append(
        [
            "expected_calibration_error",
            fmt(ece, ""),
            "",
            "-",
            "",
            fmt((base or {}).get("expected_calibration_error"), ""),
            "",
            "",
        ]
    )
    return rows


def _failing_blocks(name: str, records: Sequence[Mapping[str, Any]]) -> list[Block]:
    failing = [r for r in records if r.get("failure")]
    blocks: list[Block] = [("h", 3, f"{name}: failing questions ({len(failing)} of {len(records)})")]
    rows = []
    for r in failing[:FAILURES_SHOWN]:
        answer = " ".join(str(r.get("answer") or "").split())
        if len(answer) > ANSWER_CHARS:
            answer = answer[: ANSWER_CHARS - 1] + "…"
        hit5 = r["metrics"].get("hit_at_5")
        rows.append([
            r["id"], r["question"], ", ".join(r["key_facts"]) or "(abstain)", answer or "(empty)",
            "yes" if r["abstained"] else "no", f"{r['confidence']:.2f}",
            "-" if hit5 is None else ("yes" if hit5 else "no"), r["failure"],
        ])  # fmt: skip
    if rows:
        blocks.append(("table", ["id", "question", "expected key facts", "our answer", "abstained", "confidence",
                                 "source in top-5", "what went wrong"], rows))  # fmt: skip
    if len(failing) > FAILURES_SHOWN:
        blocks.append(
            (
                "p",
                f"… and {len(failing) - FAILURES_SHOWN} more failing questions of {name} in per_question.jsonl.",
            )
        )
    return blocks


def build_blocks(
    summary: Mapping[str, Any],
    records: Mapping[str, Sequence[Mapping[str, Any]]],
    baseline: Mapping[str, Any] | None,
    regressions: Sequence[Regression],
    pngs: Mapping[str, Path],
) -> list[Block]:
    """The report's content, shared by the Markdown and the HTML renderers."""
    sets, sample = summary["sets"], summary.get("sample")
    suite = summary.get("suite", {})
    verdict = "no baseline given"
    if baseline is not None:
        verdict = (
            f"{len(regressions)} metric(s) regressed" if regressions else "no regression against the baseline"
        )
    head = [
        f"Suite: {suite.get('name')} ({shown(suite.get('path'))}); sets: {', '.join(sets)}",
        "Questions: " + ("every question of each set" if not sample else
                         f"a fixed sample of {sample['n']} per set, stratified answerable/unanswerable, seed {sample['seed']}"),
        f"Run: {summary.get('created')}; wall time {summary['timings_s'].get('total', 0):.0f} s; gate: {verdict}",
        "Naive baseline: llama-index HuggingFaceEmbedding (MiniLM) + SentenceSplitter(256, 32) + ChromaVectorStore, "
        "top-5; its answer is the top chunk's text and it never abstains",
    ]  # fmt: skip
    head += [f"REGRESSION: {r}" for r in regressions]
    head += [f"no baseline for set {s}" for s in summary.get("unbaselined_sets", [])]
    blocks: list[Block] = [
        ("h", 1, f"Eval suite report: {suite.get('name')}"),
        ("ul", head),
        ("h", 2, "Overview"),
    ]
    over = []
    for name, s in sets.items():
        o, n = s["ours"], s.get("naive") or {}
        over.append([name, str(o["n_questions"]), str(o["n_answerable"])] + [
            f"{fmt(o.get(k), k)} / {fmt(n.get(k), k)}" for k in ("answer_accuracy", "hit_at_1", "hit_at_5", "mrr",
                                                                 "abstention_recall", "false_abstention_rate")
        ])  # fmt: skip
    mac, nmac = summary, summary.get("naive") or {}
    over.append(["macro average", str(summary["n_questions"]), str(summary["n_answerable"])] + [
        f"{fmt(mac.get(k), k)} / {fmt(nmac.get(k), k)}" for k in ("answer_accuracy", "hit_at_1", "hit_at_5", "mrr",
                                                                 "abstention_recall", "false_abstention_rate")
    ])  # fmt: skip
    blocks.append(("table", ["set", "n", "answerable", "accuracy (ours / naive)", "hit@1", "hit@5", "MRR",
                             "abstention recall", "false abstention"], over))  # fmt: skip
    blocks += [("h", 2, "Plots")] + [("img", t, pngs[k]) for k, t in (
        ("bars", "Ours vs naive per set"), ("reliability", "Reliability of our confidence"),
        ("abstention", "When to abstain: the threshold's trade-off"), ("latency", "Latency"))]  # fmt: skip
    bad: dict[str, set[str]] = {}
    for r in regressions:
        bad.setdefault(r.set or "", set()).add(r.metric)
    for name, s in sets.items():
        o = s["ours"]
        c = o.get("corpus", {})
        base = ((baseline or {}).get("sets", {}).get(name) or {}).get("ours")
        blocks += [("h", 2, f"Set {name}"), ("p",
            f"{o['n_questions']} questions ({o['n_answerable']} answerable) from {shown(o.get('questions', {}).get('path'))}; "
            f"corpus {shown(c.get('path'))} ({c.get('articles')} articles, {c.get('chunks')} of our chunks, "
            f"{(s.get('naive') or {}).get('index', {}).get('chunks', '-')} naive chunks; fingerprint {c.get('fingerprint')})")]  # fmt: skip
        blocks.append(("table", ["metric", "ours", "n", "naive", "n", "baseline (ours)", "delta", "status"],
                       metric_table(name, o, s.get("naive"), base, bad.get(name, set()))))  # fmt: skip
        if o.get("by_kind"):
            nk = (s.get("naive") or {}).get("by_kind", {})
            rows = [[k, str(v["n"]), fmt(v["correct"], "")] + [fmt(v.get(g), g) for g in GROUP_KEYS]
                    + [fmt(nk.get(k, {}).get("answer_accuracy"), "")] for k, v in sorted(o["by_kind"].items())]  # fmt: skip
            blocks += [("h", 3, f"{name}: by kind"),
                       ("table", ["kind", "n", "correct", *GROUP_KEYS, "naive accuracy"], rows)]  # fmt: skip
        blocks += _failing_blocks(name, records.get(name, []))
    blocks.append(("h", 2, "Timings (seconds)"))
    trows = [
        [name, *(fmt(s["timings_s"].get(k), "_ms") for k, _ in TIMING_COLUMNS)] for name, s in sets.items()
    ]
    trows.append(
        ["whole run", *([""] * (len(TIMING_COLUMNS) - 1)), fmt(summary["timings_s"].get("total"), "_ms")]
    )
    blocks.append(("table", ["set", *(label for _, label in TIMING_COLUMNS)], trows))
    st = summary.get("settings", {})
    blocks += [("h", 2, "Settings (ours)"), ("table", ["setting", "value"],
               [[k, str(st.get(k))] for k in KEY_SETTINGS if k in st])]  # fmt: skip
    return blocks


def shown(path: Any) -> str:
    """A path relative to the working directory when it lies under it (shorter reports), else as given."""
    if not path:
        return "?"
    try:
        return Path(path).resolve().relative_to(Path.cwd()).as_posix()
    except ValueError:
        return str(path)


def render_md(blocks: Sequence[Block], out: Path) -> str:
    lines: list[str] = []
    for b in blocks:
        if b[0] == "h":
            lines += ["#" * b[1] + " " + b[2], ""]
        elif b[0] == "p":
            lines += [b[1], ""]
        elif b[0] == "ul":
            lines += [f"- {'**' + t + '**' if t.startswith('REGRESSION') else t}" for t in b[1]] + [""]
        elif b[0] == "table":
            lines += md_table(b[1], b[2]) + [""]
        elif b[0] == "img":
            lines += [f"![{b[1]}]({Path(b[2]).relative_to(out).as_posix()})", ""]
    return "\n".join(lines)


def render_html(blocks: Sequence[Block], title: str) -> str:
    e = html.escape
    parts: list[str] = []
    for b in blocks:
        if b[0] == "h":
            parts.append(f"<h{b[1]}>{e(b[2])}</h{b[1]}>")
        elif b[0] == "p":
            parts.append(f"<p>{e(b[1])}</p>")
        elif b[0] == "ul":
            items = "".join(
                f"<li{' class=bad' if t.startswith('REGRESSION') else ''}>{e(t)}</li>" for t in b[1]
            )
            parts.append(f"<ul>{items}</ul>")
        elif b[0] == "table":
            parts.append(html_table(b[1], b[2]))
        elif b[0] == "img":
            data = base64.b64encode(Path(b[2]).read_bytes()).decode("ascii")
            parts.append(
                f'<figure><img alt="{e(b[1])}" src="data:image/png;base64,{data}"><figcaption>{e(b[1])}</figcaption></figure>'
            )
    style = (
        "body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}"
        "table{border-collapse:collapse;margin:.5em 0;font-size:.9em}td,th{border:1px solid #ccc;padding:.25em .5em;"
        "text-align:left;vertical-align:top}th{background:#f3f3f3}.bad,td.bad{color:#b00020}img{max-width:100%}"
    )
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Eval suite: {e(title)}</title>'
            f"<style>{style}</style></head><body>{''.join(parts)}</body></html>\n")  # fmt: skip
