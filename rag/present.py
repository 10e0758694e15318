"""Plain-text rendering for the terminal: answers with their sources, ingest tables, stats."""

from __future__ import annotations

import shutil
import textwrap
from typing import Any

from rag.types import Answer, Citation, IngestReport


def _width() -> int:
    return min(shutil.get_terminal_size((100, 20)).columns, 110)


def _cite_line(c: Citation) -> str:
    meta = " · ".join(x for x in (c.source, c.published.isoformat() if c.published else "undated") if x)
    return f"[{c.n}] {c.title or c.article_id} ({meta}) — {c.article_id} chars {c.start}-{c.end}"


def format_answer(a: Answer) -> str:
    w = _width()
    out: list[str] = []
    if a.notice:
        out.append(f"note: {a.notice}")
    out.append(textwrap.fill(a.text, w))
    if a.abstained:
        out.append("")
        out.append("Closest passages (NOT an answer):")
        for c in a.closest:
            out.append(_cite_line(c))
            out.append(textwrap.indent(textwrap.shorten(c.quote, 400), "    "))
    elif a.citations:
        out.append("")
        out.append("Sources:")
        labels = {n: s.support for s in a.sentences for n in s.citations}
        for c in a.citations:
            label = labels.get(c.n)
            out.append(_cite_line(c) + (f" [{label}]" if label and label != "quoted" else ""))
            out.append(textwrap.indent(textwrap.fill(f"“{c.quote}”", w - 4), "    "))
    out.append(f"\nconfidence {a.confidence:.2f} · {a.mode} · {a.trace.timings_ms.get('total', 0):.0f} ms")
    return "\n".join(out)


def format_ingest(report: IngestReport) -> str:
    rows = [(f.status, str(f.chunks) if f.status not in ("skipped", "failed") else "", f.path,
             f.reason or (f"{f.flagged} sentence(s) flagged as instructions: treated as data" if f.flagged else ""))
            for f in report.files]  # fmt: skip
    w1 = max([len("status")] + [len(r[0]) for r in rows])
    lines = [f"{'status':<{w1}}  {'chunks':>6}  file"]
    for status, chunks, path, reason in rows:
        lines.append(f"{status:<{w1}}  {chunks:>6}  {path}" + (f"  — {reason}" if reason else ""))
    counts = {s: report.count(s) for s in ("indexed", "updated", "unchanged", "removed", "skipped", "failed")}
    summary = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
    flagged = sum(f.flagged for f in report.files)
    if flagged:
        summary += f", {flagged} sentence(s) flagged as instructions"
    lines.append("")
    lines.append(
        f"{summary or 'no files'} · {report.texts_embedded} chunks embedded"
        + (f" ({report.embed_runtime})" if report.embed_runtime and report.texts_embedded else "")
        + " · "
        f"index: {report.articles_total} articles, {report.chunks_total} chunks · {report.seconds:.1f} s"
    )
    return "\n".join(lines)


def format_stats(stats: dict[str, Any]) -> str:
    lines = [f"{k.replace('_', ' '):<16} {v}" for k, v in stats.items() if k != "outlets"]
    lines.append(f"{'outlets':<16} {', '.join(stats['outlets']) or '(none named)'}")
    return "\n".join(lines)
