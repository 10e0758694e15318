"""`rag serve` as a user meets it: time to the first page on an empty and on a 2,000-article store,
and query latency (p50/p95 through the UI's /chat endpoint) with and without an ingest running.

    .venv/bin/python -m bench.ui_serve --work /tmp/ui-bench            # builds the store once (onnx-int8)
    .venv/bin/python -m bench.ui_serve --work /tmp/ui-bench --queries 40
    .venv/bin/python -m bench.ui_serve --store /tmp/rag-bench/pq/index-100000/ours --before ../perf-query-before

The store is built once in --work. The ingest that runs during the second latency pass adds
--extra new articles with another `rag ingest` process, as a terminal would; after it the store
holds them, so measure that pass again with a fresh --work. Numbers are wall-clock on whatever else the machine is doing: the script prints the load.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

from bench.corpus import generate, write_txt

ROOT = Path(__file__).resolve().parent.parent
RAG = str(ROOT / ".venv" / "bin" / "rag")
QUESTIONS = (
    "How many drones were shot down over Kharkiv?",
    "What is happening in Kupiansk?",
    "Who heads the communications department of the Joint Forces Task Force?",
    "What did officials say about the attack on Izium?",
    "How many people were wounded in Zaporizhzhia?",
    "What happened in Vovchansk in the latest reports?",
    "Which organisation delivered generators to hospitals?",
    "What did the governor of the Kharkiv region report?",
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def env_for(data_dir: Path) -> dict[str, str]:
    return {**os.environ, "RAG_DATA_DIR": str(data_dir), "RAG_INGEST_RUNTIME": "onnx-int8"}


def first_page(data_dir: Path, code: Path | None = None) -> tuple[float, subprocess.Popen[bytes], str]:
    """Seconds from `rag serve` to the first 200 on / (and the running server). With `code`, the
    server is `python -m rag.cli serve` run in that checkout (its rag/, ui/) instead of .venv/bin/rag."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "rag.cli", "serve"] if code else [RAG, "serve"]
    t0 = time.perf_counter()
    proc = subprocess.Popen([*cmd, "--port", str(port)], env=env_for(data_dir), cwd=code,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    while True:
        if proc.poll() is not None:
            raise SystemExit(f"rag serve exited with {proc.returncode}")
        try:
            if httpx.get(url + "/", timeout=1).status_code == 200:
                return time.perf_counter() - t0, proc, url
        except httpx.HTTPError:
            time.sleep(0.05)


def latencies(url: str, n: int, until: subprocess.Popen[bytes] | None = None) -> list[float]:
    """Milliseconds per /chat answer, n questions in turn (or while `until` runs, at most n)."""
    from gradio_client import Client

    client = Client(url + "/", verbose=False, analytics_enabled=False, download_files=False)
    out = []
    for i in range(n):
        if until is not None and until.poll() is not None:
            break
        t0 = time.perf_counter()
        client.predict(QUESTIONS[i % len(QUESTIONS)], "", "", [], 5, "extractive", "", api_name="/chat")
        out.append((time.perf_counter() - t0) * 1000)
    return out


def p95(xs: list[float]) -> float:
    return statistics.quantiles(xs, n=20)[18] if len(xs) >= 20 else max(xs)


def describe(name: str, xs: list[float]) -> str:
    return (
        f"{name}: n={len(xs)} p50 {statistics.median(xs):.0f} ms, p95 {p95(xs):.0f} ms, max {max(xs):.0f} ms"
    )


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} CPUs"


def import_gradio_seconds() -> float:
    """`import gradio` alone, in a fresh interpreter: the floor under any cold start."""
    code = "import time; t = time.perf_counter(); import gradio; print(time.perf_counter() - t)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def cold_start(store: Path, repeats: int, codes: dict[str, Path]) -> None:
    """Cold start on an existing store (e.g. bench.query's 100k-chunk one), each checkout in turn:
    seconds to the first page, and to the first answer of a question sent as soon as the page is up."""
    from gradio_client import Client

    times: dict[str, dict[str, list[float]]] = {n: {"page": [], "answer": []} for n in codes}
    gradio_alone = []
    for r in range(repeats):
        gradio_alone.append(import_gradio_seconds())
        for name, code in codes.items():
            t0 = time.perf_counter()
            secs, proc, url = first_page(store, code)
            try:
                client = Client(url + "/", verbose=False, analytics_enabled=False, download_files=False)
                client.predict(QUESTIONS[0], "", "", [], 5, "extractive", "", api_name="/chat")
                answered = time.perf_counter() - t0
            finally:
                proc.terminate()
                proc.wait(30)
            times[name]["page"].append(secs)
            times[name]["answer"].append(answered)
            print(
                f"run {r + 1} {name}: first page {secs:.2f} s, first answer {answered:.2f} s ({load()})",
                flush=True,
            )
    print(f"import gradio alone: median {statistics.median(gradio_alone):.2f} s of {gradio_alone}")
    for name, t in times.items():
        print(
            f"{name}: first page median {statistics.median(t['page']):.2f} s (min {min(t['page']):.2f}), "
            f"first answer median {statistics.median(t['answer']):.2f} s"
        )


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, default=Path("/tmp/ui-bench"))
    ap.add_argument("--docs", type=int, default=2000)
    ap.add_argument("--extra", type=int, default=300, help="articles ingested during the second pass")
    ap.add_argument("--queries", type=int, default=40)
    ap.add_argument(
        "--store", type=Path, help="only time cold starts on this existing store (see cold_start)"
    )
    ap.add_argument("--before", type=Path, help="with --store: also time this older checkout's `rag serve`")
    ap.add_argument("--repeats", type=int, default=3, help="with --store: cold starts per checkout")
    args = ap.parse_args(argv)
    if args.store:
        codes = {"after": ROOT, **({"before": args.before.resolve()} if args.before else {})}
        print(load())
        cold_start(args.store, args.repeats, codes)
        print(load())
        return
    work: Path = args.work
    store, corpus, extra = work / "store", work / "corpus", work / "extra"
    print(load())

    empty = work / "empty-store"
    subprocess.run(["rm", "-rf", str(empty)], check=True)
    secs, proc, _ = first_page(empty)
    proc.terminate()
    proc.wait(30)
    print(f"first page, empty store: {secs:.2f} s")

    if not (store / "catalog.sqlite").exists():
        articles = generate(args.docs + args.extra)
        write_txt(articles[: args.docs], corpus)
        write_txt(articles[args.docs :], extra)
        t0 = time.perf_counter()
        subprocess.run([RAG, "ingest", str(corpus), "--quiet"], env=env_for(store), check=True,
                       stdout=subprocess.DEVNULL)  # fmt: skip
        print(f"built the {args.docs}-article store with onnx-int8 in {time.perf_counter() - t0:.0f} s")
    secs, proc, url = first_page(store)
    print(f"first page, {args.docs}-article store: {secs:.2f} s")
    try:
        latencies(url, 3)  # warm-up: model, BM25 and caches
        quiet = latencies(url, args.queries)
        print(describe("queries, no ingest running", quiet))
        print(load())
        ing = subprocess.Popen([RAG, "ingest", str(extra), "--quiet"], env=env_for(store),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        t0 = time.perf_counter()
        busy = latencies(url, args.queries * 10, until=ing)
        ing.wait()
        print(
            f"ingest of {args.extra} articles took {time.perf_counter() - t0:.0f} s (exit {ing.returncode})"
        )
        print(describe("queries while `rag ingest` runs", busy))
        print(load())
    finally:
        proc.terminate()
        proc.wait(30)


if __name__ == "__main__":
    main()
