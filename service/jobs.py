"""Index jobs: discover (or take the given sources), summarize, index, store; with per-stage progress.

Used by the API (`POST /v1/repos/{o}/{r}/index`), the Slack bot's "index it" button and the web page. Jobs run in
a thread of the serving process for now; ``on_done`` callbacks let the bot post the result when a job finishes.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from index.forge import client_for, discover, reresolver
from index.github import GitHubError
from index.network import STAGES, ForkInput, UpstreamError
from index.settings import Settings
from index.sources import SourceError, parse_source
from service.pipeline import run

JOB_STAGES = ("discover", *STAGES, "index")


class IndexRequest(BaseModel):
    url: str | None = Field(default=None, description="Upstream git URL or path (default: GitHub owner/repo).")
    forks: list[str] = Field(default_factory=list, description="Forks to compare; empty = discover on GitHub.")
    depth: int = Field(default=1, ge=1, le=5)
    max_forks: int | None = Field(default=None, ge=0)


class StageProgress(BaseModel):
    done: int = 0
    total: int | None = None
    state: Literal["pending", "running", "done"] = "pending"


class Job(BaseModel):
    id: str
    upstream: str
    status: Literal["queued", "running", "done", "failed"] = "queued"
    stage: str | None = None
    stages: dict[str, StageProgress] = Field(default_factory=lambda: {s: StageProgress() for s in JOB_STAGES})
    errors: list[str] = Field(default_factory=list)
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    finished_at: datetime | None = None
    report_url: str | None = None


class JobManager:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.jobs: dict[str, Job] = {}
        self._lock = threading.Lock()

    def get(self, job_id: str) -> Job | None:
        return self.jobs.get(job_id)

    def start(
        self, upstream: str, req: IndexRequest | None = None, on_done: Callable[[Job], None] | None = None
    ) -> Job:
        job = Job(id=uuid.uuid4().hex[:12], upstream=upstream)
        with self._lock:
            self.jobs[job.id] = job
        threading.Thread(target=self._run, args=(job, req or IndexRequest(), on_done), daemon=True).start()
        return job

    def _run(self, job: Job, req: IndexRequest, on_done: Callable[[Job], None] | None) -> None:
        settings = self.settings

        def mark(stage: str, event: str, total: int | None) -> None:
            st = job.stages.setdefault(stage, StageProgress())
            if event == "start":
                st.state, st.total, st.done, job.stage = "running", total, 0, stage
            elif event == "advance":
                st.done += 1
            elif event == "done":
                st.state = "done"
                st.done = st.total if st.total is not None else st.done

        job.status = "running"
        try:
            extra: dict[str, Any] = {"max_forks": req.max_forks}
            mark("discover", "start", None)
            if req.url or req.forks:
                up = parse_source(req.url or job.upstream, name=job.upstream, github_url=settings.github_url)
                forks = []
                for t in req.forks:
                    try:
                        src = parse_source(t, github_url=settings.github_url)
                        forks.append(ForkInput(name=src.name, source=src))
                    except SourceError as exc:
                        forks.append(ForkInput(name=t, error=str(exc)))
            else:
                client = client_for(settings)
                found = discover(client, job.upstream, depth=req.depth)
                up, forks = found.upstream, found.forks
                extra = {
                    "max_forks": 100 if req.max_forks is None else req.max_forks,
                    "reresolve": reresolver(client),
                    "listing": found.discovery,
                }
            mark("discover", "done", None)
            report, _ = run(up, forks, settings, progress=mark, **extra)
            job.errors += [f"{f.name}: {f.error}" for f in report.forks if f.error]
            job.report_url = f"/v1/repos/{report.upstream.name}"
            job.status = "done"
        except (UpstreamError, SourceError, GitHubError, ValueError) as exc:
            job.errors.append(str(exc))
            job.status = "failed"
        except Exception as exc:  # a job never dies silently
            job.errors.append(f"{type(exc).__name__}: {exc}")
            job.status = "failed"
        finally:
            job.finished_at = datetime.now(UTC)
            if on_done is not None:
                on_done(job)
