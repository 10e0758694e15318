"""The learned parts of the extractive answerer: two small logistic models and their threshold.

- The sentence model scores each retrieved sentence from its features (rag.evidence); a softmax
  over one question's sentences gives P(this is the sentence that holds the answer) (a
  conditional logit: it is fitted on which sentence of a question holds the key fact).
- The answer model gives P(the composed answer is right) from question-level features; that
  probability is the Answer's `confidence`, and the answer abstains below `threshold`.

Both are fitted by `evals/fit_answer_model.py` on the eval suite, leave-one-set-out, and stored
as plain numbers in `rag/params/answer_model.json` (no scikit-learn at query time).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rag.errors import ConfigError

DEFAULT_PATH = Path(__file__).resolve().parent / "params" / "answer_model.json"


@dataclass(frozen=True)
class Logistic:
    """p = sigmoid(((x - mean) / scale) . coef + intercept)."""

    features: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float

    def score(self, X: np.ndarray) -> np.ndarray:
        """The linear score ((x - mean) / scale) . coef + intercept, one per row."""
        if X.ndim != 2 or X.shape[1] != len(self.features):
            raise ValueError(f"expected {len(self.features)} features {self.features}, got shape {X.shape}")
        return ((X - self.mean) / self.scale) @ self.coef + self.intercept

    def probability(self, X: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-np.clip(self.score(X), -30, 30)))

    def to_json(self) -> dict[str, Any]:
        return {
            "features": list(self.features),
            "mean": [round(float(v), 6) for v in self.mean],
            "scale": [round(float(v), 6) for v in self.scale],
            "coef": [round(float(v), 6) for v in self.coef],
            "intercept": round(float(self.intercept), 6),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], expected: Sequence[str], where: str) -> Logistic:
        feats = tuple(data.get("features", ()))
        if feats != tuple(expected):
            raise ConfigError(
                f"{where}: features {list(feats)} do not match this version's {list(expected)}; "
                "re-fit with `python -m evals.fit_answer_model`"
            )
        arrays = [np.asarray(data[k], dtype=np.float64) for k in ("mean", "scale", "coef")]
        if any(a.shape != (len(feats),) for a in arrays):
            raise ConfigError(f"{where}: mean, scale and coef need {len(feats)} values each")
        mean, scale, coef = arrays
        return cls(feats, mean, np.where(scale > 0, scale, 1.0), coef, float(data["intercept"]))


@dataclass(frozen=True)
class AnswerModel:
    sentence: Logistic
    answer: Logistic
    threshold: float  # abstain when P(answer right) is below this
    keep_ratio: float  # a further sentence joins the answer when its p >= keep_ratio * best p
    meta: dict[str, Any]

    @classmethod
    def blank(cls) -> AnswerModel:
        """A model that scores every sentence and answer 0.5: for computing features before a fit."""
        from rag.evidence import SENTENCE_FEATURES
        from rag.selection import ANSWER_FEATURES

        def flat(features: Sequence[str]) -> Logistic:
            n = len(features)
            return Logistic(tuple(features), np.zeros(n), np.ones(n), np.zeros(n), 0.0)

        return cls(flat(SENTENCE_FEATURES), flat(ANSWER_FEATURES), 0.5, 0.8, {})

    def sentence_scores(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(scores, softmax probabilities) of one question's sentences."""
        z = self.sentence.score(X)
        e = np.exp(z - z.max()) if len(z) else z
        return z, e / e.sum() if len(z) else e

    def answer_probability(self, x: Sequence[float]) -> float:
        return float(self.answer.probability(np.asarray([x], dtype=np.float64))[0])

    def to_json(self) -> dict[str, Any]:
        return {
            "sentence": self.sentence.to_json(),
            "answer": self.answer.to_json(),
            "threshold": self.threshold,
            "keep_ratio": self.keep_ratio,
            "meta": self.meta,
        }


def load_answer_model(path: Path | None = None) -> AnswerModel:
    """The fitted parameters (default: the file shipped in rag/params), checked against this code."""
    p = Path(path or DEFAULT_PATH)
    try:
        stamp = p.stat().st_mtime_ns
    except OSError as e:
        raise ConfigError(f"cannot read the answer model {p}: {e.strerror or e}") from None
    return _load(str(p), stamp)  # re-read when a re-fit rewrote the file


@functools.lru_cache(maxsize=4)
def _load(path: str, stamp: int) -> AnswerModel:
    from rag.evidence import SENTENCE_FEATURES
    from rag.selection import ANSWER_FEATURES

    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as e:
        raise ConfigError(f"cannot read the answer model {path}: {e.strerror or e}") from None
    except json.JSONDecodeError as e:
        raise ConfigError(f"answer model {path} is not JSON: {e.msg} (line {e.lineno})") from None
    threshold = float(data.get("threshold", 0.5))
    if not 0.0 <= threshold <= 1.0:
        raise ConfigError(f"{path}: threshold must be in [0, 1], got {threshold}")
    return AnswerModel(
        Logistic.from_json(data["sentence"], SENTENCE_FEATURES, f"{path} (sentence model)"),
        Logistic.from_json(data["answer"], ANSWER_FEATURES, f"{path} (answer model)"),
        threshold,
        float(data.get("keep_ratio", 0.8)),
        dict(data.get("meta", {})),
    )
