"""Turn one file into Articles: seed .txt, .md, .html/.htm, .pdf (one article each) and .jsonl (one a line).

>>> arts = read_path(Path("data/corpus/002_88f33951d7bac3d7.txt"))  # doctest: +SKIP
>>> arts[0].id, arts[0].source
('002_88f33951d7bac3d7', 'BNN Newsroom')
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import charset_normalizer
from bs4 import BeautifulSoup, Comment, NavigableString, Tag

from index.seed_format import parse_date_text, parse_seed
from rag.errors import ReadError, SkipFile
from rag.types import Article

SUPPORTED_EXTENSIONS: frozenset[str] = frozenset({".txt", ".md", ".html", ".htm", ".pdf", ".jsonl"})

_DROP_TAGS = ("script", "style", "nav", "header", "footer", "aside", "form", "noscript", "template")
_BLOCK_TAGS = frozenset(
    {"p", "div", "section", "article", "main", "li", "ul", "ol", "dl", "dt", "dd", "blockquote", "pre"}
    | {"h1", "h2", "h3", "h4", "h5", "h6", "table", "tr", "figure", "figcaption", "address", "hr", "body"}
)
# Private-use sentinels survive whitespace collapsing and cannot occur in real HTML text.
_PARA, _LINE = "\ue000", "\ue001"
_PREFERRED_LEGACY = ("cp1252", "latin_1", "iso8859_15")
_PRINTABLE_ASCII = bytes(range(0x20, 0x7F))
_GLUED = re.compile(r"(?<=[^\W\d_])[^\x00-\x7f]|[^\x00-\x7f](?=[^\W\d_])")
_TYPOGRAPHY = frozenset(
    "\u2019\u2018\u201c\u201d\u201e\u2013\u2014\u2026\u2022\u20ac\u00ab\u00bb\u00b7\u00b0\u00a0"
)
_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?\n)(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.DOTALL)
_MD_TITLE = re.compile(r"^#[ \t]+(.+?)[ \t#]*$")


def read_path(path: Path, root: Path | None = None) -> list[Article]:
    """Read one file into Articles; raises ReadError (bad content) or SkipFile (nothing to ingest).

    `root`, when given, only shortens the file name shown in error messages.
    """
    path = Path(path)
    name = _display_name(path, root)
    reader = _READERS.get(path.suffix.lower())
    if reader is None:
        raise SkipFile(f"{name}: unsupported extension {path.suffix!r}")
    data = path.read_bytes()
    if not data.strip():
        raise SkipFile(f"{name}: file is empty")
    return reader(path, data, name)


def decode_text(data: bytes, name: str) -> str:
    """Bytes -> str: UTF-8 (BOM stripped), else the encoding charset-normalizer detects; newlines -> "\\n"."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = data.decode("utf-16")
    elif b"\x00" in data:
        raise ReadError(f"{name}: binary content (NUL bytes) in a text file")
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = _detect_and_decode(data, name)
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _detect_and_decode(data: bytes, name: str) -> str:
    """Decode non-UTF-8 bytes with the encoding charset-normalizer finds most plausible."""
    # Only ASCII-compatible encodings: NUL-free bytes are not UTF-16/32 (a BOM was handled already),
    # and EBCDIC pages turn plain ASCII into garbage.
    matches = [m for m in charset_normalizer.from_bytes(data) if _ascii_compatible(m.encoding)]
    if not matches:
        raise ReadError(f"{name}: cannot decode the file as text (not UTF-8, no encoding detected)")
    # On short inputs the Latin code pages tie on chaos (cp1250, cp775, cp1252 all decode "é" bytes);
    # among the ties take the decoding with fewest symbols glued to letters ("£ódŸ" is wrong), then
    # Windows-1252, by far the commonest legacy encoding of Western news text.
    least = min(m.chaos for m in matches)
    tied = [m for m in matches if m.chaos <= least + 0.01]

    def rank(m: Any) -> tuple[int, int]:
        preferred = any(enc in m.could_be_from_charset for enc in _PREFERRED_LEGACY)
        return (_oddities(str(m)), 0 if preferred else 1)

    return str(min(tied, key=rank))


def _oddities(text: str) -> int:
    """Count non-ASCII non-letters touching a letter, other than common typography: mojibake signs."""
    return sum(1 for c in _GLUED.findall(text) if not c.isalpha() and c not in _TYPOGRAPHY)


def _ascii_compatible(encoding: str) -> bool:
    try:
        return _PRINTABLE_ASCII.decode(encoding) == _PRINTABLE_ASCII.decode("ascii")
    except (UnicodeDecodeError, LookupError):
        return False


def _display_name(path: Path, root: Path | None) -> str:
    if root is not None:
        try:
            return str(path.relative_to(root))
        except ValueError:
            pass
    return str(path)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _nonempty(text: str, name: str) -> str:
    if not text.strip():
        raise SkipFile(f"{name}: no text content")
    return text


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
    raw = _nonempty(decode_text(data, name), name)
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
            content_hash=_sha256(data),
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
    text = _nonempty(decode_text(data, name), name)
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
            text=_nonempty(body, name),
            source=meta.pop("source", None) or None,
            published=published,
            language=(meta.pop("language", None) or meta.pop("lang", None) or None),
            url=meta.pop("url", None) or None,
            path=str(path),
            content_hash=_sha256(data),
            byline=(meta.pop("author", None) or meta.pop("byline", None) or None),
            section=meta.pop("section", None) or None,
            extra={k: v for k, v in meta.items() if v},
        )
    ]


def _meta(soup: BeautifulSoup, attr: str, key: str) -> str | None:
    """The content of <meta {attr}="{key}">, e.g. _meta(soup, "property", "og:site_name")."""
    tag = soup.find("meta", attrs={attr: key})
    value = tag.get("content") if isinstance(tag, Tag) else None
    return value.strip() or None if isinstance(value, str) else None


def _html_text(node: Tag) -> str:
    """Visible text with block elements as paragraph breaks and <br> as line breaks."""
    parts: list[str] = []

    def walk(el: Tag) -> None:
        for child in el.children:
            if isinstance(child, Comment):
                continue
            if isinstance(child, NavigableString):
                if type(child) is NavigableString:  # skips Doctype, CData, processing instructions
                    parts.append(str(child))
            elif isinstance(child, Tag):
                if child.name == "br":
                    parts.append(_LINE)
                    continue
                block = child.name in _BLOCK_TAGS
                parts.append(_PARA if block else "")
                walk(child)
                parts.append(_PARA if block else "")

    walk(node)
    flat = re.sub(r"\s+", " ", "".join(parts))
    paragraphs = (re.sub(rf" *{_LINE} *", "\n", p).strip() for p in flat.split(_PARA))
    return "\n\n".join(p for p in paragraphs if p)


def _html_title(soup: BeautifulSoup) -> str:
    """The page's headline: og:title, else the <h1> of its <article>/<main> (or the one its <title>
    starts with), else <title> without a trailing " | Site name" (a <title> usually carries the
    site's name, a headline does not), else the first <h1>."""
    og = _meta(soup, "property", "og:title")
    if og:
        return og
    tag = soup.find("title")
    title = tag.get_text(" ", strip=True) if tag else ""
    h1s = [h.get_text(" ", strip=True) for h in soup.find_all("h1")]
    for box in (soup.find("article"), soup.find("main")):
        h1 = box.find("h1") if isinstance(box, Tag) else None
        if isinstance(h1, Tag) and h1.get_text(strip=True):
            return h1.get_text(" ", strip=True)
    for h in h1s:
        if h and title.startswith(h):
            return h
    site = (_meta(soup, "property", "og:site_name") or "").casefold()
    for sep in (" | ", " – ", " — ", " - ", " :: "):
        head, found, tail = title.rpartition(sep)
        if found and head.strip() and (tail.strip().casefold() == site or len(tail) < len(head)):
            return head.strip()
    return title or next((h for h in h1s if h), "")


def _read_html(path: Path, data: bytes, name: str) -> list[Article]:
    soup = BeautifulSoup(decode_text(data, name), "html.parser")
    # Metadata first: the title's <h1> may sit in a <header> that is dropped below.
    title = _html_title(soup)
    time_tag = soup.find("time", attrs={"datetime": True})
    raw_date = _meta(soup, "property", "article:published_time") or (
        str(time_tag.get("datetime")) if isinstance(time_tag, Tag) else None
    )
    # HTML in the wild has messy dates: an unparseable one is left out rather than failing the file.
    published = parse_date_text(raw_date) if raw_date else None
    html = soup.find("html")
    lang = html.get("lang") if isinstance(html, Tag) else None
    canonical = soup.find("link", attrs={"rel": "canonical"})
    url = _meta(soup, "property", "og:url") or (
        str(canonical.get("href")) if isinstance(canonical, Tag) else None
    )
    for tag in soup.find_all(_DROP_TAGS):
        tag.decompose()
    main = soup.find("article") or soup.find("main") or soup.body or soup
    text = _html_text(main) if isinstance(main, Tag) else ""
    return [
        Article(
            id=path.stem,
            title=title or None,
            text=_nonempty(text, name),
            source=_meta(soup, "property", "og:site_name"),
            published=published,
            language=str(lang).split("-")[0].lower() if isinstance(lang, str) and lang.strip() else None,
            url=url,
            path=str(path),
            content_hash=_sha256(data),
            byline=_meta(soup, "name", "author"),
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
            content_hash=_sha256(data),
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
        content_hash=_sha256(canonical),
        byline=opt("byline"),
        section=opt("section"),
        extra=extra,
    )


def _read_jsonl(path: Path, data: bytes, name: str) -> list[Article]:
    articles: list[Article] = []
    first_line: dict[str, int] = {}
    for lineno, line in enumerate(decode_text(data, name).split("\n"), start=1):
        if not line.strip():
            continue
        where = f"{name}, line {lineno}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise ReadError(f"{where}: invalid JSON: {e.msg} (column {e.colno})") from None
        # Hash the canonical form so reformatting a line does not count as a change.
        canonical = json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()
        art = _jsonl_article(obj, path, where, canonical)
        if art.id in first_line:
            raise ReadError(f"{where}: duplicate id {art.id!r} (first on line {first_line[art.id]})")
        first_line[art.id] = lineno
        articles.append(art)
    if not articles:
        raise SkipFile(f"{name}: no JSON lines")
    return articles


_READERS: dict[str, Callable[[Path, bytes, str], list[Article]]] = {
    ".txt": _read_txt,
    ".md": _read_md,
    ".html": _read_html,
    ".htm": _read_html,
    ".pdf": _read_pdf,
    ".jsonl": _read_jsonl,
}
