"""The report's PNG plots, drawn with matplotlib's Agg canvas (no display, no pyplot state)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from evals.metrics import percentile
from evals.questions import QUESTION_TYPES
from evals.scoring import SCORE_KEYS

CURRENT, BASELINE, ACCENT = "#1f77b4", "#b0b0b0", "#d62728"
DPI = 110


def metric_bars(summary: Mapping[str, Any], baseline: Mapping[str, Any] | None, path: Path) -> Path:
    """Horizontal bars of every [0, 1] metric, the baseline's value beside each when there is one."""
    names = [k for k in SCORE_KEYS if summary.get(k) is not None]
    n_of = {k: v.get("n") for k, v in summary.get("metrics", {}).items()}
    fig = Figure(figsize=(9, 0.45 * max(len(names), 3) + 1.6), dpi=DPI)
    ax = fig.add_subplot()
    ys = list(range(len(names)))[::-1]  # first metric on top
    has_base = baseline is not None and any(baseline.get(k) is not None for k in names)
    h = 0.38 if has_base else 0.6
    cur = [float(summary[k]) for k in names]
    bars = ax.barh(
        [y + (h / 2 if has_base else 0) for y in ys], cur, height=h, color=CURRENT, label="this run"
    )
    _label_bars(ax, bars, cur)
    if has_base and baseline is not None:
        base = [baseline.get(k) for k in names]
        vals = [float(b) if b is not None else 0.0 for b in base]
        bb = ax.barh([y - h / 2 for y in ys], vals, height=h, color=BASELINE, label="baseline")
        _label_bars(ax, bb, [b if b is None else float(b) for b in base])
    ax.set_yticks(ys, [f"{k}  (n={n_of.get(k, '?')})" for k in names])
    ax.set_xlim(0, 1.15)
    ax.set_xlabel("score (0-1; false_abstention_rate: lower is better)")
    ax.set_title("Answer quality" + (" against the baseline" if has_base else ""), pad=24)
    ax.grid(axis="x", alpha=0.3)
    _legend_on_top(ax, 2)
    return save_figure(fig, path)


def latency_hist(records: Sequence[Mapping[str, Any]], path: Path) -> Path:
    """Histogram of per-question wall-clock latency with the p50 and p95 marked."""
    totals = [float(r["timings_ms"]["total"]) for r in records]
    fig = Figure(figsize=(8, 4), dpi=DPI)
    ax = fig.add_subplot()
    ax.hist(totals, bins=min(20, max(5, len(totals) // 2)), color=CURRENT, edgecolor="white")
    for p, style in ((50, "--"), (95, ":")):
        v = percentile(totals, p)
        if v is not None:
            ax.axvline(v, color=ACCENT, linestyle=style, label=f"p{p} = {v:.0f} ms")
    ax.set_title(f"Answer latency per question (n={len(totals)})")
    ax.set_xlabel("latency (ms, wall clock per question)")
    ax.set_ylabel("questions")
    ax.legend(fontsize=8)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(axis="y", alpha=0.3)
    return save_figure(fig, path)


def type_breakdown(records: Sequence[Mapping[str, Any]], path: Path) -> Path:
    """Share correct and article hit@k per question type (unanswerable: correct = abstained)."""
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for r in records:
        groups.setdefault(r["type"], []).append(r)
    types = [t for t in QUESTION_TYPES if t in groups]
    correct = [sum(bool(r["correct"]) for r in groups[t]) / len(groups[t]) for t in types]
    hits: list[float | None] = []
    for t in types:
        vals = [r["metrics"]["hit_at_k"] for r in groups[t] if r["metrics"]["hit_at_k"] is not None]
        hits.append(sum(vals) / len(vals) if vals else None)
    fig = Figure(figsize=(max(6, 1.3 * len(types) + 2), 4.2), dpi=DPI)
    ax = fig.add_subplot()
    xs = list(range(len(types)))
    w = 0.38
    b1 = ax.bar([x - w / 2 for x in xs], correct, width=w, color=CURRENT, label="correct")
    _label_bars(ax, b1, correct, horizontal=False)
    b2 = ax.bar(
        [x + w / 2 for x in xs], [h or 0.0 for h in hits], width=w, color=BASELINE, label="hit@k (article)"
    )
    _label_bars(ax, b2, hits, horizontal=False)
    ax.set_xticks(xs, [f"{t}\n(n={len(groups[t])})" for t in types])
    ax.set_ylim(0, 1.1)
    ax.set_ylabel("share of questions")
    ax.set_xlabel("question type")
    ax.set_title("Results by question type (unanswerable: correct = abstained)", pad=24)
    _legend_on_top(ax, 2)
    ax.grid(axis="y", alpha=0.3)
    return save_figure(fig, path)


def sweep_chart(
    rows: Sequence[Mapping[str, Any]], labels: Sequence[str], metrics: Sequence[str], path: Path
) -> Path:
    """One line per metric across the settings combinations: trends and crossings read at a glance."""
    fig = Figure(figsize=(min(13.0, 5.5 + 0.55 * len(rows)), 4.8), dpi=DPI)
    ax = fig.add_subplot()
    colors = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2"]
    markers = ["o", "s", "^", "D", "v", "P"]
    xs = list(range(len(rows)))
    for i, name in enumerate(metrics):
        vals = [row.get(name) for row in rows]
        ys = [float(v) if v is not None else float("nan") for v in vals]
        shown = name + (" (lower is better)" if name == "false_abstention_rate" else "")
        # Small vertical offsets keep identical lines (e.g. all at 1.0) apart.
        offset = (i - len(metrics) / 2) * 0.006
        ax.plot(
            xs,
            [y + offset for y in ys],
            marker=markers[i % 6],
            color=colors[i % 6],
            label=shown,
            lw=1.6,
            ms=5,
        )
    ax.set_xticks(xs, list(labels), rotation=25 if len(rows) > 4 else 0, ha="right" if len(rows) > 4 else "center",
                  fontsize=8)  # fmt: skip
    ax.set_ylim(-0.05, 1.08)
    ax.set_ylabel("score (0-1)")
    ax.set_title("Sweep: answer quality per settings combination")
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8, frameon=False)
    ax.grid(alpha=0.3)
    return save_figure(fig, path)


def _legend_on_top(ax: Axes, ncols: int) -> None:
    # Between the title and the plot, where it can never hide a bar.
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=ncols, fontsize=8, frameon=False)


def _label_bars(
    ax: Axes, bars: Any, values: Sequence[float | None], horizontal: bool = True, size: int = 8
) -> None:
    for bar, v in zip(bars, values, strict=True):
        text = "n/a" if v is None else f"{v:.2f}"
        if horizontal:
            ax.text(
                bar.get_width() + 0.01, bar.get_y() + bar.get_height() / 2, text, va="center", fontsize=size
            )
        else:
            ax.text(
                bar.get_x() + bar.get_width() / 2,
                bar.get_height() + 0.01,
                text,
                ha="center",
                va="bottom",
                fontsize=size,
            )


def save_figure(fig: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, format="png", bbox_inches="tight")
    return path
