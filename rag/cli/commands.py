"""`rag ingest`, `rag stats`, `rag ask` and `rag serve`: each a function of (args, settings)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from rag.errors import ConfigError
from rag.settings import Settings


def dump(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, default=str)


def cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    from rag.lock import WriterLock

    # The lock first, before the imports (~0.6 s) and the store: a second writer is refused at once.
    with WriterLock(settings.data_dir):
        from index.ingest import ingest_paths
        from rag.present import format_ingest
        from rag.priority import lower_priority

        lower_priority(settings.ingest_nice)  # a `rag serve` on this machine answers first

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
        keep_undated=args.keep_undated,
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
    from ui.main import serve

    reports = settings.data_dir.parent / "eval-runs"
    serve(settings, ingest=_ingest, delete=_delete, eval_runner=_eval_runner(settings, reports))
    return 0


def _ingest(*args: Any, **kwargs: Any) -> Any:
    """index.ingest.ingest_paths, imported on the first upload (not before `rag serve` can answer)."""
    from index.ingest import ingest_paths

    return ingest_paths(*args, **kwargs)


def _delete(article_id: str, settings: Settings) -> int:
    """index.ingest.delete_article, imported on the first delete."""
    from index.ingest import delete_article

    return delete_article(article_id, settings)


def _eval_runner(settings: Settings, reports: Path) -> Any:
    """What the UI's Evals tab runs: a question file over its set's corpus (evals/sets/NAME/corpus or
    corpus.jsonl beside it), else over the sample corpus; reports under `reports`. Imported when an
    eval runs: evals.runner brings matplotlib (~2 s), which `rag serve` need not wait for."""

    def run(questions: Path) -> Path:
        from evals.runner import run_eval
        from index.ingest import ingest_paths

        name = questions.parent.name if questions.name == "questions.jsonl" else questions.stem
        out = reports / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}"
        beside = [questions.parent / "corpus", questions.parent / "corpus.jsonl"]
        corpus = next((c for c in beside if c.exists()), settings.sample_corpus)
        result = run_eval(questions, corpus, out, settings, ingest=ingest_paths, progress=True)
        return Path(result.out_dir)

    return run
