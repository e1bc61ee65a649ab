"""Test doubles for the two models, for tests where the model is not the thing under test.

They plug in exactly where the real ones do: a LangChain ``Embeddings`` (for :class:`VectorIndex`) and a
``Runnable`` from a model request to text (for the LLM writer and chat). The real MiniLM and Qwen models stay in
the suite for the tests that are about them.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable
from typing import Any

from langchain_core.embeddings import Embeddings
from langchain_core.runnables import Runnable, RunnableLambda

from forkwise.index.terms import tokens


class HashEmbeddings(Embeddings):
    """Deterministic bag-of-tokens vectors (feature hashing, L2-normalised): texts sharing words are close."""

    id = "hash-64"

    def __init__(self, dim: int = 64):
        self.dim = dim

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self._vec(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self._vec(text)

    def _vec(self, text: str) -> list[float]:
        v = [0.0] * self.dim
        for tok in tokens(text) or ["empty"]:
            h = int.from_bytes(hashlib.blake2b(tok.encode(), digest_size=4).digest(), "big")
            v[h % self.dim] += 1.0
        norm = math.sqrt(sum(x * x for x in v)) or 1.0
        return [x / norm for x in v]


class ScriptedModel:
    """A chat model that answers from a script, in order, and records every request it was sent."""

    def __init__(self, answers: Iterable[str | dict[str, Any]]):
        self.answers = [a if isinstance(a, str) else json.dumps(a) for a in answers]
        self.requests: list[Any] = []

    def __call__(self, request: Any) -> str:
        self.requests.append(request)
        if not self.answers:
            raise RuntimeError("the script has no more answers")
        return self.answers.pop(0)

    def runnable(self) -> Runnable:
        return RunnableLambda(self, name="scripted")
