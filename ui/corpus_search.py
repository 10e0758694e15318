"""Search of the article text for the Corpus tab, through the BM25 index the retriever keeps anyway.

Why BM25 and not a LIKE scan or a second (FTS5) index: the BM25 index is already kept in step with
the catalog by rag.storage, it matches words the way the retriever does (stemmed: "drones" finds
"drone"), and it needs no copy of every text in memory. bench/ui_corpus_search.py, 2,300 articles
(2 shared cores): a searched table takes 56-85 ms against 94 ms for the unfiltered table, so the
lookup costs less than listing the rows; a substring scan is ~8 ms but only with all texts held
in memory (7 MB here, ~300 MB at 100k articles).
"""

from __future__ import annotations

from typing import Any

from ui.corpus import TextSearch


def lexical_text_search(pipeline: Any) -> TextSearch | None:
    """A word -> ids of the articles whose chunks hold it; None when the pipeline has no BM25 index."""
    storage = getattr(pipeline, "storage", None)
    # On the class: hasattr on the instance would run the property, i.e. load BM25 (1.5 s at 100k).
    if storage is None or not hasattr(type(storage), "lexical"):
        return None

    def search(word: str) -> set[str]:
        lex = storage.lexical  # rebuilt by Storage when the catalog changed
        if not lex.docs:
            return set()
        return {cid.rsplit(":", 1)[0] for cid, _ in lex.search(word, len(lex.docs))}

    return search
