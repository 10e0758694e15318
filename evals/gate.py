"""Regression gate: compare a run's summary.json with a committed baseline, metric by metric."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

Direction = Literal["higher", "lower", "latency"]


@dataclass(frozen=True)
class Tolerance:
    """How far a metric may move the wrong way before the gate fails."""

    direction: Direction  # "higher": higher is better; "lower": lower is better
    absolute: float = 0.02  # allowed drop (or rise, for "lower") in absolute units
    relative: float = 0.0  # for latency: allowed growth as a share of the baseline


# Accuracy-type metrics may drop 0.02: one question of a 50-question set. On a dozen questions any
# flip fails, which is what we want from a small dev set. LLM judges are noisier, so they get more.
TOLERANCES: dict[str, Tolerance] = {
    "answer_accuracy": Tolerance("higher"),
    "key_fact_recall": Tolerance("higher"),
    "hit_at_1": Tolerance("higher"),
    "hit_at_5": Tolerance("higher"),
    "hit_at_k": Tolerance("higher"),
    "mrr": Tolerance("higher"),
    "recall_at_k": Tolerance("higher"),
    "passage_hit_at_k": Tolerance("higher"),
    "passage_mrr": Tolerance("higher"),
    "passage_recall_at_k": Tolerance("higher"),
    "citation_resolve_rate": Tolerance("higher", absolute=0.0),
    "citation_support_rate": Tolerance("higher"),
    "abstention_precision": Tolerance("higher"),
    "abstention_recall": Tolerance("higher"),
    "false_abstention_rate": Tolerance("lower"),
    "faithfulness": Tolerance("higher", absolute=0.05),
    "relevancy": Tolerance("higher", absolute=0.05),
    "false_value_rate": Tolerance("lower"),
    "false_value_alone": Tolerance("lower"),
    "conflict_recall": Tolerance("higher"),
    # Latency on a dozen questions is noisy on a shared 2-core machine (p50 went 8 -> 47 ms under
    # load): the gate only catches blow-ups (2x + 150 ms); bench/query.py measures the targets.
    "latency_p50_ms": Tolerance("latency", absolute=150.0, relative=1.0),
    "latency_p95_ms": Tolerance("latency", absolute=150.0, relative=1.0),
}

# Whatever the baseline says, these must hold: every citation resolves.
FLOORS: dict[str, float] = {"citation_resolve_rate": 1.0}


@dataclass(frozen=True)
class Regression:
    """One metric that moved the wrong way by more than its tolerance."""

    metric: str
    baseline: float | None
    current: float
    limit: float  # the worst value the tolerance allowed
    set: str | None = None  # the question set, in a suite run

    @property
    def delta(self) -> float:
        return self.current - (self.baseline if self.baseline is not None else self.limit)

    def __str__(self) -> str:
        unit = " ms" if self.metric.endswith("_ms") else ""
        where = f"set {self.set}: " if self.set else ""
        if self.baseline is None:
            return f"{where}{self.metric}: {self.current:.3f}{unit}, must be at least {self.limit:.3f}{unit}"
        return (
            f"{where}{self.metric}: {self.baseline:.3f}{unit} -> {self.current:.3f}{unit} "
            f"({self.delta:+.3f}{unit}; limit {self.limit:.3f}{unit})"
        )


def compare(current: Mapping[str, Any], baseline: Mapping[str, Any]) -> list[Regression]:
    """Regressions of `current` against `baseline` (both summary.json dicts); metrics null in either are skipped.

    >>> [str(r) for r in compare({"answer_accuracy": 0.7}, {"answer_accuracy": 0.8})]
    ['answer_accuracy: 0.800 -> 0.700 (-0.100; limit 0.780)']
    >>> compare({"latency_p50_ms": 160.0}, {"latency_p50_ms": 100.0})
    []
    """
    out: list[Regression] = []
    for name, tol in TOLERANCES.items():
        cur, base = _number(current.get(name)), _number(baseline.get(name))
        if cur is None:
            continue
        if base is not None:
            if tol.direction == "higher":
                limit = base - tol.absolute
                worse = cur < limit - 1e-9
            elif tol.direction == "lower":
                limit = base + tol.absolute
                worse = cur > limit + 1e-9
            else:
                limit = base * (1 + tol.relative) + tol.absolute
                worse = cur > limit
            if worse:
                out.append(Regression(name, base, cur, limit))
                continue
        floor = FLOORS.get(name)
        if floor is not None and cur < floor - 1e-9:
            out.append(Regression(name, base, cur, floor))
    return out


def compare_sets(
    current: Mapping[str, Mapping[str, Any]], baseline: Mapping[str, Mapping[str, Any]]
) -> list[Regression]:
    """Per-set regressions of a suite run: `compare` on each set that both {set: summary} maps hold.

    >>> [str(r) for r in compare_sets({"squad2": {"hit_at_1": 0.5}}, {"squad2": {"hit_at_1": 0.6}, "x": {}})]
    ['set squad2: hit_at_1: 0.600 -> 0.500 (-0.100; limit 0.580)']
    """
    out: list[Regression] = []
    for name, summary in current.items():
        if name in baseline:
            out += [dataclasses.replace(r, set=name) for r in compare(summary, baseline[name])]
    return out


def format_regressions(regressions: Sequence[Regression]) -> str:
    """The gate's verdict for the terminal: one line per regressed metric."""
    if not regressions:
        return "gate: no metric regressed beyond its tolerance"
    lines = [f"gate: {len(regressions)} metric(s) regressed beyond tolerance:"]
    lines += [f"  {r}" for r in regressions]
    return "\n".join(lines)


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)
