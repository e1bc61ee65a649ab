"""Slack's Events API and interactivity endpoint: the signature checked, the envelope shape-checked, then Bolt."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from starlette.concurrency import run_in_threadpool

from forkwise.service.surfaces.deps import Services


def slack_router(services: Services, signing_secret: str) -> tuple[APIRouter, Any]:
    """The route and the Bolt app it dispatches to (only when ``SLACK_SIGNING_SECRET`` is set)."""
    from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
    from slack_sdk.signature import SignatureVerifier

    from forkwise.service.surfaces.slack import create_slack_app, envelope_problem

    bolt = create_slack_app(services.settings, services.chat, services.jobs, services.limits)
    verifier = SignatureVerifier(signing_secret)
    router = APIRouter(include_in_schema=False)

    @router.post("/slack/events")
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

    return router, bolt
