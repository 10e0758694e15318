"""Latency under load (issue 13, defect 8): N concurrent chat clients against a real `rag serve`,
without and with a `rag ingest` process writing to the same data directory.

Each client is a browser's worth of traffic through the Gradio queue the chat page uses: it joins
the `/chat` event (POST gradio_api/queue/join), reads the event stream (GET gradio_api/queue/data)
until the answer is complete, then, as the page does after every answer, the conversation exports.
It asks the next question as soon as the answer is complete (no think time: the worst case), each
client cycling through varied questions from its own offset.

Per answer it records the client-side latency (join to completion), the queue wait (join to
`process_starts`, i.e. until a worker took the event) and the pipeline's own time (the trace's
`total` timing); the server's CPU time comes from /proc. Prints a table and writes JSON.

    .venv/bin/python -m bench.load --work /tmp/load-bench --label after --out bench/results/load.json
    # the same script against another checkout (e.g. main at ddf0c8b exported to /tmp/load-base):
    .venv/bin/python -m bench.load --code /tmp/load-base --label before ...

The store (--docs generated articles) is built once in --work; every pass serves a fresh copy of
it, and the ingest pass adds --extra new articles with a separate `rag ingest` process, whose
duration is compared with the same ingest run alone (no server, no clients).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from bench.corpus import generate, write_txt

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = (
    "How many drones were shot down over Kharkiv?",
    "What is happening in Kupiansk?",
    "Who heads the communications department of the Joint Forces Task Force?",
    "What did officials say about the attack on Izium?",
    "How many people were wounded in Zaporizhzhia?",
    "What happened in Vovchansk in the latest reports?",
    "Which organisation delivered generators to hospitals?",
    "What did the governor of the Kharkiv region report?",
    "Where did the shelling damage power lines?",
    "What did the mayor of Odesa say about the port?",
    "How many civilians were evacuated from the front-line villages?",
    "What aid arrived in Kherson this week?",
)
TURNS = 3  # questions per conversation; then the client opens a new page
TOTAL_RE = re.compile(r"total (\d+) ms")
TIMING_RE = re.compile(r"(\w+) (\d+) ms")  # the trace's "Timings: plan 1 ms · embed_query 4 ms · ..."


def cpu_info() -> dict[str, Any]:
    model, flags = "?", set()
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name") and model == "?":
            model = line.split(":", 1)[1].strip()
        if line.startswith("flags"):
            flags = set(line.split(":", 1)[1].split())
    wanted = ("avx2", "avx512f", "avx512_bf16", "avx512_vnni", "amx_bf16", "amx_int8")
    return {"model": model, "cpus": os.cpu_count(), "flags": [f for f in wanted if f in flags]}


def proc_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process (and its reaped children)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rag_cmd(code: Path, *args: str) -> list[str]:
    """`rag ARGS` run from the checkout `code` (its directory first on sys.path)."""
    return [sys.executable, "-c", "import sys; from rag.cli import main; sys.exit(main())", *args]


def run_env(data_dir: Path, extra: dict[str, str]) -> dict[str, str]:
    env = {**os.environ, "RAG_DATA_DIR": str(data_dir), "RAG_INGEST_RUNTIME": "onnx-int8"}
    env.update({"HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False", **extra})
    return env


def start_server(code: Path, data_dir: Path, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(rag_cmd(code, "serve", "--port", str(port)), cwd=code, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"rag serve exited with {proc.returncode}")
        try:
            if httpx.get(url + "/config", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit("rag serve did not answer in 180 s")


def endpoints(url: str) -> dict[str, Any]:
    """fn ids and input layouts of /chat and the exports step that the page runs after it."""
    cfg = httpx.get(url + "/config", timeout=10).json()
    deps = cfg["dependencies"]
    chat = next(d for d in deps if d.get("api_name") == "chat")
    after = next((d for d in deps if d.get("trigger_after") == chat["id"]), None)
    return {"chat": chat["id"], "n_inputs": len(chat["inputs"]), "exports": after and after["id"],
            "n_export_inputs": len(after["inputs"]) if after else 0}  # fmt: skip


async def call(http: httpx.AsyncClient, url: str, fn: int, data: list[Any], session: str) -> dict[str, Any]:
    """One queued event: join, then read its stream to the end. Times in seconds from the join."""
    t0 = time.perf_counter()
    r = await http.post(url + "/gradio_api/queue/join",
                        json={"data": data, "fn_index": fn, "session_hash": session, "event_data": None,
                              "trigger_id": None})  # fmt: skip
    if r.status_code != 200:
        return {
            "ok": False,
            "error": f"join {r.status_code}: {r.text[:120]}",
            "latency": time.perf_counter() - t0,
        }
    out: dict[str, Any] = {"ok": False, "error": "stream ended", "started": None, "text": ""}
    async with http.stream("GET", url + "/gradio_api/queue/data", params={"session_hash": session}) as s:
        async for line in s.aiter_lines():
            if not line.startswith("data:"):
                continue
            msg = json.loads(line[5:])
            kind = msg.get("msg")
            if kind == "process_starts" and out["started"] is None:
                out["started"] = time.perf_counter() - t0
            elif kind == "process_generating":
                out["text"] = line  # the last step carries the trace
            elif kind == "process_completed":
                ok = bool(msg.get("success")) and bool(msg.get("output", {}).get("data") is not None)
                out.update(ok=ok, error=None if ok else str(msg.get("output", {}).get("error"))[:120])
                out["text"] += line
                break
            elif kind in ("unexpected_error", "close_stream"):
                out["error"] = kind
                break
    out["latency"] = time.perf_counter() - t0
    return out


async def client(
    i: int, url: str, ep: dict[str, Any], stop_at: list[float], rows: list[dict[str, Any]]
) -> None:
    n, session = 0, ""
    timeout = httpx.Timeout(120.0, connect=30.0)
    async with httpx.AsyncClient(timeout=timeout, limits=httpx.Limits(max_connections=4)) as http:
        while time.monotonic() < stop_at[0]:
            if n % TURNS == 0:  # a new page: a new conversation (its State lives in the session)
                session = uuid.uuid4().hex
            q = QUESTIONS[(i + n) % len(QUESTIONS)]
            n += 1
            data: list[Any] = [q, None, "", "", [], 5, "extractive", None, None][: ep["n_inputs"]]
            t_wall = time.time()
            try:
                r = await call(http, url, ep["chat"], data, session)
            except httpx.HTTPError as exc:
                r = {"ok": False, "error": type(exc).__name__, "latency": None, "text": ""}
            text = r.pop("text", "")
            m = TOTAL_RE.findall(text)
            stages = dict(TIMING_RE.findall(text[text.rfind("Timings:") :][:600])) if m else {}
            rows.append({"client": i, "t": t_wall, "ok": r["ok"], "error": r.get("error"),
                         "latency": r["latency"], "queued": r.get("started"),
                         "server_ms": float(m[-1]) if m else None, "cited": r["ok"] and bool(m),
                         "stages_ms": {k: float(v) for k, v in stages.items()}})  # fmt: skip
            if r["ok"] and ep["exports"] is not None:
                with contextlib.suppress(httpx.HTTPError):
                    await call(http, url, ep["exports"], [None] * ep["n_export_inputs"], session)
            if not r["ok"]:
                await asyncio.sleep(0.5)


def load_pass(
    url: str, clients: int, duration: float, until: subprocess.Popen[bytes] | None
) -> tuple[list[dict[str, Any]], float]:
    """Run `clients` for `duration` s (and, with `until`, at least until that process exits);
    returns the answers and when `until` exited (perf_counter)."""
    ep = endpoints(url)
    rows: list[dict[str, Any]] = []
    stop_at = [time.monotonic() + duration]
    ended = [time.perf_counter()]

    async def main() -> None:
        tasks = [asyncio.create_task(client(i, url, ep, stop_at, rows)) for i in range(clients)]
        while until is not None and until.poll() is None:
            stop_at[0] = max(stop_at[0], time.monotonic() + 1.0)
            await asyncio.sleep(0.2)
        ended[0] = time.perf_counter()
        await asyncio.gather(*tasks)

    asyncio.run(main())
    return rows, ended[0]


def pct(xs: list[float], q: float) -> float | None:
    if not xs:
        return None
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, round(q / 100 * len(xs) + 0.5) - 1))]


def summarise(rows: list[dict[str, Any]], wall: float, cpu_s: float) -> dict[str, Any]:
    ok = [r for r in rows if r["ok"]]
    lat = [r["latency"] for r in ok]
    queued = [r["queued"] for r in ok if r["queued"] is not None]
    srv = [r["server_ms"] / 1000 for r in ok if r["server_ms"] is not None]
    errors: dict[str, int] = {}
    for r in rows:
        if not r["ok"]:
            errors[str(r["error"])] = errors.get(str(r["error"]), 0) + 1
    return {
        "answers": len(ok), "errors": sum(errors.values()), "error_kinds": errors,
        "answers_per_s": round(len(ok) / wall, 2) if wall else None, "wall_s": round(wall, 1),
        "p50_s": pct(lat, 50), "p95_s": pct(lat, 95), "p99_s": pct(lat, 99),
        "queue_wait_p50_s": pct(queued, 50), "queue_wait_p95_s": pct(queued, 95),
        "pipeline_p50_s": pct(srv, 50), "pipeline_p95_s": pct(srv, 95),
        "server_cpu_s": round(cpu_s, 1), "server_cpu_ms_per_answer": round(cpu_s * 1000 / len(ok), 1) if ok else None,
        "with_trace": sum(1 for r in ok if r["cited"]),
        "stage_p50_ms": {k: pct([r["stages_ms"][k] for r in ok if k in r.get("stages_ms", {})], 50)
                         for k in sorted({k for r in ok for k in r.get("stages_ms", {})})},
    }  # fmt: skip


def fresh_store(base: Path, dest: Path) -> Path:
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(base, dest)
    return dest


def ingest(code: Path, data_dir: Path, corpus: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(rag_cmd(code, "ingest", str(corpus), "--quiet"), cwd=code, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, default=Path("/tmp/load-bench"))
    ap.add_argument(
        "--code", type=Path, default=ROOT, help="checkout whose `rag` is served (default: this one)"
    )
    ap.add_argument("--docs", type=int, default=2000, help="articles in the served store")
    ap.add_argument("--extra", type=int, default=300, help="articles the concurrent ingest adds")
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument(
        "--duration", type=float, default=40.0, help="seconds per pass (the ingest pass: at least)"
    )
    ap.add_argument("--passes", default="quiet,ingest", help="comma list of: quiet, ingest")
    ap.add_argument("--env", action="append", default=[], help="NAME=VALUE for the server and ingest")
    ap.add_argument("--label", default="run")
    ap.add_argument("--out", type=Path, help="JSON file; results are appended under --label")
    args = ap.parse_args(argv)
    work: Path = args.work
    extra_env = dict(e.split("=", 1) for e in args.env)
    base, corpus, extra = work / f"base-{args.docs}", work / "corpus", work / "extra"
    if not (base / "catalog.sqlite").exists():
        arts = generate(args.docs + args.extra)
        write_txt(arts[: args.docs], corpus)
        write_txt(arts[args.docs :], extra)
        t0 = time.perf_counter()
        subprocess.run(rag_cmd(ROOT, "ingest", str(corpus), "--quiet"), cwd=ROOT, env=run_env(base, {}),
                       check=True, stdout=subprocess.DEVNULL)  # fmt: skip
        print(f"built the {args.docs}-article store in {time.perf_counter() - t0:.0f} s")
    result: dict[str, Any] = {"label": args.label, "code": str(args.code), "env": extra_env, "cpu": cpu_info(),
                              "clients": args.clients, "docs": args.docs, "extra": args.extra}  # fmt: skip
    print(f"{args.label}: {args.clients} clients, {args.docs} articles, CPU {result['cpu']}, env {extra_env}")
    for name in args.passes.split(","):
        store = fresh_store(base, work / "serve-store")
        env = run_env(store, extra_env)
        ing_alone = None
        if name == "ingest":
            alone = fresh_store(base, work / "alone-store")
            t0 = time.perf_counter()
            p = ingest(args.code, alone, extra, env | {"RAG_DATA_DIR": str(alone)})
            p.wait()
            ing_alone = time.perf_counter() - t0
        server, url = start_server(args.code, store, env)
        try:
            load_pass(url, min(args.clients, 4), 4.0, None)  # warm-up: model, BM25, caches
            cpu0, t0 = proc_cpu_s(server.pid), time.perf_counter()
            ing = ingest(args.code, store, extra, env) if name == "ingest" else None
            rows, ended = load_pass(url, args.clients, args.duration, ing)
            wall, cpu = time.perf_counter() - t0, proc_cpu_s(server.pid) - cpu0
            summary = summarise(rows, wall, cpu)
            if ing is not None:
                summary.update(ingest_s=round(ended - t0, 1), ingest_alone_s=round(ing_alone or 0, 1),
                               ingest_exit=ing.wait())  # fmt: skip
        finally:
            server.terminate()
            server.wait(30)
        result[name] = summary
        print(table_row(name, summary))
    if args.out:
        old = json.loads(args.out.read_text()) if args.out.exists() else {}
        old[args.label] = result
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(old, indent=1))


def table_row(name: str, s: dict[str, Any]) -> str:
    def f(x: float | None) -> str:
        return "-" if x is None else f"{x:.2f}"

    line = (f"  {name:7s} answers {s['answers']:5d}  {f(s['answers_per_s'])}/s  p50 {f(s['p50_s'])} s  "
            f"p95 {f(s['p95_s'])} s  p99 {f(s['p99_s'])} s  errors {s['errors']} {s['error_kinds'] or ''}\n"
            f"          queue wait p50 {f(s['queue_wait_p50_s'])} s p95 {f(s['queue_wait_p95_s'])} s · pipeline "
            f"p50 {f(s['pipeline_p50_s'])} s p95 {f(s['pipeline_p95_s'])} s · server CPU "
            f"{s['server_cpu_ms_per_answer']} ms/answer\n"
            f"          pipeline stages p50 (ms): {s['stage_p50_ms']}")  # fmt: skip
    if "ingest_s" in s:
        line += f"\n          ingest {s['ingest_s']} s under load vs {s['ingest_alone_s']} s alone (exit {s['ingest_exit']})"
    return line


if __name__ == "__main__":
    main()
