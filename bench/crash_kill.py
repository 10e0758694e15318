"""SIGKILL `rag ingest` at random points of a 500-file ingest; after each kill, rerun it; check the store.

For each of --points kill points (uniform in [0, T], T the time of an uninterrupted run, seeded;
a run that ends before its kill point updates T and the point is drawn again):
a fresh data dir, `rag ingest CORPUS` killed with SIGKILL at that time, then `rag ingest CORPUS` run
to completion. The store must then hold every chunk exactly once, the same chunk ids as the
uninterrupted run, BM25 on disk equal to the catalog (and so to Chroma), and nothing left behind
by a killed BM25 save. CI runs a shorter version (tests/test_ingest_crash.py).

    .venv/bin/python -m bench.crash_kill [--docs 500] [--points 20] [--seed 13] [--out FILE.json]

Prints one line per point and the outcome, e.g. "20/20 points: store equal to the uninterrupted one".
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench.corpus import generate, write_txt

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("RAG_")} | {
        "PYTHONPATH": str(PROJECT_ROOT)
    }


def _ingest_cmd(corpus: Path, data: Path) -> list[str]:
    return [sys.executable, "-m", "rag.cli", "ingest", str(corpus), "--data-dir", str(data), "--quiet"]


def committed_chunks(data: Path) -> int:
    try:
        db = sqlite3.connect(f"file:{data / 'catalog.sqlite'}?mode=ro", uri=True, timeout=1)
        try:
            return int(db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0])
        finally:
            db.close()
    except sqlite3.Error:
        return 0


def run_to_end(corpus: Path, data: Path) -> tuple[float, int]:
    """An uninterrupted `rag ingest`: (seconds, chunks it embedded)."""
    t = time.perf_counter()
    out = subprocess.run(
        _ingest_cmd(corpus, data), env=_env(), cwd=PROJECT_ROOT, capture_output=True, text=True
    )
    if out.returncode != 0:
        raise RuntimeError(f"rag ingest failed ({out.returncode}): {out.stderr[-2000:]}")
    m = re.search(r"(\d+) chunks embedded", out.stdout)
    return time.perf_counter() - t, int(m.group(1)) if m else -1


def kill_at(corpus: Path, data: Path, seconds: float) -> float | None:
    """Start `rag ingest` and SIGKILL it after `seconds`: None, or how long it took if it finished first."""
    proc = subprocess.Popen(
        _ingest_cmd(corpus, data), env=_env(), cwd=PROJECT_ROOT,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    t = time.perf_counter()
    try:
        proc.wait(timeout=seconds)
        return time.perf_counter() - t
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        return None


def check_store(data: Path, reference: set[str]) -> list[str]:
    """Every way the store differs from a clean one with `reference` chunk ids ([] when it is right)."""
    from rag.lexical import LexicalIndex
    from rag.settings import Settings
    from rag.storage import open_storage

    storage = open_storage(Settings.from_env({}, data_dir=data))
    problems: list[str] = []
    try:
        in_chroma = list(storage.vectors.collection.get(include=[])["ids"])
        in_catalog = [r[0] for r in storage.catalog.db.execute("SELECT id FROM chunks")]
        dupes = [i for i, n in Counter(in_chroma).items() if n > 1]
        if dupes:
            problems.append(f"{len(dupes)} chunks stored more than once in Chroma")
        if set(in_chroma) != set(in_catalog):
            problems.append(f"Chroma and catalog differ by {len(set(in_chroma) ^ set(in_catalog))} ids")
        if set(in_catalog) != reference or len(in_catalog) != len(reference):
            problems.append(f"{len(in_catalog)} chunks, the uninterrupted ingest has {len(reference)}")
        saved = LexicalIndex.load(storage.bm25_dir)
        if saved is None or saved.fingerprint != storage.lexical_fingerprint():
            problems.append("BM25 on disk does not match the catalog")
        elif sorted(saved.ids) != sorted(in_chroma):
            problems.append("BM25 and Chroma hold different chunks")
        leftovers = [p.name for p in storage.bm25_dir.iterdir() if p.name.startswith(".")]
        if leftovers:
            problems.append(f"left behind in bm25/: {leftovers}")
    finally:
        storage.close()
    return problems


def _cut(body: str, chars: int) -> str:
    end = body.find(". ", chars)
    return body if end < 0 else body[: end + 1]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=int, default=500)
    ap.add_argument("--chars", type=int, default=1200,
                    help="cut each article after the sentence ending near this many characters (default 1200: "
                    "~2 chunks a file, so 20 points take ~30 min on 2 shared cores; 0 = whole articles, ~7 a file)")  # fmt: skip
    ap.add_argument("--points", type=int, default=20)
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    rng = random.Random(args.seed)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-crash-") as tmp:
        root = Path(tmp)
        articles = generate(args.docs, args.seed)
        if args.chars:
            articles = [dataclasses.replace(a, body=_cut(a.body, args.chars)) for a in articles]
        corpus = write_txt(articles, root / "corpus")
        full_s, embedded = run_to_end(corpus, root / "reference")
        reference = {
            r[0]
            for r in sqlite3.connect(root / "reference" / "catalog.sqlite").execute("SELECT id FROM chunks")
        }
        print(f"uninterrupted: {args.docs} files, {len(reference)} chunks in {full_s:.1f} s", flush=True)
        # The machine is shared, so a run's length drifts: a run that ends before its kill point
        # gives the new estimate of T, and the point is drawn again (only kills count).
        estimate, attempts = full_s, 0
        while len(rows) < args.points and attempts < 3 * args.points:
            attempts += 1
            at = round(rng.uniform(0, estimate), 2)
            data = root / f"point-{attempts:02d}"
            finished = kill_at(corpus, data, at)
            if finished is not None:
                print(
                    f"  (run ended in {finished:.1f} s, before the kill at {at:.1f} s: drawn again)",
                    flush=True,
                )
                estimate = finished
                continue
            committed = committed_chunks(data)
            rerun_s, rerun_embedded = run_to_end(corpus, data)
            problems = check_store(data, reference)
            if rerun_embedded != len(reference) - committed:
                problems.append(
                    f"rerun embedded {rerun_embedded}, not the {len(reference) - committed} uncommitted"
                )
            row = {"point": len(rows) + 1, "kill_at_s": at, "committed_at_kill": committed,
                   "rerun_s": round(rerun_s, 1), "rerun_embedded": rerun_embedded, "problems": problems}  # fmt: skip
            rows.append(row)
            print(
                f"point {len(rows):2d}: killed at {at:5.1f} s with {committed:5d} chunks committed; rerun "
                f"embedded {rerun_embedded} in {rerun_s:.1f} s: "
                + ("OK" if not problems else "; ".join(problems)),
                flush=True,
            )
    good = sum(1 for r in rows if not r["problems"])
    print(f"\n{good}/{len(rows)} SIGKILLs followed by a rerun: store equal to the uninterrupted one"
          f" ({len(reference)} chunks, each once, BM25 = Chroma, nothing left behind)")  # fmt: skip
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        summary = {
            "docs": args.docs,
            "chunks": len(reference),
            "uninterrupted_s": round(full_s, 1),
            "ok": good,
        }
        args.out.write_text(json.dumps({"summary": summary, "points": rows}, indent=2))
    return 0 if good == len(rows) else 1


if __name__ == "__main__":
    sys.exit(main())
