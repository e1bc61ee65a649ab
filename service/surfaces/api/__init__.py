"""The forkwise HTTP API (FastAPI): summaries, fork verdicts, index jobs and chat (JSON or Server-Sent Events).

Everything reads the one store that `forkwise summarize` writes. ``FORKWISE_API_KEY``, when set, protects the
endpoints that start work (``Authorization: Bearer <key>`` or ``X-API-Key``). The routes live in modules by what
they serve (``repos``, ``jobs``, ``chat``, ``embeddings``, ``slack_events``; the web page in
``service/surfaces/web.py``), take what they need through ``deps.py``, and answer the models of ``schemas.py``;
one exception map (``service/surfaces/errors.py``) answers for all of them.
"""

from __future__ import annotations

import logging
import time
from importlib.metadata import version
from typing import Any

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from forkwise.service.runs.usecases import job_manager
from forkwise.service.settings import Settings, get_settings
from forkwise.service.surfaces import errors, web
from forkwise.service.surfaces.access import Access
from forkwise.service.surfaces.api import chat, embeddings, jobs, repos
from forkwise.service.surfaces.deps import Embedder, Services
from forkwise.service.surfaces.guard import BodyLimit, RateLimits, SameSite, served_names
from forkwise.service.verdicts.chat import ChatService
from forkwise.service.verdicts.llm import chat_llm

log = logging.getLogger("forkwise")


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
    services = Services(
        settings=settings,
        access=access,
        jobs=job_manager(settings),
        chat=ChatService(settings, chat_llm(settings)),
        limits=RateLimits(settings),
        embedder=Embedder(settings.embed_queue) if settings.serve_embeddings else None,
    )
    app.state.services = services
    app.state.access = access

    errors.install(app)  # one exception map for the API and the web page
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_kb * 1024, timeout=settings.body_timeout)
    # outermost: a foreign Host or a cross-site state change is refused before anything else runs
    app.add_middleware(SameSite, names=served_names(settings, host), public_url=settings.public_url)

    for module in (repos, jobs, chat, embeddings):
        app.include_router(module.router)
    if settings.slack_signing_secret:
        from forkwise.service.surfaces.api.slack_events import slack_router

        router, app.state.slack = slack_router(services, settings.slack_signing_secret)
        app.include_router(router)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, Any]:  # the bare route bench_load compares the fork endpoint with: kept bare
        return {"ok": True, "time": time.time()}

    # the web page last: its /{owner}/{repo} routes must not shadow /v1/… or /slack/…
    app.mount("/static", StaticFiles(directory=web.STATIC_DIR), name="static")
    app.include_router(web.router)
    return app
