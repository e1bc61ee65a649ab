"""A local HTTP server standing in for Slack's Web API and ``response_url``s, for tests (Slack can't be reached).

Speaks Slack's documented wire format: ``POST /api/<method>`` with a form-encoded or JSON body and a bearer token,
answered ``{"ok": true, …}`` (``chat.postMessage`` returns ``channel`` and a ``ts``); ``POST /response/<id>``
takes a ``response_url`` JSON payload. Every call is recorded for the test to assert on.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs

from pydantic import BaseModel

from forkwise.evals.local_server import LocalServer, QuietHandler


class SlackCall(BaseModel):
    kind: str  # "api" or "response"
    method: str  # chat.postMessage, … or the response_url id
    payload: dict[str, Any]
    token: str | None = None
    at: float


class SlackStub(LocalServer):
    def __init__(self) -> None:
        self.calls: list[SlackCall] = []
        self._ts = 1_700_000_000
        self._lock = threading.RLock()  # re-entrant: wait() holds it while the predicate reads the calls
        self._cond = threading.Condition(self._lock)

    @property
    def api_url(self) -> str:
        return self.url + "/api/"

    def response_url(self, name: str) -> str:
        return f"{self.url}/response/{name}"

    def posts(self, method: str = "chat.postMessage") -> list[SlackCall]:
        with self._lock:
            return [c for c in self.calls if c.kind == "api" and c.method == method]

    def responses(self, name: str | None = None) -> list[SlackCall]:
        with self._lock:
            return [c for c in self.calls if c.kind == "response" and (name is None or c.method == name)]

    def wait(self, predicate, timeout: float = 30.0) -> bool:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
            return True

    def handler(self) -> type[BaseHTTPRequestHandler]:
        stub = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                n = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(n).decode()
                ctype = self.headers.get("Content-Type", "")
                if "json" in ctype:
                    payload = json.loads(raw or "{}")
                else:
                    payload = {k: v[-1] for k, v in parse_qs(raw).items()}
                    for key in ("blocks", "attachments"):
                        if isinstance(payload.get(key), str):
                            payload[key] = json.loads(payload[key])
                token = (self.headers.get("Authorization") or "").removeprefix("Bearer ") or None
                if self.path.startswith("/api/"):
                    kind, method = "api", self.path[5:].split("?")[0]
                    with stub._lock:
                        stub._ts += 1
                        ts = f"{stub._ts}.000100"
                    body: dict[str, Any] = {"ok": True}
                    if method == "chat.postMessage":
                        body |= {"channel": payload.get("channel"), "ts": ts, "message": {"ts": ts}}
                    elif method == "auth.test":
                        body |= {"user_id": "UFORKWISE", "bot_id": "BFORKWISE", "team_id": "T1"}
                elif self.path.startswith("/response/"):
                    kind, method, body = "response", self.path[len("/response/") :], {"ok": True}
                else:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                with stub._cond:
                    stub.calls.append(
                        SlackCall(kind=kind, method=method, payload=payload, token=token, at=time.monotonic())
                    )
                    stub._cond.notify_all()
                out = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

        return Handler
