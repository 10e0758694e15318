"""How well `confidence` predicts correctness: reliability bins and calibration error (pure functions)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Bin:
    """One confidence bin: [lo, hi), its question count, mean confidence and share correct."""

    lo: float
    hi: float
    n: int
    confidence: float | None
    accuracy: float | None


def reliability_bins(confidences: Sequence[float], correct: Sequence[bool], bins: int = 10) -> list[Bin]:
    """Equal-width bins over [0, 1]; the last bin includes 1.0; values outside [0, 1] are clipped.

    >>> [(b.n, b.accuracy) for b in reliability_bins([0.1, 0.15, 0.9, 1.0], [False, True, True, True], 2)]
    [(2, 0.5), (2, 1.0)]
    >>> reliability_bins([], [], 2)[0].accuracy is None
    True
    """
    if bins < 1:
        raise ValueError(f"bins must be at least 1, got {bins}")
    groups: list[list[tuple[float, bool]]] = [[] for _ in range(bins)]
    for c, ok in zip(confidences, correct, strict=True):
        c = min(max(float(c), 0.0), 1.0)
        groups[min(int(c * bins), bins - 1)].append((c, bool(ok)))
    out = []
    for i, g in enumerate(groups):
        conf = sum(c for c, _ in g) / len(g) if g else None
        acc = sum(ok for _, ok in g) / len(g) if g else None
        out.append(Bin(i / bins, (i + 1) / bins, len(g), conf, acc))
    return out


def expected_calibration_error(
    confidences: Sequence[float], correct: Sequence[bool], bins: int = 10
) -> float | None:
    """Mean |share correct - mean confidence| over the bins, weighted by their counts (lower is better).

    Two bins: (0.2, 0.4) with one of two right is off by |0.5 - 0.3| = 0.2; (0.8, 1.0) with both
    right is off by |1.0 - 0.9| = 0.1; weighted by two answers each: 0.15.

    >>> expected_calibration_error([0.2, 0.4, 0.8, 1.0], [False, True, True, True], 2)
    0.15
    >>> expected_calibration_error([], []) is None
    True
    """
    total = len(confidences)
    if not total:
        return None
    err = sum(
        b.n * abs(b.accuracy - b.confidence)
        for b in reliability_bins(confidences, correct, bins)
        if b.accuracy is not None and b.confidence is not None
    )
    return round(err / total, 10)
