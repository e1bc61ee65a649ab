"""The forkwise HTTP API (FastAPI): summaries, fork verdicts, index jobs and chat (JSON or Server-Sent Events).

Everything reads the one store under ``FORKWISE_HOME`` that `forkwise summarize` writes. ``FORKWISE_API_KEY``, when
set, protects the mutating endpoint (starting an index job): ``Authorization: Bearer <key>`` or ``X-API-Key``.
Index jobs run in a background thread of this process for now.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from importlib.metadata import version
from typing import Annotated, Any, Literal

import numpy as np
from fastapi import Depends, FastAPI, HTTPException, Path, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from forkwise.index.embeddings import MiniLMEmbeddings
from forkwise.index.names import SEGMENT, split_full_name
from forkwise.service.runs.jobs import IndexRequest, Job
from forkwise.service.runs.store import list_reports
from forkwise.service.runs.usecases import answer, job_manager, load, start_index, verdict
from forkwise.service.settings import Settings, get_settings
from forkwise.service.surfaces import errors
from forkwise.service.surfaces.access import Access, given_key
from forkwise.service.surfaces.guard import (
    BodyLimit,
    RateLimits,
    SameSite,
    client_of,
    is_local_caller,
    served_names,
)
from forkwise.service.surfaces.web import STATIC_DIR, create_router
from forkwise.service.verdicts.chat import ChatAnswer, ChatRequest, ChatService, answer_events
from forkwise.service.verdicts.llm import chat_model
from forkwise.service.verdicts.models import ForkReport, Report
from forkwise.service.verdicts.report import render

log = logging.getLogger("forkwise")

Owner = Annotated[str, Path(pattern=SEGMENT, max_length=100)]


class RepoSummary(BaseModel):
    upstream: dict[str, Any]
    coverage: dict[str, Any]
    counts: dict[str, Any]
    picks: dict[str, Any]
    forks: list[dict[str, Any]]
    generated_at: datetime


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


class ForkDetail(BaseModel):
    upstream: str
    fork: ForkReport


class EmbeddingsRequest(BaseModel):
    input: str | list[str] = Field(max_length=2048)
    model: str = "minilm-int8"
    encoding_format: Literal["float", "base64"] = "float"


def _fork_row(f: ForkReport) -> dict[str, Any]:
    return {
        "name": f.name,
        "status": f.status,
        "archetype": f.archetype,
        "recommendation": f.verdict.recommendation if f.verdict else None,
        "ahead": f.facts.ahead if f.facts else None,
        "behind": f.facts.behind if f.facts else None,
        "last_commit_date": f.facts.last_commit_date if f.facts else None,
        "stars": f.meta.stars if f.meta else None,
        "summary": f.verdict.summary if f.verdict else None,
        "error": f.error or f.skipped,
        "web_url": f.web_url,
    }


def create_app(settings: Settings | None = None, *, host: str = "127.0.0.1") -> FastAPI:
    """The service. ``host`` is where it listens: beyond loopback, starting work needs FORKWISE_API_KEY."""
    settings = settings or get_settings()
    access = Access(settings, host)
    if access.disabled:
        log.warning("forkwise: %s", access.disabled)
    app = FastAPI(
        title="forkwise",
        version=version("forkwise"),
        summary="Which fork should I use, and why? Verdicts and chat grounded in git facts.",
    )
    app.state.access = access
    jobs = job_manager(settings)
    model = chat_model(settings)
    chat = ChatService(settings, model)

    errors.install(app)  # one exception map for the API and the web page

    limits = RateLimits(settings)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_kb * 1024, timeout=settings.body_timeout)
    # outermost: a foreign Host or a cross-site state change is refused before anything else runs
    app.add_middleware(SameSite, names=served_names(settings, host), public_url=settings.public_url)

    details = Serialized()

    def shown(report: Report, request: Request) -> Report:
        """The report as this caller may see it: local paths only for callers on this machine."""
        return report if is_local_caller(request, settings) else report.for_remote()

    # the embeddings endpoint has a model instance (threads=1: its own ONNX session and lock) and one thread of its
    # own, so chat's retrieval (threads=2) never queues behind another client's embedding batch
    _emb: list[MiniLMEmbeddings] = []
    embed_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="forkwise-embed")
    embed_busy = threading.BoundedSemaphore(settings.embed_queue)

    def local_embeddings() -> MiniLMEmbeddings:
        if not _emb:
            _emb.append(MiniLMEmbeddings(threads=1, pool="endpoint"))
        return _emb[0]

    def require_key(key: Annotated[str | None, Depends(given_key)]) -> None:
        access.check(key)

    @app.get("/v1/repos", summary="Repositories summarized so far")
    def repos() -> list[dict[str, Any]]:
        return [
            {
                "name": r.upstream.name,
                "forks": r.coverage.listed,
                "analysed": r.coverage.analysed,
                "generated_at": r.generated_at,
            }
            for r in list_reports(settings)
        ]

    @app.get("/v1/repos/{owner}/{repo}", response_model=RepoSummary, summary="Upstream summary, forks, coverage")
    def repo_summary(request: Request, owner: Owner, repo: Owner) -> RepoSummary:
        r = shown(load(settings, f"{owner}/{repo}"), request)
        return RepoSummary(
            upstream=r.upstream.model_dump(mode="json"),
            coverage=r.coverage.model_dump(mode="json"),
            counts=r.counts.model_dump(mode="json"),
            picks={k: v.model_dump() for k, v in r.picks.items()},
            forks=[_fork_row(f) for f in r.forks],
            generated_at=r.generated_at,
        )

    @app.get(
        "/v1/repos/{owner}/{repo}/report",
        response_model=Report,
        summary="The whole stored report: the schema of `forkwise summarize --format json`",
    )
    def whole_report(request: Request, owner: Owner, repo: Owner) -> Response:
        report = shown(load(settings, f"{owner}/{repo}"), request)
        return Response(render(report, "json"), media_type="application/json")

    @app.get("/v1/repos/{owner}/{repo}/forks/{fork_owner}/{fork_repo}", response_model=ForkDetail)
    def fork_detail(request: Request, owner: Owner, repo: Owner, fork_owner: Owner, fork_repo: Owner) -> Response:
        r, fork = verdict(settings, f"{owner}/{repo}", f"{fork_owner}/{fork_repo}")
        local = is_local_caller(request, settings)
        body = details.get((id(r), local, fork.name), r)
        if body is None:
            detail = ForkDetail(upstream=r.upstream.name, fork=(r if local else r.for_remote()).fork(fork.name))
            body = details.put((id(r), local, fork.name), r, detail.model_dump_json().encode())
        return Response(body, media_type="application/json")  # serialized once per report version and caller kind

    @app.post(
        "/v1/repos/{owner}/{repo}/index",
        status_code=202,
        dependencies=[Depends(require_key)],
        summary="Start summarizing and indexing; returns a job URL",
    )
    def index_endpoint(request: Request, owner: Owner, repo: Owner, req: IndexRequest | None = None) -> JSONResponse:
        limits.hit("job", client_of(request))
        job = start_index(jobs, f"{owner}/{repo}", req)
        url = f"/v1/jobs/{job.id}"
        # the body's url is relative (same origin, for the web page); Location is absolute, on the public URL
        location = (settings.public_url or str(request.base_url)).rstrip("/") + url
        return JSONResponse({"job": job.id, "url": url}, status_code=202, headers={"Location": location})

    @app.get("/v1/jobs/{job_id}", response_model=Job)
    def job_status(job_id: Annotated[str, Path(pattern=r"^[0-9a-f]{12}$")]) -> Job:
        job = jobs.get(job_id)
        if job is None:
            raise HTTPException(404, "no such job")
        return job

    @app.post("/v1/chat", response_model=ChatAnswer, summary="Ask about an upstream's forks (stream=true for SSE)")
    async def chat_endpoint(req: ChatRequest, request: Request, key: Annotated[str | None, Depends(given_key)]) -> Any:
        if chat.model is not None:
            access.check(key)  # a configured model spends tokens: that is work
        limits.hit("chat", client_of(request))
        try:
            split_full_name(req.upstream)
        except ValueError as exc:
            raise HTTPException(422, f"upstream must be owner/repo: {exc}") from None
        if req.fork is not None:
            verdict(settings, req.upstream, req.fork)  # 404 now, before any stream starts
        else:
            load(settings, req.upstream)

        def ask() -> ChatAnswer:
            return answer(chat, req.upstream, req.question, fork=req.fork, history=req.history)

        if not req.stream:
            return await run_in_threadpool(ask)

        async def sse() -> AsyncIterator[str]:
            yield ": forkwise chat\n\n"
            # the answer is validated before any token is sent; meanwhile, heartbeats keep proxies from closing
            # the stream, and a client that went away stops the wait
            task = asyncio.ensure_future(run_in_threadpool(ask))
            while True:
                done, _ = await asyncio.wait({task}, timeout=settings.sse_heartbeat)
                if done:
                    break
                if await request.is_disconnected():
                    task.cancel()
                    return
                yield ": keepalive\n\n"
            try:
                ans = task.result()
            except Exception as exc:
                yield f"event: error\ndata: {json.dumps({'message': f'{type(exc).__name__}: {exc}'})}\n\n"
                return
            for event, data in answer_events(ans):
                yield f"event: {event}\ndata: {json.dumps(data, default=str)}\n\n"

        return StreamingResponse(sse(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})

    @app.post(
        "/v1/embeddings",
        summary="OpenAI-compatible embeddings (the local MiniLM model), for other processes",
        description="Off unless FORKWISE_SERVE_EMBEDDINGS is set (404). It is work: the API key beyond loopback, "
        "its own rate limit (FORKWISE_RATE_EMBEDDINGS), FORKWISE_EMBED_MAX_INPUTS inputs of at most "
        "FORKWISE_EMBED_MAX_CHARS characters, FORKWISE_EMBED_QUEUE requests at once (429 beyond).",
    )
    async def embeddings_endpoint(
        req: EmbeddingsRequest, request: Request, key: Annotated[str | None, Depends(given_key)]
    ) -> dict[str, Any]:
        if not settings.serve_embeddings:
            raise HTTPException(404, "this server does not serve embeddings (FORKWISE_SERVE_EMBEDDINGS=1 turns it on)")
        access.check(key)
        limits.hit("embed", client_of(request))
        texts = [req.input] if isinstance(req.input, str) else req.input
        if len(texts) > settings.embed_max_inputs:
            raise HTTPException(413, f"{len(texts)} inputs; at most {settings.embed_max_inputs} a request")
        if (longest := max((len(t) for t in texts), default=0)) > settings.embed_max_chars:
            raise HTTPException(413, f"an input of {longest} characters; at most {settings.embed_max_chars}")
        if not embed_busy.acquire(blocking=False):
            raise HTTPException(
                429, f"{settings.embed_queue} embedding requests are already running or waiting", {"Retry-After": "5"}
            )
        try:
            loop = asyncio.get_running_loop()
            vecs = await loop.run_in_executor(embed_pool, local_embeddings().embed_documents, texts)
        finally:
            embed_busy.release()
        data = []
        for i, v in enumerate(vecs):
            emb: Any = v
            if req.encoding_format == "base64":
                emb = base64.b64encode(np.asarray(v, dtype="<f4").tobytes()).decode()
            data.append({"object": "embedding", "index": i, "embedding": emb})
        return {"object": "list", "data": data, "model": req.model, "usage": {"prompt_tokens": 0, "total_tokens": 0}}

    if settings.slack_signing_secret:
        from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
        from slack_sdk.signature import SignatureVerifier

        from forkwise.service.surfaces.slack import create_slack_app, envelope_problem

        bolt = create_slack_app(settings, chat, jobs, limits)
        app.state.slack = bolt
        verifier = SignatureVerifier(settings.slack_signing_secret)

        @app.post("/slack/events", include_in_schema=False)
        async def slack_events(request: Request) -> Any:
            body = await request.body()
            if not verifier.is_valid_request(body, dict(request.headers)):
                raise HTTPException(401, "invalid Slack signature or timestamp")
            problem = envelope_problem(body, request.headers.get("content-type", ""))
            if problem:
                raise HTTPException(400, problem)
            # dispatch returns once the listener has acked
            resp = await run_in_threadpool(bolt.dispatch, to_bolt_request(request, body))
            return to_starlette_response(resp)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, Any]:
        return {"ok": True, "time": time.time()}

    # the web page last: its /{owner}/{repo} routes must not shadow /v1/… or /slack/…
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.include_router(create_router(settings, chat, jobs, access, limits))
    return app
