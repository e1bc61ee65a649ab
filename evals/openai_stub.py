"""A stand-in for an OpenAI-compatible chat server (OpenAI itself cannot be reached from here), speaking the
documented wire format of ``POST /v1/chat/completions`` and ``GET /v1/models``.

It answers from a ``responder``: a function from the request body to :class:`Reply` (content and
``finish_reason``), so a test can script exactly what a model does (an answer cut off at ``max_tokens``, a
claim that must be rejected, a good answer after a repair turn) and check what the client sent
(``requests``: the messages, ``max_tokens``, ``response_format``).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from forkwise.evals.local_server import LocalServer, QuietHandler


class Reply(BaseModel):
    content: str
    finish_reason: str = "stop"


Responder = Callable[[dict[str, Any]], Reply]


class OpenAIStub(LocalServer):
    def __init__(self, responder: Responder) -> None:
        self.responder = responder
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    def handler(self) -> type[QuietHandler]:
        stub = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:
                if self.path.rstrip("/") == "/v1/models":
                    model = {"id": "stub", "object": "model", "owned_by": "me"}
                    self.send_json(200, {"object": "list", "data": [model]})
                else:
                    self.send_json(404, {"error": {"message": "not found", "type": "invalid_request_error"}})

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                if self.path.rstrip("/") != "/v1/chat/completions":
                    self.send_json(404, {"error": {"message": "not found", "type": "invalid_request_error"}})
                    return
                with stub._lock:
                    stub.requests.append(body)
                reply = stub.responder(body)
                tokens = len(reply.content.split())
                self.send_json(
                    200,
                    {
                        "id": f"chatcmpl-{len(stub.requests)}",
                        "object": "chat.completion",
                        "created": int(time.time()),
                        "model": body.get("model", "stub"),
                        "choices": [
                            {
                                "index": 0,
                                "message": {"role": "assistant", "content": reply.content},
                                "finish_reason": reply.finish_reason,
                            }
                        ],
                        "usage": {"prompt_tokens": 100, "completion_tokens": tokens, "total_tokens": 100 + tokens},
                    },
                )

        return Handler


def task_of(body: dict[str, Any]) -> str:
    """Which narrow task a request is (from the prompt's wording in ``prompts/llm_tasks.toml``), and whether it is
    a repair turn: ``purpose``, ``choose_fork_if``, ``choose_upstream_if``, ``summary``, ``verdict`` or
    ``chat``; ``+repair`` appended on a repair turn."""
    msgs = body.get("messages", [])
    first = next((m["content"] for m in msgs if m["role"] == "user"), "")
    if "Say what the fork is for" in first:
        task = "purpose"
    elif 'DRAFT: "Choose this fork if' in first:
        task = "choose_fork_if"
    elif 'DRAFT: "Choose upstream' in first:
        task = "choose_upstream_if"
    elif "Write one sentence that says what" in first:
        task = "summary"
    elif "Write the JSON verdict" in first:
        task = "verdict"
    else:
        task = "chat"
    return task + ("+repair" if len(msgs) > 2 else "")
