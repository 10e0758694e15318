"""CPU priority of a background job (an ingest) beside a serving process.

`rag ingest` and `rag serve` often share a machine: the ingest is throughput work, the chat is
latency work. An ingest that lowers its own priority (Unix nice) lets the scheduler run the
server's questions first whenever both want a core, and loses nothing when it runs alone.
"""

from __future__ import annotations

import os
from pathlib import Path

TASKS = Path("/proc/self/task")


def lower_priority(nice: int) -> int:
    """Lower the CPU priority of this process's threads by `nice` (0: unchanged); returns the
    niceness of the calling thread afterwards.

    Linux keeps a niceness per thread and new threads inherit their creator's, so every thread
    running now is lowered and the ones started later (the embedding runtime's pool) follow.
    Where the OS has no priorities (Windows), nothing changes and 0 is returned.
    """
    if not hasattr(os, "setpriority"):
        return 0
    current = os.getpriority(os.PRIO_PROCESS, 0)
    if nice <= 0:
        return current
    target = min(19, current + nice)
    tids = [int(t.name) for t in TASKS.iterdir()] if TASKS.is_dir() else [0]
    for tid in tids:
        try:
            if os.getpriority(os.PRIO_PROCESS, tid) < target:
                os.setpriority(os.PRIO_PROCESS, tid, target)
        except OSError:  # the thread ended meanwhile
            pass
    return os.getpriority(os.PRIO_PROCESS, 0)
