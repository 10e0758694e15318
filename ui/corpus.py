"""Corpus tab handlers: list and search articles, ingest uploads, delete an article.

The writers (index.ingest.ingest_paths and delete_article) are injected: ui/ never imports index/.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rag.settings import Settings
from rag.types import ArticleInfo, IngestReport
from ui.chat import ChatPipeline

SUPPORTED_TYPES = [".txt", ".md", ".html", ".htm", ".pdf", ".jsonl"]
ARTICLE_COLUMNS = ["id", "title", "outlet", "date", "language", "chunks"]
STATUS_COLUMNS = ["file", "status", "reason", "articles", "chunks"]

# ingest(paths, settings, prune=False, progress=False, embedder=...) -> IngestReport
IngestFn = Callable[..., IngestReport]
DeleteFn = Callable[[str, Settings], int]


def article_rows(infos: Sequence[ArticleInfo], query: str = "") -> list[list[Any]]:
    """Table rows, newest first, keeping those whose id, title or outlet contains every word of `query`."""
    words = query.lower().split()
    rows = []
    for a in sorted(infos, key=lambda a: (a.published is not None, a.published, a.id), reverse=True):
        hay = " ".join(x or "" for x in (a.id, a.title, a.source, a.language)).lower()
        if all(w in hay for w in words):
            date = a.published.isoformat() if a.published else ""
            rows.append([a.id, a.title or "", a.source or "", date, a.language or "", a.chunks])
    return rows


def article_choices(infos: Sequence[ArticleInfo]) -> list[tuple[str, str]]:
    """(label, id) pairs for the delete dropdown."""
    return [(f"{a.title or '(untitled)'} — {a.id}", a.id) for a in sorted(infos, key=lambda a: a.id)]


def status_rows(report: IngestReport, names: dict[str, str]) -> list[list[Any]]:
    """Per-file statuses; `names` maps stored paths back to the names the user uploaded."""
    return [
        [names.get(f.path, Path(f.path).name), f.status, f.reason or "", ", ".join(f.article_ids), f.chunks]
        for f in report.files
    ]


def safe_name(name: str) -> str:
    """An uploaded file's name reduced to a safe basename (no directories, no odd characters)."""
    base = Path(name.replace("\\", "/")).name
    base = re.sub(r"[^A-Za-z0-9._-]+", "_", base).lstrip(".")
    return base or "upload"


class CorpusService:
    """Reads the corpus through the pipeline; writes through the injected ingest and delete callables."""

    def __init__(
        self,
        pipeline: ChatPipeline,
        settings: Settings,
        ingest: IngestFn | None,
        delete: DeleteFn | None,
        embedder: Any = None,
    ) -> None:
        self.pipeline = pipeline
        self.settings = settings
        self.ingest = ingest
        self.delete = delete
        self.embedder = embedder  # reused by ingest so an upload does not load a second model
        self.upload_dir = settings.data_dir / "uploads"

    def rows(self, query: str | None = "") -> list[list[Any]]:
        return article_rows(self.pipeline.articles(), query or "")

    def choices(self) -> list[tuple[str, str]]:
        return article_choices(self.pipeline.articles())

    def upload(self, files: Sequence[str] | str | None) -> tuple[list[list[Any]], str]:
        """Copy uploads into the data dir and ingest them; returns (status rows, summary message)."""
        if self.ingest is None:
            return [], "Uploads are disabled: start the UI with `rag serve` to add articles."
        paths = [files] if isinstance(files, str) else list(files or [])
        if not paths:
            return [], "Choose one or more files first."
        self.upload_dir.mkdir(parents=True, exist_ok=True)
        rows: list[list[Any]] = []
        keep: list[Path] = []
        names: dict[str, str] = {}
        for p in paths:
            src = Path(p)
            # Gradio stores uploads as <cache>/<hash>/<original name>, so the name is the user's.
            name = safe_name(src.name)
            if Path(name).suffix.lower() not in SUPPORTED_TYPES:
                rows.append([name, "skipped", f"unsupported type; use {' '.join(SUPPORTED_TYPES)}", "", 0])
                continue
            dest = self.upload_dir / name
            shutil.copyfile(src, dest)
            keep.append(dest)
            names[str(dest.resolve())] = names[str(dest)] = name
        if keep:
            kwargs: dict[str, Any] = {"prune": False, "progress": False}
            if self.embedder is not None:
                kwargs["embedder"] = self.embedder
            report = self.ingest(keep, self.settings, **kwargs)
            rows += status_rows(report, names)
            self.pipeline.refresh()
            msg = (
                f"{report.count('indexed')} indexed, {report.count('updated')} updated, "
                f"{report.count('unchanged')} unchanged, {report.count('failed')} failed "
                f"in {report.seconds:.1f} s; the corpus now holds {report.articles_total} articles."
            )
        else:
            msg = "Nothing to ingest."
        return rows, msg

    def remove(self, article_id: str | None) -> str:
        """Delete one article (chunks, vectors, BM25 entries); returns a message for the user."""
        if self.delete is None:
            return "Deleting is disabled: start the UI with `rag serve`."
        if not article_id:
            return "Choose an article to delete first."
        n = self.delete(article_id, self.settings)
        self.pipeline.refresh()
        # An uploaded copy would be re-ingested by the next upload of the same name, which is wanted.
        return f"Deleted {article_id}: {n} chunks removed." if n else f"{article_id} was not in the corpus."
