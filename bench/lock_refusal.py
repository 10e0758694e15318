"""How long a second `rag ingest` takes to be refused while another one is busy writing.

A real `rag ingest` of --docs articles holds the writer lock and keeps the CPU busy (embedding);
meanwhile `rag ingest` of one file on the same data dir is started --tries times and timed from
start to exit (code 2 expected). Prints the median and the maximum, and the message.

    .venv/bin/python -m bench.lock_refusal [--docs 300] [--tries 5]
"""

from __future__ import annotations

import argparse
import fcntl
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.corpus import generate, write_txt

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def locked(data: Path) -> bool:
    """Whether a writer holds data/.write.lock (probed without the product's own helper)."""
    try:
        fd = os.open(data / ".write.lock", os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=int, default=300)
    ap.add_argument("--tries", type=int, default=5)
    args = ap.parse_args(argv)
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")} | {
        "PYTHONPATH": str(PROJECT_ROOT)
    }
    rag = [sys.executable, "-m", "rag.cli", "ingest"]
    with tempfile.TemporaryDirectory(prefix="bench-lock-") as tmp:
        root = Path(tmp)
        corpus = write_txt(generate(args.docs, 5), root / "corpus")
        one = next(corpus.iterdir())
        data = root / "store"
        holder = subprocess.Popen([*rag, str(corpus), "--data-dir", str(data), "--quiet"], env=env,
                                  cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        try:
            while not locked(data):
                time.sleep(0.05)
            time.sleep(3)  # past start-up: the holder is reading and embedding
            times, message = [], ""
            for _ in range(args.tries):
                t = time.perf_counter()
                out = subprocess.run([*rag, str(one), "--data-dir", str(data)], env=env, cwd=PROJECT_ROOT,
                                     capture_output=True, text=True)  # fmt: skip
                times.append(time.perf_counter() - t)
                assert out.returncode == 2, (out.returncode, out.stderr[-500:])
                message = out.stderr.strip()
            busy = holder.poll() is None
        finally:
            holder.kill()
            holder.wait()
    print(f"second writer refused in median {statistics.median(times):.2f} s, max {max(times):.2f} s "
          f"({args.tries} tries, holder {'still busy' if busy else 'FINISHED'}, load {os.getloadavg()[0]:.1f})")  # fmt: skip
    print(f"message: {message}")


if __name__ == "__main__":
    main()
