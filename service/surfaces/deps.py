"""What a route needs, as FastAPI dependencies: the settings, the job manager, the chat service, who may start
work, the rate limits, the report as this caller may see it. Built once per app (:class:`Services`, on
``app.state.services``) and handed to routes through ``Annotated`` types, so a route's signature says what it uses.
The ones that only look something up are ``async`` (FastAPI runs a plain ``def`` dependency in its thread pool: a
hop per request for nothing); the one that reads the store is not.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Path, Request
from starlette.concurrency import run_in_threadpool

from forkwise.index.embeddings import MiniLMEmbeddings
from forkwise.index.names import SEGMENT
from forkwise.service.runs.db import database_url
from forkwise.service.runs.jobs import Jobs
from forkwise.service.runs.store import parsed_report
from forkwise.service.runs.usecases import load, verdict, verdict_in
from forkwise.service.settings import Settings
from forkwise.service.surfaces.access import Access, given_key
from forkwise.service.surfaces.guard import RateLimits, client_of, is_local_caller
from forkwise.service.verdicts.chat import ChatService
from forkwise.service.verdicts.models import ForkReport, Report


class Serialized:
    """JSON bodies cached per (parsed report, key): a stored report is parsed once per version and shared, so its
    identity says the body is still current. Bounded; thread-safe."""

    def __init__(self, size: int = 512):
        self.size = size
        self._items: OrderedDict[tuple[Any, ...], tuple[object, bytes]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[Any, ...], owner: object) -> bytes | None:
        with self._lock:
            hit = self._items.get(key)
            if hit is None or hit[0] is not owner:
                return None
            self._items.move_to_end(key)
            return hit[1]

    def put(self, key: tuple[Any, ...], owner: object, body: bytes) -> bytes:
        with self._lock:
            self._items[key] = (owner, body)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return body


class Embedder:
    """The embeddings endpoint's model: an instance of its own (threads=1: its own ONNX session and lock) and one
    thread of its own, so chat's retrieval never queues behind another client's embedding batch; at most
    ``queue`` requests running or waiting."""

    def __init__(self, queue: int):
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="forkwise-embed")
        self.busy = threading.BoundedSemaphore(queue)
        self._model: MiniLMEmbeddings | None = None
        self._lock = threading.Lock()

    def model(self) -> MiniLMEmbeddings:
        with self._lock:
            if self._model is None:
                self._model = MiniLMEmbeddings(threads=1, pool="endpoint")
            return self._model


@dataclass
class Services:
    """Everything the routes share, made once by ``create_app``."""

    settings: Settings
    access: Access
    jobs: Jobs
    chat: ChatService
    limits: RateLimits
    details: Serialized = field(default_factory=Serialized)
    embedder: Embedder | None = None

    def page_chat(self) -> ChatService:
        """The web page's chat: its question box has no key field, so it spends model tokens only when starting
        work needs no key."""
        if self.chat.model is None or self.access.allowed(None):
            return self.chat
        return ChatService(self.settings, None)


async def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


ServicesDep = Annotated[Services, Depends(services)]


async def settings_of(s: ServicesDep) -> Settings:
    return s.settings


async def jobs_of(s: ServicesDep) -> Jobs:
    return s.jobs


async def chat_of(s: ServicesDep) -> ChatService:
    return s.chat


async def access_of(s: ServicesDep) -> Access:
    return s.access


async def limits_of(s: ServicesDep) -> RateLimits:
    return s.limits


SettingsDep = Annotated[Settings, Depends(settings_of)]
JobsDep = Annotated[Jobs, Depends(jobs_of)]
ChatDep = Annotated[ChatService, Depends(chat_of)]
AccessDep = Annotated[Access, Depends(access_of)]
LimitsDep = Annotated[RateLimits, Depends(limits_of)]
KeyDep = Annotated[str | None, Depends(given_key)]
Segment = Annotated[str, Path(pattern=SEGMENT, max_length=100)]
"""One part of ``owner/repo`` in a path."""
JobId = Annotated[str, Path(pattern=r"^[0-9a-f]{12}$")]


async def require_key(access: AccessDep, key: KeyDep) -> None:
    """Starting work: the API key when one is set; refused beyond loopback without one."""
    access.check(key)


async def client(request: Request) -> str:
    return client_of(request)


ClientDep = Annotated[str, Depends(client)]
"""Who is asking, for the rate limits."""


def shown_report(request: Request, settings: SettingsDep, owner: Segment, repo: Segment) -> Report:
    """The stored report of ``owner/repo`` as this caller may see it: local paths only for callers on this
    machine."""
    report = load(settings, f"{owner}/{repo}")
    return report if is_local_caller(request, settings) else report.for_remote()


ShownReport = Annotated[Report, Depends(shown_report)]


async def fork_verdict(settings: Settings, upstream: str, fork: str) -> tuple[Report, ForkReport]:
    """:func:`usecases.verdict` for a route on the event loop. With the store in this machine's SQLite file and the
    report's newest version parsed already, the one small query runs inline: cheaper than the thread hop that would
    carry it. Reading and parsing a new version, and any query to a network database, run in the thread pool."""
    if database_url(settings).startswith("sqlite"):
        report = parsed_report(settings, upstream)
        if report is not None:
            return verdict_in(report, upstream, fork)
    return await run_in_threadpool(verdict, settings, upstream, fork)
