"""A whole conversation, every answer with its evidence, as Markdown or JSON, for download."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rag.injection import URL_RE
from rag.types import Answer


def inert_urls(text: str) -> str:
    """URLs as code spans, which no Markdown viewer turns into links (RAG_LINKIFY_URLS keeps them bare)."""
    return URL_RE.sub(lambda m: f"`{m.group()}`", text)


def export_json(question: str, answer: Answer) -> dict[str, Any]:
    """The answer, its evidence (quoted spans, article ids, dates, outlets) and the settings used."""
    data = answer.to_json()
    evidence = [
        {
            "n": c.n,
            "quote": c.quote,
            "article_id": c.article_id,
            "chunk_id": c.chunk_id,
            "start": c.start,
            "end": c.end,
            "title": c.title,
            "outlet": c.source,
            "published": c.published.isoformat() if c.published else None,
            "language": c.language,
        }
        for c in (answer.closest if answer.abstained else answer.citations)
    ]
    return {
        "question": question,
        "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "answer": data,
        "evidence": evidence,
        "evidence_is_answer": not answer.abstained,
        "settings": answer.trace.settings,
    }


def export_markdown(question: str, answer: Answer, linkify: bool = False) -> str:
    """A readable record of the answer and every quoted span, with where each came from."""
    shown = (lambda t: t) if linkify else inert_urls
    lines = [f"# {question}", "", shown(answer.text), ""]
    if answer.notice:
        lines += [f"> Note: {answer.notice}", ""]
    for conflict in answer.conflicts:
        head = "The name is shared" if conflict.kind == "ambiguous" else "Sources disagree"
        lines += [f"## {head}: {conflict.about}", ""]
        for v in conflict.values:
            when = v.published.isoformat() if v.published else "undated"
            marks = "".join(f"[{n}]" for n in v.citations)
            lines.append(f"- **{v.value}** — {v.source or 'unknown outlet'}, {when} {marks}")
        lines.append("")
    cites = answer.closest if answer.abstained else answer.citations
    lines.append("## Closest passages (not an answer)" if answer.abstained else "## Evidence")
    lines.append("")
    for c in cites:
        date = c.published.isoformat() if c.published else "undated"
        lines += [
            f"[{c.n}] **{c.title or c.article_id}** — {c.source or 'unknown outlet'}, {date}",
            f"article `{c.article_id}`, chunk `{c.chunk_id}`, characters {c.start}–{c.end}",
            "",
            "> " + shown(c.quote).replace("\n", "\n> "),
            "",
        ]
    t = answer.trace
    lines += ["## How it was answered", "", f"- query as searched: `{t.query}`"]
    lines += [f"- mode: {answer.mode}, confidence: {answer.confidence}, abstained: {answer.abstained}"]
    lines += [f"- filters: {json.dumps(t.filters)}" if t.filters else "- filters: none"]
    lines += [f"- {k}: {v}" for k, v in t.settings.items()]
    return "\n".join(lines) + "\n"


def conversation_json(title: str, exchanges: Sequence[tuple[str, Answer]]) -> dict[str, Any]:
    """Every exchange of the conversation, in order, each as export_json gives it."""
    return {
        "title": title,
        "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "exchanges": [export_json(q, a) for q, a in exchanges],
    }


def conversation_markdown(title: str, exchanges: Sequence[tuple[str, Answer]], linkify: bool = False) -> str:
    """The conversation as one document: a section per question, each with its answer and evidence."""
    parts = [
        f"# {title}",
        "",
        f"{len(exchanges)} question(s), exported {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
    ]
    for i, (q, a) in enumerate(exchanges, 1):
        body = export_markdown(q, a, linkify).replace("\n## ", "\n### ")
        parts.append(f"## {i}. " + body.removeprefix("# "))
    return "\n".join(parts)


def write_exports(
    title: str, exchanges: Sequence[tuple[str, Answer]], out_dir: Path, stem: str, linkify: bool = False
) -> tuple[Path, Path]:
    """Write `stem`.md and `stem`.json (the whole conversation) into `out_dir`; return both paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    md = out_dir / f"{stem}.md"
    js = out_dir / f"{stem}.json"
    md.write_text(conversation_markdown(title, exchanges, linkify), encoding="utf-8")
    data = conversation_json(title, exchanges)
    js.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
    return md, js
