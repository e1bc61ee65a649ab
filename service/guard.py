"""Limits on what one client may ask of a server: rate limits per client, and the size of a request body.

Rate limits use the ``limits`` library (moving window); counters live in ``FORKWISE_RATE_STORAGE``
(``memory://`` for one process, ``redis://host:6379`` when several serve together). A client is its address
as the server sees it (behind a proxy, run uvicorn with ``--forwarded-allow-ips`` so that is the real one).
"""

from __future__ import annotations

import json
import math
import time

from limits import parse, storage, strategies
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from forkwise.index.settings import Settings


class RateLimited(Exception):
    def __init__(self, kind: str, limit: str, retry_after: int):
        super().__init__(f"too many {kind} requests from this client (limit {limit}); try again in {retry_after} s")
        self.retry_after = retry_after


class RateLimits:
    """``hit("chat", client)`` counts a request; raises :class:`RateLimited` when over the limit."""

    def __init__(self, settings: Settings):
        self.limiter = strategies.MovingWindowRateLimiter(storage.storage_from_string(settings.rate_storage))
        self.items = {"chat": parse(settings.rate_chat), "job": parse(settings.rate_jobs)}

    def hit(self, kind: str, client: str) -> None:
        item = self.items[kind]
        if not self.limiter.hit(item, kind, client):
            reset = self.limiter.get_window_stats(item, kind, client).reset_time
            raise RateLimited(kind, str(item), max(1, math.ceil(reset - time.time())))


def client_of(request: Request) -> str:
    """Who is asking, for rate limits: the peer address uvicorn reports."""
    return request.client.host if request.client else "unknown"


class BodyLimit:
    """ASGI middleware: a request body larger than ``max_bytes`` gets 413 (by its Content-Length when it has one,
    else as it streams in), before any endpoint reads it."""

    def __init__(self, app: ASGIApp, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None:
            try:
                too_big = int(length) > self.max_bytes
            except ValueError:
                too_big = True  # an unreadable length is refused like an oversized one
            if too_big:
                await self._refuse(send)
                return
        seen = 0
        started = False

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:  # an HTTPException: FastAPI answers it as it is, even mid-body
                    raise HTTPException(413, self.detail)
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, tracked_send)
        except HTTPException as exc:
            if exc.status_code != 413 or started:
                raise
            if not started:
                await self._refuse(send)

    @property
    def detail(self) -> str:
        return f"request body larger than {self.max_bytes // 1024} KiB (FORKWISE_MAX_BODY_KB)"

    async def _refuse(self, send: Send) -> None:
        body = json.dumps({"detail": self.detail}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})
