"""OpenAI-compatible embeddings from the local MiniLM model, for other processes (off unless configured)."""

from __future__ import annotations

import asyncio
import base64

import numpy as np
from fastapi import APIRouter, HTTPException

from forkwise.service.surfaces.api.schemas import Embedding, EmbeddingsRequest, EmbeddingsResponse
from forkwise.service.surfaces.deps import ClientDep, KeyDep, ServicesDep

router = APIRouter(tags=["embeddings"])


@router.post(
    "/v1/embeddings",
    response_model=EmbeddingsResponse,
    summary="OpenAI-compatible embeddings (the local MiniLM model), for other processes",
    description="Off unless FORKWISE_SERVE_EMBEDDINGS is set (404). It is work: the API key beyond loopback, "
    "its own rate limit (FORKWISE_RATE_EMBEDDINGS), FORKWISE_EMBED_MAX_INPUTS inputs of at most "
    "FORKWISE_EMBED_MAX_CHARS characters, FORKWISE_EMBED_QUEUE requests at once (429 beyond).",
)
async def embeddings_endpoint(
    req: EmbeddingsRequest, services: ServicesDep, client: ClientDep, key: KeyDep
) -> EmbeddingsResponse:
    settings, embedder = services.settings, services.embedder
    if not settings.serve_embeddings or embedder is None:
        raise HTTPException(404, "this server does not serve embeddings (FORKWISE_SERVE_EMBEDDINGS=1 turns it on)")
    services.access.check(key)
    services.limits.hit("embed", client)
    texts = [req.input] if isinstance(req.input, str) else req.input
    if len(texts) > settings.embed_max_inputs:
        raise HTTPException(413, f"{len(texts)} inputs; at most {settings.embed_max_inputs} a request")
    if (longest := max((len(t) for t in texts), default=0)) > settings.embed_max_chars:
        raise HTTPException(413, f"an input of {longest} characters; at most {settings.embed_max_chars}")
    if not embedder.busy.acquire(blocking=False):
        raise HTTPException(
            429, f"{settings.embed_queue} embedding requests are already running or waiting", {"Retry-After": "5"}
        )
    try:
        loop = asyncio.get_running_loop()
        vecs = await loop.run_in_executor(embedder.pool, embedder.model().embed_documents, texts)
    finally:
        embedder.busy.release()
    data = []
    for i, v in enumerate(vecs):
        emb: list[float] | str = v
        if req.encoding_format == "base64":
            emb = base64.b64encode(np.asarray(v, dtype="<f4").tobytes()).decode()
        data.append(Embedding(index=i, embedding=emb))
    return EmbeddingsResponse(data=data, model=req.model)
