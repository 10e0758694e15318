"""Ingestion benchmark: our pipeline against the naive llama-index pipeline, in one run.

Every measured pipeline runs in its own fresh subprocess (`--worker`), so each peak RSS
(VmHWM of that process) and each timing is clean of the others. Measured:

  a) ours: `ingest_paths([corpus], settings)` into a fresh data dir (default settings: the ingest
     runtime is "auto", i.e. torch-bf16 on a CPU with AMX-BF16, else onnx-int8)
  a2) ours with RAG_INGEST_RUNTIME=onnx-int8: what a CPU without AMX runs (--skip-int8 to leave out)
  b) naive: SimpleDirectoryReader -> SentenceSplitter(256, 32) -> HuggingFaceEmbedding (MiniLM,
     torch) -> VectorStoreIndex over ChromaVectorStore (PersistentClient, fresh dir); built by
     evals/naive.py, the same baseline `rag eval --suite` scores beside ours
  c) ours/naive ratio of MB of article text per second
  d) re-ingest of the unchanged corpus with ours (fresh process, same data dir)
  e) cold start of `rag ask` (or of build_pipeline + ask when rag/cli.py does not exist)
  f) quality guard: article-level hit@5 on the seed dev set, ours vs naive
  g) optional ablation (--ablation): embed runtime and chunk size, ours only, on a smaller corpus

    .venv/bin/python -m bench.ingest --docs 2000 --out bench/results/ingest
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.corpus import generate, write_txt
from evals.naive import ARTICLE_ID, TOP_K, build_index

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
SEED_CORPUS = PROJECT_ROOT / "data" / "corpus"
DEV_SET = PROJECT_ROOT / "evals" / "questions" / "seed_dev.jsonl"
COLD_QUESTION = "How many drones were shot down over Kharkiv?"


# ---------------------------------------------------------------- helpers shared by the workers
def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, MB: VmHWM from /proc/self/status.

    Not getrusage's ru_maxrss: Linux carries that over a fork+exec, so a worker would inherit the
    peak of the process that started it. VmHWM belongs to the address space and starts afresh at exec.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def article_text_bytes(corpus: Path) -> tuple[int, int]:
    """(articles, UTF-8 bytes of article text) as our readers see the corpus: the MB/s denominator."""
    from index.readers import read_path

    n = size = 0
    for p in sorted(corpus.iterdir()):
        for a in read_path(p):
            n += 1
            size += len(a.text.encode("utf-8"))
    return n, size


def _settings(data_dir: Path, **overrides: Any) -> Any:
    from rag.settings import Settings

    return Settings.from_env({}, data_dir=data_dir, **overrides)


# ---------------------------------------------------------------- workers (one per subprocess)
def work_ours(spec: dict[str, Any]) -> dict[str, Any]:
    from index.ingest import ingest_paths
    from rag.embedding import ingest_runtime

    settings = _settings(Path(spec["data"]), **spec.get("overrides", {}))
    load0 = os.getloadavg()[0]
    c0 = cpu_seconds()
    t0 = time.perf_counter()
    report = ingest_paths([Path(spec["corpus"])], settings, progress=False)
    secs = time.perf_counter() - t0
    statuses: dict[str, int] = {}
    for f in report.files:
        statuses[f.status] = statuses.get(f.status, 0) + 1
    return {
        "seconds": secs,
        "cpu_seconds": cpu_seconds() - c0,
        "texts_embedded": report.texts_embedded,
        "chunks_total": report.chunks_total,
        "articles_total": report.articles_total,
        "file_statuses": statuses,
        "peak_rss_mb": peak_rss_mb(),
        "load_before": load0,
        "load_after": os.getloadavg()[0],
        "settings": {
            k: str(v)
            for k, v in settings.public().items()
            if k in ("embed_runtime", "chunk_size", "chunk_overlap", "embed_batch_size", "embed_threads")
        },
        "ingest_runtime": report.embed_runtime or ingest_runtime(settings),
    }


def work_naive(spec: dict[str, Any]) -> dict[str, Any]:
    # Import cost is left out on both sides; the model load is inside the timing on both sides
    # (ingest_paths loads our embedder itself).
    import chromadb  # noqa: F401
    import llama_index.core  # noqa: F401
    import llama_index.embeddings.huggingface  # noqa: F401
    import llama_index.vector_stores.chroma  # noqa: F401

    load0 = os.getloadavg()[0]
    c0 = cpu_seconds()
    t0 = time.perf_counter()
    _, col, load = build_index(Path(spec["corpus"]), Path(spec["data"]))
    secs = time.perf_counter() - t0
    n = col.count()
    return {
        "seconds": secs,
        "cpu_seconds": cpu_seconds() - c0,
        "model_load_seconds": load,
        "texts_embedded": n,
        "chunks_total": n,
        "peak_rss_mb": peak_rss_mb(),
        "load_before": load0,
        "load_after": os.getloadavg()[0],
    }


def _dev_questions() -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in DEV_SET.read_text().splitlines() if line.strip()]
    return [r for r in rows if r.get("answerable", True) and r.get("sources")]


def work_quality_ours(spec: dict[str, Any]) -> dict[str, Any]:
    from index.ingest import ingest_paths
    from rag.pipeline import build_pipeline

    settings = _settings(Path(spec["data"]))
    ingest_paths([SEED_CORPUS], settings, progress=False)
    pipe = build_pipeline(settings)
    per: list[dict[str, Any]] = []
    for q in _dev_questions():
        hits = pipe.retriever.retrieve(q["question"], k=5).hits
        got = list(dict.fromkeys(h.chunk.article_id for h in hits))[:5]
        per.append({"id": q["id"], "hit": any(s in got for s in q["sources"]), "retrieved": got})
    return {"hit_at_5": sum(p["hit"] for p in per) / len(per), "n": len(per), "per_question": per}


def work_quality_naive(spec: dict[str, Any]) -> dict[str, Any]:
    index, _, _ = build_index(SEED_CORPUS, Path(spec["data"]))
    retriever = index.as_retriever(similarity_top_k=TOP_K)
    per: list[dict[str, Any]] = []
    for q in _dev_questions():
        nodes = retriever.retrieve(q["question"])
        got = list(dict.fromkeys(n.node.metadata[ARTICLE_ID] for n in nodes))[:5]
        per.append({"id": q["id"], "hit": any(s in got for s in q["sources"]), "retrieved": got})
    return {"hit_at_5": sum(p["hit"] for p in per) / len(per), "n": len(per), "per_question": per}


WORKERS = {
    "ours": work_ours,
    "naive": work_naive,
    "quality_ours": work_quality_ours,
    "quality_naive": work_quality_naive,
}


# ---------------------------------------------------------------- orchestration
def run_worker(kind: str, _module: str = "bench.ingest", **spec: Any) -> dict[str, Any]:
    """Run one worker of `_module` in a fresh interpreter; its last stdout line is the JSON result."""
    spec = {"kind": kind, **spec}
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false", "ANONYMIZED_TELEMETRY": "False"}
    t = time.perf_counter()
    proc = subprocess.run(
        [PYTHON, "-m", _module, "--worker", json.dumps(spec)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        env=env,
    )
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr[-4000:])
        raise RuntimeError(f"worker {kind} failed with exit code {proc.returncode}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    result["process_seconds"] = time.perf_counter() - t
    return result


def cold_start(data_dir: Path, repeats: int) -> dict[str, Any]:
    """Wall time of a fresh process answering one question: `rag ask`, else build_pipeline + ask."""
    env = {**os.environ, "RAG_DATA_DIR": str(data_dir)}
    cli = PROJECT_ROOT / "rag" / "cli.py"
    rag_bin = PROJECT_ROOT / ".venv" / "bin" / "rag"
    if cli.exists() and rag_bin.exists():
        cmd = [str(rag_bin), "ask", COLD_QUESTION, "--data-dir", str(data_dir)]
        how = "rag ask"
    else:
        code = (
            "from pathlib import Path; from rag.settings import Settings; from rag.pipeline import build_pipeline; "
            f"print(build_pipeline(Settings.from_env(data_dir=Path({str(data_dir)!r}))).ask({COLD_QUESTION!r}).text)"
        )
        cmd = [PYTHON, "-c", code]
        how = "python -c build_pipeline(...).ask(...) (rag/cli.py not present)"
    times: list[float] = []
    for _ in range(repeats):
        t = time.perf_counter()
        proc = subprocess.run(cmd, cwd=PROJECT_ROOT, capture_output=True, text=True, env=env)
        times.append(time.perf_counter() - t)
        if proc.returncode != 0:
            return {"how": how, "error": proc.stderr[-2000:], "seconds": times}
    return {
        "how": how,
        "seconds": times,
        "median_seconds": statistics.median(times),
        "answer_head": proc.stdout[:200],
    }


def machine() -> dict[str, Any]:
    cpu = next(
        (
            ln.split(":", 1)[1].strip()
            for ln in Path("/proc/cpuinfo").read_text().splitlines()
            if ln.startswith("model name")
        ),
        "?",
    )
    mem = next(
        (ln.split()[1] for ln in Path("/proc/meminfo").read_text().splitlines() if ln.startswith("MemTotal")),
        "0",
    )
    versions: dict[str, str] = {}
    from importlib.metadata import PackageNotFoundError, version

    for pkg in (
        "torch",
        "onnxruntime",
        "chromadb",
        "llama-index-core",
        "sentence-transformers",
        "transformers",
    ):
        try:
            versions[pkg] = version(pkg)
        except PackageNotFoundError:
            versions[pkg] = "-"
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "ram_gib": round(int(mem) / 1024 / 1024, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
        "versions": versions,
    }


def _median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median time (the upper middle one for an even count)."""
    return sorted(runs, key=lambda r: r["seconds"])[len(runs) // 2]


def _mbps(size: int, secs: float) -> float:
    return size / 1e6 / secs if secs > 0 else float("nan")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(
        description=(
            "Ingestion benchmark: our ingest_paths (auto runtime, 128-token chunks) against naive llama-index "
            "(HuggingFaceEmbedding + SentenceSplitter(256, 32) + ChromaVectorStore) on the same synthetic corpus. "
            "Each pipeline runs in its own subprocess; peak RSS is that process's VmHWM. "
            "Prints a table and writes results.json into --out."
        )
    )
    ap.add_argument("--docs", type=int, default=2000, help="synthetic articles in the corpus (default 2000)")
    ap.add_argument("--seed", type=int, default=1234, help="corpus random seed (default 1234)")
    ap.add_argument(
        "--repeats",
        type=int,
        default=1,
        help="first-ingest runs per pipeline, interleaved; medians are compared (default 1)",
    )
    ap.add_argument(
        "--out",
        type=Path,
        default=Path("/tmp/rag-bench/ingest"),
        help="results directory (default /tmp/rag-bench/ingest)",
    )
    ap.add_argument(
        "--work",
        type=Path,
        default=None,
        help="scratch directory for corpora and stores (default: a tmp dir)",
    )
    ap.add_argument(
        "--skip-naive", action="store_true", help="do not run the naive llama-index pipeline (b, c, naive f)"
    )
    ap.add_argument(
        "--skip-int8",
        action="store_true",
        help="do not also time ours with the onnx-int8 ingest runtime (a2)",
    )
    ap.add_argument("--skip-quality", action="store_true", help="do not run the dev-set hit@5 guard (f)")
    ap.add_argument(
        "--cold-repeats", type=int, default=3, help="cold-start runs of `rag ask` (median reported)"
    )
    ap.add_argument(
        "--ablation", action="store_true", help="also time ours with torch/onnx/onnx-int8 and chunk 128/256"
    )
    ap.add_argument(
        "--ablation-docs", type=int, default=300, help="articles in the ablation corpus (default 300)"
    )
    ap.add_argument("--keep", action="store_true", help="keep the scratch directory")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.worker:
        spec = json.loads(args.worker)
        print(json.dumps(WORKERS[spec["kind"]](spec)))
        return

    work = args.work or Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    work.mkdir(parents=True, exist_ok=True)
    args.out.mkdir(parents=True, exist_ok=True)
    res: dict[str, Any] = {
        "machine": machine(),
        "docs": args.docs,
        "seed": args.seed,
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    res["load_at_start"] = os.getloadavg()

    corpus = work / f"corpus-{args.docs}"
    shutil.rmtree(corpus, ignore_errors=True)
    write_txt(generate(args.docs, args.seed), corpus)
    n_art, size = article_text_bytes(corpus)
    res["corpus"] = {"dir": str(corpus), "articles": n_art, "article_text_bytes": size}
    print(f"corpus: {n_art} articles, {size / 1e6:.2f} MB of article text in {corpus}", flush=True)

    # First ingests, interleaved (ours, naive, ours-int8) and repeated: this VM's throughput drifts by
    # 10-20% over minutes, so each pipeline's median run is compared, and every run is kept.
    ours_dir = work / "store-ours"
    pipelines: list[tuple[str, str, dict[str, Any]]] = [("ours", "a) ours", {})]
    if not args.skip_naive:
        pipelines.append(("naive", "b) naive llama-index", {}))
    if not args.skip_int8:
        pipelines.append(("ours_int8", "a2) ours, onnx-int8 ingest runtime", {"ingest_runtime": "onnx-int8"}))
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name, _, _ in pipelines}
    for rep in range(args.repeats):
        for name, label, overrides in pipelines:
            data = ours_dir if name == "ours" else work / f"store-{name}"
            shutil.rmtree(data, ignore_errors=True)
            print(f"{label}: first ingest, run {rep + 1}/{args.repeats} ...", flush=True)
            kind = "naive" if name == "naive" else "ours"
            r = run_worker(kind, corpus=str(corpus), data=str(data), overrides=overrides)
            r["mb_per_s"] = _mbps(size, r["seconds"])
            r["chunks_per_s"] = r["texts_embedded"] / r["seconds"]
            runs[name].append(r)
            print(
                f"   {r['seconds']:.1f} s, {r['mb_per_s']:.4f} MB/s, {r['chunks_per_s']:.1f} chunks/s",
                flush=True,
            )
            if name != "ours":
                shutil.rmtree(data, ignore_errors=True)
    res["runs"] = runs
    for name, rs in runs.items():
        res[name] = _median_run(rs)
    ours = res["ours"]
    if "naive" in res:
        res["ratio_mb_per_s"] = ours["mb_per_s"] / res["naive"]["mb_per_s"]
        res["ratio_per_repeat"] = [
            o["mb_per_s"] / n["mb_per_s"] for o, n in zip(runs["ours"], runs["naive"], strict=True)
        ]
        if "ours_int8" in res:
            res["ratio_int8_mb_per_s"] = res["ours_int8"]["mb_per_s"] / res["naive"]["mb_per_s"]

    print("d) ours: re-ingest of the unchanged corpus ...", flush=True)
    again = run_worker("ours", corpus=str(corpus), data=str(ours_dir))
    again["speedup"] = ours["seconds"] / again["seconds"]
    res["reingest"] = again
    print(
        f"   {again['seconds']:.2f} s, {again['texts_embedded']} embedded, {again['speedup']:.0f}x",
        flush=True,
    )

    print("e) cold start ...", flush=True)
    res["cold_start"] = cold_start(ours_dir, args.cold_repeats)

    if not args.skip_quality:
        print("f) quality guard: dev-set hit@5 ...", flush=True)
        q: dict[str, Any] = {"ours": run_worker("quality_ours", data=str(work / "q-ours"))}
        if not args.skip_naive:
            q["naive"] = run_worker("quality_naive", data=str(work / "q-naive"))
        res["quality"] = q

    if args.ablation:
        small = work / f"corpus-{args.ablation_docs}"
        shutil.rmtree(small, ignore_errors=True)
        write_txt(generate(args.ablation_docs, args.seed), small)
        _, small_size = article_text_bytes(small)
        rows: list[dict[str, Any]] = []
        for runtime, chunk in (
            ("torch-bf16", 128),
            ("onnx-int8", 128),
            ("onnx", 128),
            ("torch", 128),
            ("onnx-int8", 256),
        ):
            d = work / f"abl-{runtime}-{chunk}"
            shutil.rmtree(d, ignore_errors=True)
            print(f"g) ablation {runtime} chunk {chunk} ...", flush=True)
            r = run_worker(
                "ours",
                corpus=str(small),
                data=str(d),
                overrides={"ingest_runtime": runtime, "chunk_size": chunk},
            )
            r.update(
                runtime=runtime,
                chunk_size=chunk,
                mb_per_s=_mbps(small_size, r["seconds"]),
                chunks_per_s=r["texts_embedded"] / r["seconds"],
            )
            rows.append(r)
            shutil.rmtree(d, ignore_errors=True)
        if not args.skip_naive:
            d = work / "abl-naive"
            shutil.rmtree(d, ignore_errors=True)
            print("g) ablation naive ...", flush=True)
            r = run_worker("naive", corpus=str(small), data=str(d))
            r.update(
                runtime="naive llama-index (torch)",
                chunk_size=256,
                mb_per_s=_mbps(small_size, r["seconds"]),
                chunks_per_s=r["texts_embedded"] / r["seconds"],
            )
            rows.append(r)
        res["ablation"] = {"docs": args.ablation_docs, "article_text_bytes": small_size, "rows": rows}

    res["load_at_end"] = os.getloadavg()
    res["finished"] = time.strftime("%Y-%m-%d %H:%M:%S")
    (args.out / "results.json").write_text(json.dumps(res, indent=2))
    print_table(res)
    print(f"\nresults: {args.out / 'results.json'}")
    if not args.keep and args.work is None:
        shutil.rmtree(work, ignore_errors=True)


def print_table(res: dict[str, Any]) -> None:
    o, n = res["ours"], res.get("naive")
    print(
        f"\n## Ingestion, {res['corpus']['articles']} articles, {res['corpus']['article_text_bytes'] / 1e6:.2f} MB of text"
    )
    print("| pipeline | seconds | CPU s | MB/s | chunks | chunks/s | peak RSS MB |")
    print("|---|---|---|---|---|---|---|")
    i8 = res.get("ours_int8")
    rows = (
        (f"ours ({o['ingest_runtime']}, 128/0)", o),
        ("ours (onnx-int8, 128/0)", i8),
        ("naive llama-index (torch, 256/32)", n),
    )
    for name, r in rows:
        if r:
            print(
                f"| {name} | {r['seconds']:.1f} | {r['cpu_seconds']:.1f} | {r['mb_per_s']:.4f} | {r['chunks_total']} | {r['chunks_per_s']:.1f} | {r['peak_rss_mb']:.0f} |"
            )
    if "ratio_mb_per_s" in res:
        per = ", ".join(f"{x:.2f}x" for x in res.get("ratio_per_repeat", []))
        print(
            f"ours/naive MB/s, median runs: {res['ratio_mb_per_s']:.2f}x (target >= 2.5x); per repeat: {per}"
        )
    for name, rs in res.get("runs", {}).items():
        times = ", ".join(f"{r['seconds']:.1f}" for r in rs)
        print(f"  {name} runs (s): {times}")
    if "ratio_int8_mb_per_s" in res:
        print(f"ours (onnx-int8)/naive MB/s: {res['ratio_int8_mb_per_s']:.2f}x")
    r = res["reingest"]
    print(
        f"re-ingest unchanged: {r['seconds']:.2f} s, {r['texts_embedded']} texts embedded, {r['speedup']:.0f}x faster (target 0, >= 50x)"
    )
    c = res["cold_start"]
    print(f"cold start ({c['how']}): {c.get('median_seconds', float('nan')):.2f} s median of {c['seconds']}")
    if "quality" in res:
        q = res["quality"]
        print(
            f"dev hit@5: ours {q['ours']['hit_at_5']:.3f}"
            + (f", naive {q['naive']['hit_at_5']:.3f}" if "naive" in q else "")
            + f" (n={q['ours']['n']})"
        )
    if "ablation" in res:
        print(f"\n## Ablation, {res['ablation']['docs']} articles")
        print("| runtime | chunk | seconds | MB/s | chunks | chunks/s | peak RSS MB |")
        print("|---|---|---|---|---|---|---|")
        for a in res["ablation"]["rows"]:
            print(
                f"| {a['runtime']} | {a['chunk_size']} | {a['seconds']:.1f} | {a['mb_per_s']:.4f} | {a['chunks_total']} | {a['chunks_per_s']:.1f} | {a['peak_rss_mb']:.0f} |"
            )
    print(f"load average at start {res['load_at_start']}, at end {res['load_at_end']}")


if __name__ == "__main__":
    main()
