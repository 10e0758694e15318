"""How fast a serving process sees another process's ingest (issue 13, item 6), at ~10k chunks.

  a) reopen latency of a reader: Storage.follow() after a new generation (Chroma client reopened,
     first dense query, saved BM25 loaded), and its parts, median of --repeats
  b) time to visibility: a real `rag serve` process over the store, a real `rag ingest` of new
     articles; after the ingest exits, how long until /chat answers each new article with its chunk
     ranked first and ranked by the dense retriever (trace dense rank), and that rank

The store: --real articles ingested with the model, then synthetic articles (real chunk vectors
plus noise, as bench/query.py builds them) up to --chunks, written as a writer would.

    .venv/bin/python -m bench.freshness [--chunks 10000] [--out bench/results/freshness.json]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from bench.corpus import generate, seed_sentences, write_txt

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def build_store(root: Path, chunks: int, real: int) -> Any:
    """A store of `chunks` chunks: `real` articles ingested for real, the rest synthetic."""
    from index.ingest import ingest_paths
    from rag.catalog import ChunkRecord
    from rag.settings import Settings
    from rag.storage import open_storage
    from rag.types import Article, Chunk

    settings = Settings.from_env({}, data_dir=root / "store")
    report = ingest_paths([write_txt(generate(real, 11), root / "real")], settings, progress=False)
    storage = open_storage(settings, writer=True)
    cat = storage.catalog
    recs = list(cat.chunk_records(sorted(cat.chunk_ids())).values())
    rng = np.random.default_rng(3)
    todo, j = chunks - report.chunks_total, 0
    while todo > 0:
        batch_chunks, batch_vecs, arts = [], [], []
        for _ in range(min(300, (todo + 6) // 7)):
            base = recs[j % len(recs)]
            src = cat.article(base.chunk.article_id)
            assert src is not None
            aid = f"syn_{j:06d}"
            art = Article(
                aid, f"{src.title} ({j})", src.text, src.source, src.published, "en", content_hash=aid
            )
            mine = []
            for r in recs:
                if r.chunk.article_id != src.id:
                    continue
                c = Chunk(Chunk.make_id(aid, r.chunk.n), aid, r.chunk.n, r.chunk.text, r.chunk.start,
                          r.chunk.end, art.title, art.source, art.published, "en", r.chunk.sentences)  # fmt: skip
                v = r.vec + rng.normal(0, 0.02, r.vec.shape).astype(np.float32)
                mine.append(ChunkRecord(c, v / np.linalg.norm(v), r.sent_vecs))
                batch_chunks.append(c)
                batch_vecs.append(mine[-1].vec)
            arts.append((art, mine))
            todo -= len(mine)
            j += 1
        storage.vectors.upsert(batch_chunks, np.stack(batch_vecs))
        with cat.transaction():
            for art, mine in arts:
                cat.put_article(art, f"synthetic/{art.id}", mine)
    publish = getattr(storage, "publish", None)
    publish(rebuild=True) if publish else storage.rebuild_lexical()
    storage.close()
    return settings


def reopen_latency(settings: Any, repeats: int) -> dict[str, float]:
    from rag.embedding import load_embedder
    from rag.lexical import LexicalIndex
    from rag.storage import open_storage

    reader = open_storage(settings)
    q = load_embedder(settings).embed_query("How many drones were shot down over Kharkiv?")
    _ = reader.lexical
    parts: dict[str, list[float]] = {"follow_total_ms": [], "chroma_reopen_ms": [], "first_query_ms": [],
                                     "bm25_load_ms": []}  # fmt: skip
    for _ in range(repeats):
        t = time.perf_counter()
        reader.follow(force=True)
        parts["follow_total_ms"].append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        reader.vectors.reopen()
        parts["chroma_reopen_ms"].append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        reader.vectors.query(q, 40, None)
        parts["first_query_ms"].append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        LexicalIndex.load(reader.bm25_dir)
        parts["bm25_load_ms"].append((time.perf_counter() - t) * 1000)
    out = {k: round(statistics.median(v), 1) for k, v in parts.items()}
    out["chunks"] = reader.catalog.counts()[1]
    reader.close()
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _trace_hits(html: str) -> list[tuple[str, int | None]]:
    from bs4 import BeautifulSoup

    hits = []
    for row in BeautifulSoup(html, "html.parser").select("table.hits tbody tr"):
        code, cells = row.find("code"), row.find_all("td")
        if code is not None and len(cells) >= 6:
            m = re.search(r"#(\d+)", cells[4].get_text())
            hits.append((code.get_text(), int(m.group(1)) if m else None))
    return hits


def visibility(settings: Any, root: Path, real: int, limit_s: float) -> dict[str, Any]:
    import httpx
    from gradio_client import Client

    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")} | {
        "PYTHONPATH": str(PROJECT_ROOT)
    }
    port = _free_port()
    serve = subprocess.Popen(
        [sys.executable, "-m", "rag.cli", "serve", "--data-dir", str(settings.data_dir), "--port", str(port)],
        cwd=PROJECT_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/"
    try:
        while True:
            try:
                if httpx.get(url, timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        client = Client(url, verbose=False, analytics_enabled=False, download_files=False)
        new = [dataclasses.replace(a, id=f"fresh_{a.id}") for a in generate(5, 977)]
        corpus = write_txt(new, root / "new")
        ids = [a.id for a in new]

        def sentences(body: str) -> list[str]:
            return re.split(r"(?<=\.)\s+", body)

        # A question quoting the article's two longest sentences found in no other article: the
        # templates repeat sentences, and then another article may rightly rank first.
        counts = Counter(s for a in [*generate(real, 11), *new] for s in set(sentences(a.body)))
        counts.update(seed_sentences())
        questions = {
            a.id: " ".join(sorted((s for s in sentences(a.body) if counts[s] == 1), key=len)[-2:])
            for a in new
        }
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "rag.cli", "ingest", str(corpus), "--data-dir",
                        str(settings.data_dir), "--quiet"], cwd=PROJECT_ROOT, env=env, check=True,
                       capture_output=True)  # fmt: skip
        ingest_s = time.perf_counter() - t
        ended = time.perf_counter()
        seen: dict[str, Any] = {}
        last: dict[str, Any] = {}
        while len(seen) < len(ids) and time.perf_counter() - ended < limit_s:
            for aid in ids:
                if aid in seen:
                    continue
                answer = client.predict(questions[aid], "", "", [], 5, "extractive", "", api_name="/chat")
                hits = last[aid] = _trace_hits(answer[3])
                mine = [(cid, d) for cid, d in hits if cid.startswith(aid + ":") and d is not None]
                if mine:  # answered from the new article, its chunk ranked by the dense retriever
                    seen[aid] = {"after_s": round(time.perf_counter() - ended, 2), "dense_rank": mine[0][1],
                                 "hit_rank": [c for c, _ in hits].index(mine[0][0]) + 1}  # fmt: skip
            time.sleep(0.05)
        return {"ingest_s": round(ingest_s, 1), "articles": len(ids), "visible": len(seen),
                "max_after_s": max((v["after_s"] for v in seen.values()), default=None), "limit_s": limit_s,
                "each": seen, "not_visible": {a: last.get(a) for a in ids if a not in seen}}  # fmt: skip
    finally:
        serve.terminate()
        serve.wait(timeout=30)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--chunks", type=int, default=10_000)
    ap.add_argument("--real", type=int, default=150, help="articles ingested with the model")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--limit", type=float, default=30.0, help="give up on visibility after this many s")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-fresh-") as tmp:
        root = Path(tmp)
        t = time.perf_counter()
        settings = build_store(root, args.chunks, args.real)
        print(f"store built in {time.perf_counter() - t:.0f} s", flush=True)
        res: dict[str, Any] = {}
        if hasattr(__import__("rag.storage").storage.Storage, "follow"):
            res["reopen"] = reopen_latency(settings, args.repeats)
            print("a) reopen:", res["reopen"], flush=True)
        res["visibility"] = visibility(settings, root, args.real, args.limit)
        print(
            "b) visibility:", {k: v for k, v in res["visibility"].items() if k != "not_visible"}, flush=True
        )
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
