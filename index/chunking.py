"""Sentence-aware chunks with exact character offsets into Article.text.

llama-index's SentenceSplitter does the packing (sizes counted in the embedding model's own
tokens); its node offsets are checked against the article so that
`article.text[chunk.start:chunk.end] == chunk.text` always holds. Sentence spans inside each
chunk are computed here, once, so that answering never has to split text at query time.
"""

from __future__ import annotations

from collections.abc import Callable

from llama_index.core import Document
from llama_index.core.node_parser import SentenceSplitter

from rag.sentences import split_sentences
from rag.types import Article, Chunk, Span

TokenCounter = Callable[[str], int]


def make_splitter(chunk_size: int, chunk_overlap: int, count_tokens: TokenCounter | None) -> SentenceSplitter:
    """A SentenceSplitter that measures size in the embedding model's tokens."""
    tokenizer = None
    if count_tokens is not None:
        counter = count_tokens

        def tokenizer(text: str) -> list[int]:
            # SentenceSplitter only takes len() of this list.
            return [0] * counter(text)

    return SentenceSplitter(
        chunk_size=chunk_size,
        chunk_overlap=chunk_overlap,
        tokenizer=tokenizer,
        include_metadata=False,
        include_prev_next_rel=False,
    )


def chunk_article(article: Article, splitter: SentenceSplitter) -> list[Chunk]:
    """Split one article into chunks whose text is exactly article.text[start:end]."""
    text = article.text
    if not text.strip():
        return []
    nodes = splitter.get_nodes_from_documents([Document(text=text, id_=article.id)])
    chunks: list[Chunk] = []
    cursor = 0
    for node in nodes:
        body = node.get_content()
        start = getattr(node, "start_char_idx", None)
        if start is None or text[start : start + len(body)] != body:
            # Defensive: never store a span that is not the article's own text.
            start = text.find(body, cursor)
            if start < 0:
                raise ValueError(f"chunk of {article.id!r} is not a substring of the article")
        end = start + len(body)
        cursor = start + 1
        n = len(chunks)
        chunks.append(
            Chunk(
                id=Chunk.make_id(article.id, n),
                article_id=article.id,
                n=n,
                text=body,
                start=start,
                end=end,
                title=article.title,
                source=article.source,
                published=article.published,
                language=article.language,
                sentences=tuple(split_sentences(text, start, end)),
            )
        )
    return chunks


def embedding_text(chunk: Chunk, with_context: bool) -> tuple[str, int]:
    """What is embedded for a chunk, and the offset of the chunk text inside it.

    Title and date give the model context; they are never part of the stored span.
    """
    if not with_context:
        return chunk.text, 0
    parts = [p for p in (chunk.title, chunk.published.isoformat() if chunk.published else None) if p]
    prefix = (". ".join(parts) + ". ") if parts else ""
    return prefix + chunk.text, len(prefix)


def sentence_spans_in(chunk: Chunk, offset: int) -> list[tuple[int, int]]:
    """Sentence spans relative to the embedded text (for late pooling of sentence vectors)."""
    return [(s.start - chunk.start + offset, s.end - chunk.start + offset) for s in chunk.sentences]


def span_text(article_text: str, span: Span) -> str:
    return article_text[span.start : span.end]
