"""Query cost against index size (issue 14): p50/p95, CPU per question, RSS and per-stage times of
`pipeline.ask()` at several sizes, with embedded Chroma and with a Chroma server, for this code and
(optionally) an older checkout of the product measured in the same session.

    .venv/bin/python -m bench.query_scale --sizes 10000,100000,300000 --modes embedded,server \\
        --before /work/wt/perf-query-before --repeats 3 --out /tmp/rag-bench/pq

Each size's store is built once by bench.query (see its docstring) and cached in --out/index-N/;
both checkouts read the same store. --before DIR is a worktree of the older commit whose bench/
holds the same bench/query.py, bench/query_scale.py, bench/ingest.py and bench/corpus.py as this one
(checked): its workers run with DIR as their working directory, so they import DIR's rag/.
Server mode starts `chroma run --path <store>/chroma` on loopback (the same files the embedded
client reads) and points RAG_CHROMA_URL at it; its CPU is added to the worker's, and its RSS shown
beside. Runs of the two checkouts alternate (after, before, after, ...) and medians are reported.
"""

from __future__ import annotations

import argparse
import filecmp
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.ingest import machine
from bench.query import _process_rss_mb, build_index

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
SHARED = ("bench/query.py", "bench/query_scale.py", "bench/ingest.py", "bench/corpus.py")
STAGES = ("plan", "embed_query", "dense", "lexical", "fuse", "answer")


def run_ours(code: Path, spec: dict[str, Any]) -> dict[str, Any]:
    """bench.query's "ours" worker in a fresh interpreter whose working directory is `code`."""
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false", "ANONYMIZED_TELEMETRY": "False"}
    env.pop("RAG_CHROMA_URL", None)
    proc = subprocess.run(
        [PYTHON, "-m", "bench.query", "--worker", json.dumps({"kind": "ours", **spec})],
        cwd=code, capture_output=True, text=True, env=env,
    )  # fmt: skip
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr[-4000:])
        raise RuntimeError(f"worker in {code} failed with exit code {proc.returncode}")
    out: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def chroma_server(path: Path, log: Path) -> Iterator[tuple[str, int]]:
    """`chroma run` over `path` on a loopback port: (url, pid) until the block ends."""
    port = _free_port()
    with log.open("w") as out:
        proc = subprocess.Popen(
            [str(Path(PYTHON).parent / "chroma"), "run", "--host", "127.0.0.1", "--port", str(port),
             "--path", str(path)],
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 120
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"chroma run exited: {log.read_text()[-2000:]}")
                try:
                    with urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=2) as r:
                        if r.status == 200:
                            break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError("chroma run did not answer its heartbeat in 120 s")
                time.sleep(0.2)
            yield url, proc.pid
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def measure(
    root: Path, mode: str, codes: dict[str, Path], repeats: int, common: dict[str, Any], out: Path
) -> dict[str, list[dict[str, Any]]]:
    """Every checkout `repeats` times over the store in root, alternating; results per checkout."""
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in codes}

    def once(extra: dict[str, Any], server_pid: int | None) -> None:
        for r in range(repeats):
            for name, code in codes.items():
                t = time.perf_counter()
                res = run_ours(code, {"data": str(root / "ours"), **common, **extra})
                if server_pid:
                    res["server_rss_mb"] = _process_rss_mb(server_pid)
                res["wall_seconds"] = time.perf_counter() - t
                runs[name].append(res)
                a = res["ask"]
                print(
                    f"  {mode} {name} run {r + 1}: p50 {a['p50_ms']:.1f} p95 {a['p95_ms']:.1f} ms, "
                    f"cpu {res['ask_cpu_ms_per_question'] + res['server_cpu_ms_per_question']:.1f} ms/q, "
                    f"rss {res['peak_rss_mb']:.0f} MB",
                    flush=True,
                )

    if mode == "embedded":
        once({}, None)
    else:
        with chroma_server(root / "ours" / "chroma", out / f"chroma-{root.name}.log") as (url, pid):
            once({"chroma_url": url, "server_pid": pid}, pid)
    return runs


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    def med(f: Any) -> float:
        return float(statistics.median(f(r) for r in runs))

    return {
        "runs": len(runs),
        "p50_ms": med(lambda r: r["ask"]["p50_ms"]),
        "p95_ms": med(lambda r: r["ask"]["p95_ms"]),
        "cpu_ms_per_question": med(lambda r: r["ask_cpu_ms_per_question"] + r["server_cpu_ms_per_question"]),
        "server_cpu_ms_per_question": med(lambda r: r["server_cpu_ms_per_question"]),
        "peak_rss_mb": med(lambda r: r["peak_rss_mb"]),
        "server_rss_mb": med(lambda r: r.get("server_rss_mb", {}).get("VmHWM", 0.0)),
        "open_seconds": med(lambda r: r["open_seconds"]),
        "stages_p50_ms": {s: med(lambda r, s=s: r["stages_p50_ms"].get(s, 0.0)) for s in STAGES},
        "chunks": runs[0]["chunks"],
        "abstained": runs[0]["abstained"],
    }


def print_table(res: dict[str, Any]) -> None:
    print(
        "\n| chunks | mode | code | p50 ms | p95 ms | CPU ms/question | peak RSS MB | "
        + " | ".join(STAGES)
        + " |"
    )
    print("|---" * (7 + len(STAGES)) + "|")
    for row in res["rows"]:
        s = row["summary"]
        rss = f"{s['peak_rss_mb']:.0f}" + (
            f" + server {s['server_rss_mb']:.0f}" if row["mode"] == "server" else ""
        )
        stages = " | ".join(f"{s['stages_p50_ms'][k]:.1f}" for k in STAGES)
        print(
            f"| {s['chunks']:,} | {row['mode']} | {row['code']} | {s['p50_ms']:.1f} | {s['p95_ms']:.1f} | "
            f"{s['cpu_ms_per_question']:.1f} | {rss} | {stages} |"
        )
    print(
        f"\n{res['machine'].get('cpu')}; load average at start {res['load_at_start']}, at end {res['load_at_end']}"
    )


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="10000,100000,300000", help="chunk counts, comma-separated")
    ap.add_argument("--modes", default="embedded,server", help="embedded and/or server")
    ap.add_argument("--before", type=Path, help="a worktree of the older commit to measure beside this one")
    ap.add_argument("--repeats", type=int, default=3, help="runs per checkout, size and mode (medians)")
    ap.add_argument("--questions", type=int, default=200)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--real-docs", type=int, default=300)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--out", type=Path, default=Path("/tmp/rag-bench/query"))
    args = ap.parse_args(argv)
    codes = {"after": ROOT}
    if args.before:
        for f in SHARED:
            if not filecmp.cmp(ROOT / f, args.before / f, shallow=False):
                raise SystemExit(f"{args.before / f} differs from {ROOT / f}: copy this bench/ there first")
        codes = {"after": ROOT, "before": args.before.resolve()}
    args.out.mkdir(parents=True, exist_ok=True)
    common = {"questions": args.questions, "warmup": args.warmup, "seed": args.seed}
    res: dict[str, Any] = {"machine": machine(), "load_at_start": os.getloadavg(), "rows": [],
                           "started": time.strftime("%Y-%m-%d %H:%M:%S"), "codes": {k: str(v) for k, v in codes.items()}}  # fmt: skip
    for n in (int(x) for x in args.sizes.split(",")):
        root = args.out / f"index-{n}"
        build = build_index(root, n, args.real_docs, args.seed, naive=False)
        for mode in args.modes.split(","):
            print(f"{n} chunks, {mode} ...", flush=True)
            runs = measure(root, mode, codes, args.repeats, common, args.out)
            for name, rs in runs.items():
                res["rows"].append(
                    {"chunks": n, "mode": mode, "code": name, "summary": summarise(rs), "runs": rs}
                )
            res["build_" + str(n)] = build
            (args.out / "scale.json").write_text(json.dumps(res, indent=2))
    res["load_at_end"] = os.getloadavg()
    res["finished"] = time.strftime("%Y-%m-%d %H:%M:%S")
    (args.out / "scale.json").write_text(json.dumps(res, indent=2))
    print_table(res)
    print(f"\nresults: {args.out / 'scale.json'}")


if __name__ == "__main__":
    main()
