"""The Corpus tab: search (titles, outlets, ids and the article text), read, upload, delete."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import gradio as gr

from rag.errors import RagError
from ui import render
from ui.chat import ChatPipeline
from ui.corpus import ARTICLE_COLUMNS, STATUS_COLUMNS, SUPPORTED_TYPES, CorpusService
from ui.session import example_questions

# Gradio recognises a gr.Progress default and feeds it the ingest's tqdm bars (one step per file).
_PROGRESS = gr.Progress(track_tqdm=True)
NO_MATCH = "No article matches {q!r} in its title, outlet, id or text."


def corpus_tab(
    corpus: CorpusService,
    pipeline: ChatPipeline,
    writable: bool,
    outlets: gr.Dropdown,
    examples: gr.Dataset,
    empty_note: gr.Markdown,
) -> tuple[Any, list[Any], list[Any]]:
    """Build the tab inside the current gr.Tab; returns the (fn, inputs, outputs) that refreshes
    every view that depends on the corpus, for the page load."""
    search = gr.Textbox(
        label="Search articles", placeholder="words of a title, outlet, id or the article text",
        elem_id="corpus-search",
    )  # fmt: skip
    search_msg = gr.Markdown(elem_id="corpus-search-msg")
    table = gr.Dataframe(
        value=None, headers=ARTICLE_COLUMNS, interactive=False, elem_id="articles", wrap=True,
        column_widths=["15%", "43%", "13%", "11%", "10%", "8%"], max_height=420,
    )  # fmt: skip
    reader = gr.HTML(
        render.article_placeholder("Click a row to read the article."),
        elem_id="corpus-article",
        js_on_load=None,
    )
    with gr.Row(equal_height=False):
        with gr.Column():
            upload = gr.File(
                file_count="multiple", file_types=SUPPORTED_TYPES,
                label="Add articles (" + " ".join(SUPPORTED_TYPES) + ")", elem_id="upload", interactive=writable,
            )  # fmt: skip
            ingest_btn = gr.Button(
                "Add to corpus", variant="primary", elem_id="ingest-btn", interactive=writable
            )
            ingest_msg = gr.Markdown(elem_id="ingest-msg")
            statuses = gr.Dataframe(headers=STATUS_COLUMNS, interactive=False, elem_id="ingest-status")
        with gr.Column():
            victim = gr.Dropdown(choices=[], label="Article to delete", elem_id="delete-pick")
            del_btn = gr.Button("Delete article…", variant="stop", elem_id="delete-btn", interactive=writable)
            with gr.Group(visible=False, elem_id="delete-confirm") as confirm_box:
                confirm_text = gr.Markdown(elem_id="delete-question")
                with gr.Row():
                    yes = gr.Button("Yes, delete", variant="stop", size="sm", elem_id="delete-yes")
                    no = gr.Button("Cancel", size="sm", elem_id="delete-no")
            del_msg = gr.Markdown(elem_id="delete-msg")

    def rows_and_note(query: str | None) -> tuple[Any, str]:
        rows = corpus.rows(query)
        note = NO_MATCH.format(q=query.strip()) if query and query.strip() and not rows else ""
        return rows, note

    def views(query: str, chosen: Sequence[str] | None) -> tuple[Any, ...]:
        """Everything that depends on the corpus: table, delete list, outlets, examples, empty note."""
        infos = pipeline.articles()
        if len(infos) != seen["articles"]:  # another process (a `rag ingest`) changed the corpus
            seen["articles"] = len(infos)
            pipeline.refresh()
        outs = pipeline.outlets()
        keep = [o for o in chosen or [] if o in outs]
        rows, note = rows_and_note(query)
        samples = [[q] for q in example_questions(infos)]
        return (
            rows, note, gr.Dropdown(choices=corpus.choices(), value=None), gr.Dropdown(choices=outs, value=keep),
            gr.Dataset(samples=samples, visible=bool(samples)), gr.update(visible=not infos),
        )  # fmt: skip

    seen = {"articles": -1}
    view_outputs = [table, search_msg, victim, outlets, examples, empty_note]
    search.change(rows_and_note, [search], [table, search_msg], api_visibility="private")

    def open_row(rows: Any, evt: gr.SelectData) -> str:
        try:
            row = evt.index[0] if isinstance(evt.index, list | tuple) else evt.index
            article_id = str(rows.iloc[row, 0] if hasattr(rows, "iloc") else rows[row][0])
        except (IndexError, KeyError, TypeError, ValueError):
            return render.article_placeholder("Click a row to read the article.")
        art = pipeline.article(article_id)
        if art is None:
            return render.article_placeholder(f"{article_id} is no longer in the corpus.")
        return render.article_html(art, label="From the corpus")

    table.select(open_row, [table], [reader], api_visibility="private")

    def do_upload(files: Any, progress: gr.Progress = _PROGRESS) -> Iterator[tuple[Any, str, Any]]:
        progress(0, desc="waiting for the writer")
        try:
            for rows, message in corpus.upload(files):
                yield rows, message, gr.skip()
        except RagError as e:
            raise gr.Error(str(e), print_exception=False) from None
        yield gr.skip(), gr.skip(), None

    ingest_btn.click(
        do_upload, [upload], [statuses, ingest_msg, upload], concurrency_limit=1, concurrency_id="corpus-write",
        api_visibility="private",
    ).then(views, [search, outlets], view_outputs, api_visibility="private")  # fmt: skip

    def ask_confirm(article_id: str | None) -> tuple[Any, str, str]:
        if not article_id:
            return gr.Group(visible=False), "", "Choose an article to delete first."
        return gr.Group(visible=True), corpus.describe(article_id), ""

    def do_delete(article_id: str | None) -> tuple[Any, str]:
        try:
            return gr.Group(visible=False), corpus.remove(article_id)
        except RagError as e:
            raise gr.Error(str(e), print_exception=False) from None

    del_btn.click(ask_confirm, [victim], [confirm_box, confirm_text, del_msg], api_visibility="private")
    no.click(lambda: (gr.Group(visible=False), "Nothing was deleted."), None, [confirm_box, del_msg],
             api_visibility="private")  # fmt: skip
    yes.click(
        do_delete, [victim], [confirm_box, del_msg], concurrency_limit=1, concurrency_id="corpus-write",
        api_visibility="private",
    ).then(views, [search, outlets], view_outputs, api_visibility="private")  # fmt: skip
    return views, [search, outlets], view_outputs
