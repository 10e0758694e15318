"""The transformers that turn padded token ids into token embeddings: ONNX Runtime and torch.

Both satisfy `rag.embedding.TokenModel`; `rag.embedding.Embedder` tokenises, batches and pools.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np


class OnnxTokenModel:
    """An ONNX Runtime session of the exported transformer."""

    def __init__(self, path: Path, threads: int) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        # Spinning (ORT's default) measured 8% faster on an idle 2-core machine (int8, 145-token
        # texts: 70 vs 65 texts/s); without it was faster only while other jobs held the cores.
        self._session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self._inputs = [i.name for i in self._session.get_inputs()]

    @property
    def pad_multiple(self) -> int:
        """ONNX Runtime runs any shape without compiling: each batch is padded to its longest text."""
        return 1

    def __call__(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Token embeddings of one padded batch."""
        available = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        out = self._session.run(["token_embeddings"], {name: available[name] for name in self._inputs})
        return np.asarray(out[0], dtype=np.float32)


class TorchTokenModel:
    """A Hugging Face transformer run with torch; bf16 models return float32 all the same.

    With `fuse_batch`, the model is traced on its first batch of that size and run through TorchScript with oneDNN
    Graph fusion (matmul + GELU, layer norms, attention): on AMX, 102 against 154 ms per batch of
    32 x 144 tokens eagerly, cosine >= 0.9999 with the eager output at every shape we tried. A
    model that cannot be traced runs eagerly.
    """

    def __init__(self, model: Any, inputs: Sequence[str], fuse_batch: int | None = None) -> None:
        self._model = model
        self._inputs = list(inputs)
        self._fuse_batch = fuse_batch  # only full batches run fused: fewer shapes to compile
        self._traced: Any = None

    @property
    def pad_multiple(self) -> int:
        """Batches are padded to a multiple of 16 tokens when fused: each new shape is compiled once."""
        return 16 if self._fuse_batch else 1

    def __call__(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Token embeddings of one padded batch."""
        import torch

        available = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        feed = [torch.from_numpy(available[k]) for k in self._inputs]
        if self._fuse_batch == len(ids):
            if self._traced is None:
                self._traced = _trace(self._model, self._inputs, feed)
                self._fuse_batch = None if self._traced is None else self._fuse_batch
            if self._traced is not None:
                with torch.no_grad():
                    return np.asarray(self._traced(*feed).float().numpy())
        with torch.inference_mode():
            out = self._model(**dict(zip(self._inputs, feed, strict=True))).last_hidden_state
            return np.asarray(out.float().numpy())


def _trace(model: Any, names: Sequence[str], example: Sequence[Any]) -> Any:
    """`model` traced and frozen with oneDNN Graph fusion on, or None if tracing fails."""
    import torch

    class Positional(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
            return self.model(**dict(zip(names, tensors, strict=True)), return_dict=False)[0]

    torch.jit.enable_onednn_fusion(True)
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer warnings about shape-dependent Python branches
            return torch.jit.freeze(torch.jit.trace(Positional().eval(), tuple(example), check_trace=False))
    except Exception as exc:  # noqa: BLE001 - any tracing failure means: run eagerly
        logging.getLogger(__name__).warning("torch tracing failed, running eagerly: %s", exc)
        return None
