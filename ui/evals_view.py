"""Evals tab: run a question set (one of the project's, by name, or an uploaded file) through an injected
runner (ui/ never imports evals/), and show the report of the run this user started.

No server path reaches the page: sets are offered by name and resolved here, uploads arrive as
Gradio's own temp files, and messages name the set, never a folder.
"""

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
    "`rag eval --questions evals/questions/seed_dev.jsonl --corpus data/corpus --out build/eval-dev`\n\n"
    "and start the UI with `rag serve` to get the button here."
)
NO_REPORT = "<p class='report-empty'>No eval run yet in this session. Pick a question set or upload one, then Run eval.</p>"
_IMG = re.compile(r"!\[([^\]]*)\]\(([^)\s]+)\)")
# An absolute path standing alone (after a space, quote, bracket, "=" or ">"): not a URL, not a tag.
_ABS_PATH = re.compile(r"(?:^|(?<=[\s\"'(=>`\[,;]))(/(?:[\w.+-]+/)+[\w.+-]*)", re.M)


def redact_paths(text: str) -> str:
    """Server paths out of a report: project paths become relative, any other absolute path its last
    part (the page never shows where things live on the machine that serves it)."""
    text = text.replace(str(PROJECT_ROOT) + "/", "").replace(str(Path.home()) + "/", "~/")
    return _ABS_PATH.sub(lambda m: "…/" + m.group(1).rstrip("/").rsplit("/", 1)[-1], text)


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


def report_html(report_dir: Path | None, label: str = "") -> str:
    """report.html in a sandboxed iframe (no scripts), else report.md; a hint when there is none."""
    if report_dir is None:
        return NO_REPORT
    head = f"<p class='report-name'>Report: {html.escape(label)}</p>" if label else ""
    page = report_dir / "report.html"
    if page.is_file():
        doc = html.escape(redact_paths(page.read_text(encoding="utf-8", errors="replace")), quote=True)
        return f'{head}<iframe class="report" sandbox="" srcdoc="{doc}"></iframe>'
    md = report_dir / "report.md"
    text = redact_paths(md.read_text(encoding="utf-8", errors="replace"))
    return head + f'<pre class="report-md">{_inline_images(html.escape(text, quote=False), report_dir)}</pre>'


def question_sets(root: Path = PROJECT_ROOT) -> dict[str, Path]:
    """The project's question sets by name: evals/questions/NAME.jsonl and evals/sets/NAME/questions.jsonl."""
    found: dict[str, Path] = {}
    for p in sorted((root / "evals" / "questions").glob("*.jsonl")):
        found[p.stem] = p
    for p in sorted((root / "evals" / "sets").glob("*/questions.jsonl")):
        name = p.parent.name if p.parent.name not in found else f"sets/{p.parent.name}"
        found[name] = p
    return found


def run_eval(
    runner: EvalRunner | None,
    set_name: str | None,
    uploaded: str | None = None,
    sets: dict[str, Path] | None = None,
) -> tuple[str, str, str | None]:
    """Run the injected runner on an uploaded file, else on the named set.

    Returns (status message, report HTML, report dir for this user's session, or None).
    """
    if runner is None:
        return NO_RUNNER_NOTE, report_html(None), None
    sets = question_sets() if sets is None else sets
    if uploaded:
        questions, label = Path(uploaded), f"uploaded file {Path(uploaded).name}"
    elif set_name in sets:
        questions, label = sets[set_name], f"question set {set_name}"
    elif set_name:
        known = ", ".join(sets) or "none"
        return f"Unknown question set {set_name!r}; the project's sets are: {known}.", report_html(None), None
    else:
        return "Pick a question set or upload a question file (JSONL) first.", report_html(None), None
    out = runner(questions)
    return f"Eval of {label} finished.", report_html(out, label), str(out)
