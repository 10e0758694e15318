"""Corpus tab handlers: list and search articles, ingest uploads, delete an article.

The writers (index.ingest.ingest_paths and delete_article) are injected: ui/ never imports index/.
Search covers the article text through an injected `text_search` (the BM25 index, ui/corpus_search.py).
"""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from rag.errors import StoreLockedError
from rag.settings import Settings
from rag.types import ArticleInfo, IngestReport
from ui.chat import ChatPipeline
from ui.render import first_sentence

# What index/readers.py reads (SUPPORTED_EXTENSIONS; a test keeps the two equal). Anything else is
# refused at the upload route already (ui/upload_guard.py).
SUPPORTED_TYPES = [".txt", ".md", ".html", ".htm", ".pdf", ".jsonl"]
ARTICLE_COLUMNS = ["id", "title", "outlet", "date", "language", "chunks"]
STATUS_COLUMNS = ["file", "status", "reason", "articles", "chunks"]
WAIT_FOR_WRITER_S = 600.0  # how long an upload queues behind another process's ingest

# ingest(paths, settings, prune=False, progress=False, embedder=...) -> IngestReport
IngestFn = Callable[..., IngestReport]
DeleteFn = Callable[[str, Settings], int]
TextSearch = Callable[[str], set[str]]  # a word -> ids of the articles whose text holds it


def display_title(info: ArticleInfo, text: str | None) -> str:
    """The title; without one, the article's first sentence (shortened) in quotes, never a file hash."""
    if info.title:
        return info.title
    return f"“{first_sentence(text)}”" if text and text.strip() else "(untitled)"


def article_rows(
    infos: Sequence[ArticleInfo],
    query: str = "",
    titles: dict[str, str] | None = None,
    text_matches: Callable[[str], set[str]] | None = None,
) -> list[list[Any]]:
    """Table rows, newest first, of articles that hold every word of `query` in their id, title,
    outlet or language, or (with `text_matches`) in their text."""
    titles = titles or {}
    words = query.lower().split()
    found = {w: text_matches(w) for w in words} if text_matches else {}
    rows = []
    for a in sorted(infos, key=lambda a: (a.published is not None, a.published, a.id), reverse=True):
        title = titles.get(a.id) or a.title or ""
        hay = " ".join(x or "" for x in (a.id, title, a.source, a.language)).lower()
        if all(w in hay or a.id in found.get(w, ()) for w in words):
            date = a.published.isoformat() if a.published else ""
            rows.append([a.id, title, a.source or "", date, a.language or "", a.chunks])
    return rows


def article_choices(infos: Sequence[ArticleInfo], titles: dict[str, str]) -> list[tuple[str, str]]:
    """(label, id) pairs for the delete dropdown."""
    return [
        (f"{titles.get(a.id) or a.title or '(untitled)'} — {a.id}", a.id)
        for a in sorted(infos, key=lambda a: a.id)
    ]


def status_rows(report: IngestReport, names: dict[str, str]) -> list[list[Any]]:
    """Per-file statuses; `names` maps stored paths back to the names the user uploaded."""
    return [
        [
            names.get(f.path, Path(f.path).name),
            f.status,
            f.reason
            or (f"{f.flagged} sentence(s) flagged as instructions: treated as data" if f.flagged else ""),
            ", ".join(f.article_ids),
            f.chunks,
        ]
        for f in report.files
    ]


def safe_name(name: str) -> str:
    """An uploaded file's name reduced to a safe basename (no directories, no odd characters)."""
    base = Path(name.replace("\\", "/")).name
    base = re.sub(r"[^A-Za-z0-9._-]+", "_", base).lstrip(".")
    return base or "upload"


def unsupported_message(name: str) -> str:
    return f"{name}: unsupported type; supported: {' '.join(SUPPORTED_TYPES)}"


class CorpusService:
    """Reads the corpus through the pipeline; writes through the injected ingest and delete callables."""

    def __init__(
        self,
        pipeline: ChatPipeline,
        settings: Settings,
        ingest: IngestFn | None,
        delete: DeleteFn | None,
        embedder: Any = None,
        text_search: TextSearch | None = None,
        wait_s: float = WAIT_FOR_WRITER_S,
    ) -> None:
        self.pipeline = pipeline
        self.settings = settings
        self.ingest = ingest
        self.delete = delete
        self.embedder = embedder  # reused by ingest so an upload does not load a second model
        self.text_search = text_search
        self.wait_s = wait_s
        self.upload_dir = settings.data_dir / "uploads"
        self._untitled: dict[str, str] = {}  # id -> first sentence, for articles without a title

    def titles(self, infos: Sequence[ArticleInfo]) -> dict[str, str]:
        """Display titles by id; an untitled article is read once for its first sentence."""
        out: dict[str, str] = {}
        for a in infos:
            if a.title:
                out[a.id] = a.title
                continue
            if a.id not in self._untitled:
                art = self.pipeline.article(a.id)
                self._untitled[a.id] = display_title(a, art.text if art else None)
            out[a.id] = self._untitled[a.id]
        return out

    def rows(self, query: str | None = "") -> list[list[Any]]:
        infos = self.pipeline.articles()
        return article_rows(infos, query or "", self.titles(infos), self.text_search)

    def choices(self) -> list[tuple[str, str]]:
        infos = self.pipeline.articles()
        return article_choices(infos, self.titles(infos))

    def upload(self, files: Sequence[str] | str | None) -> Iterator[tuple[list[list[Any]], str]]:
        """Copy uploads into the data dir and ingest them; yields (status rows, message) as it goes.

        Another process writing the store (a `rag ingest` in a terminal) holds the writer lock: the
        upload then waits its turn, saying so, for up to `wait_s` seconds.
        """
        if self.ingest is None:
            yield [], "Uploads are disabled: start the UI with `rag serve` to add articles."
            return
        paths = [files] if isinstance(files, str) else list(files or [])
        if not paths:
            yield [], "Choose one or more files first."
            return
        self.upload_dir.mkdir(parents=True, exist_ok=True)
        rows: list[list[Any]] = []
        keep: list[Path] = []
        names: dict[str, str] = {}
        for p in paths:
            src = Path(p)
            # Gradio stores uploads as <cache>/<hash>/<original name>, so the name is the user's.
            name = safe_name(src.name)
            if Path(name).suffix.lower() not in SUPPORTED_TYPES:
                rows.append(
                    [name, "skipped", f"unsupported type; supported: {' '.join(SUPPORTED_TYPES)}", "", 0]
                )
                continue
            dest = self.upload_dir / name
            shutil.copyfile(src, dest)
            keep.append(dest)
            names[str(dest.resolve())] = names[str(dest)] = name
        if not keep:
            yield rows, "Nothing to ingest."
            return
        queued = rows + [[names[str(d)], "queued", "", "", 0] for d in keep]
        yield queued, f"Ingesting {len(keep)} file(s)…"
        kwargs: dict[str, Any] = {"prune": False, "progress": True}
        if self.embedder is not None:
            kwargs["embedder"] = self.embedder
        deadline = time.monotonic() + self.wait_s
        while True:
            try:
                report = self.ingest(keep, self.settings, **kwargs)
                break
            except StoreLockedError:
                if time.monotonic() > deadline:
                    yield (
                        queued,
                        (
                            f"Another ingest is still writing the index after {self.wait_s:.0f} s; "
                            "nothing was added. Try again when it has finished."
                        ),
                    )
                    return
                yield queued, "Waiting for another ingest to finish (one writer at a time)…"
                time.sleep(1.0)
        rows += status_rows(report, names)
        self.pipeline.refresh()
        self._untitled.clear()
        yield (
            rows,
            (
                f"{report.count('indexed')} indexed, {report.count('updated')} updated, "
                f"{report.count('unchanged')} unchanged, {report.count('failed')} failed "
                f"in {report.seconds:.1f} s; the corpus now holds {report.articles_total} articles."
            ),
        )

    def describe(self, article_id: str | None) -> str:
        """What a delete of `article_id` would remove, for the confirmation prompt."""
        if not article_id:
            return "Choose an article to delete first."
        art = self.pipeline.article(article_id)
        if art is None:
            return f"{article_id} is not in the corpus."
        title = self.titles([a for a in self.pipeline.articles() if a.id == article_id]).get(
            article_id, article_id
        )
        where = (
            "and its uploaded copy"
            if self._uploaded_copy(art.path)
            else "from the index (its source file stays)"
        )
        return f"Delete **{title}** (`{article_id}`) {where}? This cannot be undone."

    def _uploaded_copy(self, path: str | None) -> Path | None:
        if not path:
            return None
        p = Path(path)
        up = self.upload_dir.resolve()
        try:
            return p if p.resolve().parent == up and p.is_file() else None
        except OSError:
            return None

    def remove(self, article_id: str | None) -> str:
        """Delete one article (chunks, vectors, BM25 entries) and its uploaded copy; says what went."""
        if self.delete is None:
            return "Deleting is disabled: start the UI with `rag serve`."
        if not article_id:
            return "Choose an article to delete first."
        art = self.pipeline.article(article_id)
        copy = self._uploaded_copy(art.path if art else None)
        n = self.delete(article_id, self.settings)
        self.pipeline.refresh()
        if not n:
            return f"{article_id} was not in the corpus."
        said = f"Deleted {article_id}: {n} chunks removed from the index"
        # A JSONL upload holds other articles too: its copy goes only with the last of them.
        if copy is not None and not any(a.path == art.path for a in self.pipeline.articles() if art):
            copy.unlink(missing_ok=True)
            return f"{said}, and the uploaded file {copy.name} was removed."
        if copy is not None:
            return f"{said}; the uploaded file {copy.name} stays: other articles came from it."
        name = Path(art.path).name if art and art.path else "its source file"
        return f"{said}. {name} was not uploaded here and stays where it is."
