"""The suite report's PNG plots: ours beside the naive baseline per set, reliability, latency."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from evals.calibration import expected_calibration_error, reliability_bins
from evals.metrics import percentile
from evals.plots import ACCENT, BASELINE, CURRENT, DPI, save_figure

BAR_METRICS = (
    ("answer_accuracy", "accuracy"),
    ("hit_at_1", "hit@1"),
    ("hit_at_5", "hit@5"),
    ("abstention_recall", "abstention\nrecall"),
    ("false_abstention_rate", "false abst.\n(lower better)"),
)
COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22")


def _grid(n: int, ncols: int, width: float, height: float) -> tuple[Figure, list[Any]]:
    cols = min(ncols, n)
    rows = math.ceil(n / cols)
    fig = Figure(figsize=(width * cols, height * rows), dpi=DPI)
    axes = [fig.add_subplot(rows, cols, i + 1) for i in range(n)]
    return fig, axes


def set_bars(sets: Mapping[str, Mapping[str, Any]], path: Path) -> Path:
    """Per set, grouped bars of accuracy, hit@1, hit@5, abstention recall, false abstention: ours vs naive."""
    names = list(sets)
    fig, axes = _grid(len(names), 3, 5.2, 3.9)
    w = 0.38
    for ax, name in zip(axes, names, strict=True):
        ours, naive = sets[name]["ours"], sets[name].get("naive") or {}
        xs = list(range(len(BAR_METRICS)))
        for off, summary, color, label in (
            (-w / 2, ours, CURRENT, "ours"),
            (w / 2, naive, BASELINE, "naive"),
        ):
            vals = [summary.get(k) for k, _ in BAR_METRICS]
            bars = ax.bar([x + off for x in xs], [v or 0.0 for v in vals], width=w, color=color, label=label)
            for bar, v in zip(bars, vals, strict=True):
                ax.text(bar.get_x() + bar.get_width() / 2, (v or 0.0) + 0.015, "n/a" if v is None else f"{v:.2f}",
                        ha="center", va="bottom", fontsize=7, rotation=90)  # fmt: skip
        ax.set_xticks(xs, [lbl for _, lbl in BAR_METRICS], fontsize=7.5)
        ax.set_ylim(0, 1.25)
        ax.set_yticks([0, 0.25, 0.5, 0.75, 1.0])
        n, na = ours.get("n_questions"), ours.get("n_answerable")
        ax.set_title(f"{name} (n={n}, {na} answerable)", fontsize=10)
        ax.grid(axis="y", alpha=0.3)
        ax.legend(loc="upper right", fontsize=7, ncols=2, frameon=False)
    fig.suptitle("Ours vs the naive llama-index baseline (top chunk as answer, never abstains)", fontsize=11)
    return save_figure(fig, path)


def reliability(records: Mapping[str, Sequence[Mapping[str, Any]]], path: Path, bins: int = 10) -> Path:
    """Predicted confidence (binned) against observed correctness of our answered questions, per set
    and over all sets, with the diagonal of perfect calibration and each bin's count."""
    panels = {
        **{k: list(v) for k, v in records.items()},
        "all sets": [r for v in records.values() for r in v],
    }
    fig, axes = _grid(len(panels), 3, 4.3, 4.1)
    for ax, (name, recs) in zip(axes, panels.items(), strict=True):
        answered = [r for r in recs if not r["abstained"] and r.get("confidence") is not None]
        conf = [float(r["confidence"]) for r in answered]
        ok = [bool(r["correct"]) for r in answered]
        ax.plot([0, 1], [0, 1], linestyle="--", color="#888", lw=1, label="perfect calibration")
        for b in reliability_bins(conf, ok, bins):
            if not b.n or b.accuracy is None:
                continue
            ax.bar((b.lo + b.hi) / 2, b.accuracy, width=(b.hi - b.lo) * 0.9, color=CURRENT, alpha=0.85)
            ax.text((b.lo + b.hi) / 2, min(b.accuracy, 0.93) + 0.02, f"{b.n}", ha="center", fontsize=7)
        ece = expected_calibration_error(conf, ok, bins)
        ax.set_title(f"{name}: {len(answered)} answered" + (f", ECE {ece:.2f}" if ece is not None else ""),
                     fontsize=9.5)  # fmt: skip
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.05)
        ax.set_xlabel("confidence (bin; number = answers in it)", fontsize=8)
        ax.set_ylabel("share correct", fontsize=8)
        ax.tick_params(labelsize=7.5)
        ax.grid(alpha=0.25)
        if not answered:
            ax.text(0.5, 0.5, "no answered questions", ha="center", fontsize=9)
    axes[0].legend(loc="lower right", fontsize=7, frameon=False)
    fig.suptitle("Reliability of our confidence (answered questions; bars on the diagonal = calibrated)",
                 fontsize=11)  # fmt: skip
    return save_figure(fig, path)


def abstention_tradeoff(records: Mapping[str, Sequence[Mapping[str, Any]]], path: Path) -> Path:
    """Per set with unanswerable questions: abstention recall against false abstention as the
    threshold on our confidence moves, with the shipped operating point and the area under the
    curve (0.5 = the confidence does not tell answerable from unanswerable; 1.0 = it always does)."""
    panels = {k: list(v) for k, v in records.items() if any(not r["answerable"] for r in v)}
    fig, axes = _grid(max(len(panels), 1), 3, 4.3, 4.1)
    for ax, (name, recs) in zip(axes, panels.items(), strict=False):
        pos = sorted(float(r["confidence"] or 0.0) for r in recs if not r["answerable"])
        neg = sorted(float(r["confidence"] or 0.0) for r in recs if r["answerable"])
        cuts = [-1.0, *sorted({*pos, *neg}), 2.0]
        xs = [sum(c < t for c in neg) / len(neg) if neg else 0.0 for t in cuts]
        ys = [sum(c < t for c in pos) / len(pos) for t in cuts]
        auc = sum((xs[i + 1] - xs[i]) * (ys[i + 1] + ys[i]) / 2 for i in range(len(xs) - 1))
        ax.plot([0, 1], [0, 1], linestyle="--", color="#888", lw=1, label="no signal")
        ax.plot(xs, ys, color=CURRENT, lw=1.8, label="threshold moved")
        at_x = sum(bool(r["abstained"]) for r in recs if r["answerable"]) / len(neg) if neg else 0.0
        at_y = sum(bool(r["abstained"]) for r in recs if not r["answerable"]) / len(pos)
        ax.scatter([at_x], [at_y], color=ACCENT, zorder=3, label=f"shipped ({at_x:.2f}, {at_y:.2f})")
        ax.set_title(f"{name}: {len(pos)} unanswerable, {len(neg)} answerable; AUC {auc:.2f}", fontsize=9)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("false abstention (answerable questions refused)", fontsize=8)
        ax.set_ylabel("abstention recall", fontsize=8)
        ax.tick_params(labelsize=7.5)
        ax.grid(alpha=0.25)
        ax.legend(loc="lower right", fontsize=7, frameon=False)
    fig.suptitle("When to abstain: what each threshold on our confidence would trade", fontsize=11)
    return save_figure(fig, path)


def latency(
    records: Mapping[str, Sequence[Mapping[str, Any]]],
    naive: Mapping[str, Sequence[Mapping[str, Any]]],
    path: Path,
) -> Path:
    """Histogram (log-spaced bins) of per-question latency: ours per set, the naive baseline pooled."""
    fig = Figure(figsize=(9, 4.4), dpi=DPI)
    ax = fig.add_subplot()
    all_ms = [float(r["timings_ms"]["total"]) for v in (*records.values(), *naive.values()) for r in v]
    lo, hi = max(min(all_ms, default=1.0), 0.1), max(max(all_ms, default=10.0), 1.0)
    edges = [lo * (hi / lo) ** (i / 30) for i in range(31)] if hi > lo else [lo * 0.9, lo * 1.1]
    for i, (name, recs) in enumerate(records.items()):
        ms = [float(r["timings_ms"]["total"]) for r in recs]
        p50 = percentile(ms, 50)
        ax.hist(ms, bins=edges, histtype="step", lw=1.6, color=COLORS[i % len(COLORS)],
                label=f"ours, {name} (p50 {p50:.0f} ms)" if p50 is not None else name)  # fmt: skip
    pooled = [float(r["timings_ms"]["total"]) for v in naive.values() for r in v]
    if pooled:
        ax.hist(pooled, bins=edges, histtype="stepfilled", color=BASELINE, alpha=0.45,
                label=f"naive, all sets (p50 {percentile(pooled, 50):.0f} ms)")  # fmt: skip
    ours_all = [float(r["timings_ms"]["total"]) for v in records.values() for r in v]
    p95 = percentile(ours_all, 95)
    if p95 is not None:
        ax.axvline(p95, color=ACCENT, linestyle=":", label=f"ours p95, all sets = {p95:.0f} ms")
    ax.set_xscale("log")
    ax.set_xlabel("latency per question (ms, wall clock, log scale)")
    ax.set_ylabel("questions")
    ax.set_title("Answer latency per question")
    ax.legend(fontsize=7.5, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    ax.grid(alpha=0.3)
    return save_figure(fig, path)
