"""The body of an answer in the chat: dated lines, timelines, and the "sources disagree" block.

Each run of sentences from one date and outlet opens with "14 Mar 2025, The Meridian Post:"
(as in the answer's text); a timeline is a list, one dated line per date; a disagreement lists
each value with its outlet and date, and each value is clickable like its [n] marker, opening
the article at the quoted span that gives it. Everything from documents is escaped by `esc_md`.
"""

from __future__ import annotations

from collections.abc import Callable

from rag.compose import prefix
from rag.dates import short_day
from rag.types import Answer, AnswerSentence, Citation, Conflict


def sentences_html(
    answer: Answer,
    turn: int,
    esc_md: Callable[[str], str],
    marker: Callable[[int, int, str], str],
    cite_ref: Callable[[int, int], str],
) -> str:
    """Lead, sentences (prose or timeline) and disagreements of a non-abstained answer."""
    by_n = {c.n: c for c in answer.citations}

    def body(s: AnswerSentence) -> str:
        marks = " ".join(marker(turn, n, by_n[n].quote if n in by_n else "") for n in s.citations)
        label = (
            ' <span class="support unsupported">not supported</span>' if s.support == "unsupported" else ""
        )
        if s.flagged:  # quoted because the question asks about it: the passage addresses the reader
            label += f' <span class="support flagged" title="{esc_md(s.flagged)}">instruction in the source, not a fact</span>'
        return f"{esc_md(s.text)} {marks}{label}"

    def when(s: AnswerSentence) -> str:
        undated = " undated" if s.published is None else ""
        return f'<span class="when{undated}">{esc_md(prefix(s.published, s.source, s.label))}:</span> '

    parts: list[str] = []
    if answer.lead:
        parts.append(f'<p class="answer-lead">{esc_md(answer.lead)}</p>')
    if answer.layout == "timeline":
        items = "".join(f"<li>{when(s)}{body(s)}</li>" for s in answer.sentences)
        parts.append(f'<ol class="timeline">{items}</ol>')
    else:
        out, last = [], None
        for s in answer.sentences:
            key = (s.published, s.source, s.label)
            out.append(body(s) if key == last else when(s) + body(s))
            last = key
        parts.append(f'<p class="answer-text">{" ".join(out)}</p>')
    parts.extend(conflict_html(c, turn, by_n, esc_md, cite_ref) for c in answer.conflicts)
    return "".join(parts)


def conflict_html(
    c: Conflict,
    turn: int,
    by_n: dict[int, Citation],
    esc_md: Callable[[str], str],
    cite_ref: Callable[[int, int], str],
) -> str:
    """'Sources disagree on X:' and one line per value: the value (click: its span), outlet, date, [n]."""
    ref_day = max((v.published for v in c.values if v.published), default=None)
    rows = []
    for v in c.values:
        first = v.citations[0] if v.citations else None
        value = esc_md(v.value)
        if first is not None:
            quote = esc_md(by_n[first].quote[:160]) if first in by_n else ""
            value = f'<span class="cite conflict-value {cite_ref(turn, first)}" role="button" tabindex="0" title="{quote}">{value}</span>'
        where = ", ".join(x for x in (v.source, short_day(v.published, ref_day)) if x)
        marks = " ".join(f"[{n}]" for n in v.citations)
        rows.append(f'<li>{value} <span class="when">({esc_md(where)})</span> {marks}</li>')
    head = "The name is shared" if c.kind == "ambiguous" else "Sources disagree"
    return (
        f'<div class="conflicts"><p><strong>{head}</strong> on {esc_md(c.about)}:</p>'
        f"<ul>{''.join(rows)}</ul></div>"
    )
