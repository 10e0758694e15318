"""Turn one file into Articles: seed .txt, .md, .html/.htm, .pdf (one article each) and .jsonl (one a line).

>>> arts = read_path(Path("data/corpus/002_88f33951d7bac3d7.txt"))  # doctest: +SKIP
>>> arts[0].id, arts[0].source
('002_88f33951d7bac3d7', 'BNN Newsroom')
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from index.decoding import decode_text, nonempty, sha256
from index.html_reader import read_html
from index.seed_format import parse_seed
from rag.errors import ReadError, SkipFile
from rag.types import Article

SUPPORTED_EXTENSIONS: frozenset[str] = frozenset({".txt", ".md", ".html", ".htm", ".pdf", ".jsonl"})

_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?\n)(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.DOTALL)
_MD_TITLE = re.compile(r"^#[ \t]+(.+?)[ \t#]*$")


@dataclass(frozen=True)
class LineProblem:
    """One line of a multi-article file (JSONL) that is not ingested, and why."""

    line: int
    status: str  # "failed" (bad line) or "skipped" (deliberately left out, e.g. over a size limit)
    reason: str  # names the file and the line: "news.jsonl, line 3: invalid JSON: ..."


@dataclass(frozen=True)
class FileRead:
    """What a file holds: its good articles, and the lines that could not be read (JSONL only)."""

    articles: list[Article]
    problems: list[LineProblem] = field(default_factory=list)
    lines: dict[str, int] = field(default_factory=dict)  # article id -> line number (JSONL)


def read_file(path: Path, root: Path | None = None) -> FileRead:
    """Read one file; raises ReadError (bad content) or SkipFile (nothing to ingest).

    A JSONL corpus is read line by line: a bad line becomes a LineProblem, never a lost file.
    `root`, when given, only shortens the file name shown in messages.
    """
    path = Path(path)
    name = _display_name(path, root)
    if path.suffix.lower() == ".jsonl":
        data = path.read_bytes()
        if not data.strip():
            raise SkipFile(f"{name}: file is empty")
        return _read_jsonl(path, data, name)
    return FileRead(read_path(path, root))


def read_path(path: Path, root: Path | None = None) -> list[Article]:
    """Read one file into Articles, strictly: any bad JSONL line raises ReadError naming it."""
    path = Path(path)
    name = _display_name(path, root)
    if path.suffix.lower() == ".jsonl":
        got = read_file(path, root)
        if got.problems:
            raise ReadError(got.problems[0].reason)
        return got.articles
    reader = _READERS.get(path.suffix.lower())
    if reader is None:
        raise SkipFile(f"{name}: unsupported extension {path.suffix!r}")
    data = path.read_bytes()
    if not data.strip():
        raise SkipFile(f"{name}: file is empty")
    return reader(path, data, name)


def _display_name(path: Path, root: Path | None) -> str:
    if root is not None:
        try:
            return str(path.relative_to(root))
        except ValueError:
            pass
    return str(path)


def _parse_iso_date(value: Any, name: str, field: str) -> date | None:
    """A YYYY-MM-DD value (a longer ISO timestamp is cut to its date); raises ReadError naming the field."""
    if value is None or value == "":
        return None
    s = str(value).strip()
    try:
        return date.fromisoformat(s[:10])
    except ValueError:
        raise ReadError(f"{name}: bad {field!r} value {s!r} (want YYYY-MM-DD)") from None


def _read_txt(path: Path, data: bytes, name: str) -> list[Article]:
    raw = nonempty(decode_text(data, name), name)
    f = parse_seed(raw, name)
    return [
        Article(
            id=path.stem,
            title=f.title,
            # a file that is all header (e.g. a lone title) keeps it as text rather than vanish
            text=f.text or raw.strip(),
            source=f.source,
            published=f.published,
            language=f.language,
            path=str(path),
            content_hash=sha256(data),
            byline=f.byline,
            section=f.section,
            extra=f.extra,
        )
    ]


def _parse_front_matter(block: str) -> dict[str, str]:
    """Flat `key: value` lines (YAML-ish); nested YAML is not needed for article metadata."""
    meta: dict[str, str] = {}
    for line in block.split("\n"):
        key, sep, value = line.partition(":")
        if sep and key.strip() and not key.startswith((" ", "\t", "#")):
            meta[key.strip().lower()] = value.strip().strip("\"'")
    return meta


def _read_md(path: Path, data: bytes, name: str) -> list[Article]:
    text = nonempty(decode_text(data, name), name)
    meta: dict[str, str] = {}
    if m := _FRONT_MATTER.match(text):
        meta = _parse_front_matter(m.group(1))
        text = text[m.end() :]
    title = meta.pop("title", None) or None
    lines = text.split("\n")
    first = next((k for k, line in enumerate(lines) if line.strip()), None)
    if title is None and first is not None and (h := _MD_TITLE.match(lines[first])):
        title = h.group(1)
        lines = lines[first + 1 :]  # the heading is the title, not body
    body = "\n".join(lines).strip("\n")
    date_key = "date" if "date" in meta else "published"
    published = _parse_iso_date(meta.pop(date_key, None), name, date_key)
    return [
        Article(
            id=path.stem,
            title=title,
            text=nonempty(body, name),
            source=meta.pop("source", None) or None,
            published=published,
            language=(meta.pop("language", None) or meta.pop("lang", None) or None),
            url=meta.pop("url", None) or None,
            path=str(path),
            content_hash=sha256(data),
            byline=(meta.pop("author", None) or meta.pop("byline", None) or None),
            section=meta.pop("section", None) or None,
            extra={k: v for k, v in meta.items() if v},
        )
    ]


def _read_pdf(path: Path, data: bytes, name: str) -> list[Article]:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            reader.decrypt("")  # many PDFs are "encrypted" with an empty user password
        pages = [(page.extract_text() or "").strip() for page in reader.pages]
        title = reader.metadata.title if reader.metadata else None
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as e:
        raise ReadError(f"{name}: cannot read PDF: {e}") from e
    text = "\n\n".join(p for p in pages if p).replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise SkipFile(f"{name}: PDF has no extractable text (scanned image?)")
    return [
        Article(
            id=path.stem,
            title=title.strip() if isinstance(title, str) and title.strip() else None,
            text=text,
            path=str(path),
            content_hash=sha256(data),
        )
    ]


def _jsonl_article(obj: Any, path: Path, where: str, canonical: bytes) -> Article:
    if not isinstance(obj, dict):
        raise ReadError(f"{where}: expected a JSON object, got {type(obj).__name__}")
    for key in ("id", "text"):
        if key not in obj or obj[key] is None or str(obj[key]).strip() == "":
            raise ReadError(f"{where}: missing required field {key!r}")
    if not isinstance(obj["text"], str):
        raise ReadError(f"{where}: field 'text' must be a string")

    def opt(key: str) -> str | None:
        value = obj.get(key)
        return str(value).strip() or None if value is not None else None

    known = {"id", "text", "title", "source", "date", "url", "language", "byline", "section"}
    extra = {k: str(v) for k, v in obj.items() if k not in known and isinstance(v, str | int | float | bool)}
    return Article(
        id=str(obj["id"]),
        title=opt("title"),
        text=obj["text"].replace("\r\n", "\n").replace("\r", "\n"),
        source=opt("source"),
        published=_parse_iso_date(obj.get("date"), where, "date"),
        language=opt("language"),
        url=opt("url"),
        path=str(path),
        content_hash=sha256(canonical),
        byline=opt("byline"),
        section=opt("section"),
        extra=extra,
    )


def _read_jsonl(path: Path, data: bytes, name: str) -> FileRead:
    """One article a line; a bad line is reported with its number and never fails the others."""
    articles: list[Article] = []
    problems: list[LineProblem] = []
    first_line: dict[str, int] = {}
    for lineno, line in enumerate(decode_text(data, name).split("\n"), start=1):
        if not line.strip():
            continue
        where = f"{name}, line {lineno}"
        try:
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                raise ReadError(f"{where}: invalid JSON: {e.msg} (column {e.colno})") from None
            # Hash the canonical form so reformatting a line does not count as a change.
            canonical = json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()
            art = _jsonl_article(obj, path, where, canonical)
            if art.id in first_line:
                raise ReadError(f"{where}: duplicate id {art.id!r} (first on line {first_line[art.id]})")
        except ReadError as e:
            problems.append(LineProblem(lineno, "failed", str(e)))
            continue
        first_line[art.id] = lineno
        articles.append(art)
    if not articles and not problems:
        raise SkipFile(f"{name}: no JSON lines")
    return FileRead(articles, problems, first_line)


_READERS: dict[str, Callable[[Path, bytes, str], list[Article]]] = {
    ".txt": _read_txt,
    ".md": _read_md,
    ".html": read_html,
    ".htm": read_html,
    ".pdf": _read_pdf,
}

__all__ = ["SUPPORTED_EXTENSIONS", "FileRead", "LineProblem", "decode_text", "read_file", "read_path"]
