"""The `rag` command: ingest | stats | ask | serve | eval.

This package is the one composition root: the only part of rag/ that imports index/, ui/ and
evals/. Domain errors become one-line messages here (exit 2); `ingest` exits 1 when any file failed.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from typing import Any

from rag.cli.commands import _eval_runner, cmd_ask, cmd_ingest, cmd_serve, cmd_stats, collect_stats
from rag.cli.eval_commands import cmd_eval
from rag.cli.parser import build_parser, parse_args
from rag.errors import ConfigError, RagError
from rag.settings import Settings

__all__ = ["_eval_runner", "build_parser", "collect_stats", "main", "settings_from"]


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
    if getattr(args, "linkify_urls", False):
        over["linkify_urls"] = True
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


if __name__ == "__main__":
    sys.exit(main())
