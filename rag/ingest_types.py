"""What ingestion reports: per-file statuses, the run's totals, and the corpus listing's rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal


@dataclass(frozen=True)
class ArticleInfo:
    """A row of the corpus listing."""

    id: str
    title: str | None
    source: str | None
    published: date | None
    language: str | None
    chunks: int
    path: str | None = None


FileStatusName = Literal["indexed", "unchanged", "updated", "removed", "skipped", "failed"]


@dataclass(frozen=True)
class FileStatus:
    """What ingestion did with one input file (or one JSONL article)."""

    path: str
    status: FileStatusName
    reason: str | None = None
    article_ids: tuple[str, ...] = ()
    chunks: int = 0
    flagged: int = 0  # sentences of its articles flagged as instructions to the reader or an AI


@dataclass(frozen=True)
class IngestReport:
    files: tuple[FileStatus, ...]
    texts_embedded: int  # 0 when nothing changed
    seconds: float
    chunks_total: int
    articles_total: int
    embed_runtime: str | None = None  # what embedded this run's chunks; None when nothing was embedded

    def count(self, status: FileStatusName) -> int:
        return sum(1 for f in self.files if f.status == status)

    @property
    def ok(self) -> bool:
        return not any(f.status == "failed" for f in self.files)
