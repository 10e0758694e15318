"""Pure HTML for the "why this answer" view: the query as searched, the hits and their scores, timings."""

from __future__ import annotations

from rag.types import Answer
from ui.render import esc


def _num(x: float | None, digits: int = 3) -> str:
    return "–" if x is None else f"{x:.{digits}f}"


def _rank(x: int | None) -> str:
    return "" if x is None else f' <span class="rank">#{x}</span>'


def trace_html(answer: Answer | None) -> str:
    """Query, notes, filters, timings and a table of every hit with dense, lexical and fused scores."""
    if answer is None:
        return '<div class="trace empty">The trace of the current answer appears here.</div>'
    t = answer.trace
    rows = []
    for h in t.hits:
        c = h.chunk
        snippet = c.text[:140] + ("…" if len(c.text) > 140 else "")
        flag = ""
        if c.injection:  # rag.injection: sentences addressed to the reader or an AI, treated as data
            said = "; ".join(
                f"{f.reason}: “{c.text[f.start - c.start : f.end - c.start][:120]}”" for f in c.injection
            )
            flag = (
                f"<br><span class='flagged'>⚠ flagged as instructions (data, not obeyed): {esc(said)}</span>"
            )
        rows.append(
            f"<tr><td>{h.rank}</td><td>{esc(c.title or c.article_id)}<br><code>{esc(c.id)}</code></td>"
            f"<td>{esc(c.source or '')}<br>{esc(c.published.isoformat() if c.published else 'undated')}</td>"
            f"<td>{_num(h.score, 4)}</td><td>{_num(h.dense)}{_rank(h.dense_rank)}</td>"
            f"<td>{_num(h.lexical, 2)}{_rank(h.lexical_rank)}</td><td class='snippet'>{esc(snippet)}{flag}</td></tr>"
        )
    timings = " · ".join(f"{esc(k)} {v:.0f} ms" for k, v in t.timings_ms.items())
    filters = (
        ", ".join(f"{esc(k)}={esc(v)}" for k, v in t.filters.items() if v not in (None, [], ())) or "none"
    )
    settings = ", ".join(f"{esc(k)}={esc(v)}" for k, v in t.settings.items())
    notes = "".join(f"<li>{esc(n)}</li>" for n in t.notes)
    if t.flagged:
        notes += (
            f"<li class='flagged'>{len(t.flagged)} passage(s) hold text addressed to the reader or an AI: "
            "flagged, never followed, and never support for an answer</li>"
        )
    state = "abstained" if answer.abstained else "answered"
    return (
        '<div class="trace">'
        f"<p><b>Question:</b> {esc(t.question)}<br><b>Query as searched:</b> <code>{esc(t.query)}</code></p>"
        f"<p><b>Result:</b> {state}, confidence {answer.confidence:.3f}, mode {esc(answer.mode)}</p>"
        f"<p><b>Filters:</b> {filters}<br><b>Timings:</b> {timings}</p>"
        + (f"<ul class='notes'>{notes}</ul>" if notes else "")
        + '<table class="hits"><thead><tr><th>#</th><th>article / chunk</th><th>outlet / date</th>'
        "<th>fused</th><th>dense</th><th>BM25</th><th>passage</th></tr></thead>"
        f"<tbody>{''.join(rows) or '<tr><td colspan=7>no hits</td></tr>'}</tbody></table>"
        f'<p class="settings"><b>Settings:</b> {settings}</p></div>'
    )
