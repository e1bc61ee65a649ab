"""One map from what the use cases raise to HTTP answers, for the JSON API and the web page alike (the page's form
posts get the same status, detail and ``Retry-After`` as the API)."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from forkwise.index.policy import PolicyError
from forkwise.index.sources import SourceError
from forkwise.service.runs.jobs import JobsBusy
from forkwise.service.runs.usecases import NoSuchFork, NotSummarized
from forkwise.service.surfaces.guard import RateLimited


def _detail(exc: Exception) -> str:
    if isinstance(exc, NotSummarized):  # say how to make it exist
        return f"{exc}: POST /v1/repos/{exc.upstream}/index"
    return str(exc)


def _retry(exc: Exception) -> dict[str, str]:
    after = getattr(exc, "retry_after", None)
    return {"Retry-After": str(after)} if after is not None else {}


STATUS: dict[type[Exception], int] = {
    NotSummarized: 404,
    NoSuchFork: 404,
    RateLimited: 429,
    JobsBusy: 429,
    PolicyError: 403,
    SourceError: 422,
}
"""Exception → HTTP status; the body is ``{"detail": …}``, with ``Retry-After`` when the exception carries one."""


def answer(exc: Exception) -> JSONResponse:
    status = next(code for kind, code in STATUS.items() if isinstance(exc, kind))
    return JSONResponse({"detail": _detail(exc)}, status_code=status, headers=_retry(exc))


def install(app: FastAPI) -> None:
    """Register the map on ``app`` (its routers, the web page's included, share it)."""
    handler: Callable[[Request, Exception], JSONResponse] = lambda _request, exc: answer(exc)  # noqa: E731
    for kind in STATUS:
        app.add_exception_handler(kind, handler)
