"""Sentence embeddings on CPU: ONNX Runtime (fp32 or int8) by default, torch (fp32 or bf16) on request.

Ingestion uses torch-bf16 where the CPU multiplies bf16 in hardware (AMX): see `ingest_runtime`.

>>> emb = load_embedder(Settings())
>>> emb.embed(["Rates rose.", "Rain fell."]).shape
(2, 384)
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from tokenizers import Encoding, Tokenizer

from rag import onnx_export
from rag.settings import EMBED_RUNTIMES, Settings
from rag.token_models import OnnxTokenModel, TorchTokenModel

RUNTIMES = EMBED_RUNTIMES
# Pre-tokenizers that split at every whitespace: no token ever spans one.
_WHITESPACE_PRE_TOKENIZERS = frozenset({"BertPreTokenizer", "Whitespace", "WhitespaceSplit"})
# Below this much changed text, "auto" ingests with the query runtime: 20 articles (70 kB) took
# 10.6 s with torch-bf16 against 4.6-6.7 s with int8; 300 articles (1.1 MB) 22 s against 35 s.
BF16_MIN_BYTES = 1_000_000


class TokenModel(Protocol):
    """Runs the transformer: padded ids and mask (batch, seq) in, token embeddings (batch, seq, dim) out."""

    @property
    def pad_multiple(self) -> int:
        """Batches are padded to a multiple of this many tokens."""
        ...

    def __call__(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class ModelInfo:
    """What the pipeline needs to know about a model besides its weights."""

    dim: int
    max_seq_length: int
    pooling: str  # "mean" or "cls"


class Embedder:
    """Embeds texts in one length-sorted pass; vectors are float32 and L2-normalised."""

    def __init__(
        self,
        model_name: str,
        runtime: str,
        tokenizer: Tokenizer,
        token_model: TokenModel,
        info: ModelInfo,
        batch_size: int = 32,
        sentence_encoder: Callable[[list[str], bool], np.ndarray] | None = None,
    ) -> None:
        if batch_size <= 0:
            raise ValueError(f"batch_size must be greater than 0, got {batch_size}")
        self.model_name = model_name
        self.runtime = runtime
        self.dim = info.dim
        self.texts_embedded = 0
        self.batches = 0
        self._info = info
        self._batch_size = batch_size
        self._token_model = token_model
        # sentence-transformers' own encode(), used by the "torch" runtime as the reference path
        self._sentence_encoder = sentence_encoder
        self._counter = Tokenizer.from_str(tokenizer.to_str())
        self._counter.no_truncation()
        self._counter.no_padding()
        self._tokenizer = Tokenizer.from_str(tokenizer.to_str())
        self._tokenizer.enable_truncation(max_length=info.max_seq_length)
        self._tokenizer.no_padding()  # each length-sorted batch is padded to its own longest text

    @property
    def max_tokens(self) -> int:
        """Inputs are cut at this many tokens (special tokens included)."""
        return self._info.max_seq_length

    def count_tokens(self, text: str) -> int:
        """Model tokens in `text`, without special tokens and without truncation."""
        return len(self._counter.encode(text, add_special_tokens=False).ids)

    def count_tokens_many(self, texts: Sequence[str]) -> list[int]:
        """`count_tokens` of each text, in one tokenizer call (~5x cheaper than one call each)."""
        if not texts:
            return []
        return [len(e) for e in self._counter.encode_batch_fast(list(texts), add_special_tokens=False)]

    @property
    def tokens_split_at_whitespace(self) -> bool:
        """Whether no token spans whitespace (WordPiece and whitespace pre-tokenizers), so the token
        count of texts joined by whitespace is the sum of their counts."""
        pre = json.loads(self._counter.to_str()).get("pre_tokenizer") or {}
        parts = pre.get("pretokenizers", [pre]) if pre.get("type") == "Sequence" else [pre]
        return any(p.get("type") in _WHITESPACE_PRE_TOKENIZERS for p in parts)

    def token_counter(self) -> Callable[[str], int]:
        """`count_tokens` as a plain function, for the chunker."""
        return self.count_tokens

    def embed_query(self, text: str) -> np.ndarray:
        """One text's vector, shape (dim,)."""
        return self.embed([text])[0]

    def embed(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        """Vectors (n, dim) in input order."""
        if self._sentence_encoder is not None and len(texts) > 0:
            out = self._sentence_encoder(list(texts), progress)
            self.texts_embedded += len(texts)
            self.batches += math.ceil(len(texts) / self._batch_size)
            return out
        vectors, _ = self._run(texts, None, progress)
        return vectors

    def embed_with_spans(
        self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]], progress: bool = False
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """Text vectors plus, per text, one vector per (start, end) char span from the same forward pass.

        A span's vector mean-pools the contextual embeddings of the tokens starting inside it
        ("late chunking"); a span without tokens (empty, or cut off by truncation) gets the text's vector.
        """
        if len(spans) != len(texts):
            raise ValueError(
                f"spans must have one list per text: {len(texts)} texts, {len(spans)} span lists"
            )
        vectors, span_vectors = self._run(texts, spans, progress)
        assert span_vectors is not None
        return vectors, span_vectors

    def _run(
        self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]] | None, progress: bool
    ) -> tuple[np.ndarray, list[np.ndarray] | None]:
        """Tokenise all, sort by length, run in batches, pool, restore input order."""
        n = len(texts)
        vectors = np.zeros((n, self.dim), dtype=np.float32)
        span_vectors: list[np.ndarray] | None = None if spans is None else [np.empty(0)] * n
        encodings = self._tokenizer.encode_batch(list(texts))
        # Longest first: similar lengths share a batch, so little padding; errors show up early.
        order = sorted(range(n), key=lambda i: len(encodings[i].ids), reverse=True)
        bar = _progress_bar(n) if progress else None
        multiple = self._token_model.pad_multiple
        for b in range(0, n, self._batch_size):
            idx = order[b : b + self._batch_size]
            ids, mask = _pad([encodings[i] for i in idx], multiple)
            tokens = self._token_model(ids, mask)
            pooled = _normalise(_pool(tokens, mask, self._info.pooling))
            vectors[idx] = pooled
            if spans is not None and span_vectors is not None:
                for row, i in enumerate(idx):
                    span_vectors[i] = _span_vectors(tokens[row], encodings[i], spans[i], pooled[row])
            self.texts_embedded += len(idx)
            self.batches += 1
            if bar is not None:
                bar.update(len(idx))
        if bar is not None:
            bar.close()
        return vectors, span_vectors


def _pad(encodings: list[Encoding], multiple: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Right-pad a batch to its longest encoding, rounded up to `multiple`: ids and mask, int64."""
    length = -(-max(len(e.ids) for e in encodings) // multiple) * multiple
    ids = np.zeros((len(encodings), length), dtype=np.int64)
    mask = np.zeros((len(encodings), length), dtype=np.int64)
    for row, e in enumerate(encodings):
        ids[row, : len(e.ids)] = e.ids
        mask[row, : len(e.ids)] = 1
    return ids, mask


def _pool(tokens: np.ndarray, mask: np.ndarray, pooling: str) -> np.ndarray:
    """Mean over the attention mask (as sentence-transformers does), or the first token for cls."""
    if pooling == "cls":
        return tokens[:, 0].astype(np.float32)
    m = mask[..., None].astype(np.float32)
    return np.asarray((tokens * m).sum(axis=1) / np.clip(m.sum(axis=1), 1e-9, None), dtype=np.float32)


def _normalise(v: np.ndarray) -> np.ndarray:
    """L2-normalise the rows of `v`."""
    return np.asarray(v / np.clip(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12, None), dtype=np.float32)


def _span_vectors(
    tokens: np.ndarray, encoding: Encoding, spans: Sequence[tuple[int, int]], fallback: np.ndarray
) -> np.ndarray:
    """One normalised vector per span, pooled over the non-special tokens that start inside it."""
    out = np.empty((len(spans), tokens.shape[-1]), dtype=np.float32)
    real = np.flatnonzero(~np.asarray(encoding.special_tokens_mask, dtype=bool))
    starts = np.array([s for s, _ in encoding.offsets], dtype=np.int64)[real]  # ascending
    vecs = tokens[real]
    # A token belongs to the span its first character is in, so adjacent spans share none; the
    # tokens of a span are contiguous, found by binary search instead of a mask per span.
    bounds = np.searchsorted(starts, np.asarray(spans, dtype=np.int64).reshape(-1, 2))
    for k, (a, b) in enumerate(bounds):
        out[k] = vecs[a:b].mean(axis=0) if b > a else fallback
    return _normalise(out)


def _progress_bar(total: int) -> Any:
    """A tqdm bar over texts."""
    from tqdm import tqdm

    return tqdm(total=total, desc="embedding", unit="text")


def cpu_has_amx_bf16(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """Whether the CPU multiplies bf16 matrices in hardware (Intel AMX), read from the kernel's flags."""
    try:
        with cpuinfo.open() as f:
            for line in f:
                if line.startswith("flags"):
                    return "amx_bf16" in line.split(":", 1)[1].split()
    except OSError:
        pass
    return False


def ingest_runtime(
    settings: Settings, workload_bytes: int | None = None, amx_bf16: bool | None = None
) -> str:
    """The runtime that ingestion embeds `workload_bytes` of changed files with (None: a large amount).

    "auto" picks torch-bf16 where the CPU has AMX-BF16 and the work is at least BF16_MIN_BYTES:
    there a 2,000-article ingest ran ~2x as fast as with int8 ONNX (docs/benchmarks.md), cosine 0.9999 to fp32 (int8: 0.99), but it
    costs ~5 s more to start (torch, then one compile per batch shape). Without AMX, bf16 is
    emulated and slower than int8 (design.md: ~35 against ~38 texts/s), so auto keeps embed_runtime.
    """
    if settings.ingest_runtime != "auto":
        return settings.ingest_runtime
    if workload_bytes is not None and workload_bytes < BF16_MIN_BYTES:
        return settings.embed_runtime
    has_amx = cpu_has_amx_bf16() if amx_bf16 is None else amx_bf16
    return "torch-bf16" if has_amx else settings.embed_runtime


def load_embedder(settings: Settings, runtime: str | None = None) -> Embedder:
    """The embedder for these settings (or `runtime`), loaded once per process.

    Exports the ONNX files (and the bf16 weights, for torch-bf16) on first use.
    """
    return _load(
        settings.embed_model,
        runtime or settings.embed_runtime,
        settings.embed_threads,
        Path(settings.model_cache_dir),
        settings.embed_batch_size,
    )


@functools.lru_cache(maxsize=4)
def _load(model_name: str, runtime: str, threads: int, cache_root: Path, batch_size: int) -> Embedder:
    """Build an Embedder; cached because a model load costs 0.3-7 s."""
    onnx_export.offline_mode()
    if runtime == "torch":
        return _load_torch(model_name, threads, batch_size)
    if runtime not in RUNTIMES:
        from rag.errors import ConfigError

        raise ConfigError(f"RAG_EMBED_RUNTIME must be one of {', '.join(RUNTIMES)}, got {runtime!r}")
    out_dir = onnx_export.cache_dir_for(cache_root, model_name)
    token_model: TokenModel
    if runtime == "torch-bf16":
        path = onnx_export.ensure_torch_bf16(model_name, out_dir, threads)
    else:
        path = onnx_export.ensure_onnx(model_name, out_dir, quantized=runtime == "onnx-int8", threads=threads)
    meta = json.loads((out_dir / onnx_export.META_FILE).read_text())
    info = ModelInfo(
        dim=int(meta["dim"]), max_seq_length=int(meta["max_seq_length"]), pooling=meta["pooling"]
    )
    if runtime == "torch-bf16":
        model = onnx_export.load_torch_bf16(path, threads)
        token_model = TorchTokenModel(model, meta["inputs"], fuse_batch=batch_size)
    else:
        token_model = OnnxTokenModel(path, threads)
    tokenizer = Tokenizer.from_file(str(out_dir / onnx_export.TOKENIZER_FILE))
    return Embedder(model_name, runtime, tokenizer, token_model, info, batch_size)


def _load_torch(model_name: str, threads: int, batch_size: int) -> Embedder:
    """The sentence-transformers runtime: the reference the ONNX runtimes are measured against."""
    st = onnx_export.load_sentence_transformer(model_name, threads)
    pooling = str(getattr(st[1], "pooling_mode", "mean")) if len(st) > 1 else "mean"
    info = ModelInfo(int(st.get_embedding_dimension()), int(st.max_seq_length), pooling)

    def encode(texts: list[str], progress: bool) -> np.ndarray:
        # One encode() call over the whole list keeps sentence-transformers' own length sorting.
        out = st.encode(texts, batch_size=batch_size, show_progress_bar=progress, normalize_embeddings=True)
        return np.asarray(out, dtype=np.float32)

    tokenizer = Tokenizer.from_str(st.tokenizer.backend_tokenizer.to_str())
    token_model = TorchTokenModel(st[0].auto_model, st.tokenizer.model_input_names)
    return Embedder(model_name, "torch", tokenizer, token_model, info, batch_size, encode)
