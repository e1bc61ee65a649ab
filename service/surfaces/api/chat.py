"""Chat: a question about an upstream's forks, answered with citations (JSON, or Server-Sent Events)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from forkwise.index.names import split_full_name
from forkwise.service.runs.usecases import answer, load, verdict
from forkwise.service.surfaces.deps import AccessDep, ChatDep, ClientDep, KeyDep, LimitsDep, SettingsDep
from forkwise.service.verdicts.chat import ChatAnswer, ChatRequest, answer_events

router = APIRouter(tags=["chat"])


@router.post(
    "/v1/chat",
    response_model=ChatAnswer,
    summary="Ask about an upstream's forks (stream=true for SSE)",
    responses={200: {"content": {"text/event-stream": {}}, "description": "The answer, or its events (stream)"}},
)
async def chat_endpoint(
    req: ChatRequest,
    request: Request,
    settings: SettingsDep,
    chat: ChatDep,
    access: AccessDep,
    limits: LimitsDep,
    client: ClientDep,
    key: KeyDep,
) -> ChatAnswer | StreamingResponse:
    if chat.model is not None:
        access.check(key)  # a configured model spends tokens: that is work
    limits.hit("chat", client)
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
