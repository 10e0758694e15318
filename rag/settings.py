"""The one settings object. Environment is read here and nowhere else; CLI flags override it.

Precedence: flags > environment > defaults.

>>> s = Settings.from_env({"RAG_DATA_DIR": "/tmp/x"}, k=3)
>>> (str(s.data_dir), s.k)
('/tmp/x', 3)
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rag.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
EMBED_RUNTIMES = ("onnx-int8", "onnx", "torch", "torch-bf16")


@dataclass(frozen=True)
class Settings:
    # --- storage
    # RAG_DATA_DIR, else data/store under the current directory (never inside the installed package):
    # `make run` and every command run from the project root share the git-ignored data/store.
    data_dir: Path = field(default_factory=lambda: default_data_dir())
    chroma_url: str | None = None  # a Chroma server replaces the embedded store when set
    collection: str = "articles"
    # HNSW is fixed at collection creation: Chroma's defaults gave recall@10 = 0.10 on 100k vectors.
    hnsw_m: int = 32
    hnsw_construction_ef: int = 200
    hnsw_search_ef: int = 400

    # --- embedding
    embed_model: str = DEFAULT_MODEL
    # "onnx-int8" (default, measured in docs/benchmarks.md), "onnx" (fp32), "torch" (sentence-transformers)
    # or "torch-bf16"; queries use it, and so does ingestion unless ingest_runtime says otherwise
    embed_runtime: str = "onnx-int8"
    # What `rag ingest` embeds with: "auto" picks torch-bf16 where the CPU has AMX-BF16 and >= 1 MB
    # changed (~2x the int8 ONNX ingest there, cosine 0.9999 with fp32; docs/benchmarks.md), else
    # embed_runtime.
    ingest_runtime: str = "auto"
    embed_batch_size: int = 32
    model_cache_dir: Path = Path(os.path.expanduser("~/.cache/rag-news"))
    embed_threads: int = 2

    # --- ingestion
    chunk_size: int = 128  # model tokens; MiniLM was trained on 128-token inputs (docs/evals.md)
    chunk_overlap: int = 0  # sentences are never cut, so overlap only duplicates work
    embed_context: bool = True  # prefix title and date to what is embedded, never to the stored span
    # RAG_MAX_FILE_MB / RAG_MAX_HTML_MB (MiB) guard reading and parsing: 20 MiB fits a PDF report and
    # a JSONL corpus of ~7,000 articles; HTML costs ~60 MB of RAM and 3-6 s per MiB to parse, and
    # a news page is well under 5 MiB (README, "Limits"). The article cap bounds chunking/embedding.
    max_file_bytes: int = 20 * 1024 * 1024
    max_html_bytes: int = 5 * 1024 * 1024
    max_article_chars: int = 500_000  # longer articles are skipped with the reason (RAG_MAX_ARTICLE_CHARS)
    # RAG_INGEST_NICE: `rag ingest` lowers its own CPU priority by this much (0-19; 0 keeps it), so
    # that a `rag serve` on the same machine keeps answering while it runs; alone it costs nothing
    # (docs/benchmarks.md, "Load: 50 concurrent chat clients").
    ingest_nice: int = 10

    # --- retrieval
    k: int = 5
    candidates: int = 40  # per retriever, before fusion
    # "weighted": dense_weight * cosine + (1 - dense_weight) * BM25 / best BM25, over every candidate.
    # Chosen over RRF by a sweep over all eval sets together (docs/evals.md): RRF lets a chunk that
    # only one retriever ranks first (a quoted sentence) fall behind chunks both rank middling.
    fusion: str = "weighted"
    dense_weight: float = 0.65  # dense share in either fusion (RRF: 0.5 = the standard form); docs/evals.md
    rrf_k: int = 60
    # Bonus for a candidate that repeats the query (or the passage it quotes) verbatim, times the
    # cube of the share it repeats; 0.2-0.4 was neutral-to-better on every eval set (docs/evals.md).
    phrase_weight: float = 0.4
    recency_weight: float = 0.15  # how much "latest"/"recent" favours newer articles
    dedup_threshold: float = 0.95  # cosine above which two hits are near-duplicates

    # --- answering
    max_sentences: int = 3
    abstain_threshold: float | None = None  # overrides the fitted answer model's threshold (sweeps)
    llm_backend: str | None = None  # None (extractive), "openai" (any OpenAI-compatible server) or "ollama"
    llm_base_url: str | None = None
    llm_model: str | None = None
    llm_api_key: str | None = field(default=None, repr=False)
    llm_timeout: float = 60.0
    disabled_stages: tuple[str, ...] = ()  # post-answer stages (rag/stages/) switched off, by name
    answer_model: Path | None = None  # fitted answer-model parameters; None: rag/params/answer_model.json

    # --- UI
    sample_corpus: Path = PROJECT_ROOT / "data" / "corpus"  # what the UI's eval button evaluates over
    ui_host: str = "127.0.0.1"
    ui_port: int = 7860
    ui_user: str | None = None
    ui_password: str | None = field(default=None, repr=False)
    allow_remote: bool = False
    max_upload_mb: int = 20
    # RAG_UI_CONCURRENCY: questions answered at once (Gradio workers); RAG_UI_QUEUE_SIZE: events
    # that may wait beyond them before new ones are refused; RAG_UI_STREAM_MS: at most one update of
    # a streaming answer per this many ms (each update costs a render and a diff of the whole chat).
    # Measured in docs/benchmarks.md, "Load: 50 concurrent chat clients".
    ui_concurrency: int = 4
    ui_queue_size: int = 256
    ui_stream_ms: int = 100
    ui_title: str = "News archive"  # RAG_UI_TITLE: the page's heading, e.g. the corpus's name
    ui_subtitle: str | None = None  # RAG_UI_SUBTITLE: one line under it (default: a neutral how-to)
    # RAG_LINKIFY_URLS / --linkify-urls: URLs in answers become clickable links. Off by default: an
    # answer may relay a link planted in a document, so it is shown as inert text.
    linkify_urls: bool = False

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Build settings from `env` (default os.environ), then apply non-None `overrides` (flags)."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        names = {f.name: f for f in dataclasses.fields(cls)}
        for var, name in _ENV.items():
            raw = env.get(var)
            if raw is not None and raw != "":
                values[name] = _coerce(var, raw, names[name].type)
        for var, name in (("RAG_MAX_FILE_MB", "max_file_bytes"), ("RAG_MAX_HTML_MB", "max_html_bytes")):
            if env.get(var):  # in MiB, like --max-file-mb; the settings are in bytes
                values[name] = int(_coerce(var, env[var], "float") * 2**20)
        if env.get("RAG_LLM_BASE_URL") and not env.get("RAG_LLM_BACKEND"):
            values["llm_backend"] = "openai"
        for name, value in overrides.items():
            if name not in names:
                raise ConfigError(f"unknown setting {name!r}")
            if value is not None:
                values[name] = (
                    Path(value) if name in ("data_dir", "model_cache_dir", "answer_model") else value
                )
        return cls(**values)

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise ConfigError naming the first bad field and its value."""
        if self.k <= 0:
            raise ConfigError(f"k must be greater than 0, got {self.k}")
        if self.chunk_size < 16:
            raise ConfigError(f"chunk_size must be at least 16 tokens, got {self.chunk_size}")
        if not 0 <= self.chunk_overlap < self.chunk_size:
            raise ConfigError(f"chunk_overlap must be in [0, chunk_size), got {self.chunk_overlap}")
        if self.fusion not in ("rrf", "weighted"):
            raise ConfigError(f"fusion must be 'rrf' or 'weighted', got {self.fusion!r}")
        if not 0.0 <= self.dense_weight <= 1.0:
            raise ConfigError(f"dense_weight must be in [0, 1], got {self.dense_weight}")
        if min(self.max_file_bytes, self.max_html_bytes, self.max_article_chars) <= 0:
            raise ConfigError(
                "RAG_MAX_FILE_MB, RAG_MAX_HTML_MB and RAG_MAX_ARTICLE_CHARS must be greater than 0, got "
                f"{self.max_file_bytes / 2**20:g} MiB, {self.max_html_bytes / 2**20:g} MiB and "
                f"{self.max_article_chars} characters"
            )
        if self.embed_runtime not in EMBED_RUNTIMES:
            raise ConfigError(
                f"RAG_EMBED_RUNTIME must be one of {', '.join(EMBED_RUNTIMES)}, got {self.embed_runtime!r}"
            )
        if self.ingest_runtime not in ("auto", *EMBED_RUNTIMES):
            raise ConfigError(
                f"RAG_INGEST_RUNTIME must be auto or one of {', '.join(EMBED_RUNTIMES)}, "
                f"got {self.ingest_runtime!r}"
            )
        if self.llm_backend not in (None, "openai", "ollama"):
            raise ConfigError(f"RAG_LLM_BACKEND must be 'openai' or 'ollama', got {self.llm_backend!r}")
        for name in ("candidates", "max_sentences", "rrf_k", "embed_batch_size", "embed_threads"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} must be greater than 0, got {getattr(self, name)}")
        for name in ("abstain_threshold", "dedup_threshold", "recency_weight", "phrase_weight"):
            if getattr(self, name) is not None and not 0.0 <= getattr(self, name) <= 1.0:
                raise ConfigError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        for name in ("ui_concurrency", "ui_queue_size"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"RAG_{name.upper()} must be greater than 0, got {getattr(self, name)}")
        if not 0 <= self.ui_stream_ms <= 10_000:
            raise ConfigError(f"RAG_UI_STREAM_MS must be in [0, 10000], got {self.ui_stream_ms}")
        if not 0 <= self.ingest_nice <= 19:
            raise ConfigError(f"RAG_INGEST_NICE must be in [0, 19], got {self.ingest_nice}")
        if not 0 < self.ui_port < 65536:
            raise ConfigError(f"ui_port must be a TCP port (1-65535), got {self.ui_port}")

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)  # __post_init__ validates

    def public(self) -> dict[str, Any]:
        """Settings as JSON-able values, secrets left out (for traces and reports)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            if f.name in ("llm_api_key", "ui_password"):
                continue
            v = getattr(self, f.name)
            out[f.name] = str(v) if isinstance(v, Path) else v
        return out


_ENV: dict[str, str] = {
    "RAG_DATA_DIR": "data_dir",
    "RAG_CHROMA_URL": "chroma_url",
    "RAG_EMBED_MODEL": "embed_model",
    "RAG_EMBED_RUNTIME": "embed_runtime",
    "RAG_INGEST_RUNTIME": "ingest_runtime",
    "RAG_CACHE_DIR": "model_cache_dir",
    "RAG_ANSWER_MODEL": "answer_model",
    "RAG_CHUNK_SIZE": "chunk_size",
    "RAG_CHUNK_OVERLAP": "chunk_overlap",
    "RAG_K": "k",
    "RAG_MAX_ARTICLE_CHARS": "max_article_chars",
    "RAG_INGEST_NICE": "ingest_nice",
    "RAG_LLM_BACKEND": "llm_backend",
    "RAG_LLM_BASE_URL": "llm_base_url",
    "RAG_LLM_MODEL": "llm_model",
    "RAG_LLM_API_KEY": "llm_api_key",
    "RAG_LLM_TIMEOUT": "llm_timeout",
    "RAG_UI_HOST": "ui_host",
    "RAG_UI_PORT": "ui_port",
    "RAG_UI_USER": "ui_user",
    "RAG_UI_PASSWORD": "ui_password",
    "RAG_UI_TITLE": "ui_title",
    "RAG_UI_CONCURRENCY": "ui_concurrency",
    "RAG_UI_QUEUE_SIZE": "ui_queue_size",
    "RAG_UI_STREAM_MS": "ui_stream_ms",
    "RAG_UI_SUBTITLE": "ui_subtitle",
    "RAG_LINKIFY_URLS": "linkify_urls",
}


def default_data_dir() -> Path:
    """Where the store lives without RAG_DATA_DIR or --data-dir: ./data/store in the current directory."""
    return Path.cwd() / "data" / "store"


def _coerce(var: str, raw: str, typ: Any) -> Any:
    t = str(typ)
    try:
        if "Path" in t:
            return Path(raw).expanduser()
        if t.startswith("int"):
            return int(raw)
        if t.startswith("float"):
            return float(raw)
        if t.startswith("bool"):
            return raw.lower() in ("1", "true", "yes", "on")
    except ValueError:
        raise ConfigError(f"environment variable {var} must be a {t.split(' ')[0]}, got {raw!r}") from None
    return raw
