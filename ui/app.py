"""build_app(): the Gradio Blocks (Ask, Corpus, Evals tabs), built without launching.

Usage:
    app = build_app(build_pipeline(settings), settings, ingest=ingest_paths, delete=delete_article)
    launch(app, settings)  # ui.main
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import gradio as gr

from rag.errors import RagError
from rag.settings import Settings
from ui import render
from ui.assets import SCROLL_JS
from ui.chat import ChatPipeline, ChatService, Exchange, InputError, mode_choices
from ui.corpus import ARTICLE_COLUMNS, STATUS_COLUMNS, SUPPORTED_TYPES, CorpusService, DeleteFn, IngestFn
from ui.evals_view import NO_RUNNER_NOTE, EvalRunner, latest_report, question_files, report_html, run_eval
from ui.trace_view import trace_html

# Gradio recognises a gr.Progress default and feeds it the runner's tqdm bars.
_PROGRESS = gr.Progress(track_tqdm=True)
TITLE = "Kharkiv news: cited answers"
EXAMPLES = [
    "How many drones did Ukrainian air defenses shoot down during the overnight attack on Kharkiv?",
    "What is happening in Kupiansk?",
    "Who is Viktor Trehubov?",
]


def build_app(
    pipeline: ChatPipeline,
    settings: Settings,
    ingest: IngestFn | None = None,
    delete: DeleteFn | None = None,
    eval_runner: EvalRunner | None = None,
    eval_reports_dir: Path | None = None,
) -> gr.Blocks:
    """The whole UI; writes go through the injected `ingest` and `delete` (None: read-only)."""
    chat_svc = ChatService(pipeline, settings)
    corpus = CorpusService(pipeline, settings, ingest, delete, getattr(pipeline, "embedder", None))

    def chat(
        message: str,
        exchanges: list[Exchange] | None,
        since: str,
        until: str,
        outlets: Any,
        k: float,
        mode: str,
    ) -> Iterator[tuple[str, list[dict[str, str]], list[Exchange], str, str]]:
        """Ask a question in the conversation; streams the answer, then its sources and trace."""
        try:
            yield from chat_svc.chat(message, exchanges, since, until, outlets, k, mode)
        except (InputError, RagError) as e:
            raise gr.Error(str(e), print_exception=False) from None

    with gr.Blocks(title=TITLE, analytics_enabled=False) as demo:
        exchanges = gr.State([])
        gr.Markdown(
            f"# {TITLE}\nAsk about the war reporting on the Kharkiv region. Every sentence of an answer "
            "quotes an article: click a **[n]** marker or a source card to read it.",
            elem_id="app-title",
        )
        with gr.Tabs():
            with gr.Tab("Ask", id="ask"):
                with gr.Row(equal_height=False):
                    with gr.Column(scale=3):
                        chatbot = gr.Chatbot(
                            elem_id="chat",
                            height=470,
                            latex_delimiters=[],
                            feedback_options=None,
                            buttons=["copy"],
                            placeholder="Answers appear here, each sentence with its source.",
                            show_label=False,
                        )
                        with gr.Row():
                            msg = gr.Textbox(
                                placeholder="Ask a question about the corpus…",
                                show_label=False,
                                scale=6,
                                elem_id="question",
                                max_lines=3,
                            )
                            ask = gr.Button("Ask", variant="primary", scale=1, elem_id="ask-btn")
                        gr.Examples(EXAMPLES, inputs=msg, label="Try")
                        with gr.Accordion("Filters and settings", open=True):
                            with gr.Row():
                                since = gr.Textbox(label="Since (YYYY-MM-DD)", elem_id="since", max_lines=1)
                                until = gr.Textbox(label="Until (YYYY-MM-DD)", elem_id="until", max_lines=1)
                                outlets = gr.Dropdown(
                                    choices=pipeline.outlets(),
                                    multiselect=True,
                                    label="Outlets",
                                    elem_id="outlets",
                                )
                            with gr.Row():
                                k = gr.Slider(1, 20, value=settings.k, step=1, label="Passages retrieved (k)")
                                modes = mode_choices(settings)
                                mode = gr.Radio(
                                    modes, value="extractive", label="Answer mode", interactive=len(modes) > 1
                                )
                        with gr.Row():
                            clear = gr.Button("New conversation", size="sm")
                            dl_md = gr.DownloadButton("Export Markdown", size="sm", elem_id="export-md")
                            dl_json = gr.DownloadButton("Export JSON", size="sm", elem_id="export-json")
                        with gr.Accordion("Why this answer", open=False, elem_id="why"):
                            trace = gr.HTML(trace_html(None), elem_id="trace", js_on_load=None)
                    with gr.Column(scale=2):
                        sources = gr.HTML(
                            render.sources_html(None, 0, {}), elem_id="sources", js_on_load=None
                        )
                        article = gr.HTML(
                            render.article_placeholder(), elem_id="article-view", js_on_load=None
                        )
                # The page script writes the clicked citation (TURN:N) here and presses the hidden button.
                cite_ref = gr.Textbox(visible="hidden", elem_id="cite-ref")
                cite_open = gr.Button(visible="hidden", elem_id="cite-open")

            with gr.Tab("Corpus", id="corpus"):
                search = gr.Textbox(
                    label="Search articles",
                    placeholder="words of a title, outlet or id",
                    elem_id="corpus-search",
                )
                table = gr.Dataframe(
                    value=corpus.rows(),
                    headers=ARTICLE_COLUMNS,
                    interactive=False,
                    elem_id="articles",
                    wrap=True,
                )
                with gr.Row(equal_height=False):
                    with gr.Column():
                        upload = gr.File(
                            file_count="multiple",
                            file_types=SUPPORTED_TYPES,
                            label="Add articles (" + " ".join(SUPPORTED_TYPES) + ")",
                            elem_id="upload",
                            interactive=ingest is not None,
                        )
                        ingest_btn = gr.Button("Add to corpus", variant="primary", elem_id="ingest-btn")
                        ingest_msg = gr.Markdown(elem_id="ingest-msg")
                        statuses = gr.Dataframe(
                            headers=STATUS_COLUMNS, interactive=False, elem_id="ingest-status"
                        )
                    with gr.Column():
                        victim = gr.Dropdown(
                            choices=corpus.choices(), label="Article to delete", elem_id="delete-pick"
                        )
                        del_btn = gr.Button("Delete article", variant="stop", elem_id="delete-btn")
                        del_msg = gr.Markdown(elem_id="delete-msg")

            with gr.Tab("Evals", id="evals"):
                report = gr.HTML(
                    report_html(latest_report(eval_reports_dir)), elem_id="eval-report", js_on_load=None
                )
                with gr.Row():
                    qfile = gr.Dropdown(
                        question_files(), label="Question file (JSONL)", allow_custom_value=True, scale=4
                    )
                    run_btn = gr.Button(
                        "Run eval", variant="primary", scale=1, interactive=eval_runner is not None
                    )
                eval_msg = gr.Markdown(NO_RUNNER_NOTE if eval_runner is None else "", elem_id="eval-msg")

        # --- Ask
        gr.on(
            [ask.click, msg.submit],
            chat,
            [msg, exchanges, since, until, outlets, k, mode],
            [msg, chatbot, exchanges, sources, trace],
            api_name="chat",
            concurrency_limit=settings.ui_concurrency,
        ).then(chat_svc.exports, [exchanges], [dl_md, dl_json], api_visibility="private")

        def new_conversation() -> tuple[list[Any], list[Exchange], str, str, str, None, None]:
            s, t = chat_svc.sources_for([])
            return [], [], s, t, render.article_placeholder(), None, None

        clear.click(
            new_conversation,
            None,
            [chatbot, exchanges, sources, trace, article, dl_md, dl_json],
            api_visibility="private",
        )
        cite_open.click(
            None, None, [cite_ref], js="() => window.__ragCite || ''", api_visibility="private"
        ).then(chat_svc.open_citation, [cite_ref, exchanges], [article], api_visibility="private").then(
            None, js=SCROLL_JS, api_visibility="private"
        )

        # --- Corpus
        def views(query: str, chosen: Sequence[str] | None) -> tuple[Any, Any, Any]:
            outs = pipeline.outlets()
            keep = [o for o in chosen or [] if o in outs]
            return (
                corpus.rows(query),
                gr.Dropdown(choices=corpus.choices(), value=None),
                gr.Dropdown(choices=outs, value=keep),
            )

        search.change(corpus.rows, [search], [table], api_visibility="private")

        def do_upload(files: Any) -> tuple[list[list[Any]], str, None]:
            try:
                rows, message = corpus.upload(files)
            except RagError as e:
                raise gr.Error(str(e), print_exception=False) from None
            return rows, message, None

        ingest_btn.click(
            do_upload, [upload], [statuses, ingest_msg, upload], concurrency_limit=1, api_visibility="private"
        ).then(views, [search, outlets], [table, victim, outlets], api_visibility="private")

        def do_delete(article_id: str | None) -> str:
            try:
                return corpus.remove(article_id)
            except RagError as e:
                raise gr.Error(str(e), print_exception=False) from None

        del_btn.click(do_delete, [victim], [del_msg], concurrency_limit=1, api_visibility="private").then(
            views, [search, outlets], [table, victim, outlets], api_visibility="private"
        )
        demo.load(views, [search, outlets], [table, victim, outlets], api_visibility="private")

        # --- Evals
        def do_eval(path: str | None, progress: gr.Progress = _PROGRESS) -> tuple[str, str]:
            progress(0, desc="starting eval")
            try:
                return run_eval(eval_runner, path)
            except RagError as e:
                raise gr.Error(str(e), print_exception=False) from None

        run_btn.click(do_eval, [qfile], [eval_msg, report], concurrency_limit=1, api_visibility="private")

    demo.queue(default_concurrency_limit=settings.ui_concurrency, max_size=64)
    return demo
