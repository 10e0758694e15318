"""The retriever and the whole pipeline as llama-index components, to compose with the ecosystem.

retriever = HybridLlamaRetriever(pipeline, k=5)
nodes = retriever.retrieve("Who is Viktor Trehubov?")
engine = CitedQueryEngine(pipeline)
response = engine.query("How many drones were shot down?")   # response.source_nodes = citations
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.base.response.schema import Response
from llama_index.core.query_engine import CustomQueryEngine
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

from rag.types import Citation, Filters, Hit

if TYPE_CHECKING:
    from rag.pipeline import Pipeline


def _meta(article_id: str, title: str | None, source: str | None, published: Any) -> dict[str, Any]:
    return {
        "article_id": article_id,
        "title": title,
        "source": source,
        "published": published.isoformat() if published else None,
    }


def hit_node(hit: Hit) -> NodeWithScore:
    c = hit.chunk
    meta = _meta(c.article_id, c.title, c.source, c.published) | {
        "dense": hit.dense,
        "lexical": hit.lexical,
        "rank": hit.rank,
    }
    node = TextNode(id_=c.id, text=c.text, metadata=meta, start_char_idx=c.start, end_char_idx=c.end)
    return NodeWithScore(node=node, score=hit.score)


def citation_node(c: Citation) -> NodeWithScore:
    meta = _meta(c.article_id, c.title, c.source, c.published) | {"n": c.n, "chunk_id": c.chunk_id}
    node = TextNode(
        id_=f"{c.chunk_id}@{c.start}-{c.end}",
        text=c.quote,
        metadata=meta,
        start_char_idx=c.start,
        end_char_idx=c.end,
    )
    return NodeWithScore(node=node, score=None)


class HybridLlamaRetriever(BaseRetriever):
    """Dense + BM25 fused retrieval with filters, as a llama-index BaseRetriever."""

    def __init__(self, pipeline: Pipeline, k: int | None = None, filters: Filters | None = None) -> None:
        super().__init__()
        self._pipeline = pipeline
        self._k = k
        self._filters = filters

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        r = self._pipeline.retriever.retrieve(query_bundle.query_str, k=self._k, filters=self._filters)
        return [hit_node(h) for h in r.hits]


class CitedQueryEngine(CustomQueryEngine):
    """The whole pipeline as a llama-index query engine: source_nodes are the exact cited spans."""

    pipeline: Any
    filters: Any = None
    mode: str = "extractive"

    def custom_query(self, query_str: str) -> Response:
        answer = self.pipeline.ask(query_str, filters=self.filters, mode=self.mode)
        nodes = [citation_node(c) for c in (answer.citations or answer.closest)]
        return Response(response=answer.text, source_nodes=nodes, metadata={"answer": answer.to_json()})
