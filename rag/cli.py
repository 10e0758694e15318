"""The `rag` command: ingest | stats | ask | serve | eval.

This is the one composition root: the only module of rag/ that imports index/, ui/ and evals/.
Domain errors become one-line messages here (exit 2); `ingest` exits 1 when any file failed.
"""

from __future__ import annotations

import argparse
import difflib
import json
import logging
import os
import sys
import time
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

from rag.errors import ConfigError, RagError
from rag.settings import Settings

EPILOG = """environment: RAG_DATA_DIR, RAG_CHROMA_URL (a Chroma server; embedded when unset),
RAG_EMBED_MODEL, RAG_EMBED_RUNTIME (queries: onnx-int8|onnx|torch|torch-bf16),
RAG_INGEST_RUNTIME (auto: torch-bf16 on CPUs with AMX-BF16, else RAG_EMBED_RUNTIME),
RAG_MAX_FILE_MB (default 20 MiB), RAG_MAX_ARTICLE_CHARS (default 500000), RAG_LLM_BASE_URL, RAG_LLM_MODEL,
RAG_LLM_API_KEY, RAG_LLM_BACKEND (openai|ollama), RAG_UI_USER, RAG_UI_PASSWORD, RAG_UI_TITLE,
RAG_UI_SUBTITLE, RAG_ANSWER_MODEL. The data directory defaults to ./data/store under the current directory.
Flags win over the environment; the environment wins over defaults."""


EVAL_DESCRIPTION = """Measure answer quality. Two modes:

  one set:  rag eval --questions Q.jsonl --corpus DIR_OR_JSONL --out DIR [--baseline SUMMARY.json]
            Index the corpus (reused when unchanged), answer every question, and write
            per_question.jsonl, summary.json, report.md and report.html into --out.

  a suite:  rag eval --suite [SUITE] --out DIR [--sets a,b] [--sample N] [--baseline SUMMARY.json]
            Run every set of the suite (questions + corpus each; the default suite holds the seed
            sets and the external squad2, timeqa and ramdocs sets), with the naive llama-index
            baseline (MiniLM + SentenceSplitter(256, 32) + Chroma, top chunk as the answer) beside
            each, into one summary.json, per_question.jsonl, report.md/html and plots/.
            --sample N takes a fixed seeded sample per set (CI); --baseline compares our figures
            per set and metric with a committed suite summary and exits 1 on a regression.

Indexes are cached per corpus under <data dir>/../eval-index, so re-runs skip indexing.
examples:
  rag eval --suite --out build/eval-suite
  rag eval --suite --sets squad2,ramdocs --sample 40 --out build/ci --baseline evals/baselines/suite_ci.json"""


def _positive(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {value!r}")
    return n


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date as YYYY-MM-DD, got {value!r}") from None


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="rag",
        description="Cited-answer question answering over news corpora. Every answer sentence quotes "
        "the passage it came from.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--data-dir",
        type=Path,
        help="where the index lives (default: RAG_DATA_DIR, else ./data/store in the current directory)",
    )

    ing = sub.add_parser("ingest", parents=[common], help="index article files, directories or .jsonl corpora",
                         description="Index articles incrementally: unchanged files cost nothing, changed files "
                         "replace their chunks, and bad files are reported without touching the index. Every "
                         "file (and every bad JSONL line) gets a status: indexed, updated, unchanged, removed, "
                         "skipped or failed, with the reason. Exit code 1 if anything failed, 2 on an error "
                         "(e.g. another ingest is writing to the same data directory). A running `rag serve` "
                         "answers from the new articles within about a second of the end.")  # fmt: skip
    ing.add_argument(
        "paths", nargs="+", type=Path, metavar="PATH", help=".txt .md .html .pdf .jsonl files or folders"
    )
    ing.add_argument(
        "--prune", action="store_true", help="remove articles whose files left the given folders"
    )
    ing.add_argument("--chunk-size", type=int, help="chunk size in model tokens (default 128)")
    ing.add_argument("--chunk-overlap", type=int, help="overlap in model tokens (default 0)")
    ing.add_argument(
        "--max-file-mb",
        type=float,
        metavar="MIB",
        help="skip files larger than this many MiB (default 20; RAG_MAX_FILE_MB)",
    )
    ing.add_argument("--max-article-chars", type=int, metavar="N",
                     help="skip articles longer than N characters (default 500000; RAG_MAX_ARTICLE_CHARS); "
                     "text with over 20000 characters between sentence ends is skipped too")  # fmt: skip
    ing.add_argument("--quiet", action="store_true", help="no progress bars")

    st = sub.add_parser("stats", parents=[common], help="what the index holds")
    st.add_argument("--json", action="store_true", help="print JSON")

    ask = sub.add_parser("ask", parents=[common], help="answer a question with cited passages",
                         description="Answer from the indexed articles. Each sentence carries [n] markers "
                         "that resolve to exact quoted spans; when the articles do not hold the answer, it says so.")  # fmt: skip
    ask.add_argument("question", nargs="?", help="the question (or use --questions)")
    ask.add_argument(
        "--questions", type=Path, help="batch mode: a JSONL file with a `question` (and `id`) per line"
    )
    ask.add_argument("--json", action="store_true", help="print the full Answer as JSON")
    ask.add_argument("--k", type=int, help="passages to retrieve (default 5)")
    ask.add_argument("--since", type=_date, help="only articles published on or after YYYY-MM-DD")
    ask.add_argument("--until", type=_date, help="only articles published on or before YYYY-MM-DD")
    ask.add_argument(
        "--source", action="append", default=[], metavar="NAME", help="only this outlet (repeatable)"
    )
    ask.add_argument(
        "--language", action="append", default=[], metavar="CODE", help="only this language (repeatable)"
    )
    ask.add_argument(
        "--drop-undated", action="store_true", help="with --since/--until, drop articles without a date"
    )
    ask.add_argument("--llm", nargs="?", const="default", metavar="BACKEND",
                     help="answer with the configured LLM backend (openai|ollama; default: RAG_LLM_BACKEND)")  # fmt: skip

    sv = sub.add_parser("serve", parents=[common], help="serve the chat UI (http://127.0.0.1:7860)",
                        description="Serve the chat UI. It starts on an empty index too: add articles in its "
                        "Corpus tab, or with `rag ingest PATH` in another terminal while it runs.")  # fmt: skip
    sv.add_argument("--host", help="bind address (default 127.0.0.1)")
    sv.add_argument("--port", type=int, help="port (default 7860)")
    sv.add_argument("--allow-remote", action="store_true", help="allow a non-loopback bind without login")

    ev = sub.add_parser("eval", parents=[common], help="measure answer quality on a question file or a suite",
                        description=EVAL_DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    ev.add_argument("--questions", type=Path, help="one question JSONL (see docs/design.md); needs --corpus")
    ev.add_argument("--corpus", type=Path, help="a folder of articles or a .jsonl corpus, for --questions")
    ev.add_argument("--suite", nargs="?", const="default", metavar="SUITE",
                    help="run a suite: a .toml file, or the name of one in evals/suites/ "
                    "(no value: the default suite, evals/suites/default.toml)")  # fmt: skip
    ev.add_argument("--sets", metavar="NAME,NAME", help="with --suite: only these sets (comma-separated)")
    ev.add_argument("--sample", type=_positive, metavar="N",
                    help="with --suite: a fixed sample of N questions per set, stratified answerable/unanswerable")  # fmt: skip
    ev.add_argument("--seed", type=int, default=0, help="with --sample: the sample's seed (default 0)")
    ev.add_argument("--no-naive", action="store_true",
                    help="with --suite: skip the naive llama-index baseline (only ours is measured and gated)")  # fmt: skip
    ev.add_argument("--out", type=Path, required=True, help="output folder")
    ev.add_argument("--baseline", type=Path,
                    help="a summary.json to compare with (a suite summary for --suite); exit 1 on regressions")  # fmt: skip
    ev.add_argument("--k", type=int, help="passages to retrieve")
    ev.add_argument(
        "--llm", nargs="?", const="default", metavar="BACKEND", help="answer with the LLM backend"
    )
    ev.add_argument("--sweep", action="append", default=[], metavar="NAME=V1,V2",
                    help="grid over a setting, e.g. --sweep chunk_size=128,256 --sweep k=3,5")  # fmt: skip
    ev.add_argument(
        "--set", action="append", default=[], metavar="NAME=VALUE", help="override a setting for this run"
    )
    return p


def settings_from(args: argparse.Namespace) -> Settings:
    over: dict[str, Any] = {"data_dir": getattr(args, "data_dir", None), "k": getattr(args, "k", None)}
    for name in ("chunk_size", "chunk_overlap", "max_article_chars"):
        over[name] = getattr(args, name, None)
    if getattr(args, "max_file_mb", None):
        over["max_file_bytes"] = int(args.max_file_mb * 1024 * 1024)
    over["ui_host"] = getattr(args, "host", None)
    over["ui_port"] = getattr(args, "port", None)
    if getattr(args, "allow_remote", False):
        over["allow_remote"] = True
    llm = getattr(args, "llm", None)
    settings = Settings.from_env(**over)
    if llm is not None:
        backend = settings.llm_backend if llm == "default" else llm
        if backend is None or not settings.llm_base_url:
            raise ConfigError(
                "--llm needs a backend: set RAG_LLM_BASE_URL and RAG_LLM_MODEL (and RAG_LLM_BACKEND=ollama for Ollama)."
            )
        settings = settings.replace(llm_backend=backend)
    return settings


def parse_args(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """Like parse_args, but an unknown flag after a subcommand is reported with that subcommand's usage."""
    args, extra = parser.parse_known_args(argv)
    if extra:
        subs = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        sp: argparse.ArgumentParser = subs.choices[args.command]
        flags = [o for a in sp._actions for o in a.option_strings]
        hints = [
            m
            for x in extra
            if x.startswith("-")
            for m in difflib.get_close_matches(x.split("=")[0], flags, 1)
        ]
        hint = f" (did you mean {' or '.join(hints)}?)" if hints else ""
        sp.error(f"unrecognized arguments: {' '.join(extra)}{hint}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING)
    for noisy in ("bm25s", "chromadb", "httpx", "sentence_transformers"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    args = parse_args(build_parser(), argv)
    handlers = {
        "ingest": cmd_ingest,
        "stats": cmd_stats,
        "ask": cmd_ask,
        "serve": cmd_serve,
        "eval": cmd_eval,
    }
    try:
        return handlers[args.command](args, settings_from(args))
    except RagError as exc:
        print(f"rag {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"rag {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`rag ask … | head`): stop quietly, and keep Python from complaining
        # again when it flushes stdout at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141


def dump(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, default=str)


def cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    from rag.lock import WriterLock

    # The lock first, before the imports (~0.6 s) and the store: a second writer is refused at once.
    with WriterLock(settings.data_dir):
        from index.ingest import ingest_paths
        from rag.present import format_ingest

        report = ingest_paths(args.paths, settings, prune=args.prune, progress=not args.quiet)
    print(format_ingest(report))
    return 0 if report.ok else 1


def collect_stats(settings: Settings) -> dict[str, Any]:
    from rag.storage import open_storage

    storage = open_storage(settings)
    try:
        articles, chunks = storage.catalog.counts()
        lo, hi = storage.catalog.date_range()
        return {
            "articles": articles,
            "chunks": chunks,
            "outlets": storage.catalog.sources(),
            "date_range": [lo.isoformat() if lo else None, hi.isoformat() if hi else None],
            "embed_model": storage.catalog.get_meta("embed_model"),
            "embed_runtime": storage.catalog.get_meta("embed_runtime"),
            "chunking": storage.catalog.get_meta("chunking"),
            "generation": storage.generation,  # bumped by every ingest that changed the store
            "store": storage.vectors.location,
            "data_dir": str(settings.data_dir),
            "size_mb": round(storage.disk_bytes() / 1e6, 2),
            "vectors": storage.vectors.count(),
        }
    finally:
        storage.close()


def cmd_stats(args: argparse.Namespace, settings: Settings) -> int:
    from rag.present import format_stats

    stats = collect_stats(settings)
    print(dump(stats) if args.json else format_stats(stats))
    return 0


def cmd_ask(args: argparse.Namespace, settings: Settings) -> int:
    from rag.outlets import describe_filters, resolve_outlets
    from rag.pipeline import build_pipeline
    from rag.present import format_answer
    from rag.types import Filters

    if not (args.question or "").strip() and not args.questions:
        raise ConfigError("give a QUESTION or --questions FILE.jsonl")
    if args.since and args.until and args.since > args.until:
        raise ConfigError(f"--since {args.since} is after --until {args.until}: no article can match")
    pipeline = build_pipeline(settings)
    sources = resolve_outlets(args.source, pipeline.outlets()) if args.source else ()
    if sources and tuple(args.source) != sources:
        print(f"rag ask: --source matched {', '.join(sources)}", file=sys.stderr)
    filters = Filters(
        since=args.since, until=args.until, sources=sources, languages=tuple(args.language),
        keep_undated=not args.drop_undated,
    )  # fmt: skip
    mode = "llm" if args.llm else "extractive"
    if args.questions:
        for i, line in enumerate(args.questions.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                question = row["question"]
            except (ValueError, KeyError, TypeError):
                raise ConfigError(
                    f"{args.questions}:{i}: each line needs a JSON object with a 'question' field"
                ) from None
            answer = pipeline.ask(question, filters=filters, mode=mode)
            out = answer.to_json()
            out["question_id"] = row.get("id")
            out["question"] = question
            print(dump(out), flush=True) if args.json else print(f"Q: {question}\n{format_answer(answer)}\n")
        return 0
    answer = pipeline.ask(args.question, filters=filters, mode=mode)
    print(dump(answer.to_json()) if args.json else format_answer(answer))
    applied = describe_filters(filters.to_json())
    if answer.abstained and applied and not args.json:
        print(f"\nFilters applied: {applied}. Ask again without them (drop --since/--until/--source/"
              "--language) to search the whole corpus.")  # fmt: skip
    return 0


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    from index.ingest import delete_article, ingest_paths
    from ui.main import serve

    reports = settings.data_dir.parent / "eval-runs"
    serve(settings, ingest=ingest_paths, delete=delete_article, eval_runner=_eval_runner(settings, reports))
    return 0


def _eval_runner(settings: Settings, reports: Path) -> Any:
    """What the UI's Evals tab runs: a question file over its set's corpus (evals/sets/NAME/corpus or
    corpus.jsonl beside it), else over the sample corpus; reports under `reports`."""
    from evals.runner import run_eval
    from index.ingest import ingest_paths

    def run(questions: Path) -> Path:
        name = questions.parent.name if questions.name == "questions.jsonl" else questions.stem
        out = reports / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}"
        beside = [questions.parent / "corpus", questions.parent / "corpus.jsonl"]
        corpus = next((c for c in beside if c.exists()), settings.sample_corpus)
        result = run_eval(questions, corpus, out, settings, ingest=ingest_paths, progress=True)
        return Path(result.out_dir)

    return run


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


if __name__ == "__main__":
    sys.exit(main())
