"""Corpus-tab search over a built store: BM25 (what the tab uses) against a plain substring scan of
every article's text (the alternative without an index), per query, in milliseconds.

    .venv/bin/python -m bench.ui_corpus_search --data-dir /tmp/ui-bench/store
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from rag.embedding import load_embedder
from rag.pipeline import build_pipeline
from rag.settings import Settings
from ui.corpus import CorpusService
from ui.corpus_search import lexical_text_search

QUERIES = ("Trehubov", "Kupiansk", "generators hospitals", "Izium governor", "zzyzx")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", type=Path, required=True)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args(argv)
    settings = Settings.from_env(data_dir=args.data_dir)
    pipeline = build_pipeline(settings, load_embedder(settings))
    infos = pipeline.articles()
    corpus = CorpusService(pipeline, settings, None, None, text_search=lexical_text_search(pipeline))
    corpus.rows("warm up")  # BM25 load, first-sentence titles
    texts = {a.id: (pipeline.article(a.id) or a).__dict__.get("text", "").lower() for a in infos}
    base = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        corpus.rows("")
        base.append((time.perf_counter() - t0) * 1000)
    print(
        f"{len(infos)} articles; the unfiltered table (no text search) takes {statistics.median(base):.1f} ms"
    )
    for q in QUERIES:
        bm25, scan = [], []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            rows = corpus.rows(q)
            bm25.append((time.perf_counter() - t0) * 1000)
            t0 = time.perf_counter()
            hits = [i for i, t in texts.items() if all(w in t for w in q.lower().split())]
            scan.append((time.perf_counter() - t0) * 1000)
        print(f"{q!r}: BM25 rows {len(rows)} in {statistics.median(bm25):.1f} ms; "
              f"substring scan {len(hits)} in {statistics.median(scan):.1f} ms (texts already in memory)")  # fmt: skip


if __name__ == "__main__":
    main()
