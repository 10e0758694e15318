"""Pure HTML rendering for the chat UI: answers, source cards, the article view, the trace.

Everything that comes from a document or a user is escaped here; Gradio's sanitiser is only
the second line of defence. Clickable elements carry the class `ref-TURN-REF` (REF is a citation
number, or `cN` for a closest passage) and are wired up by the page script in ui/assets.py.
A class, because the Chatbot's sanitiser strips data-* attributes.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from datetime import date

from rag.dates import day_label
from rag.injection import URL_RE
from rag.outlets import describe_filters
from rag.types import Answer, Article, Citation
from ui.answer_view import sentences_html

CONTEXT_CHARS = 160  # characters of article text shown on each side of a quoted span
SUPPORT_LABELS = {"quoted": "exact quote", "supported": "supported", "unsupported": "not supported"}

# HTML, Markdown and LaTeX syntax characters, turned into entities in ONE pass so a quote can never
# become markup, and an entity made for one character is never escaped again (`'` must not end up
# as a literal "&#x27;" because its `#` was escaped after `'` became `&#x27;`).
_BLANKS = re.compile(r"\n\s*\n")
_MD_ENTITIES = str.maketrans(
    {
        **{c: f"&#{ord(c)};" for c in "*_`[]#~|$\\{}!"},
        **{"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;", "\n": " "},
    }
)


TITLE_CHARS = 90
_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"'”’)]?\s")


def first_sentence(text: str, limit: int = TITLE_CHARS) -> str:
    """The opening sentence of `text`, cut at a word boundary to `limit` characters."""
    flat = " ".join(text.split())
    m = _SENTENCE_END.search(flat)
    s = flat[: m.start() + 1].strip() if m else flat
    if len(s) <= limit:
        return s
    return s[:limit].rsplit(" ", 1)[0].rstrip(",;:") + "…"


def title_of(title: str | None, text: str | None, article_id: str) -> str:
    """An article's title; without one its first sentence in quotes (never a file hash), else its id."""
    if title:
        return title
    return f"“{first_sentence(text)}”" if text and text.strip() else article_id


def esc(text: object) -> str:
    """Escape text for HTML content and attributes (quotes included)."""
    return html.escape(str(text), quote=True)


def esc_md(text: str) -> str:
    """Escape text that ends up inside the Chatbot's Markdown: HTML and Markdown syntax both inert."""
    return str(text).translate(_MD_ENTITIES)


def answer_md(text: str, linkify: bool = False) -> str:
    """Answer text for the Chatbot: escaped like `esc_md`, and every URL either inert (the default:
    shown as text in <span class="url">, its ':' an entity so no Markdown autolinker sees a URL) or,
    when the user opted in (RAG_LINKIFY_URLS), a link that opens in a new tab without a referrer."""
    out, last = [], 0
    for m in URL_RE.finditer(text):
        url = m.group().rstrip(".,;:!?")
        end = m.start() + len(url)
        out.append(esc_md(text[last : m.start()]))
        shown = esc_md(url).replace(":", "&#58;").replace(".", "&#46;")
        if linkify:
            href = url if url.lower().startswith(("http://", "https://")) else "http://" + url
            out.append(
                f'<a class="url" href="{esc(href)}" target="_blank" rel="noopener noreferrer nofollow">{shown}</a>'
            )
        else:
            out.append(f'<span class="url">{shown}</span>')
        last = end
    out.append(esc_md(text[last:]))
    return "".join(out)


def cite_ref(turn: int, ref: str | int) -> str:
    """The class naming a clickable citation: which exchange, which citation (the script reads it)."""
    return f"ref-{turn}-{ref}"


def _date(d: date | None) -> str:
    return day_label(d)


def marker(turn: int, n: int, quote: str = "") -> str:
    """A clickable [n] marker."""
    title = f' title="{esc(quote[:160])}"' if quote else ""
    return f'<span class="cite {cite_ref(turn, n)}" role="button" tabindex="0"{title}>[{n}]</span>'


def answer_html(answer: Answer, turn: int, linkify: bool = False) -> str:
    """The assistant message: sentences with clickable markers, or a plain abstention. URLs in the
    answer are links only when `linkify` (RAG_LINKIFY_URLS); otherwise they are inert text."""

    def text_md(text: str) -> str:
        return answer_md(text, linkify)

    parts: list[str] = []
    if answer.abstained:
        parts.append(f'<p class="abstain"><strong>{text_md(answer.text)}</strong></p>')
        applied = describe_filters(answer.trace.filters)
        if applied:
            parts.append(
                f'<p class="filters-note">Only articles matching these filters were searched: '
                f"<b>{esc_md(applied)}</b>. Press <b>Ask again without filters</b> below the chat to "
                "search the whole corpus.</p>"
            )
        if answer.closest:
            parts.append(
                '<p class="abstain-note">The closest passages are shown beside the chat, marked '
                "<em>not an answer</em>.</p>"
            )
    elif answer.sentences:
        parts.append(sentences_html(answer, turn, text_md, marker, cite_ref))
    else:
        parts.append(f'<p class="answer-text">{text_md(answer.text)}</p>')
    if answer.notice:
        parts.append(f'<p class="notice">{esc_md(answer.notice)}</p>')
    # A block-level wrapper on one line keeps Markdown from parsing anything inside it.
    return f'<div class="rag-answer">{"".join(parts)}</div>'


def notice_html(text: str) -> str:
    """An assistant message that is not an answer (e.g. the index is empty)."""
    return f'<div class="rag-notice"><p class="notice">{esc_md(text)}</p></div>'


def streaming_html(text: str) -> str:
    """The assistant message while it streams in (markers become clickable at the end; URLs never)."""
    return f'<div class="rag-answer streaming"><p class="answer-text">{answer_md(text)}▍</p></div>'


def passage_window(
    text: str, start: int, end: int, context: int = CONTEXT_CHARS
) -> tuple[str, str, str, bool, bool]:
    """(before, span, after, cut_before, cut_after): the span with whole words of context around it."""
    a = max(0, start - context)
    b = min(len(text), end + context)
    if a > 0:
        space = text.find(" ", a, start)
        a = space + 1 if space != -1 else a
    if b < len(text):
        space = text.rfind(" ", end, b)
        b = space if space != -1 else b
    return text[a:start], text[start:end], text[end:b], a > 0, b < len(text)


def highlighted_passage(text: str, start: int, end: int, context: int = CONTEXT_CHARS) -> str:
    """Escaped context around text[start:end], the span itself in <mark>."""
    before, span, after, cut_a, cut_b = passage_window(text, start, end, context)
    lead = "… " if cut_a else ""
    tail = " …" if cut_b else ""
    # Blank lines between paragraphs waste a card's height; the article view keeps them.
    before, after = _BLANKS.sub("\n", before), _BLANKS.sub("\n", after)
    return f"{lead}{esc(before)}<mark>{esc(span)}</mark>{esc(after)}{tail}"


def _meta(c: Citation) -> str:
    bits = [esc(c.source or "unknown outlet"), esc(_date(c.published))]
    if c.language:
        bits.append(esc(c.language))
    return " · ".join(f"<span>{b}</span>" for b in bits)


def source_card(
    c: Citation, turn: int, article_text: str | None, support: str | None, closest: bool = False
) -> str:
    """One card: number, title, outlet, date, language, the quote highlighted in its passage."""
    ref = f"c{c.n}" if closest else str(c.n)
    if article_text is not None and article_text[c.start : c.end] == c.quote:
        passage = highlighted_passage(article_text, c.start, c.end)
    else:
        passage = f"<mark>{esc(c.quote)}</mark>"
    badge = '<span class="badge not-answer">not an answer</span>' if closest else ""
    if support:
        badge += f'<span class="support {esc(support)}">{esc(SUPPORT_LABELS.get(support, support))}</span>'
    title = esc(title_of(c.title, article_text, c.article_id))
    return (
        f'<div class="src-card {cite_ref(turn, ref)}{" closest" if closest else ""}" role="button" tabindex="0">'
        f'<div class="src-head"><span class="src-n">{"·" if closest else f"[{c.n}]"}</span>'
        f'<span class="src-title">{title}</span>{badge}</div>'
        f'<div class="src-meta">{_meta(c)}</div>'
        f'<blockquote class="src-passage">{passage}</blockquote></div>'
    )


def sources_html(answer: Answer | None, turn: int, texts: dict[str, str | None]) -> str:
    """The sources panel for one answer; `texts` maps article ids to their full text."""
    if answer is None:
        return '<div class="sources empty">Ask a question: its sources appear here.</div>'
    support: dict[int, str] = {}
    if answer.mode != "extractive":
        for s in answer.sentences:
            for n in s.citations:
                if s.support and (n not in support or s.support == "unsupported"):
                    support[n] = s.support
    cards = [source_card(c, turn, texts.get(c.article_id), support.get(c.n)) for c in answer.citations]
    head = f'<div class="sources-head">Sources for answer {turn + 1} · click a card to read the article</div>'
    if answer.abstained:
        cards = [source_card(c, turn, texts.get(c.article_id), None, closest=True) for c in answer.closest]
        head = (
            '<div class="sources-head abstained">No answer in the corpus. Closest passages '
            "(<strong>not an answer</strong>):</div>"
        )
        if not cards:
            cards = ['<div class="sources empty">Nothing in the corpus matched.</div>']
    return f'<div class="sources">{head}{"".join(cards)}</div>'


def article_html(article: Article, start: int | None = None, end: int | None = None, label: str = "") -> str:
    """The full article, the cited span in <mark id="cited">."""
    meta = [esc(article.source or "unknown outlet"), esc(_date(article.published))]
    if article.language:
        meta.append(esc(article.language))
    if article.byline:
        meta.append(esc(article.byline))
    text = article.text
    if start is not None and end is not None and 0 <= start <= end <= len(text):
        body = f'{esc(text[:start])}<mark id="cited">{esc(text[start:end])}</mark>{esc(text[end:])}'
    else:
        body = esc(text)
    url = ""
    if article.url and article.url.startswith(("http://", "https://")):
        url = f' · <a href="{esc(article.url)}" target="_blank" rel="noopener noreferrer">original</a>'
    return (
        f'<div class="article-view"><div class="article-label">{esc(label)}</div>'
        f"<h3>{esc(title_of(article.title, article.text, article.id))}</h3>"
        f'<div class="src-meta">{" · ".join(meta)} · <code>{esc(article.id)}</code>{url}</div>'
        f'<div class="article-body">{body}</div></div>'
    )


def article_placeholder(message: str = "Click a [n] marker or a source card to read the article.") -> str:
    return f'<div class="article-view empty">{esc(message)}</div>'


def chat_messages(exchanges: Sequence[tuple[str, Answer]], linkify: bool = False) -> list[dict[str, str]]:
    """Chatbot messages (Gradio's messages format) for the finished exchanges."""
    out: list[dict[str, str]] = []
    for turn, (question, answer) in enumerate(exchanges):
        out.append({"role": "user", "content": f'<div class="rag-q">{esc_md(question)}</div>'})
        out.append({"role": "assistant", "content": answer_html(answer, turn, linkify)})
    return out
