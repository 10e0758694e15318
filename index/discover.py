"""Finding the input files and deciding, before any reading, which ones cannot be ingested."""

from __future__ import annotations

import hashlib
import stat
from collections.abc import Iterable
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


def discover(paths: Iterable[Path], max_bytes: int) -> tuple[list[Candidate], list[Path]]:
    """Every file under `paths`, sorted, each hashed or with the reason it cannot be ingested."""
    out: list[Candidate] = []
    roots: list[Path] = []
    for raw in paths:
        p = Path(raw).absolute()
        if p.is_dir():
            roots.append(p)
            files = sorted(
                f for f in p.rglob("*") if not any(part.startswith(".") for part in f.relative_to(p).parts)
            )
            # Everything but folders gets a status: FIFOs and sockets too, not silently left out.
            out.extend(_check(f, p, max_bytes) for f in files if f.is_symlink() or not f.is_dir())
        elif p.exists() or p.is_symlink():
            roots.append(p)
            out.append(_check(p, p.parent, max_bytes))
        else:
            out.append(Candidate(p, str(p), p.parent, problem=("failed", "no such file or directory")))
    return out, roots


def _check(path: Path, root: Path, max_bytes: int) -> Candidate:
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
        if size > max_bytes:
            return Candidate(
                path, key, root,
                problem=("skipped", f"file is {size / 1e6:.1f} MB, over the {max_bytes / 1e6:.1f} MB limit (RAG_MAX_FILE_MB)"),
            )  # fmt: skip
        data = path.read_bytes()
    except OSError as exc:
        return Candidate(path, key, root, problem=("failed", f"cannot read the file: {exc.strerror or exc}"))
    return Candidate(path, key, root, content_hash=hashlib.sha256(data).hexdigest(), size=len(data))
