"""Finding the input files and deciding, before any reading, which ones cannot be ingested."""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from index.readers import SUPPORTED_EXTENSIONS


@dataclass(frozen=True)
class Candidate:
    path: Path
    key: str  # the manifest key: the absolute path as given (symlinks not resolved)
    root: Path
    content_hash: str = ""
    size: int = 0  # bytes
    problem: tuple[str, str] | None = None  # (status, reason) when the file is skipped or failed


def discover(
    paths: Iterable[Path], max_bytes: int, max_html_bytes: int | None = None
) -> tuple[list[Candidate], list[Path]]:
    """Every file under `paths`, sorted, each hashed or with the reason it cannot be ingested.

    Files over `max_bytes` (HTML pages: over `max_html_bytes` too) are skipped before reading.

    Every path given or found gets exactly one candidate: a file named twice (`f.txt f.txt`, or a
    folder and a file inside it) is listed once, and a second name for a file already listed (a
    symlink, a folder given twice through a link) is skipped as "same file as ..." instead of
    clashing on its article ids; hidden files and folders found inside a folder
    are listed as skipped (a hidden folder once, not searched). A file named explicitly is
    ingested even if its name starts with a dot: that is what the user asked for.
    """
    limits = (max_bytes, min(max_bytes, max_html_bytes or max_bytes))
    out: list[Candidate] = []
    roots: list[Path] = []
    seen: set[str] = set()
    real: dict[str, str] = {}  # resolved path -> the key that first reached it

    def add(c: Candidate) -> None:
        if c.key in seen:
            return
        seen.add(c.key)
        try:
            target = os.path.realpath(c.path) if c.problem is None else None
        except OSError:
            target = None
        if target is not None and real.setdefault(target, c.key) != c.key:
            c = Candidate(c.path, c.key, c.root, problem=("skipped", f"same file as {real[target]}"))
        out.append(c)

    for raw in paths:
        p = _normal(Path(raw))
        if p.is_dir():
            roots.append(p)
            for f in _walk(p):
                if f.name.startswith(".") and f.is_dir() and not f.is_symlink():
                    add(Candidate(f, str(f), p, problem=("skipped", "hidden folder (not searched)")))
                elif f.name.startswith("."):
                    add(Candidate(f, str(f), p, problem=("skipped", "hidden file")))
                elif str(f) not in seen:  # (checked first: _check reads and hashes the file)
                    # Everything but folders gets a status: FIFOs and sockets too, not silently left out.
                    add(_check(f, p, limits))
        elif p.exists() or p.is_symlink():
            roots.append(p)
            if str(p) not in seen:
                add(_check(p, p.parent, limits))
        else:
            add(Candidate(p, str(p), p.parent, problem=("failed", "no such file or directory")))
    return out, roots


def _normal(p: Path) -> Path:
    """Absolute, with `.` and `..` folded, symlinks kept: `a/../a/f.txt` and `a/f.txt` are one key."""
    return Path(os.path.normpath(p.absolute()))


def _walk(root: Path) -> Iterator[Path]:
    """Files (and special files) under `root` in sorted order, plus each hidden entry, not entered."""
    for entry in sorted(root.iterdir()):
        if entry.name.startswith("."):
            yield entry
        elif entry.is_dir() and not entry.is_symlink():
            yield from _walk(entry)
        else:  # files, special files, and symlinks (to folders too: they get a status, not a walk)
            yield entry


def _check(path: Path, root: Path, limits: tuple[int, int]) -> Candidate:
    key = str(path)
    if path.is_symlink():
        try:
            target = path.resolve()
        except (OSError, RuntimeError) as exc:  # Python 3.11 raises RuntimeError on a symlink loop
            return Candidate(path, key, root, problem=("failed", f"cannot resolve the symlink: {exc}"))
        if not target.is_relative_to(root.resolve()):
            return Candidate(
                path, key, root, problem=("skipped", f"symlink points outside the corpus root ({target})")
            )
        if not target.exists():
            return Candidate(path, key, root, problem=("failed", f"broken symlink to {target}"))
    if path.suffix.lower() not in SUPPORTED_EXTENSIONS:
        kinds = ", ".join(sorted(SUPPORTED_EXTENSIONS))
        return Candidate(
            path,
            key,
            root,
            problem=("skipped", f"unsupported file type {path.suffix or '(none)'}; supported: {kinds}"),
        )
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            # a FIFO would block the read forever; a socket or device is no article either
            return Candidate(
                path, key, root, problem=("failed", "not a regular file (FIFO, socket or device)")
            )
        size = info.st_size
        html = path.suffix.lower() in (".html", ".htm") and limits[1] < limits[0]
        limit = limits[1] if html else limits[0]
        if size > limit:
            what = (
                "limit for HTML pages (RAG_MAX_HTML_MB raises it)"
                if html
                else "limit (RAG_MAX_FILE_MB or --max-file-mb raise it)"
            )
            return Candidate(
                path, key, root, problem=("skipped", f"file is {_mib(size)} MiB, over the {_mib(limit)} MiB {what}")
            )  # fmt: skip
        data = path.read_bytes()
    except OSError as exc:
        return Candidate(path, key, root, problem=("failed", f"cannot read the file: {exc.strerror or exc}"))
    return Candidate(path, key, root, content_hash=hashlib.sha256(data).hexdigest(), size=len(data))


def _mib(n: int) -> str:
    """Bytes as MiB, the unit of RAG_MAX_FILE_MB: 20 MiB prints as "20", 20,971 bytes as "0.02"."""
    return f"{n / 2**20:.3g}"
