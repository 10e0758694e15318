"""`rag eval`: one question set, a sweep, or a suite (and re-fitting the answer model)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from rag.errors import ConfigError
from rag.settings import Settings


def cmd_eval(args: argparse.Namespace, settings: Settings) -> int:
    from evals.runner import run_eval
    from evals.sweep import parse_sweep_args, run_sweep
    from index.ingest import ingest_paths

    for item in args.set:
        name, _, value = item.partition("=")
        settings = _override(settings, name, value)
    if args.suite is not None:
        return _eval_suite(args, settings)
    suite_only = [f for f in ("sets", "sample") if getattr(args, f) is not None] + (
        ["no-naive"] if args.no_naive else []
    )
    if suite_only:
        raise ConfigError(f"--{suite_only[0]} goes with --suite")
    if args.fit_model:
        raise ConfigError("--fit-model goes with --suite: the model is fitted across the suite's sets")
    if args.questions is None or args.corpus is None:
        raise ConfigError("give --questions Q.jsonl and --corpus DIR_OR_JSONL, or --suite [SUITE]")
    if args.sweep:
        grid = parse_sweep_args(args.sweep)
        path = run_sweep(args.questions, args.corpus, args.out, settings, ingest_paths, grid)
        print(f"sweep table: {path}")
        return 0
    result = run_eval(
        args.questions, args.corpus, args.out, settings, ingest=ingest_paths, baseline=args.baseline
    )
    print(f"report: {Path(result.out_dir) / 'report.md'}")
    for r in result.regressions:
        print(f"REGRESSION: {r}", file=sys.stderr)
    return 1 if result.regressions else 0


def _eval_suite(args: argparse.Namespace, settings: Settings) -> int:
    from evals.suite import find_suite, load_suite
    from evals.suite_runner import run_suite
    from index.ingest import ingest_paths

    if args.questions is not None or args.corpus is not None or args.sweep:
        raise ConfigError(
            "--suite runs the suite's own question sets: drop --questions, --corpus and --sweep"
        )
    suite = load_suite(find_suite(args.suite))
    if args.sets:
        suite = suite.select([n.strip() for n in args.sets.split(",") if n.strip()])
    if args.fit_model:
        from evals.fit_answer_model import fit
        from rag.answer_model import DEFAULT_PATH

        params = DEFAULT_PATH if args.fit_model == "default" else Path(args.fit_model)
        fitted = fit(suite.sets, settings, params, args.out / "fit.json")
        print(f"answer model: {params} (threshold {fitted['threshold']}, keep ratio {fitted['keep_ratio']}); "
              f"held-out figures: {args.out / 'fit.json'}")  # fmt: skip
        settings = settings.replace(answer_model=params)
    result = run_suite(suite, args.out, settings, ingest_paths, baseline=args.baseline, sample=args.sample,
                       seed=args.seed, with_naive=not args.no_naive)  # fmt: skip
    print(f"report: {result.report_md}")
    for name, s in result.summary["sets"].items():
        o, n = s["ours"], s.get("naive") or {}
        naive = f"; naive {n['answer_accuracy']:.3f}" if n.get("answer_accuracy") is not None else ""
        acc = o["answer_accuracy"]
        print(f"  {name}: accuracy {'-' if acc is None else f'{acc:.3f}'}{naive} (n={o['n_questions']})")
    for r in result.regressions:
        print(f"REGRESSION: {r}", file=sys.stderr)
    return result.exit_code


def _override(settings: Settings, name: str, value: str) -> Settings:
    import dataclasses

    fields = {f.name: f for f in dataclasses.fields(Settings)}
    if name not in fields:
        raise ConfigError(f"--set: unknown setting {name!r}; known: {', '.join(sorted(fields))}")
    current = getattr(settings, name)
    try:
        typed: Any = type(current)(value) if current is not None and not isinstance(current, bool) else value
        if isinstance(current, bool):
            typed = value.lower() in ("1", "true", "yes")
    except ValueError:
        raise ConfigError(f"--set {name}: expected a {type(current).__name__}, got {value!r}") from None
    return settings.replace(**{name: typed})
