"""The API's public bodies: what each route takes and answers, as OpenAPI shows them (``/openapi.json``)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from forkwise.index.names import WebLink
from forkwise.index.network import Coverage
from forkwise.service.verdicts.classify import Archetype, Recommendation
from forkwise.service.verdicts.models import Counts, ForkReport, ForkStatus, Pick, Report, UpstreamSummary


class RepoListItem(BaseModel):
    """One summarized upstream, as ``GET /v1/repos`` lists it."""

    name: str = Field(description="owner/repo")
    forks: int = Field(description="Forks listed (discovered on the forge, or given).")
    analysed: int = Field(description="Forks fetched and compared in depth.")
    generated_at: datetime


class ForkRow(BaseModel):
    """A fork as a line of the summary's table; ``GET …/forks/{owner}/{repo}`` has the whole of it."""

    name: str
    status: ForkStatus
    archetype: Archetype | None
    recommendation: Recommendation | None
    ahead: int | None
    behind: int | None
    last_commit_date: datetime | None
    stars: int | None
    summary: str | None
    error: str | None = Field(description="Why it was not analysed (failed, or skipped over the cap).")
    web_url: WebLink = None

    @classmethod
    def of(cls, f: ForkReport) -> ForkRow:
        return cls(
            name=f.name,
            status=f.status,
            archetype=f.archetype,
            recommendation=f.verdict.recommendation if f.verdict else None,
            ahead=f.facts.ahead if f.facts else None,
            behind=f.facts.behind if f.facts else None,
            last_commit_date=f.facts.last_commit_date if f.facts else None,
            stars=f.meta.stars if f.meta else None,
            summary=f.verdict.summary if f.verdict else None,
            error=f.error or f.skipped,
            web_url=f.web_url,
        )


class RepoSummary(BaseModel):
    """An upstream's summary: itself, what the run covered, counts, picks and every fork as a table row."""

    upstream: UpstreamSummary
    coverage: Coverage
    counts: Counts
    picks: dict[str, Pick]
    forks: list[ForkRow]
    generated_at: datetime

    @classmethod
    def of(cls, r: Report) -> RepoSummary:
        return cls(
            upstream=r.upstream,
            coverage=r.coverage,
            counts=r.counts,
            picks=r.picks,
            forks=[ForkRow.of(f) for f in r.forks],
            generated_at=r.generated_at,
        )


class ForkDetail(BaseModel):
    upstream: str
    fork: ForkReport


class JobStarted(BaseModel):
    """An index job was accepted (202); ``Location`` carries the absolute URL."""

    job: str = Field(description="The job's id.")
    url: str = Field(description="Where to follow it: /v1/jobs/{id} (same origin).")


class EmbeddingsRequest(BaseModel):
    input: str | list[str] = Field(max_length=2048)
    model: str = "minilm-int8"
    encoding_format: Literal["float", "base64"] = "float"


class Embedding(BaseModel):
    object: Literal["embedding"] = "embedding"
    index: int
    embedding: list[float] | str = Field(description="The vector, or its little-endian float32 bytes in base64.")


class Usage(BaseModel):
    prompt_tokens: int = 0
    total_tokens: int = 0


class EmbeddingsResponse(BaseModel):
    """OpenAI's embeddings answer."""

    object: Literal["list"] = "list"
    data: list[Embedding]
    model: str
    usage: Usage = Field(default_factory=Usage)
