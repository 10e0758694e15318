"""HTML pages: the main text (article, main or body, without navigation and boilerplate) and metadata."""

from __future__ import annotations

import re
from pathlib import Path

from bs4 import BeautifulSoup, Comment, NavigableString, Tag

from index.decoding import decode_text, nonempty, sha256
from index.seed_format import parse_date_text
from rag.types import Article

_DROP_TAGS = ("script", "style", "nav", "header", "footer", "aside", "form", "noscript", "template")
_BLOCK_TAGS = frozenset(
    {"p", "div", "section", "article", "main", "li", "ul", "ol", "dl", "dt", "dd", "blockquote", "pre"}
    | {"h1", "h2", "h3", "h4", "h5", "h6", "table", "tr", "figure", "figcaption", "address", "hr", "body"}
)
# Private-use sentinels survive whitespace collapsing and cannot occur in real HTML text.
_PARA, _LINE = "\ue000", "\ue001"


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


def read_html(path: Path, data: bytes, name: str) -> list[Article]:
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
            text=nonempty(text, name),
            source=_meta(soup, "property", "og:site_name"),
            published=published,
            language=str(lang).split("-")[0].lower() if isinstance(lang, str) and lang.strip() else None,
            url=url,
            path=str(path),
            content_hash=sha256(data),
            byline=_meta(soup, "name", "author"),
        )
    ]
