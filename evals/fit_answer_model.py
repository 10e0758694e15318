"""Fit the extractive answerer's learned parts on the eval suite, leave one set out.

    .venv/bin/python -m evals.fit_answer_model                       # fit, report, write the params
    .venv/bin/python -m evals.fit_answer_model --check               # LOSO figures only, nothing written

Two logistic models (rag.answer_model): the sentence model (P(a sentence holds a key fact)) and
the answer model (P(the composed answer holds every key fact); the Answer's confidence), plus the
abstention threshold and the keep ratio. Every set is in turn held out: both models and both
parameters are chosen on the other sets and scored on it, so each held-out figure says how the
method does on a corpus it never saw. The shipped parameters are then fitted on all sets.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from evals.fit_data import Item, collect, default_sets, rescore
from evals.metrics import all_facts_present, fact_present
from rag.answer_model import DEFAULT_PATH, AnswerModel, Logistic
from rag.answerers.extractive import draft_answer
from rag.answering import load_stages, run_stages, with_evidence
from rag.compose import finished
from rag.evidence import SENTENCE_FEATURES
from rag.selection import ANSWER_FEATURES, select
from rag.settings import Settings

KEEP_RATIOS = (0.5, 0.65, 0.8, 0.9, 1.0)
THRESHOLDS = tuple(round(t, 2) for t in np.arange(0.05, 0.81, 0.025))
C = 1.0  # L2 strength of both logistic fits (scikit-learn's default)


@dataclass(frozen=True)
class Outcome:
    """One question answered with a candidate model: its answer features, and whether it was right."""

    item: Item
    x: tuple[float, ...]
    correct: bool  # answered (no abstention) with every key fact
    broad_abstains: bool  # a broad question's off-topic rule fired


def fit_logistic(X: np.ndarray, y: np.ndarray, features: Sequence[str]) -> Logistic:
    from sklearn.linear_model import LogisticRegression  # fitting only; never imported at query time

    mean, scale = X.mean(axis=0), X.std(axis=0)
    scale = np.where(scale > 1e-9, scale, 1.0)
    lr = LogisticRegression(C=C, max_iter=2000).fit((X - mean) / scale, y)
    return Logistic(tuple(features), mean, scale, lr.coef_[0], float(lr.intercept_[0]))


def sentence_model(items: Sequence[Item]) -> Logistic:
    rows, labels = [], []
    for it in items:
        if not it.q.answerable or not it.q.key_facts:
            continue
        for s in it.ev0.sentences:
            rows.append(s.x)
            labels.append(any(fact_present(f, s.text) for f in it.q.key_facts))
    return fit_logistic(np.array(rows), np.array(labels, dtype=int), SENTENCE_FEATURES)


def outcomes(items: Sequence[Item], model: AnswerModel, settings: Settings) -> list[Outcome]:
    """Every question answered as if it must answer (no threshold), through the real stages."""
    stages = load_stages(settings)
    out = []
    for it in items:
        ev = rescore(it.ev0, model)
        ctx = with_evidence(it.ctx, ev)
        sel = select(ctx.plan, ev, ctx.retrieval.hits, model, settings.max_sentences, threshold=0.0)
        forced = dataclasses.replace(sel, abstained=False) if not sel.chosen else sel
        if not forced.chosen:
            out.append(Outcome(it, sel.x, False, sel.abstained))
            continue
        answer = finished(run_stages(stages, ctx, draft_answer(ctx, forced, {"step": "fit"})))
        right = it.q.answerable and bool(it.q.key_facts) and all_facts_present(it.q.key_facts, answer.text)
        out.append(Outcome(it, sel.x, right, sel.abstained))
    return out


def decide(outs: Sequence[Outcome], answer: Logistic, threshold: float) -> list[tuple[bool, bool, float]]:
    """(abstained, correct-and-answered, confidence) per question, as the product would decide."""
    conf = answer.probability(np.array([o.x for o in outs])) if outs else np.zeros(0)
    res = []
    for o, p in zip(outs, conf, strict=True):
        abstained = o.broad_abstains if o.item.plan.broad else bool(p < threshold)
        res.append((abstained, o.correct and not abstained, float(p)))
    return res


def set_scores(outs: Sequence[Outcome], dec: Sequence[tuple[bool, bool, float]]) -> dict[str, float | None]:
    ans = [d for o, d in zip(outs, dec, strict=True) if o.item.q.answerable]
    una = [d for o, d in zip(outs, dec, strict=True) if not o.item.q.answerable]
    return {
        "n": len(outs),
        "answer_accuracy": sum(d[1] for d in ans) / len(ans) if ans else None,
        "abstention_recall": sum(d[0] for d in una) / len(una) if una else None,
        "false_abstention_rate": sum(d[0] for d in ans) / len(ans) if ans else None,
        "decision_accuracy": (sum(d[1] for d in ans) + sum(d[0] for d in una)) / len(outs) if outs else None,
    }


def choose(
    items: Sequence[Item], settings: Settings, sentence: Logistic
) -> tuple[AnswerModel, dict[float, list[Outcome]]]:
    """Keep ratio, answer model and threshold that maximise the mean decision accuracy over sets."""
    best: tuple[float, AnswerModel] | None = None
    by_ratio: dict[float, list[Outcome]] = {}
    blank = Logistic(ANSWER_FEATURES, np.zeros(len(ANSWER_FEATURES)), np.ones(len(ANSWER_FEATURES)),
                     np.zeros(len(ANSWER_FEATURES)), 0.0)  # fmt: skip
    for ratio in KEEP_RATIOS:
        model = AnswerModel(sentence, blank, 0.0, ratio, {})
        outs = outcomes(items, model, settings)
        by_ratio[ratio] = outs
        answer = fit_logistic(np.array([o.x for o in outs]), np.array([o.correct for o in outs], dtype=int),
                              ANSWER_FEATURES)  # fmt: skip
        for t in THRESHOLDS:
            dec = decide(outs, answer, t)
            per_set = _by_set(outs, dec)
            score = float(np.mean([set_scores(o, d)["decision_accuracy"] or 0.0 for o, d in per_set.values()]))
            if best is None or score > best[0] + 1e-9:
                best = (score, AnswerModel(sentence, answer, t, ratio, {"train_decision_accuracy": round(score, 4)}))
    assert best is not None
    return best[1], by_ratio


def _by_set(
    outs: Sequence[Outcome], dec: Sequence[tuple[bool, bool, float]]
) -> dict[str, tuple[list[Outcome], list[tuple[bool, bool, float]]]]:
    groups: dict[str, tuple[list[Outcome], list[tuple[bool, bool, float]]]] = {}
    for o, d in zip(outs, dec, strict=True):
        g = groups.setdefault(o.item.set, ([], []))
        g[0].append(o)
        g[1].append(d)
    return groups


def leave_one_set_out(items: Sequence[Item], settings: Settings) -> dict[str, Any]:
    """Per held-out set: its figures under models chosen on the other sets, and reliability pairs."""
    report: dict[str, Any] = {}
    for held in tqdm(sorted({it.set for it in items}), desc="leave one set out", unit="set"):
        train = [it for it in items if it.set != held]
        test = [it for it in items if it.set == held]
        model, _ = choose(train, settings, sentence_model(train))
        outs = outcomes(test, model, settings)
        dec = decide(outs, model.answer, model.threshold)
        report[held] = {
            **set_scores(outs, dec),
            "threshold": model.threshold,
            "keep_ratio": model.keep_ratio,
            "reliability": [[round(d[2], 4), bool(o.correct)] for o, d in zip(outs, dec, strict=True) if not d[0]],
        }
    return report


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m evals.fit_answer_model", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    ap.add_argument("--out", type=Path, default=DEFAULT_PATH, help=f"parameter file to write (default {DEFAULT_PATH})")
    ap.add_argument("--report", type=Path, default=Path("build/fit/report.json"), help="LOSO figures (JSON)")
    ap.add_argument("--check", action="store_true", help="leave-one-set-out figures only; write no parameters")
    ap.add_argument("--sets", help="comma-separated set names (default: every set of the default suite)")
    args = ap.parse_args(argv)
    settings = Settings.from_env()
    sets = default_sets()
    if args.sets:
        wanted = args.sets.split(",")
        sets = [s for s in sets if s.name in wanted]
    items = collect(sets, settings)
    loso = leave_one_set_out(items, settings)
    for name, r in loso.items():
        print(f"{name:12} " + " ".join(f"{k} {v:.3f}" for k, v in r.items() if isinstance(v, float)), file=sys.stderr)
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(json.dumps(loso, indent=1) + "\n", encoding="utf-8")
    if args.check:
        return 0
    model, _ = choose(items, settings, sentence_model(items))
    meta = {
        "fitted": datetime.now(UTC).isoformat(timespec="seconds"),
        "sets": {s.name: sum(it.set == s.name for it in items) for s in sets},
        "leave_one_set_out": {k: {m: v[m] for m in v if m != "reliability"} for k, v in loso.items()},
        **model.meta,
    }
    params = dataclasses.replace(model, meta=meta)
    args.out.write_text(json.dumps(params.to_json(), indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.out} (threshold {model.threshold}, keep ratio {model.keep_ratio})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
