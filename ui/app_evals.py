"""The Evals tab: pick one of the project's question sets by name or upload one, run it, read the report."""

from __future__ import annotations

from typing import Any

import gradio as gr

from rag.errors import RagError
from ui.evals_view import NO_RUNNER_NOTE, EvalRunner, question_sets, report_html, run_eval

_PROGRESS = gr.Progress(track_tqdm=True)


def evals_tab(runner: EvalRunner | None) -> None:
    """Build the tab inside the current gr.Tab. The report shown is the last one this session ran."""
    sets = question_sets()
    last_report = gr.State(None)
    report = gr.HTML(report_html(None), elem_id="eval-report", js_on_load=None)
    with gr.Row(equal_height=False):
        set_name = gr.Dropdown(
            list(sets), value=next(iter(sets), None), label="Question set", elem_id="eval-set", scale=2
        )
        qfile = gr.File(
            file_types=[".jsonl"], label="…or upload a question file (JSONL)", elem_id="eval-upload", scale=2,
            interactive=runner is not None,
        )  # fmt: skip
        run_btn = gr.Button(
            "Run eval", variant="primary", scale=1, interactive=runner is not None, elem_id="eval-run"
        )
    eval_msg = gr.Markdown(NO_RUNNER_NOTE if runner is None else "", elem_id="eval-msg")

    def do_eval(name: str | None, uploaded: str | None, progress: gr.Progress = _PROGRESS) -> tuple[Any, ...]:
        progress(0, desc="starting eval")
        try:
            message, html, out = run_eval(runner, name, uploaded, sets)
        except RagError as e:
            raise gr.Error(str(e), print_exception=False) from None
        return message, (html if out else gr.skip()), (out or gr.skip())

    run_btn.click(
        do_eval,
        [set_name, qfile],
        [eval_msg, report, last_report],
        concurrency_limit=1,
        api_visibility="private",
    )
