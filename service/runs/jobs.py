"""Index jobs: run one summarize in the background, with per-stage progress, one job per upstream at a time.

Used by the API (`POST /v1/repos/{o}/{r}/index`), the Slack bot's "index it" button and the web page, through
:func:`forkwise.service.start_job`. Here jobs run in threads of the serving process (no broker configured);
:mod:`forkwise.service.runs.queue` runs them on Celery workers instead, behind the same interface. Every job is a row of
the store (status, stage progress, errors), so it outlives the process and any server can report it. ``on_done``
callbacks let the bot post the result when a job finishes. Finished jobs stay in memory for a while (``keep``).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal, Protocol

from pydantic import BaseModel, Field, StringConstraints

from forkwise.index.network import STAGES, Progress
from forkwise.index.sources import Redacted
from forkwise.service.runs.db import ChunkRow, JobRow, session
from forkwise.service.settings import Settings

if TYPE_CHECKING:
    from forkwise.service.runs.usecases import SummarizeRequest

JOB_STAGES = ("discover", *STAGES, "index")


SourceText = Annotated[str, StringConstraints(min_length=1, max_length=2000, pattern=r"^\S(?:.*\S)?$")]
"""A source as a caller names it: not empty, nothing blank around it (``' a/b'`` is not ``a/b``)."""


class JobRequest(BaseModel):
    url: SourceText | None = Field(default=None, description="Upstream git URL or path (default: GitHub owner/repo).")
    forks: list[SourceText] = Field(
        default_factory=list, max_length=1000, description="Forks; empty = discover on GitHub."
    )
    depth: int = Field(default=1, ge=1, le=5)
    max_forks: int | None = Field(default=None, ge=0)


class StageProgress(BaseModel):
    done: int = 0
    total: int | None = None
    state: Literal["pending", "running", "done"] = "pending"


def step(stages: dict[str, StageProgress], stage: str, event: str, total: int | None) -> None:
    """One pipeline progress event (``start`` with a total, ``advance``, ``done``) applied to ``stages``."""
    st = stages.setdefault(stage, StageProgress())
    if event == "start":
        st.state, st.total, st.done = "running", total, 0
    elif event == "advance":
        st.done += 1
    elif event == "done":
        st.state = "done"
        st.done = st.total if st.total is not None else st.done


class Job(BaseModel):
    id: str
    upstream: str
    status: Literal["queued", "running", "done", "failed"] = "queued"
    stage: str | None = None
    stages: dict[str, StageProgress] = Field(default_factory=lambda: {s: StageProgress() for s in JOB_STAGES})
    errors: list[Redacted] = Field(default_factory=list)
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    finished_at: datetime | None = None
    report_url: str | None = None

    @property
    def finished(self) -> bool:
        return self.status in ("done", "failed")


Work = Callable[[str, "SummarizeRequest", Progress, str], list[str]]
"""``work(upstream, request, progress, job_id)`` runs the job and returns the per-fork errors of the report it
stored."""

ACTIVE = ("queued", "running", "planning", "chunks", "assembling")
"""Row statuses of a job that is not finished: a thread's (``running``) or a fanned-out job's stages (the API
shows the last three as ``running``)."""


def report_url(upstream: str) -> str:
    """Where a finished job's report is: the API's summary of its upstream."""
    return f"/v1/repos/{upstream}"


"""Row statuses of a job not finished (a queued job's planning, chunks and assembly on workers show as running)."""
CHUNKED_STAGES = ("fetch", "analyse")
"""Stages a fanned-out job runs in chunks on workers: their progress is the sum over its chunks."""


def store_job(settings: Settings, job: Job, **columns: Any) -> None:
    """Write ``job``'s state (and any other ``columns`` of its row) to the store."""
    with session(settings) as s:
        row = s.get(JobRow, job.id)
        if row is None:
            row = JobRow(id=job.id, upstream=job.upstream, created_at=job.created_at)
            s.add(row)
        row.status, row.stage, row.errors = job.status, job.stage, list(job.errors)
        row.stages = {k: v.model_dump() for k, v in job.stages.items()}
        row.finished_at, row.report_url = job.finished_at, job.report_url
        for k, v in columns.items():
            setattr(row, k, v)


def job_of(row: JobRow, chunks: Sequence[ChunkRow] = ()) -> Job:
    stages = {k: StageProgress.model_validate(v) for k, v in (row.stages or {}).items()}
    if chunks:  # a fanned-out job: its fetch and analyse stages are its chunks' summed
        planned = len((row.plan or {}).get("dispatched") or []) or None  # every fork sent to the chunks
        for stage in CHUNKED_STAGES:
            parts = [StageProgress.model_validate(c.progress[stage]) for c in chunks if stage in (c.progress or {})]
            finished = [c for c in chunks if c.status == "done"]
            # a chunk that is done counts all its forks (a chunk redone after a lost worker counts them once)
            done_forks = sum(len(c.forks) for c in finished)
            running = [
                StageProgress.model_validate(c.progress[stage])
                for c in chunks
                if c.status != "done" and stage in (c.progress or {})
            ]
            done = len(finished) == len(chunks)
            total = planned or sum(p.total or 0 for p in parts) or None
            stages[stage] = StageProgress(
                done=min(done_forks + sum(p.done for p in running), total or 0) if total else 0,
                total=total,
                state="done" if done else ("running" if parts else "pending"),
            )
        if row.status == "chunks":
            row_stage = next((st for st in reversed(CHUNKED_STAGES) if stages[st].state == "running"), "fetch")
            return _job(row, stages, row_stage)
    return _job(row, stages, row.stage)


def _job(row: JobRow, stages: dict[str, StageProgress], stage: str | None) -> Job:
    return Job(
        id=row.id,
        upstream=row.upstream,
        # the membership test is the narrowing to Job's literal statuses; mypy does not narrow a str by `in`
        status=row.status if row.status in ("queued", "running", "done", "failed") else "running",  # type: ignore[arg-type]
        stage=stage,
        stages=stages or {s: StageProgress() for s in JOB_STAGES},
        errors=list(row.errors or []),
        created_at=row.created_at,
        finished_at=row.finished_at,
        report_url=row.report_url,
    )


def load_job(settings: Settings, job_id: str) -> Job | None:
    with session(settings) as s:
        row = s.get(JobRow, job_id)
        if row is None:
            return None
        chunks = list(s.query(ChunkRow).filter(ChunkRow.job_id == job_id)) if row.chunks else []
        return job_of(row, chunks)


def active_job(settings: Settings, upstream: str) -> Job | None:
    """The job queued or running for ``upstream``, if any."""
    with session(settings) as s:
        row = (
            s.query(JobRow)
            .filter(JobRow.upstream == upstream, JobRow.status.in_(ACTIVE))
            .order_by(JobRow.created_at.desc())
            .first()
        )
        return job_of(row) if row is not None else None


class JobsBusy(RuntimeError):
    """Every job slot and queue place is taken; try again after ``retry_after`` seconds."""

    def __init__(self, running: int, queued: int, retry_after: int):
        super().__init__(
            f"forkwise is busy: {running} jobs running and {queued} waiting (FORKWISE_MAX_JOBS, FORKWISE_JOB_QUEUE); "
            f"try again in {retry_after} s"
        )
        self.retry_after = retry_after


class JobSpec(BaseModel):
    """What a queued job does, as the server checked it: the same request is rebuilt on the worker."""

    upstream: str
    request: dict[str, Any] = Field(default_factory=dict, description="The JobRequest, as JSON.")
    remote: bool = True
    refresh: bool = Field(default=False, description="Summarize again from the sources of the stored report.")
    index: bool = Field(default=True, description="Index the run in the vector store once it is assembled.")


class Jobs(Protocol):
    """Where index jobs run: :class:`JobManager` (threads of this process) or
    :class:`forkwise.service.runs.queue.QueueJobs` (Celery workers). ``start`` takes the checked request (run
    here) and its :class:`JobSpec` (what a worker rebuilds it from); each uses what it needs."""

    settings: Settings

    def get(self, job_id: str) -> Job | None: ...

    def __len__(self) -> int: ...

    def start(
        self,
        upstream: str,
        req: SummarizeRequest,
        on_done: Callable[[Job], None] | None = None,
        *,
        spec: JobSpec | None = None,
    ) -> Job: ...


class JobManager:
    """At most ``settings.max_jobs`` jobs run at once and ``settings.job_queue`` more wait (status ``queued``);
    beyond that :meth:`start` raises :class:`JobsBusy`. One job per upstream at a time."""

    def __init__(self, settings: Settings, work: Work, keep: int = 200):
        self.settings = settings
        self.work = work
        self.keep = keep
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._lock = threading.Lock()
        self._save_lock = threading.Lock()  # one store write at a time, in snapshot order
        self._slots = threading.BoundedSemaphore(settings.max_jobs)

    def get(self, job_id: str) -> Job | None:
        """This server's job, or a job of the store (from before a restart)."""
        with self._lock:
            job = self._jobs.get(job_id)
        return job if job is not None else load_job(self.settings, job_id)

    def _save(self, job: Job, **final: Any) -> None:
        """Store ``job``'s state, with ``final`` fields (status, finished_at) written to the store first.

        Writes are serialised and each takes its snapshot inside the serialisation, so an older snapshot never
        lands after a newer one; a finished status is set in memory only once the store has it, so whoever sees
        a job finished reads the same from the store."""
        with self._save_lock:
            with self._lock:
                snapshot = job.model_copy(deep=True, update=final)
            try:
                store_job(self.settings, snapshot)
            except Exception as exc:  # the store is down: the job goes on; its state is in memory
                with self._lock:
                    job.errors.append(f"job state not stored: {type(exc).__name__}: {str(exc)[:200]}")
            with self._lock:
                for k, v in final.items():
                    setattr(job, k, v)

    def __len__(self) -> int:
        with self._lock:
            return len(self._jobs)

    def start(
        self,
        upstream: str,
        req: SummarizeRequest,
        on_done: Callable[[Job], None] | None = None,
        *,
        spec: JobSpec | None = None,
    ) -> Job:
        """A new job for ``upstream``, or the one already running for it (its mirror and report are shared).
        ``spec`` is for workers elsewhere; this process runs ``req`` itself."""
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
        self._save(job)
        threading.Thread(target=self._run, args=(job, req, on_done), daemon=True).start()
        return job

    def _evict(self) -> None:
        """Forget the oldest finished jobs beyond ``keep`` (running jobs are never forgotten)."""
        finished = [k for k, j in self._jobs.items() if j.finished]
        for k in finished[: max(0, len(self._jobs) - self.keep)]:
            del self._jobs[k]

    def _run(self, job: Job, req: Any, on_done: Callable[[Job], None] | None) -> None:
        last = [0.0]

        def mark(stage: str, event: str, total: int | None, detail: str | None = None) -> None:
            with self._lock:  # called from the pipeline's worker threads
                step(job.stages, stage, event, total)
                if event == "start":
                    job.stage = stage
                flush = event != "advance" or time.monotonic() - last[0] > 1.0
                if flush:
                    last[0] = time.monotonic()
            if flush:  # at most once a second while forks advance
                self._save(job)

        self._slots.acquire()  # queued until a slot frees
        job.status = "running"
        self._save(job)
        status = "failed"
        try:
            errors = self.work(job.upstream, req, mark, job.id)
            with self._lock:
                job.errors += errors
                job.report_url = report_url(job.upstream)
            status = "done"
        except Exception as exc:  # a job never dies silently: the reason is in job.errors
            with self._lock:
                job.errors.append(
                    str(exc) if isinstance(exc, ValueError | LookupError) else f"{type(exc).__name__}: {exc}"
                )
        finally:
            self._slots.release()
            self._save(job, status=status, finished_at=datetime.now(UTC))
            with self._lock:
                self._evict()
            if on_done is not None:
                on_done(job)
