"""Limits on what one client may ask of a server, and what a browser may make it do.

- Rate limits use the ``limits`` library (moving window); counters live in ``FORKWISE_RATE_STORAGE``
  (``memory://`` for one process, ``redis://host:6379`` when several serve together). A client is its address as
  the server sees it: ``X-Forwarded-For`` is believed only from ``FORKWISE_TRUSTED_PROXIES`` (uvicorn's
  ``forwarded_allow_ips``), never from any loopback peer, so rotating that header buys nothing.
- :class:`BodyLimit`: a body larger than ``FORKWISE_MAX_BODY_KB`` gets 413, one that takes longer than
  ``FORKWISE_BODY_TIMEOUT`` seconds to arrive gets 408 (a slow body holds no worker for ever).
- :class:`SameSite`: a ``Host`` this server does not serve gets 400 (DNS rebinding: a page on ``evil.example`` that
  re-points its name at 127.0.0.1 still sends ``Host: evil.example``); a state-changing request whose ``Origin`` (or
  ``Referer``) is another site gets 403 (cross-site forms and ``text/plain`` POSTs need no CORS preflight); a body
  sent to ``/v1/`` must be JSON (415).
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import math
import socket
import time
from typing import Any
from urllib.parse import urlsplit

from limits import parse, storage, strategies
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from forkwise.service.settings import Settings


class RateLimited(Exception):
    def __init__(self, kind: str, limit: str, retry_after: int):
        super().__init__(f"too many {kind} requests from this client (limit {limit}); try again in {retry_after} s")
        self.retry_after = retry_after


class RateLimits:
    """``hit("chat", client)`` counts a request; raises :class:`RateLimited` when over the limit."""

    def __init__(self, settings: Settings):
        self.limiter = strategies.MovingWindowRateLimiter(storage.storage_from_string(settings.rate_storage))
        self.items = {
            "chat": parse(settings.rate_chat),
            "job": parse(settings.rate_jobs),
            "embed": parse(settings.rate_embeddings),
        }

    def hit(self, kind: str, client: str) -> None:
        item = self.items[kind]
        if not self.limiter.hit(item, kind, client):
            reset = self.limiter.get_window_stats(item, kind, client).reset_time
            raise RateLimited(kind, str(item), max(1, math.ceil(reset - time.time())))


def client_of(request: Request) -> str:
    """Who is asking, for rate limits: the peer address uvicorn reports (the forwarded one only from a trusted
    proxy)."""
    return request.client.host if request.client else "unknown"


def is_local_caller(request: Request, settings: Settings) -> bool:
    """The caller is on this machine: a loopback peer, and no reverse proxy configured (behind one, the proxy's
    loopback address says nothing about who is asking, so nobody counts as local)."""
    if settings.proxies or request.client is None:
        return False
    try:
        return ipaddress.ip_address(request.client.host).is_loopback
    except ValueError:
        return False


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """How uvicorn must treat forwarded headers: believed only from ``FORKWISE_TRUSTED_PROXIES`` (its default,
    127.0.0.1, would let any local process or a proxy's callers pick their address)."""
    proxies = settings.proxies
    return {"proxy_headers": bool(proxies), "forwarded_allow_ips": list(proxies) if proxies else None}


class BodyLimit:
    """ASGI middleware: a request body larger than ``max_bytes`` gets 413 (by its Content-Length when it has one,
    else as it streams in), before any endpoint reads it; one still arriving ``timeout`` seconds after the request
    started gets 408. Once the body is complete, messages pass untouched (a stream waits for a disconnect)."""

    def __init__(self, app: ASGIApp, max_bytes: int, timeout: float = 30.0):
        self.app = app
        self.max_bytes = max_bytes
        self.timeout = timeout

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
        complete = False
        deadline = time.monotonic() + self.timeout

        async def counted() -> Message:
            nonlocal seen, complete
            if complete:
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), timeout=max(0.0, deadline - time.monotonic()))
            except TimeoutError:
                raise HTTPException(408, f"request body not received within {self.timeout:g} s") from None
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:  # an HTTPException: FastAPI answers it as it is, even mid-body
                    raise HTTPException(413, self.detail)
                complete = not message.get("more_body", False)
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, tracked_send)
        except HTTPException as exc:
            if exc.status_code not in (408, 413) or started:
                raise
            await refuse(send, exc.status_code, exc.detail)

    @property
    def detail(self) -> str:
        return f"request body larger than {self.max_bytes // 1024} KiB (FORKWISE_MAX_BODY_KB)"

    async def _refuse(self, send: Send) -> None:
        await refuse(send, 413, self.detail)


async def refuse(send: Send, status: int, detail: str, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    """Answer a request from middleware: ``{"detail": …}`` with ``status``; the connection closes after it."""
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


_SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def _host_only(value: str) -> str:
    """``host[:port]`` → the host, lower-cased, without brackets."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1:].split("]", 1)[0]
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def served_names(settings: Settings, bind: str) -> set[str] | None:
    """The ``Host`` names this server answers to besides IP literals (an IP literal cannot be re-pointed by DNS);
    None when every name is allowed (``FORKWISE_ALLOWED_HOSTS=*``)."""
    extra = {h.strip().lower() for h in settings.allowed_hosts.split(",") if h.strip()}
    if "*" in extra:
        return None
    names = {"localhost", *extra}
    if settings.public_url and (host := urlsplit(settings.public_url).hostname):
        names.add(host.lower())
    bind_host = _host_only(bind)
    if bind_host and not _is_ip(bind_host):
        names.add(bind_host)
    if bind_host in ("0.0.0.0", "::", ""):  # every interface: this machine's own names too
        names |= {socket.gethostname().lower(), socket.getfqdn().lower()}
    return names


class SameSite:
    """ASGI middleware against DNS rebinding and cross-site requests (see the module docstring).

    ``names``: the host names served (:func:`served_names`); IP literals are always served."""

    def __init__(self, app: ASGIApp, names: set[str] | None, public_url: str | None = None):
        self.app = app
        self.names = names
        self.public = (urlsplit(public_url).netloc or "").lower() if public_url else ""

    def host_ok(self, host: str) -> bool:
        h = _host_only(host)
        return bool(h) and (self.names is None or _is_ip(h) or h in self.names)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.lower(): v.decode("latin-1") for k, v in scope.get("headers") or []}
        host = headers.get(b"host", "")
        if not self.host_ok(host):
            await refuse(send, 400, f"this server does not answer to the host {host[:100]!r} (FORKWISE_ALLOWED_HOSTS)")
            return
        if scope["method"] not in _SAFE_METHODS:
            origin = headers.get(b"origin") or headers.get(b"referer")
            if origin and origin != "null":
                parts = urlsplit(origin)
                if (parts.netloc or "").lower() not in (host.lower(), self.public):
                    await refuse(
                        send, 403, f"cross-site request refused: Origin {origin[:100]!r} is not {host[:100]!r}"
                    )
                    return
            elif origin == "null":
                await refuse(send, 403, "cross-site request refused: Origin null")
                return
            if scope["path"].startswith("/v1/") and _has_body(headers):
                ctype = headers.get(b"content-type", "").split(";", 1)[0].strip().lower()
                if ctype != "application/json":
                    await refuse(
                        send, 415, f"the API takes JSON bodies (Content-Type: application/json), not {ctype!r}"
                    )
                    return
        await self.app(scope, receive, send)


def _has_body(headers: dict[bytes, str]) -> bool:
    length = headers.get(b"content-length")
    if length is not None:
        return length.strip() != "0"
    return b"transfer-encoding" in headers or b"content-type" in headers
