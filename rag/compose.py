"""Building Answers, in one place for every answerer and stage: citations to exact spans,
abstentions with the closest passages, the trace, and the rendered text.

The rendered text shows each sentence with its article's date and outlet ("14 Mar 2025, The
Meridian Post: … [1]"); consecutive sentences from the same date and outlet share one prefix.
The sentences themselves stay exact spans: the prefix is presentation, kept apart in the JSON.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import date

from rag.dates import day_label, short_day
from rag.types import Answer, AnswerSentence, Chunk, Citation, Conflict, Hit, Span, Trace

CLOSEST = 3  # passages shown as "closest, not an answer" when abstaining
ABSTAIN_TEXT = "The indexed articles do not contain an answer to this question."


def span_citation(n: int, chunk: Chunk, span: Span) -> Citation:
    """Marker [n] for article text [span.start, span.end), quoted from the chunk that holds it."""
    if not chunk.start <= span.start <= span.end <= chunk.end:
        raise ValueError(f"span {span} lies outside chunk {chunk.id} [{chunk.start}, {chunk.end})")
    return Citation(
        n=n, article_id=chunk.article_id, chunk_id=chunk.id, start=span.start, end=span.end,
        quote=chunk.text[span.start - chunk.start : span.end - chunk.start],
        title=chunk.title, source=chunk.source, published=chunk.published, language=chunk.language,
    )  # fmt: skip


def passage_citation(n: int, hit: Hit) -> Citation:
    """A whole retrieved passage (for the 'closest passages, not an answer' list)."""
    return span_citation(n, hit.chunk, Span(hit.chunk.start, hit.chunk.end))


def closest_passages(hits: Sequence[Hit]) -> tuple[Citation, ...]:
    return tuple(passage_citation(i, h) for i, h in enumerate(hits[:CLOSEST], 1))


def quoted(
    items: Sequence[tuple[Chunk, Span]], labels: Sequence[str | None] | None = None
) -> tuple[tuple[AnswerSentence, ...], tuple[Citation, ...]]:
    """Sentences that are exact spans, numbered [1], [2], … in order (a repeated span keeps its number)."""
    numbers: dict[tuple[str, int, int], int] = {}
    citations: list[Citation] = []
    sentences: list[AnswerSentence] = []
    for i, (chunk, span) in enumerate(items):
        key = (chunk.article_id, span.start, span.end)
        if key not in numbers:
            numbers[key] = len(citations) + 1
            citations.append(span_citation(numbers[key], chunk, span))
        c = citations[numbers[key] - 1]
        label = labels[i] if labels else None
        flagged = next((f.reason for f in chunk.injection if f.start < span.end and span.start < f.end), None)
        sentences.append(
            AnswerSentence(c.quote, (c.n,), "quoted", None, c.published, c.source, label, flagged=flagged)
        )
    return tuple(sentences), tuple(citations)


def abstention(
    hits: Sequence[Hit], trace: Trace, confidence: float, mode: str, text: str = ABSTAIN_TEXT,
    notice: str | None = None,
) -> Answer:  # fmt: skip
    """'The articles do not hold the answer', with the closest passages marked as not an answer."""
    return Answer(text, (), (), True, round(confidence, 4), trace, mode, closest_passages(hits), notice)


def with_notes(trace: Trace, notes: Sequence[str]) -> Trace:
    return dataclasses.replace(trace, notes=trace.notes + tuple(notes)) if notes else trace


def dated(answer: Answer) -> Answer:
    """Every sentence carries its first citation's date and outlet (LLM sentences get them here)."""
    by_n = {c.n: c for c in answer.citations}
    sentences = []
    for s in answer.sentences:
        c = by_n.get(s.citations[0]) if s.citations else None
        if c is not None and s.published is None and s.source is None:
            s = dataclasses.replace(s, published=c.published, source=c.source)
        sentences.append(s)
    return dataclasses.replace(answer, sentences=tuple(sentences))


def prefix(published: date | None, source: str | None, label: str | None = None) -> str:
    """'14 Mar 2025, The Meridian Post' (or 'undated, DW News'), with a stage's label in front."""
    head = ", ".join(x for x in (day_label(published), source) if x)
    return f"{label.capitalize()}, {head}" if label else head[:1].upper() + head[1:]


def render(answer: Answer) -> str:
    """The answer as text: the lead line, the sentences under date/outlet prefixes, then conflicts."""
    if answer.abstained or not answer.sentences:
        return answer.text
    parts: list[str] = [answer.lead] if answer.lead else []
    last: tuple[object, ...] | None = None
    for s in answer.sentences:
        marks = "".join(f"[{n}]" for n in s.citations)
        key = (s.published, s.source, s.label)
        body = f"{s.text} {marks}".rstrip()
        if key == last and answer.layout != "timeline":
            parts.append(body)
        else:
            parts.append(f"{prefix(s.published, s.source, s.label)}: {body}")
        last = key
    parts.extend(conflict_line(c) for c in answer.conflicts)
    return ("\n" if answer.layout == "timeline" else " ").join(parts)


def conflict_line(c: Conflict) -> str:
    """'Sources disagree on the death toll: 26 (The Meridian Post, 14 Mar 2025) [3]; 31 (Coastal Wire, 13 Mar 2025) [4].'"""
    ref = max((v.published for v in c.values if v.published), default=None)
    vals = "; ".join(
        f"{v.value} ({', '.join(x for x in (v.source, short_day(v.published, ref)) if x)}) "
        + "".join(f"[{n}]" for n in v.citations)
        for v in c.values
    )
    head = f"The name is shared: {c.about}" if c.kind == "ambiguous" else f"Sources disagree on {c.about}"
    return f"{head}: {vals}."


def finished(answer: Answer) -> Answer:
    """The answer with dates on its sentences and its text rendered from them."""
    answer = dated(answer)
    return dataclasses.replace(answer, text=render(answer))
