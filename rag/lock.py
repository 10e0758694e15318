"""One writer at a time on a data directory: an advisory lock the OS drops if the process dies.

`rag ingest` takes it before importing anything heavy, so a second writer is refused in a
fraction of a second; `ingest_paths` takes it again (re-entrant within one thread) for callers
that come in through Python.
"""

from __future__ import annotations

import fcntl
import os
import sys
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import ClassVar

from rag.errors import StoreLockedError

LOCK_NAME = ".write.lock"
_ATTEMPTS = 3  # a reader probing the lock (writer_active) holds it shared for microseconds


class WriterLock:
    """Held for the whole of an ingest; a second writer fails at once with a clear message."""

    _held: ClassVar[dict[str, tuple[int, int]]] = {}  # lock path -> (owning thread, depth)
    _guard: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / LOCK_NAME
        self._key = os.path.abspath(self.path)
        self._fd: int | None = None
        self._nested = False

    def __enter__(self) -> WriterLock:
        with WriterLock._guard:
            owner = WriterLock._held.get(self._key)
            if owner is not None and owner[0] == threading.get_ident():
                WriterLock._held[self._key] = (owner[0], owner[1] + 1)
                self._nested = True
                return self
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        for attempt in range(_ATTEMPTS):
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if attempt + 1 < _ATTEMPTS:
                    time.sleep(0.02)
                    continue
                holder = os.pread(fd, 4096, 0).decode(errors="replace")
                os.close(fd)
                raise StoreLockedError(_message(self.path.parent, holder)) from None
        os.ftruncate(fd, 0)
        command = " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]) if sys.argv and sys.argv[0] else "python"
        info = f"{os.getpid()}\n{time.strftime('%Y-%m-%d %H:%M:%S')}\n{command[:300]}\n"
        os.pwrite(fd, info.encode(), 0)
        self._fd = fd
        with WriterLock._guard:
            WriterLock._held[self._key] = (threading.get_ident(), 1)
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        with WriterLock._guard:
            owner, depth = WriterLock._held[self._key]
            if depth > 1:
                WriterLock._held[self._key] = (owner, depth - 1)
                return
            del WriterLock._held[self._key]
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def _message(data_dir: Path, holder: str) -> str:
    pid, started, command = ([*holder.splitlines(), "", "", ""])[:3]
    who = f"pid {pid.strip() or '?'}"
    if command.strip():
        who += f": {command.strip()}"
    since = f" since {started.strip()}" if started.strip() else ""
    return (
        f"another process ({who}) is writing to {data_dir}{since}. Nothing was changed. "
        "Wait for that ingest to finish (or stop it), then run this one again; or use another --data-dir."
    )


def writer_active(data_dir: Path) -> bool:
    """Whether a writer holds the lock of `data_dir` now (any process, this one included)."""
    try:
        fd = os.open(data_dir / LOCK_NAME, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing drops the shared lock, if taken
    return False
