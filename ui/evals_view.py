"""Evals tab: show the latest report, run an eval through an injected runner (ui/ never imports evals/)."""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Callable
from pathlib import Path

from rag.settings import PROJECT_ROOT

EvalRunner = Callable[[Path], Path]  # questions file -> report dir

NO_RUNNER_NOTE = (
    "Running evals from the UI is not enabled in this session. Run them from a shell:\n\n"
    "`rag eval --questions evals/questions/seed_dev.jsonl --corpus data/corpus --out reports/dev`\n\n"
    "and start the UI with `rag serve` to get the button here."
)
_IMG = re.compile(r"!\[([^\]]*)\]\(([^)\s]+)\)")


def latest_report(reports_dir: Path | None) -> Path | None:
    """The newest directory under (or equal to) `reports_dir` that holds a report.md or report.html."""
    if reports_dir is None or not reports_dir.is_dir():
        return None
    found = [p.parent for name in ("report.md", "report.html") for p in reports_dir.rglob(name)]
    if not found:
        return None
    return max(set(found), key=lambda d: max(f.stat().st_mtime for f in d.iterdir()))


def _inline_images(md: str, base: Path) -> str:
    """Markdown image links to local plots become data: URIs, so no file route has to serve them."""

    def sub(m: re.Match[str]) -> str:
        p = (base / m.group(2)).resolve()
        if p.suffix.lower() != ".png" or not p.is_file() or base.resolve() not in p.parents:
            return m.group(0)
        data = base64.b64encode(p.read_bytes()).decode()
        return (
            f'<img alt="{html.escape(m.group(1))}" src="data:image/png;base64,{data}" style="max-width:100%">'
        )

    return _IMG.sub(sub, md)


def report_html(report_dir: Path | None) -> str:
    """report.html in a sandboxed iframe (no scripts), else report.md; a hint when there is none."""
    if report_dir is None:
        return "<p>No eval report yet. Run one below, or with <code>rag eval</code>.</p>"
    head = f"<p class='report-path'>Report: <code>{html.escape(str(report_dir))}</code></p>"
    page = report_dir / "report.html"
    if page.is_file():
        doc = html.escape(page.read_text(encoding="utf-8", errors="replace"), quote=True)
        return f'{head}<iframe class="report" sandbox="" srcdoc="{doc}"></iframe>'
    md = report_dir / "report.md"
    text = md.read_text(encoding="utf-8", errors="replace")
    return head + f'<pre class="report-md">{_inline_images(html.escape(text, quote=False), report_dir)}</pre>'


def question_files(extra: list[Path] | None = None) -> list[str]:
    """Question files on offer: the project's eval sets plus any given."""
    roots = [PROJECT_ROOT / "evals" / "questions", PROJECT_ROOT.parent / "shared" / "evals"]
    found = sorted({str(p) for r in roots if r.is_dir() for p in r.glob("*.jsonl")})
    return found + [str(p) for p in extra or [] if str(p) not in found]


def run_eval(runner: EvalRunner | None, questions: str | None) -> tuple[str, str]:
    """Run the injected runner on `questions`; returns (status message, report HTML)."""
    if runner is None:
        return NO_RUNNER_NOTE, report_html(None)
    if not questions or not Path(questions).is_file():
        return f"Question file not found: {questions!r}", report_html(None)
    out = runner(Path(questions))
    return f"Eval finished: report in `{out}`.", report_html(out)
