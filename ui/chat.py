"""Chat handlers: plain functions and a generator that tests call directly, no Gradio needed."""

from __future__ import annotations

import re
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from datetime import date
from pathlib import Path
from typing import Any, Protocol

from rag.errors import ConfigError
from rag.outlets import resolve_outlets
from rag.settings import Settings
from rag.types import Answer, AnswerEvent, Article, ArticleInfo, Filters, Turn
from ui import render
from ui.conversations import Exchange
from ui.export import write_exports
from ui.trace_view import trace_html

EMPTY_CORPUS = (
    "The index is empty, so there is nothing to answer from yet. Add articles in the Corpus tab "
    '(upload files), or run "rag ingest PATH" in a terminal while this page is open: they can be '
    "asked about as soon as the ingest ends."
)


class ChatPipeline(Protocol):
    """What the UI needs from rag.pipeline.Pipeline."""

    def stream(
        self,
        question: str,
        history: Sequence[Turn] | None = None,
        filters: Filters | None = None,
        *,
        k: int | None = None,
        mode: str | None = None,
    ) -> Iterator[AnswerEvent]: ...

    def article(self, article_id: str) -> Article | None: ...

    def articles(self) -> list[ArticleInfo]: ...

    def article_count(self) -> int: ...

    def outlets(self) -> list[str]: ...

    def refresh(self) -> None: ...


class InputError(ValueError):
    """A control holds a value the user must fix; shown as an error message in the UI."""


class FilterError(InputError):
    """A filter control holds a bad value; the message is shown at that field (`field`)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def parse_date(label: str, value: str | None) -> date | None:
    """A YYYY-MM-DD textbox value, or None when empty."""
    value = (value or "").strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise FilterError(
            label.lower(), f"{label} must be a date like 2024-01-31 (YYYY-MM-DD), got {value!r}"
        ) from None


def make_filters(
    since: str | None,
    until: str | None,
    outlets: Sequence[str] | str | None,
    known_outlets: Sequence[str] | None = None,
) -> Filters | None:
    """Filters from the controls; None when nothing is set. Outlets typed by hand are matched to the
    indexed names (case-insensitively, by prefix) when `known_outlets` is given."""
    d0, d1 = parse_date("Since", since), parse_date("Until", until)
    if d0 and d1 and d0 > d1:
        raise FilterError("until", f"Since ({d0}) is after Until ({d1}): no article can match")
    chosen = tuple(o for o in ((outlets,) if isinstance(outlets, str) else tuple(outlets or ())) if o)
    if chosen and known_outlets is not None:
        try:
            chosen = resolve_outlets(chosen, known_outlets)
        except ConfigError as e:
            raise FilterError("outlets", str(e)) from None
    f = Filters(since=d0, until=d1, sources=chosen)
    return None if f.empty else f


def filter_notes(
    since: str | None, until: str | None, outlets: Sequence[str] | str | None, known: Sequence[str]
) -> tuple[str, str, str]:
    """HTML messages to show under the Since, Until and Outlets fields ('' where the field is fine)."""
    notes = {"since": "", "until": "", "outlets": ""}
    try:
        make_filters(since, until, outlets, known)
    except FilterError as e:
        notes[e.field] = f'<div class="filter-error">⚠ {render.esc(e)}</div>'
    return notes["since"], notes["until"], notes["outlets"]


def mode_choices(settings: Settings) -> list[str]:
    """Answer modes on offer: the LLM only when a backend is configured."""
    return ["extractive", "llm"] if settings.llm_backend else ["extractive"]


class ChatService:
    """Answers questions for the chat and renders the sources, article and trace views."""

    def __init__(self, pipeline: ChatPipeline, settings: Settings, export_dir: Path | None = None) -> None:
        self.pipeline = pipeline
        self.settings = settings
        self.export_dir = export_dir or Path(tempfile.mkdtemp(prefix="rag-export-"))
        self._articles_seen = -1

    def texts(self, answer: Answer) -> dict[str, str | None]:
        """Full texts of the articles an answer cites (for the context around each quote)."""
        ids = {c.article_id for c in (*answer.citations, *answer.closest)}
        out: dict[str, str | None] = {}
        for aid in ids:
            art = self.pipeline.article(aid)
            out[aid] = art.text if art else None
        return out

    def chat(
        self,
        message: str,
        exchanges: list[Exchange] | None,
        since: str = "",
        until: str = "",
        outlets: Sequence[str] | str | None = None,
        k: float | None = None,
        mode: str = "extractive",
    ) -> Iterator[tuple[str, list[dict[str, str]], list[Exchange], str, str]]:
        """Stream one answer: yields (textbox, chatbot messages, exchanges, sources HTML, trace HTML)."""
        exchanges = list(exchanges or [])
        question = (message or "").strip()
        if not question:
            raise InputError("Type a question first.")
        filters = make_filters(since, until, outlets, self.pipeline.outlets())
        if mode not in mode_choices(self.settings):
            raise InputError(f"Answer mode {mode!r} is not available; configure RAG_LLM_BASE_URL for 'llm'")
        history = [Turn(q, a.text) for q, a in exchanges]
        done = render.chat_messages(exchanges, self.settings.linkify_urls)
        user = {"role": "user", "content": f'<div class="rag-q">{render.esc_md(question)}</div>'}
        n_articles = self.pipeline.article_count()  # one COUNT, not every article's row per question
        if n_articles != self._articles_seen:  # another process (a `rag ingest`) changed the corpus
            self._articles_seen = n_articles
            self.pipeline.refresh()
        if not n_articles:
            note = {"role": "assistant", "content": render.notice_html(EMPTY_CORPUS)}
            yield message, [*done, user, note], exchanges, render.sources_html(None, 0, {}), trace_html(None)
            return
        waiting = '<div class="sources empty">Searching the corpus…</div>'
        yield (
            "",
            [*done, user, {"role": "assistant", "content": render.streaming_html("")}],
            exchanges,
            waiting,
            "",
        )
        text = ""
        answer: Answer | None = None
        # Every update re-renders and re-sends the chat, so text arriving faster than one update per
        # ui_stream_ms is shown together: an extractive answer (all at once) costs one update, not
        # one per word; an LLM's tokens still appear as they come, in small groups.
        interval, shown = self.settings.ui_stream_ms / 1000, -1e9
        for event in self.pipeline.stream(question, history, filters, k=int(k) if k else None, mode=mode):
            if event.answer is not None:
                answer = event.answer
                break
            text += event.delta
            if time.monotonic() - shown < interval:
                continue
            shown = time.monotonic()
            partial = {"role": "assistant", "content": render.streaming_html(text)}
            yield "", [*done, user, partial], exchanges, waiting, ""
        assert answer is not None, "the pipeline stream ended without an answer"
        exchanges.append((question, answer))
        turn = len(exchanges) - 1
        sources = render.sources_html(answer, turn, self.texts(answer))
        yield (
            "",
            render.chat_messages(exchanges, self.settings.linkify_urls),
            exchanges,
            sources,
            trace_html(answer),
        )

    def open_citation(self, ref: str, exchanges: list[Exchange] | None) -> str:
        """The article view for ref `TURN:N` (a citation) or `TURN:cN` (a closest passage)."""
        exchanges = exchanges or []
        try:
            turn_s, n_s = (ref or "").split(":", 1)
            turn = int(turn_s)
            closest = n_s.startswith("c")
            n = int(n_s[1:] if closest else n_s)
            question, answer = exchanges[turn]
        except (ValueError, IndexError):
            return render.article_placeholder(f"Unknown citation {ref!r}.")
        cites = answer.closest if closest else answer.citations
        cite = next((c for c in cites if c.n == n), None)
        if cite is None:
            return render.article_placeholder(f"Answer {turn + 1} has no citation [{n}].")
        article = self.pipeline.article(cite.article_id)
        if article is None:
            return render.article_placeholder(f"Article {cite.article_id} is no longer in the corpus.")
        label = f"Closest passage {n} (not an answer)" if closest else f"[{n}] cited in answer {turn + 1}"
        return render.article_html(article, cite.start, cite.end, label)

    def sources_for(self, exchanges: list[Exchange] | None) -> tuple[str, str]:
        """Sources and trace HTML of the latest answer (after a clear, the empty panels)."""
        if not exchanges:
            return render.sources_html(None, 0, {}), trace_html(None)
        q, a = exchanges[-1]
        return render.sources_html(a, len(exchanges) - 1, self.texts(a)), trace_html(a)

    def exports(self, exchanges: list[Exchange] | None, title: str | None = None) -> tuple[Any, Any]:
        """Paths of the Markdown and JSON exports of the whole conversation (None before any answer)."""
        if not exchanges:
            return None, None
        title = title or exchanges[0][0]
        slug = "-".join(re.findall(r"[a-z0-9]+", title.lower())[:6]) or "conversation"
        folder = self.export_dir / uuid.uuid4().hex[:12]  # one folder per export: names stay readable
        md, js = write_exports(title, exchanges, folder, f"conversation-{slug}", self.settings.linkify_urls)
        return str(md), str(js)
