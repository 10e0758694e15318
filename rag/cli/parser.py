"""The `rag` command line: its arguments, with help that explains each one."""

from __future__ import annotations

import argparse
import difflib
from collections.abc import Sequence
from datetime import date
from pathlib import Path

EPILOG = """environment: RAG_DATA_DIR, RAG_CHROMA_URL (a Chroma server; embedded when unset),
RAG_EMBED_MODEL, RAG_EMBED_RUNTIME (queries: onnx-int8|onnx|torch|torch-bf16),
RAG_INGEST_RUNTIME (auto: torch-bf16 on CPUs with AMX-BF16, else RAG_EMBED_RUNTIME),
RAG_MAX_FILE_MB (default 20 MiB), RAG_MAX_ARTICLE_CHARS (default 500000), RAG_LLM_BASE_URL, RAG_LLM_MODEL,
RAG_LLM_API_KEY, RAG_LLM_BACKEND (openai|ollama), RAG_UI_USER, RAG_UI_PASSWORD, RAG_UI_TITLE,
RAG_UI_SUBTITLE, RAG_UI_CONCURRENCY (default 4), RAG_UI_QUEUE_SIZE (default 256), RAG_UI_STREAM_MS
(default 100), RAG_INGEST_NICE (default 10), RAG_LINKIFY_URLS, RAG_ANSWER_MODEL. The data directory defaults to
./data/store under the current directory.
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
            --fit-model [PATH] re-fits the answer model (sentence scores, confidence, abstention
            threshold) on the suite's sets, leaving each set out in turn, then runs the suite.

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
    ask.add_argument("--keep-undated", action="store_true",
                     help="let articles without a date answer date-bound questions (--since/--until, 'as of', "
                     "'since'); by default they never do")  # fmt: skip
    ask.add_argument("--drop-undated", action="store_true", help=argparse.SUPPRESS)  # the default since v0.2
    ask.add_argument("--llm", nargs="?", const="default", metavar="BACKEND",
                     help="answer with the configured LLM backend (openai|ollama; default: RAG_LLM_BACKEND)")  # fmt: skip

    sv = sub.add_parser("serve", parents=[common], help="serve the chat UI (http://127.0.0.1:7860)",
                        description="Serve the chat UI. It starts on an empty index too: add articles in its "
                        "Corpus tab, or with `rag ingest PATH` in another terminal while it runs.")  # fmt: skip
    sv.add_argument("--host", help="bind address (default 127.0.0.1)")
    sv.add_argument("--port", type=int, help="port (default 7860)")
    sv.add_argument("--allow-remote", action="store_true", help="allow a non-loopback bind without login")
    sv.add_argument("--linkify-urls", action="store_true",
                    help="make URLs in answers clickable (default: shown as inert text, since an answer may "
                    "relay a link planted in a document; RAG_LINKIFY_URLS=1)")  # fmt: skip

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
    ev.add_argument("--fit-model", nargs="?", const="default", metavar="PATH",
                    help="with --suite: re-fit the answer model on the suite's sets, leave-one-set-out, and write "
                    "its parameters to PATH (default: the shipped rag/params/answer_model.json); the held-out "
                    "figures go to --out/fit.json")  # fmt: skip
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
