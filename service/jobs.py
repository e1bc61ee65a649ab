"""Index jobs: run one summarize in the background, with per-stage progress, one job per upstream at a time.

Used by the API (`POST /v1/repos/{o}/{r}/index`), the Slack bot's "index it" button and the web page, through
:func:`forkwise.service.start_index`. Jobs run in threads of the serving process. ``on_done`` callbacks let the
bot post the result when a job finishes. Finished jobs are kept for a while (``keep`` of them) and then forgotten.
"""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

from forkwise.index.network import STAGES, Progress
from forkwise.index.settings import Settings

if TYPE_CHECKING:
    from forkwise.service.usecases import SummarizeRequest

JOB_STAGES = ("discover", *STAGES, "index")


class IndexRequest(BaseModel):
    url: str | None = Field(default=None, description="Upstream git URL or path (default: GitHub owner/repo).")
    forks: list[str] = Field(default_factory=list, max_length=1000, description="Forks; empty = discover on GitHub.")
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

    @property
    def finished(self) -> bool:
        return self.status in ("done", "failed")


Work = Callable[[str, "SummarizeRequest", Progress], list[str]]
"""``work(upstream, request, progress)`` runs the job and returns the per-fork errors of the report it stored."""


class JobsBusy(RuntimeError):
    """Every job slot and queue place is taken; try again after ``retry_after`` seconds."""

    def __init__(self, running: int, queued: int, retry_after: int):
        super().__init__(
            f"forkwise is busy: {running} jobs running and {queued} waiting (FORKWISE_MAX_JOBS, FORKWISE_JOB_QUEUE); "
            f"try again in {retry_after} s"
        )
        self.retry_after = retry_after


class JobManager:
    """At most ``settings.max_jobs`` jobs run at once and ``settings.job_queue`` more wait (status ``queued``);
    beyond that :meth:`start` raises :class:`JobsBusy`. One job per upstream at a time."""

    def __init__(self, settings: Settings, work: Work, keep: int = 200):
        self.settings = settings
        self.work = work
        self.keep = keep
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(settings.max_jobs)

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def __len__(self) -> int:
        with self._lock:
            return len(self._jobs)

    def start(self, upstream: str, req: SummarizeRequest, on_done: Callable[[Job], None] | None = None) -> Job:
        """A new job for ``upstream``, or the one already running for it (its mirror and report are shared)."""
        with self._lock:
            running = next((j for j in self._jobs.values() if j.upstream == upstream and not j.finished), None)
            if running is not None:
                return running
            active = [j for j in self._jobs.values() if not j.finished]
            if len(active) >= self.settings.max_jobs + self.settings.job_queue:
                busy = sum(j.status == "running" for j in active)
                raise JobsBusy(busy, len(active) - busy, self.settings.job_retry_after)
            job = Job(id=uuid.uuid4().hex[:12], upstream=upstream)
            self._jobs[job.id] = job
            self._evict()
        threading.Thread(target=self._run, args=(job, req, on_done), daemon=True).start()
        return job

    def _evict(self) -> None:
        """Forget the oldest finished jobs beyond ``keep`` (running jobs are never forgotten)."""
        finished = [k for k, j in self._jobs.items() if j.finished]
        for k in finished[: max(0, len(self._jobs) - self.keep)]:
            del self._jobs[k]

    def _run(self, job: Job, req: Any, on_done: Callable[[Job], None] | None) -> None:
        def mark(stage: str, event: str, total: int | None, detail: str | None = None) -> None:
            with self._lock:  # called from the pipeline's worker threads
                st = job.stages.setdefault(stage, StageProgress())
                if event == "start":
                    st.state, st.total, st.done, job.stage = "running", total, 0, stage
                elif event == "advance":
                    st.done += 1
                elif event == "done":
                    st.state = "done"
                    st.done = st.total if st.total is not None else st.done

        self._slots.acquire()  # queued until a slot frees
        job.status = "running"
        try:
            job.errors += self.work(job.upstream, req, mark)
            job.report_url = f"/v1/repos/{job.upstream}"
            job.status = "done"
        except Exception as exc:  # a job never dies silently: the reason is in job.errors
            job.errors.append(str(exc) if isinstance(exc, ValueError | LookupError) else f"{type(exc).__name__}: {exc}")
            job.status = "failed"
        finally:
            self._slots.release()
            job.finished_at = datetime.now(UTC)
            with self._lock:
                self._evict()
            if on_done is not None:
                on_done(job)
