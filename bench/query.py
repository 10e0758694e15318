"""Query latency benchmark at 100k chunks: our full extractive answer against naive llama-index retrieval.

How the 100k-chunk index is built (once, cached in --out/index-<chunks>/):
  1. `--real-docs` (default 300) synthetic articles from bench.corpus are ingested for real with
     `ingest_paths` (default settings: onnx-int8, 128-token chunks, no overlap), once per --out:
     the store is cached in --out/real-<docs>-<seed>/ and copied into each size's store.
  2. Every real chunk record (chunk vector, per-sentence vectors, sentence spans) is read back
     from the catalog. Synthetic articles are then written until the store holds `--chunks` chunks:
     each synthetic chunk takes a random real chunk as its base, keeps 1-2 of its sentences and
     adds sentences drawn from other random real chunks (3-6 sentences in all, like the real ones).
     Its text is those sentences joined by spaces; its sentence vectors are the real sentence
     vectors plus Gaussian noise (sigma 0.02 per dimension), renormalised; its chunk vector is
     the base chunk's vector plus noise (sigma 0.02), renormalised. Chunks are concatenated into
     articles of 7 chunks with the real articles' dates, sources and titles (suffixed), so the
     offsets, spans and filters are all consistent.
  3. Everything goes through the product's own storage classes: `open_storage(settings,
     create=True, dim=384)`, `storage.vectors.upsert(chunks, vecs)` (Chroma, HNSW M=32,
     ef_construction=200, ef_search=400 from Settings), `storage.catalog.put_article(article,
     file, [ChunkRecord(chunk, vec, sent_vecs)])`, and finally `storage.rebuild_lexical()` (BM25
     over all chunk texts). HNSW and BM25 therefore work at full size.
  4. The naive baseline gets a separate Chroma PersistentClient with the same chunk ids, texts and
     vectors, added through `ChromaVectorStore.add(TextNode(..., embedding=vec))` into a collection
     created with Chroma's default settings (HNSW defaults), as a naive llama-index user would.

Measured (each side in its own subprocess, so each peak RSS is clean): after a warm-up,
`pipeline.ask(q)` over ~200 varied questions (p50/p95/p99, per-stage p50 from
answer.trace.timings_ms) plus `pipeline.retriever.retrieve(q)` alone; and naive
`VectorStoreIndex.from_vector_store(store, embed_model=HuggingFaceEmbedding(MiniLM, torch))
.as_retriever(similarity_top_k=5).retrieve(q)` (p50/p95/p99).

    .venv/bin/python -m bench.query --chunks 100000 --out bench/results/query

Against index size, embedded and over a Chroma server, before/after: bench/query_scale.py.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.corpus import EVENTS, FIRST, LAST, ORGS, REGIONS, ROLES, THINGS, TOWNS, generate, write_txt
from bench.ingest import DEV_SET, _settings, cpu_seconds, machine, peak_rss_mb
from bench.ingest import run_worker as run_worker_of

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
CHUNKS_PER_ARTICLE = 7
NOISE = 0.02


def _unit(v: np.ndarray) -> np.ndarray:
    return np.asarray(v / np.clip(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12, None), dtype=np.float32)


# ---------------------------------------------------------------- building the index
def _real_ingest(root: Path, real_docs: int, seed: int) -> dict[str, Any]:
    """Ingest the real articles into root/ours, copying a cached ingest of the same articles
    (root/../real-<docs>-<seed>, shared by every size) when there is one."""
    from index.ingest import ingest_paths

    cache = root.parent / f"real-{real_docs}-{seed}"
    done = cache / "real_ingest.json"
    if not done.exists():
        shutil.rmtree(cache, ignore_errors=True)
        corpus = write_txt(generate(real_docs, seed), cache / "real-corpus")
        t = time.perf_counter()
        report = ingest_paths([corpus], _settings(cache / "ours"), progress=False)
        stats = {
            "seconds": time.perf_counter() - t,
            "chunks": report.chunks_total,
            "articles": report.articles_total,
        }
        done.write_text(json.dumps(stats))
    shutil.copytree(cache / "ours", root / "ours")
    stats = json.loads(done.read_text())
    print(
        f"real ingest: {stats['articles']} articles, {stats['chunks']} chunks in {stats['seconds']:.0f} s",
        flush=True,
    )
    return stats


def build_index(root: Path, chunks: int, real_docs: int, seed: int, naive: bool = True) -> dict[str, Any]:
    """Build (or reuse) ours in root/ours and (unless naive=False) the naive Chroma in root/naive."""
    info_path = root / "build_info.json"
    want = {"chunks": chunks, "real_docs": real_docs, "seed": seed, "noise": NOISE}
    if info_path.exists():
        info: dict[str, Any] = json.loads(info_path.read_text())
        if info.get("params") == want and (info.get("naive") or not naive):
            print(f"reusing the cached index in {root}", flush=True)
            return info
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    info = {"params": want}

    from rag.catalog import ChunkRecord
    from rag.storage import open_storage
    from rag.types import Article, Chunk, Span

    settings = _settings(root / "ours")
    info["real_ingest"] = _real_ingest(root, real_docs, seed)

    storage = open_storage(settings, create=True, dim=384)
    cat = storage.catalog
    ids = sorted(cat.chunk_ids())
    real = list(cat.chunk_records(ids).values())
    arts = {a: cat.article(a) for a in {r.chunk.article_id for r in real}}
    # Sentence pool: (text, vector) of every real sentence.
    pool: list[tuple[str, np.ndarray]] = []
    per_chunk: list[list[int]] = []
    for r in real:
        text = arts[r.chunk.article_id].text  # type: ignore[union-attr]
        idx = []
        for k, s in enumerate(r.chunk.sentences):
            idx.append(len(pool))
            pool.append((text[s.start : s.end], r.sent_vecs[k].astype(np.float32)))
        per_chunk.append(idx)
    templates = list(arts.values())
    rng = np.random.default_rng(seed)
    prng = random.Random(seed)
    todo = chunks - len(real)
    n_articles = (todo + CHUNKS_PER_ARTICLE - 1) // CHUNKS_PER_ARTICLE
    t = time.perf_counter()
    done = 0
    batch_chunks: list[Any] = []
    batch_vecs: list[np.ndarray] = []
    batch_articles: list[tuple[Any, list[Any]]] = []

    def flush() -> None:
        if not batch_chunks:
            return
        storage.vectors.upsert(batch_chunks, np.stack(batch_vecs))
        with cat.transaction():
            for art, recs in batch_articles:
                cat.put_article(art, f"synthetic/{art.id}", recs)
        batch_chunks.clear()
        batch_vecs.clear()
        batch_articles.clear()

    for j in range(n_articles):
        tmpl = templates[j % len(templates)]
        assert tmpl is not None
        aid = f"syn_{j:06d}"
        n_chunks = min(CHUNKS_PER_ARTICLE, todo - done)
        parts: list[tuple[list[str], np.ndarray, np.ndarray]] = []
        for _ in range(n_chunks):
            b = prng.randrange(len(real))
            base = per_chunk[b]
            keep = prng.sample(base, min(len(base), prng.randint(1, 2)))
            extra = [prng.randrange(len(pool)) for _ in range(prng.randint(3, 6) - len(keep))]
            chosen = keep + extra
            prng.shuffle(chosen)
            sents = [pool[i][0] for i in chosen]
            svecs = _unit(np.stack([pool[i][1] for i in chosen]) + rng.normal(0, NOISE, (len(chosen), 384)))
            vec = _unit(real[b].vec.astype(np.float32) + rng.normal(0, NOISE, 384))
            parts.append((sents, vec, svecs))
        text = ""
        chunk_objs: list[tuple[Any, np.ndarray, np.ndarray]] = []
        for sents, vec, svecs in parts:
            if text:
                text += "\n\n"
            start = len(text)
            spans = []
            for sent in sents:
                if len(text) > start:
                    text += " "
                spans.append(Span(len(text), len(text) + len(sent)))
                text += sent
            chunk_objs.append(((start, len(text), tuple(spans)), vec, svecs))
        title = f"{tmpl.title} ({j})"
        art = Article(aid, title, text, tmpl.source, tmpl.published, "en", None, None, f"syn-{j}")
        recs = []
        for n, ((start, end, spans), vec, svecs) in enumerate(chunk_objs):
            c = Chunk(
                Chunk.make_id(aid, n),
                aid,
                n,
                text[start:end],
                start,
                end,
                title,
                art.source,
                art.published,
                "en",
                spans,
            )
            recs.append(ChunkRecord(c, vec, svecs))
            batch_chunks.append(c)
            batch_vecs.append(vec)
        batch_articles.append((art, recs))
        done += n_chunks
        if len(batch_chunks) >= 4000:
            flush()
            rate = done / (time.perf_counter() - t)
            print(f"  synthetic chunks {done}/{todo} ({rate:.0f}/s)", flush=True)
    flush()
    info["synthetic_write_seconds"] = time.perf_counter() - t
    t = time.perf_counter()
    storage.rebuild_lexical()
    info["bm25_rebuild_seconds"] = time.perf_counter() - t
    n_art, n_chunks = cat.counts()
    info["ours"] = {
        "articles": n_art,
        "chunks": n_chunks,
        "vectors": storage.vectors.count(),
        "disk_mb": storage.disk_bytes() / 1e6,
    }
    print(
        f"ours: {n_art} articles, {n_chunks} chunks, {info['ours']['vectors']} vectors; BM25 {info['bm25_rebuild_seconds']:.0f} s",
        flush=True,
    )

    if not naive:
        storage.close()
        info_path.write_text(json.dumps(info, indent=2))
        return info
    # The naive copy: same ids, texts and vectors, Chroma defaults, through ChromaVectorStore.add.
    from llama_index.core.schema import BaseNode, TextNode
    from llama_index.vector_stores.chroma import ChromaVectorStore

    from evals.naive import open_collection

    t = time.perf_counter()
    collection = open_collection(root / "naive")
    store = ChromaVectorStore(chroma_collection=collection)
    all_ids = sorted(cat.chunk_ids())
    for i in range(0, len(all_ids), 5000):
        by_id = cat.chunk_records(all_ids[i : i + 5000])
        nodes: list[BaseNode] = [
            TextNode(
                id_=cid,
                text=r.chunk.text,
                embedding=r.vec.astype(np.float32).tolist(),
                metadata={"article_id": r.chunk.article_id},
            )
            for cid, r in by_id.items()
        ]
        store.add(nodes)
    info["naive"] = {
        "vectors": collection.count(),
        "build_seconds": time.perf_counter() - t,
    }
    print(f"naive: {info['naive']['vectors']} vectors in {info['naive']['build_seconds']:.0f} s", flush=True)
    storage.close()
    info_path.write_text(json.dumps(info, indent=2))
    return info


# ---------------------------------------------------------------- questions
def questions(n: int, seed: int) -> list[str]:
    """~n varied questions: the seed dev set plus templated questions in the corpus vocabulary."""
    rng = random.Random(seed)
    qs = [json.loads(line)["question"] for line in DEV_SET.read_text().splitlines() if line.strip()]
    forms = (
        lambda: f"How many {rng.choice(THINGS)} were shot down over {rng.choice(TOWNS)}?",
        lambda: f"Who is the {rng.choice(ROLES)} of {rng.choice(TOWNS)}?",
        lambda: f"What did {rng.choice(FIRST)} {rng.choice(LAST)} say about {rng.choice(TOWNS)}?",
        lambda: f"What happened in {rng.choice(TOWNS)} after {rng.choice(EVENTS)}?",
        lambda: f"How many people were evacuated from {rng.choice(TOWNS)}?",
        lambda: f"What did {rng.choice(ORGS)} deliver to the {rng.choice(REGIONS)}?",
        lambda: f"What is the latest news about {rng.choice(TOWNS)}?",
        lambda: f"How much will repairs in the {rng.choice(REGIONS)} cost?",
        lambda: f"When did trains between {rng.choice(TOWNS)} and {rng.choice(TOWNS)} resume?",
        lambda: (
            f"How did the situation in {rng.choice(TOWNS)} develop in {rng.choice(['2022', '2023', '2024'])}?"
        ),
        lambda: f"How many doctors remain in {rng.choice(TOWNS)}?",
        lambda: f"Why were schools in {rng.choice(TOWNS)} closed?",
        lambda: rng.choice(TOWNS),
        lambda: f"{rng.choice(TOWNS)} {rng.choice(THINGS)} {rng.choice(EVENTS)} casualties",
        lambda: f"What is the capital of {rng.choice(['Australia', 'Peru', 'Canada', 'Kenya'])}?",
    )
    while len(qs) < n:
        qs.append(rng.choice(forms)())
    return qs[:n]


def _pct(xs: list[float], p: float) -> float:
    return float(np.percentile(np.asarray(xs), p)) if xs else float("nan")


def _summary(xs: list[float]) -> dict[str, float]:
    return {
        "n": len(xs),
        "p50_ms": _pct(xs, 50),
        "p95_ms": _pct(xs, 95),
        "p99_ms": _pct(xs, 99),
        "mean_ms": statistics.fmean(xs),
        "max_ms": max(xs),
    }


# ---------------------------------------------------------------- workers
def work_ours(spec: dict[str, Any]) -> dict[str, Any]:
    from rag.pipeline import build_pipeline

    if spec.get("cached_lexical_check"):
        _patch_lexical_check_once()
    t = time.perf_counter()
    overrides = {"chroma_url": spec["chroma_url"]} if spec.get("chroma_url") else {}
    pipe = build_pipeline(_settings(Path(spec["data"]), **overrides))
    _ = pipe.storage.lexical
    open_s = time.perf_counter() - t
    server = spec.get("server_pid")
    qs = questions(spec["questions"], spec["seed"])
    warm = questions(spec["warmup"] + 500, spec["seed"] + 1)[-spec["warmup"] :]
    for q in warm:
        pipe.ask(q)
    load0 = os.getloadavg()[0]
    c0, s0 = cpu_seconds(), _process_cpu(server)
    total: list[float] = []
    stages: dict[str, list[float]] = {}
    abstained = 0
    for q in qs:
        t = time.perf_counter()
        ans = pipe.ask(q)
        total.append((time.perf_counter() - t) * 1000)
        abstained += ans.abstained
        for k, v in ans.trace.timings_ms.items():
            stages.setdefault(k, []).append(v)
    cpu = cpu_seconds() - c0
    server_cpu = _process_cpu(server) - s0
    retr: list[float] = []
    for q in qs:
        t = time.perf_counter()
        pipe.retriever.retrieve(q)
        retr.append((time.perf_counter() - t) * 1000)
    return {
        "open_seconds": open_s,
        "ask": _summary(total),
        "ask_cpu_ms_per_question": cpu * 1000 / len(qs),
        "server_cpu_ms_per_question": server_cpu * 1000 / len(qs),
        "stages_p50_ms": {k: _pct(v, 50) for k, v in stages.items()},
        "stages_p95_ms": {k: _pct(v, 95) for k, v in stages.items()},
        "retrieve": _summary(retr),
        "abstained": abstained,
        "chunks": pipe.storage.catalog.counts()[1],
        "peak_rss_mb": peak_rss_mb(),
        "load_before": load0,
        "load_after": os.getloadavg()[0],
        "slowest": sorted(zip(total, qs, strict=True), reverse=True)[:5],
    }


def _process_cpu(pid: int | None) -> float:
    """CPU seconds (user + system) used so far by another process (the Chroma server); 0 without one."""
    if not pid:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _process_rss_mb(pid: int) -> dict[str, float]:
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(("VmRSS:", "VmHWM:")):
            out[line.split(":")[0]] = int(line.split()[1]) / 1024
    return out


def _patch_lexical_check_once() -> None:
    """What-if (bench only, product code untouched): check the BM25 fingerprint once per Storage.

    The product's `Storage.lexical` recomputes the fingerprint over every chunk row of the catalog
    on each access (twice per question); this variant keeps the first verified index until
    `refresh()`, to measure what that check costs at this size.
    """
    from rag.storage import Storage

    original = Storage.lexical.fget  # type: ignore[attr-defined]

    def lexical_once(self: Any) -> Any:
        if getattr(self, "_bench_checked", None) is not None and self._lexical is self._bench_checked:
            return self._lexical
        lex = original(self)
        self._bench_checked = lex
        return lex

    Storage.lexical = property(lexical_once)  # type: ignore[method-assign,assignment]


def work_naive(spec: dict[str, Any]) -> dict[str, Any]:
    from llama_index.core import VectorStoreIndex
    from llama_index.vector_stores.chroma import ChromaVectorStore

    from evals.naive import TOP_K, naive_embedding, open_collection

    t = time.perf_counter()
    collection = open_collection(Path(spec["data"]))
    store = ChromaVectorStore(chroma_collection=collection)
    embed = naive_embedding()
    retriever = VectorStoreIndex.from_vector_store(store, embed_model=embed).as_retriever(
        similarity_top_k=TOP_K
    )
    open_s = time.perf_counter() - t
    qs = questions(spec["questions"], spec["seed"])
    warm = questions(spec["warmup"] + 500, spec["seed"] + 1)[-spec["warmup"] :]
    for q in warm:
        retriever.retrieve(q)
    load0 = os.getloadavg()[0]
    c0 = cpu_seconds()
    times: list[float] = []
    for q in qs:
        t = time.perf_counter()
        retriever.retrieve(q)
        times.append((time.perf_counter() - t) * 1000)
    return {
        "open_seconds": open_s,
        "retrieve": _summary(times),
        "retrieve_cpu_ms_per_question": (cpu_seconds() - c0) * 1000 / len(qs),
        "vectors": collection.count(),
        "peak_rss_mb": peak_rss_mb(),
        "load_before": load0,
        "load_after": os.getloadavg()[0],
    }


WORKERS = {"ours": work_ours, "naive": work_naive}


def run_worker(kind: str, **spec: Any) -> dict[str, Any]:
    return run_worker_of(kind, _module="bench.query", **spec)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(
        description=(
            "Query latency at scale: builds (once, cached in --out) an index of --chunks chunks from a few hundred "
            "really ingested articles scaled up with perturbed copies (see the module docstring), then times our "
            "full extractive pipeline.ask() and naive llama-index retrieval over the same vectors, each in its own "
            "subprocess. Prints a table and writes results.json into --out."
        )
    )
    ap.add_argument("--chunks", type=int, default=100_000, help="chunks in the index (default 100000)")
    ap.add_argument(
        "--real-docs",
        type=int,
        default=300,
        help="articles ingested for real before scaling up (default 300)",
    )
    ap.add_argument("--questions", type=int, default=200, help="timed questions (default 200)")
    ap.add_argument("--warmup", type=int, default=20, help="untimed warm-up questions (default 20)")
    ap.add_argument("--seed", type=int, default=1234, help="random seed (default 1234)")
    ap.add_argument(
        "--out",
        type=Path,
        default=Path("/tmp/rag-bench/query"),
        help="results dir; the index is cached in it (default /tmp/rag-bench/query)",
    )
    ap.add_argument(
        "--skip-naive", action="store_true", help="do not build or time the naive llama-index side"
    )
    ap.add_argument("--build-only", action="store_true", help="build the cached index and stop")
    ap.add_argument(
        "--what-if-cached-lexical",
        action="store_true",
        help="also time ours with the per-access BM25 fingerprint check done once (a bench-only patch)",
    )
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        spec = json.loads(args.worker)
        print(json.dumps(WORKERS[spec["kind"]](spec)))
        return

    args.out.mkdir(parents=True, exist_ok=True)
    root = args.out / f"index-{args.chunks}"
    res: dict[str, Any] = {
        "machine": machine(),
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        "load_at_start": os.getloadavg(),
    }
    res["build"] = build_index(root, args.chunks, args.real_docs, args.seed, naive=not args.skip_naive)
    if args.build_only:
        return
    common = {"questions": args.questions, "warmup": args.warmup, "seed": args.seed}
    print("timing ours ...", flush=True)
    res["ours"] = run_worker("ours", data=str(root / "ours"), **common)
    if args.what_if_cached_lexical:
        print("timing ours, fingerprint checked once (what-if) ...", flush=True)
        res["ours_cached_lexical_check"] = run_worker(
            "ours", data=str(root / "ours"), cached_lexical_check=True, **common
        )
    if not args.skip_naive:
        print("timing naive ...", flush=True)
        res["naive"] = run_worker("naive", data=str(root / "naive"), **common)
    res["load_at_end"] = os.getloadavg()
    res["finished"] = time.strftime("%Y-%m-%d %H:%M:%S")
    (args.out / "results.json").write_text(json.dumps(res, indent=2))
    print_table(res)
    print(f"\nresults: {args.out / 'results.json'}")


def print_table(res: dict[str, Any]) -> None:
    o, n = res["ours"], res.get("naive")
    print(f"\n## Query latency, {o['chunks']} chunks, {o['ask']['n']} questions after warm-up")
    print("| what | p50 ms | p95 ms | p99 ms | mean ms | peak RSS MB |")
    print("|---|---|---|---|---|---|")
    a, r = o["ask"], o["retrieve"]
    print(
        f"| ours: full extractive answer, pipeline.ask() | {a['p50_ms']:.1f} | {a['p95_ms']:.1f} | {a['p99_ms']:.1f} | {a['mean_ms']:.1f} | {o['peak_rss_mb']:.0f} |"
    )
    print(
        f"| ours: retrieval only, retriever.retrieve() | {r['p50_ms']:.1f} | {r['p95_ms']:.1f} | {r['p99_ms']:.1f} | {r['mean_ms']:.1f} | |"
    )
    if n:
        r = n["retrieve"]
        print(
            f"| naive llama-index: retriever.retrieve() | {r['p50_ms']:.1f} | {r['p95_ms']:.1f} | {r['p99_ms']:.1f} | {r['mean_ms']:.1f} | {n['peak_rss_mb']:.0f} |"
        )
    w = res.get("ours_cached_lexical_check")
    if w:
        a = w["ask"]
        print(
            f"| what-if, BM25 fingerprint checked once: pipeline.ask() | {a['p50_ms']:.1f} | {a['p95_ms']:.1f} | {a['p99_ms']:.1f} | {a['mean_ms']:.1f} | {w['peak_rss_mb']:.0f} |"
        )
        print(
            "what-if per-stage p50 (ms): " + ", ".join(f"{k} {v:.1f}" for k, v in w["stages_p50_ms"].items())
        )
    print("per-stage p50 (ms): " + ", ".join(f"{k} {v:.1f}" for k, v in o["stages_p50_ms"].items()))
    print("per-stage p95 (ms): " + ", ".join(f"{k} {v:.1f}" for k, v in o["stages_p95_ms"].items()))
    print(
        f"targets: p50 <= 60 ms, p95 <= 150 ms, peak RSS <= 2048 MB; abstained {o['abstained']}/{o['ask']['n']}"
    )
    print(f"load average at start {res['load_at_start']}, at end {res['load_at_end']}")


if __name__ == "__main__":
    main()
