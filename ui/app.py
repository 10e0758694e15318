"""build_app(): the Gradio Blocks (Ask, Corpus, Evals tabs and the conversations sidebar), built
without launching.

Usage:
    app = build_app(build_pipeline(settings), settings, ingest=ingest_paths, delete=delete_article)
    launch(app, settings)  # ui.main
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import gradio as gr

from rag.settings import Settings
from ui import render
from ui.app_corpus import corpus_tab
from ui.app_evals import evals_tab
from ui.assets import SCROLL_JS
from ui.chat import ChatPipeline, ChatService, Exchange, InputError, filter_notes, make_filters, mode_choices
from ui.corpus import CorpusService, DeleteFn, IngestFn, TextSearch
from ui.corpus_search import lexical_text_search
from ui.evals_view import EvalRunner
from ui.session import Conversations, browser_secret, new_browser_id, owner_of
from ui.trace_view import trace_html

DEFAULT_SUBTITLE = (
    "Ask about the indexed articles. Every sentence of an answer quotes an article: click a **[n]** "
    "marker or a source card to read it."
)
EMPTY_NOTE = (
    "**The index is empty.** Add articles in the **Corpus** tab (upload .txt .md .html .pdf .jsonl "
    "files), or run `rag ingest PATH` in a terminal while this page is open."
)


def _username(request: gr.Request | None) -> str | None:
    return getattr(request, "username", None) if request is not None else None


def build_app(
    pipeline: ChatPipeline,
    settings: Settings,
    ingest: IngestFn | None = None,
    delete: DeleteFn | None = None,
    eval_runner: EvalRunner | None = None,
    text_search: TextSearch | None = None,
) -> gr.Blocks:
    """The whole UI; writes go through the injected `ingest` and `delete` (None: read-only)."""
    chat_svc = ChatService(pipeline, settings)
    convs = Conversations.for_settings(settings, chat_svc)
    corpus = CorpusService(
        pipeline, settings, ingest, delete, getattr(pipeline, "embedder", None),
        text_search or lexical_text_search(pipeline),
    )  # fmt: skip

    def check_filters(since: str, until: str, outlets: Any) -> tuple[str, str, str]:
        return filter_notes(since, until, outlets, pipeline.outlets())

    def chat(
        message: str,
        exchanges: list[Exchange] | None,
        since: str,
        until: str,
        outlets: Any,
        k: float,
        mode: str,
        conv_id: str | None,
        browser_id: str | None,
        request: gr.Request,
    ) -> Iterator[tuple[Any, ...]]:
        """Ask a question in the conversation; streams the answer, then its sources and trace."""
        owner = owner_of(_username(request), browser_id)
        before = len(exchanges or [])
        notes = check_filters(since, until, outlets)  # shown under their fields, never as Error badges
        if any(notes):
            yield (*(gr.skip(),) * 8, *notes)
            return
        try:
            for i, out in enumerate(chat_svc.chat(message, exchanges, since, until, outlets, k, mode)):
                if i:  # the box was cleared by the first step: later ones must not wipe what is typed next
                    out = (gr.skip(), *out[1:])
                if len(out[2]) == before:  # still streaming (or nothing to answer from)
                    yield (*out, gr.skip(), gr.skip(), gr.update(visible=False), *notes)
                    continue
                # The finished answer: stored first, then shown once with the conversation list, so
                # nothing of this question arrives after the user opened another conversation.
                question, answer = out[2][-1]
                cid = convs.record(owner, conv_id, question, answer)
                widen = answer.abstained and bool(make_filters(since, until, outlets, pipeline.outlets()))
                radio = gr.Radio(choices=convs.choices(owner), value=cid)
                yield (*out, cid, radio, gr.update(visible=widen), *notes)
        except InputError as e:
            raise gr.Error(str(e), print_exception=False) from None

    def start(browser_id: str | None, request: gr.Request) -> tuple[Any, ...]:
        """On page load: give the browser an id, list its conversations and reopen the latest."""
        bid = browser_id or new_browser_id()
        owner = owner_of(_username(request), bid)
        v = convs.latest(owner)
        return (
            bid, gr.Radio(choices=convs.choices(owner), value=v.conversation_id), v.conversation_id,
            v.messages, v.exchanges, v.sources, v.trace, render.article_placeholder(), v.title,
            gr.Textbox(interactive=True), gr.Button(interactive=True),
        )  # fmt: skip

    def open_conv(cid: str | None, browser_id: str | None, request: gr.Request) -> tuple[Any, ...]:
        v = convs.view(owner_of(_username(request), browser_id), cid)
        return (
            v.conversation_id,
            v.messages,
            v.exchanges,
            v.sources,
            v.trace,
            render.article_placeholder(),
            v.title,
        )

    def new_conv() -> tuple[Any, ...]:
        s, t = chat_svc.sources_for([])
        return None, [], [], s, t, render.article_placeholder(), "", gr.Radio(value=None), None, None

    def rename_conv(
        cid: str | None, title: str, browser_id: str | None, request: gr.Request
    ) -> tuple[Any, str]:
        owner = owner_of(_username(request), browser_id)
        msg = convs.rename(owner, cid, title)
        return gr.Radio(choices=convs.choices(owner), value=cid), msg

    def delete_conv(cid: str | None, browser_id: str | None, request: gr.Request) -> tuple[Any, ...]:
        owner = owner_of(_username(request), browser_id)
        msg = convs.delete(owner, cid)
        return (*new_conv()[:7], gr.Radio(choices=convs.choices(owner), value=None), None, None, msg)

    def exports(
        exchanges: list[Exchange], cid: str | None, browser_id: str | None, request: gr.Request
    ) -> Any:
        return convs.exports(owner_of(_username(request), browser_id), cid, exchanges)

    subtitle = settings.ui_subtitle or DEFAULT_SUBTITLE
    with gr.Blocks(title=settings.ui_title, analytics_enabled=False) as demo:
        exchanges = gr.State([])
        conv_id = gr.State(None)
        browser_id = gr.BrowserState(
            None, storage_key="rag-news-browser", secret=browser_secret(settings.data_dir)
        )
        with gr.Sidebar(label="Conversations", open=True, width=270, elem_id="sidebar"):
            new_btn = gr.Button("New conversation", size="sm", variant="primary", elem_id="new-conv")
            conv_list = gr.Radio([], label="Conversations", elem_id="conv-list")
            conv_title = gr.Textbox(label="Name", max_lines=1, elem_id="conv-title")
            with gr.Row():
                rename_btn = gr.Button("Rename", size="sm", elem_id="rename-conv")
                del_conv_btn = gr.Button("Delete", size="sm", variant="stop", elem_id="delete-conv")
            with gr.Group(visible=False, elem_id="delete-conv-confirm") as confirm_box:
                gr.Markdown("Delete this conversation? This cannot be undone.")
                with gr.Row():
                    yes_conv = gr.Button("Yes, delete", size="sm", variant="stop", elem_id="delete-conv-yes")
                    no_conv = gr.Button("Cancel", size="sm", elem_id="delete-conv-no")
            conv_msg = gr.Markdown(elem_id="conv-msg")
        gr.Markdown(f"# {render.esc(settings.ui_title)}\n{subtitle}", elem_id="app-title")
        empty_note = gr.Markdown(EMPTY_NOTE, visible=False, elem_id="empty-note")
        with gr.Tabs():
            with gr.Tab("Ask", id="ask"):
                with gr.Row(equal_height=False):
                    with gr.Column(scale=3):
                        chatbot = gr.Chatbot(
                            elem_id="chat", height=470, latex_delimiters=[], feedback_options=None,
                            buttons=["copy"], show_label=False,
                            placeholder="Answers appear here, each sentence with its source.",
                        )  # fmt: skip
                        with gr.Row():
                            msg = gr.Textbox(
                                placeholder="Ask a question about the corpus…", show_label=False, scale=6,
                                elem_id="question", max_lines=3, interactive=False,
                            )  # fmt: skip
                            # Both enabled by the page load, once the browser's id is known: a question
                            # asked before that could not be stored in its conversations.
                            ask = gr.Button(
                                "Ask", variant="primary", scale=1, elem_id="ask-btn", interactive=False
                            )
                        widen_btn = gr.Button(
                            "Ask again without filters", size="sm", visible=False, elem_id="widen-btn"
                        )
                        examples = gr.Dataset(
                            components=[msg], samples=[], label="Try", elem_id="examples", samples_per_page=3
                        )
                        with gr.Accordion("Filters and settings", open=True):
                            with gr.Row(equal_height=False):
                                with gr.Column(min_width=160):
                                    since = gr.Textbox(
                                        label="Since (YYYY-MM-DD)", elem_id="since", max_lines=1
                                    )
                                    since_msg = gr.HTML("", elem_id="since-msg", js_on_load=None)
                                with gr.Column(min_width=160):
                                    until = gr.Textbox(
                                        label="Until (YYYY-MM-DD)", elem_id="until", max_lines=1
                                    )
                                    until_msg = gr.HTML("", elem_id="until-msg", js_on_load=None)
                                with gr.Column(min_width=160):
                                    outlets = gr.Dropdown(
                                        choices=[], multiselect=True, allow_custom_value=True,
                                        label="Outlets (type a name or its start)", elem_id="outlets",
                                    )  # fmt: skip
                                    outlets_msg = gr.HTML("", elem_id="outlets-msg", js_on_load=None)
                            with gr.Row():
                                k = gr.Slider(1, 20, value=settings.k, step=1, label="Passages retrieved (k)")
                                modes = mode_choices(settings)
                                mode = gr.Radio(
                                    modes, value="extractive", label="Answer mode", interactive=len(modes) > 1
                                )
                        with gr.Row():
                            dl_md = gr.DownloadButton(
                                "Export conversation (Markdown)", size="sm", elem_id="export-md"
                            )
                            dl_json = gr.DownloadButton(
                                "Export conversation (JSON)", size="sm", elem_id="export-json"
                            )
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
                corpus_views = corpus_tab(corpus, pipeline, ingest is not None, outlets, examples, empty_note)
            with gr.Tab("Evals", id="evals"):
                evals_tab(eval_runner)

        # --- Ask
        filter_msgs = [since_msg, until_msg, outlets_msg]
        check = {"fn": check_filters, "inputs": [since, until, outlets], "outputs": filter_msgs,
                 "api_visibility": "private", "show_progress": "hidden", "queue": False}  # fmt: skip
        for field in (since, until):
            field.blur(**check)  # type: ignore[arg-type]
        outlets.change(**check)  # type: ignore[arg-type]
        chat_inputs = [msg, exchanges, since, until, outlets, k, mode, conv_id, browser_id]
        chat_outputs = [msg, chatbot, exchanges, sources, trace, conv_id, conv_list, widen_btn, *filter_msgs]
        # One event per question (filters are checked inside it); "always_last": a question sent while
        # the previous one is still finishing is asked right after it, not dropped.
        gr.on(
            [ask.click, msg.submit], chat, chat_inputs, chat_outputs, api_name="chat",
            concurrency_limit=settings.ui_concurrency, trigger_mode="always_last",
        ).then(exports, [exchanges, conv_id, browser_id], [dl_md, dl_json], api_visibility="private")  # fmt: skip

        def widen(ex: list[Exchange] | None) -> tuple[Any, ...]:
            return (
                "",
                "",
                [],
                (ex[-1][0] if ex else ""),
                "",
                "",
                "",
            )

        widen_btn.click(
            widen,
            [exchanges],
            [since, until, outlets, msg, *filter_msgs],
            api_visibility="private",
        ).then(chat, chat_inputs, chat_outputs, api_visibility="private").then(
            exports, [exchanges, conv_id, browser_id], [dl_md, dl_json], api_visibility="private"
        )
        examples.click(lambda x: x[0] if x else "", [examples], [msg], api_visibility="private")
        cite_open.click(
            None, None, [cite_ref], js="() => window.__ragCite || ''", api_visibility="private"
        ).then(chat_svc.open_citation, [cite_ref, exchanges], [article], api_visibility="private").then(
            None, js=SCROLL_JS, api_visibility="private"
        )

        # --- Conversations
        view_outputs = [conv_id, chatbot, exchanges, sources, trace, article, conv_title]
        # Off the queue: a page's first question must not wait behind (or be overwritten by) its load.
        demo.load(
            start,
            [browser_id],
            [browser_id, conv_list, *view_outputs, msg, ask],
            api_visibility="private",
            queue=False,
        ).then(
            exports, [exchanges, conv_id, browser_id], [dl_md, dl_json], api_visibility="private", queue=False
        )
        conv_list.input(open_conv, [conv_list, browser_id], view_outputs, api_visibility="private").then(
            exports, [exchanges, conv_id, browser_id], [dl_md, dl_json], api_visibility="private"
        )
        new_btn.click(new_conv, None, [*view_outputs, conv_list, dl_md, dl_json], api_visibility="private")
        rename_btn.click(
            rename_conv, [conv_id, conv_title, browser_id], [conv_list, conv_msg], api_visibility="private"
        )
        del_conv_btn.click(
            lambda cid: (gr.Group(visible=bool(cid)), "" if cid else "Open a conversation first."),
            [conv_id], [confirm_box, conv_msg], api_visibility="private",
        )  # fmt: skip
        no_conv.click(lambda: gr.Group(visible=False), None, [confirm_box], api_visibility="private")
        yes_conv.click(
            delete_conv,
            [conv_id, browser_id],
            [*view_outputs, conv_list, dl_md, dl_json, conv_msg],
            api_visibility="private",
        ).then(lambda: gr.Group(visible=False), None, [confirm_box], api_visibility="private")
        demo.load(*corpus_views, api_visibility="private", queue=False)

    demo.queue(default_concurrency_limit=settings.ui_concurrency, max_size=settings.ui_queue_size)
    return demo
