"""What oversized inputs cost: the 5 MB article without punctuation (issue 13), and files at the
size limit. Each row runs in a fresh subprocess, so its peak RSS (VmHWM) is its own.

Rows:
  a) `ingest_paths` of one 5 MB .txt without sentence punctuation, default settings: the status,
     chunks stored, seconds, peak RSS (it is skipped: no sentence boundary in 20,000 characters)
  b) the same for 5 MB of ordinary prose (skipped: over RAG_MAX_ARTICLE_CHARS)
  c) chunking alone of that 5 MB unpunctuated text (what the cap no longer lets through): chunks,
     seconds, characters tokenized per character of text (linear: bounded, whatever the size)
  d) reading files at the default limits: .txt and .jsonl at 20 MiB, tag-heavy .html at 5 MiB
     (read + parse + size checks)
  e) with --full: ingest of the 5 MB unpunctuated article with the caps lifted (~10 min on 2 cores)

    .venv/bin/python -m bench.ingest_limits [--full] [--out bench/results/ingest_limits.json]
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.ingest import peak_rss_mb

PROJECT_ROOT = Path(__file__).resolve().parent.parent
MB5 = 5 * 1024 * 1024
WORDS = ("harbour", "council", "berths", "drone", "shelter", "bread", "night", "river", "Kupiansk", "grain")


def unpunctuated(n: int, seed: int = 7) -> str:
    rng = random.Random(seed)
    out: list[str] = []
    size = 0
    while size < n:
        w = rng.choice(WORDS)
        out.append(w)
        size += len(w) + 1
    return " ".join(out)[:n]


def prose(n: int, seed: int = 8) -> str:
    rng = random.Random(seed)
    out: list[str] = []
    size = 0
    while size < n:
        s = f"The {rng.choice(WORDS)} {rng.choice(WORDS)} of {rng.choice(WORDS)} reopened on day {size % 97}."
        out.append(s)
        size += len(s) + 1
    return " ".join(out)[:n]


# ---------------------------------------------------------------- workers (fresh processes)
def work_ingest(path: str, data: str, lift: bool) -> dict[str, Any]:
    from index.ingest import ingest_paths
    from rag.settings import Settings

    over: dict[str, Any] = {"data_dir": Path(data)}
    if lift:  # e): the article cap above the file, the unbroken-text check off
        import index.chunking

        over["max_article_chars"] = 10 * MB5
        index.chunking.MAX_UNBROKEN_CHARS = 10 * MB5
    t = time.perf_counter()
    report = ingest_paths([Path(path)], Settings.from_env({}, **over), progress=False)
    (f,) = report.files
    return {"status": f.status, "reason": f.reason, "chunks": report.chunks_total,
            "seconds": round(time.perf_counter() - t, 2), "rss_mb": round(peak_rss_mb())}  # fmt: skip


def work_chunk(path: str) -> dict[str, Any]:
    from index.chunking import chunk_article, make_splitter
    from rag.embedding import load_embedder
    from rag.settings import Settings
    from rag.types import Article

    emb = load_embedder(Settings.from_env({}))
    work = [0]

    def many(texts: Any) -> list[int]:
        work[0] += sum(len(t) for t in texts)
        return emb.count_tokens_many(texts)

    def one(text: str) -> int:
        work[0] += len(text)
        return emb.count_tokens(text)

    splitter = make_splitter(128, 0, one, many, additive=emb.tokens_split_at_whitespace)
    text = Path(path).read_text(encoding="utf-8")
    t = time.perf_counter()
    chunks = chunk_article(Article(id="x", title=None, text=text), splitter)
    return {"chunks": len(chunks), "seconds": round(time.perf_counter() - t, 2),
            "tokenized_per_char": round(work[0] / len(text), 2), "rss_mb": round(peak_rss_mb())}  # fmt: skip


def work_read(path: str) -> dict[str, Any]:
    from index.chunking import size_problem
    from index.readers import read_file
    from rag.settings import Settings

    cap = Settings.from_env({}).max_article_chars
    t = time.perf_counter()
    got = read_file(Path(path))
    problems = [size_problem(a.text, cap) for a in got.articles]
    return {"articles": len(got.articles), "skipped": sum(p is not None for p in problems),
            "seconds": round(time.perf_counter() - t, 2), "rss_mb": round(peak_rss_mb())}  # fmt: skip


def run_worker(*args: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "bench.ingest_limits", "--worker", *args],
        capture_output=True, text=True, cwd=PROJECT_ROOT, check=True,
    )  # fmt: skip
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def write_inputs(root: Path) -> dict[str, Path]:
    files = {
        "unpunct": root / "unpunctuated.txt",
        "prose": root / "prose.txt",
        "txt20": root / "limit.txt",
        "html5": root / "limit.html",
        "jsonl20": root / "limit.jsonl",
    }
    files["unpunct"].write_text(unpunctuated(MB5), encoding="utf-8")
    files["prose"].write_text(prose(MB5), encoding="utf-8")
    limit = 20 * 1024 * 1024 - 4096
    files["txt20"].write_text(prose(limit, seed=9), encoding="utf-8")
    # HTML at its own limit (5 MiB), tag-heavy like a real page: what parsing costs per MiB
    unit = '<div class="story"><p><span data-x="1">The council met</span> <a href="/x">on Monday</a>.</p></div>\n'
    body = unit * ((5 * 1024 * 1024 - 4096) // len(unit))
    files["html5"].write_text(f"<html><body><article>{body}</article></body></html>", encoding="utf-8")
    rows = (json.dumps({"id": f"j{i}", "text": prose(3000, seed=i)}) for i in range(limit // 3050))
    files["jsonl20"].write_text("\n".join(rows) + "\n", encoding="utf-8")
    return files


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--full", action="store_true", help="also ingest the 5 MB article with the caps lifted")
    ap.add_argument("--out", type=Path, help="write the figures as JSON here")
    ap.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        kind, *rest = args.worker
        if kind == "ingest":
            print(json.dumps(work_ingest(rest[0], rest[1], rest[2] == "1")))
        else:
            print(json.dumps(work_chunk(rest[0]) if kind == "chunk" else work_read(rest[0])))
        return
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-limits-") as tmp:
        files = write_inputs(Path(tmp))
        for name, key in (
            ("a) 5 MB unpunctuated, defaults", "unpunct"),
            ("b) 5 MB prose, defaults", "prose"),
        ):
            results[name] = run_worker("ingest", str(files[key]), f"{tmp}/store-{key}", "0")
            print(name, results[name], flush=True)
        results["c) chunking the 5 MB unpunctuated text"] = run_worker("chunk", str(files["unpunct"]))
        print("c)", results["c) chunking the 5 MB unpunctuated text"], flush=True)
        for key in ("txt20", "html5", "jsonl20"):
            size = files[key].stat().st_size / 2**20
            name = f"d) read {files[key].name} ({size:.1f} MiB)"
            results[name] = run_worker("read", str(files[key]))
            print(name, results[name], flush=True)
        if args.full:
            name = "e) 5 MB unpunctuated, caps lifted"
            results[name] = run_worker("ingest", str(files["unpunct"]), f"{tmp}/store-full", "1")
            print(name, results[name], flush=True)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
