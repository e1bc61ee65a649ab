"""Index jobs on Celery workers over a Redis broker (``FORKWISE_BROKER_URL``): ``forkwise worker``.

A job runs the stages of the run engine (:mod:`forkwise.service.runs.engine`) on whichever workers take them;
this module only schedules them and persists what passes between them. ``forkwise.job`` lists the forks (the
forge, when asked) and plans (:func:`engine.plan`: upstream into the mirror, ``ls-remote`` every fork, prefilter,
the cap, then chunks of ``FORKWISE_CHUNK_FORKS``), storing the plan on the job's row and a row per chunk; each
``forkwise.chunk`` analyses its forks (:func:`engine.analyse`) in the mirror of the worker that takes it (its own
``FORKWISE_HOME``), facts shared through the store, and keeps their facts and chunk material on its row; the last
chunk in sends ``forkwise.assemble``, which builds the report (:func:`engine.assemble`) and finishes it
(:func:`engine.finish`: stored as a run, indexed in the Chroma server at ``FORKWISE_CHROMA_URL``).

At least once, and safe to repeat: tasks are acknowledged late and rejected when their worker is lost, so the
broker hands them to another; each task first *claims* its row with a conditional update (a second delivery of
a task someone is running does nothing), a chunk already done is not redone, and facts of unchanged heads come
from the store. Every running task beats a heartbeat into its row; every worker sweeps for tasks whose
heartbeat stopped (a worker killed with SIGKILL) and sends them again, so a job finishes with every fork. One
upstream is never indexed by two jobs at once: a Redis lock per upstream, owned by the job, renewed by its
heartbeats, released when the run is stored (or after ``FORKWISE_LOCK_TTL`` when everything died).
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import redis
from celery import Celery, signals
from sqlalchemy import func, update

from forkwise.index.mirror import mirror_path
from forkwise.index.network import (
    ForkInput,
    ensure_heads,
)
from forkwise.service.runs import db, engine
from forkwise.service.runs.db import ChunkRow, JobRow, UpstreamRow, now, session
from forkwise.service.runs.engine import ChunkResult, Plan
from forkwise.service.runs.jobs import (
    ACTIVE,
    Job,
    JobsBusy,
    JobSpec,
    StageProgress,
    active_job,
    load_job,
    report_url,
    step,
    store_job,
)
from forkwise.service.runs.store import DbFactsCache
from forkwise.service.settings import Settings, get_settings

if TYPE_CHECKING:  # the use cases import this module when a queue is configured
    from forkwise.service.runs.usecases import SummarizeRequest

log = logging.getLogger("forkwise.worker")

QUEUE = "forkwise"

app = Celery("forkwise")


def configure(settings: Settings) -> Celery:
    """The Celery app for ``settings``: late acks, requeue on a lost worker, one task prefetched at a time."""
    if app.conf.broker_url != settings.broker_url:
        # the connection and producer pools would otherwise keep sending to the old broker (what Celery itself
        # does after a fork)
        if app._pool is not None:
            app._pool.force_close_all()
        app._pool = None
        amqp = app.__dict__.get("amqp")
        if amqp is not None:
            amqp._producer_pool = None
    app.conf.update(
        broker_url=settings.broker_url,
        broker_connection_retry_on_startup=True,
        broker_transport_options={"visibility_timeout": settings.broker_visibility_timeout},
        task_default_queue=QUEUE,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_ignore_result=True,
        worker_prefetch_multiplier=1,
        worker_hijack_root_logger=False,
        beat_schedule=(
            {"refresh": {"task": "forkwise.refresh", "schedule": beat_interval(settings)}}
            if settings.refresh_hours
            else {}
        ),
    )
    return app


def _redis(settings: Settings) -> redis.Redis:
    return redis.Redis.from_url(settings.broker_url or "redis://127.0.0.1:6379/0")


class UpstreamLock:
    """The cluster-wide guard: one job per upstream. A Redis key holding the owning job's id, with a TTL its
    heartbeats renew; re-entrant for the same job (a task delivered again keeps its job's lock)."""

    _RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"
    _RENEW = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('expire', KEYS[1], ARGV[2]) end"

    def __init__(self, settings: Settings, upstream: str, owner: str):
        self.client, self.owner, self.ttl = _redis(settings), owner, settings.lock_ttl
        self.key = f"forkwise:lock:upstream:{upstream}"

    def acquire(self) -> bool:
        if self.client.set(self.key, self.owner, nx=True, ex=self.ttl):
            return True
        return bool(self.renew())

    def holder(self) -> str | None:
        got = self.client.get(self.key)
        return got.decode() if isinstance(got, bytes) else None

    def renew(self) -> bool:
        return bool(self.client.eval(self._RENEW, 1, self.key, self.owner, str(self.ttl)))

    def release(self) -> bool:
        return bool(self.client.eval(self._RELEASE, 1, self.key, self.owner))


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@contextmanager
def heartbeat(
    settings: Settings, job_id: str, chunk: int | None = None, lock: UpstreamLock | None = None
) -> Iterator[None]:
    """While the block runs, a thread stamps the task's row (and renews the upstream lock) every quarter of
    ``FORKWISE_TASK_STALE``: a row whose stamp is older than that belongs to a lost worker."""
    stop = threading.Event()
    every = max(1.0, settings.task_stale / 4)

    def beat() -> None:
        while not stop.wait(every):
            with suppress(Exception):  # a missed beat is retried; the sweep tolerates three
                _stamp(settings, job_id, chunk)
                if lock is not None:
                    lock.renew()

    t = threading.Thread(target=beat, daemon=True, name=f"heartbeat-{job_id}")
    t.start()
    try:
        yield
    finally:
        stop.set()
        t.join(timeout=5)


def _stamp(settings: Settings, job_id: str, chunk: int | None) -> None:
    with session(settings) as s:
        if chunk is None:
            s.execute(update(JobRow).where(JobRow.id == job_id).values(heartbeat_at=now()))
        else:
            s.execute(
                update(ChunkRow).where(ChunkRow.job_id == job_id, ChunkRow.idx == chunk).values(heartbeat_at=now())
            )


def _stale(settings: Settings) -> datetime:
    return now() - timedelta(seconds=settings.task_stale)


class RowProgress:
    """A pipeline ``progress`` callback that keeps a job's (or one chunk's) stage progress in its row: written on
    every stage start and end, and at most once a second while items advance."""

    def __init__(self, settings: Settings, job_id: str, chunk: int | None = None, stages: dict | None = None):
        self.settings, self.job_id, self.chunk = settings, job_id, chunk
        self.stages = {k: StageProgress.model_validate(v) for k, v in (stages or {}).items()}
        self.stage: str | None = None
        self._lock = threading.Lock()
        self._last = 0.0

    def __call__(self, stage: str, event: str, total: int | None, detail: str | None = None) -> None:
        with self._lock:
            step(self.stages, stage, event, total)
            if event == "start":
                self.stage = stage
            if event == "advance" and time.monotonic() - self._last < 1.0:
                return
            self._last = time.monotonic()
            data = {k: v.model_dump() for k, v in self.stages.items()}
            current = self.stage
        with suppress(Exception), session(self.settings) as s:  # progress is for people: never fails the job
            if self.chunk is None:
                s.execute(update(JobRow).where(JobRow.id == self.job_id).values(stages=data, stage=current))
            else:
                s.execute(
                    update(ChunkRow)
                    .where(ChunkRow.job_id == self.job_id, ChunkRow.idx == self.chunk)
                    .values(progress=data)
                )


def _claim_job(settings: Settings, job_id: str, statuses: tuple[str, ...], to: str) -> JobRow | None:
    """Take the job's row for this worker when its status is one of ``statuses`` and nobody holds it (or its
    holder stopped beating); None when another worker has it or it is finished."""
    with session(settings) as s:
        res = s.execute(
            update(JobRow)
            .where(
                JobRow.id == job_id,
                JobRow.status.in_(statuses),
                (JobRow.status != to) | JobRow.heartbeat_at.is_(None) | (JobRow.heartbeat_at < _stale(settings)),
            )
            .values(status=to, worker=worker_name(), heartbeat_at=now(), attempts=JobRow.attempts + 1)
        )
        # an UPDATE's result is a CursorResult (it has rowcount); Session.execute is annotated as the base Result
        if res.rowcount != 1:  # type: ignore[attr-defined]
            return None
        return s.get(JobRow, job_id)


def _claimed(job_id: str, statuses: tuple[str, ...], to: str) -> tuple[Settings, JobRow, UpstreamLock] | None:
    """A job task's start: its row claimed (:func:`_claim_job`) and its upstream's lock (not yet acquired); None
    when the row is another worker's or finished."""
    settings = get_settings()
    row = _claim_job(settings, job_id, statuses, to)
    if row is None:
        return None
    return settings, row, UpstreamLock(settings, row.upstream, job_id)


def _fail(settings: Settings, job_id: str, reason: str, lock: UpstreamLock | None = None) -> None:
    with session(settings) as s:
        row = s.get(JobRow, job_id)
        if row is not None and row.status not in ("done", "failed"):
            row.status, row.errors, row.finished_at = "failed", [*(row.errors or []), reason], now()
    if lock is not None:
        lock.release()


def _reason(exc: BaseException) -> str:
    return str(exc) if isinstance(exc, ValueError | LookupError) else f"{type(exc).__name__}: {exc}"


def request_of(settings: Settings, spec: JobSpec) -> Any:
    from forkwise.service.runs.jobs import JobRequest
    from forkwise.service.runs.usecases import index_request, refresh_request

    if spec.refresh:
        req = refresh_request(settings, spec.upstream)
    else:
        req = index_request(settings, spec.upstream, JobRequest.model_validate(spec.request), remote=spec.remote)
    return req if spec.index else req.model_copy(update={"index": False})


@app.task(name="forkwise.job", bind=True)
def job_task(self: Any, job_id: str) -> str:
    """Plan the job and send its chunks (or wait, when another job holds the upstream)."""
    claimed = _claimed(job_id, ("queued", "planning"), "planning")
    if claimed is None:
        return "not mine"
    settings, row, lock = claimed
    if not lock.acquire():
        with session(settings) as s:
            s.execute(update(JobRow).where(JobRow.id == job_id).values(status="queued", stage="wait"))
        raise self.retry(countdown=max(2, settings.task_stale // 4), max_retries=None)
    try:
        with heartbeat(settings, job_id, lock=lock):
            plan = _plan(settings, job_id, JobSpec.model_validate(row.spec), row.stages)
    except Exception as exc:
        _fail(settings, job_id, _reason(exc), lock)
        return "failed"
    return _dispatch(settings, job_id, plan)


def _plan(settings: Settings, job_id: str, spec: JobSpec, stages: dict | None) -> Plan:
    """The engine's plan, cut into chunks of ``FORKWISE_CHUNK_FORKS``: stored on the job's row, one row a chunk."""
    from forkwise.service.runs.usecases import prepare

    progress = RowProgress(settings, job_id, stages=stages)
    run_req, reresolve = prepare(request_of(settings, spec), settings, progress)
    p = engine.plan(run_req, settings, chunk_forks=settings.chunk_forks, progress=progress, reresolve=reresolve)
    with session(settings) as s:
        row = s.get(JobRow, job_id)
        assert row is not None
        s.query(ChunkRow).filter(ChunkRow.job_id == job_id).delete()
        for i, part in enumerate(p.chunks):
            s.add(ChunkRow(job_id=job_id, idx=i, forks=[f.model_dump(mode="json") for f in part]))
        row.plan, row.chunks, row.status = p.model_dump(mode="json", exclude={"chunks"}), len(p.chunks), "chunks"
    return p


def home_queue(settings: Settings) -> str:
    """The queue of this worker's home (its mirrors), which it consumes beside the shared one: a chunk sent there
    runs where the upstream's mirror already is. Workers on one machine sharing a home share it."""
    where = f"{socket.gethostname()}:{settings.home.resolve()}"
    return f"{QUEUE}.home.{hashlib.sha256(where.encode()).hexdigest()[:12]}"


def _holders(settings: Settings, job_id: str, upstream: str) -> list[str]:
    """The home queues of the workers that analysed the last finished job of ``upstream`` (their mirrors hold it)."""
    with session(settings) as s:
        rows = (
            s.query(ChunkRow.job_id, ChunkRow.home)
            .join(JobRow, JobRow.id == ChunkRow.job_id)
            .filter(
                JobRow.upstream == upstream, JobRow.id != job_id, JobRow.status == "done", ChunkRow.home.is_not(None)
            )
            .order_by(JobRow.created_at.desc())
            .all()
        )
    latest = rows[0][0] if rows else None
    return sorted({str(home) for job, home in rows if job == latest})


def _dispatch(settings: Settings, job_id: str, plan: Plan) -> str:
    """Send the chunks not done yet: each to the home queue of a worker whose mirror holds the upstream (from its
    last job), in turn, else to the shared queue. A chunk its preferred home has not taken within
    ``FORKWISE_TASK_STALE`` goes to the shared queue (:func:`sweep`): preferred, never stranded."""
    with session(settings) as s:
        job = s.get(JobRow, job_id)
        upstream = job.upstream if job is not None else ""
        todo = [c.idx for c in s.query(ChunkRow).filter(ChunkRow.job_id == job_id, ChunkRow.status != "done")]
    holders = _holders(settings, job_id, upstream)
    for n, idx in enumerate(todo):
        _send_chunk(settings, job_id, idx, holders[n % len(holders)] if holders else QUEUE)
    if not todo:
        assemble_task.apply_async(args=[job_id], queue=QUEUE)
    return f"{len(todo)} chunks" + (f", preferring {len(holders)} worker homes" if holders else "")


def _send_chunk(settings: Settings, job_id: str, idx: int, queue: str) -> None:
    with session(settings) as s:
        s.execute(
            update(ChunkRow)
            .where(ChunkRow.job_id == job_id, ChunkRow.idx == idx)
            .values(sent_to=queue, heartbeat_at=now())  # while queued, heartbeat_at says when it was sent
        )
    chunk_task.apply_async(args=[job_id, idx], queue=queue)


def _claim_chunk(settings: Settings, job_id: str, idx: int) -> ChunkRow | None:
    with session(settings) as s:
        res = s.execute(
            update(ChunkRow)
            .where(
                ChunkRow.job_id == job_id,
                ChunkRow.idx == idx,
                (ChunkRow.status == "queued")
                | ((ChunkRow.status == "running") & (ChunkRow.heartbeat_at < _stale(settings))),
            )
            .values(status="running", worker=worker_name(), heartbeat_at=now(), attempts=ChunkRow.attempts + 1)
        )
        # an UPDATE's result is a CursorResult (it has rowcount); Session.execute is annotated as the base Result
        if res.rowcount != 1:  # type: ignore[attr-defined]
            return None
        return s.get(ChunkRow, (job_id, idx))


@app.task(name="forkwise.chunk", bind=True)
def chunk_task(self: Any, job_id: str, idx: int) -> str:
    """Fetch and analyse one chunk of forks in this worker's mirror; the last chunk in sends the assembly."""
    settings = get_settings()
    chunk = _claim_chunk(settings, job_id, idx)
    if chunk is None:
        _maybe_assemble(settings, job_id)
        return "not mine"
    with session(settings) as s:
        job = s.get(JobRow, job_id)
        plan = Plan.model_validate(job.plan) if job is not None and job.plan else None
    if plan is None or job is None or job.status in ("done", "failed"):
        return "job gone"
    lock = UpstreamLock(settings, job.upstream, job_id)
    with heartbeat(settings, job_id, idx, lock):
        result = _analyse_chunk(settings, job_id, idx, plan, [ForkInput.model_validate(f) for f in chunk.forks])
    with session(settings) as s:
        s.execute(
            update(ChunkRow)
            .where(ChunkRow.job_id == job_id, ChunkRow.idx == idx)
            .values(status="done", result=result.model_dump(mode="json"), heartbeat_at=now(), home=home_queue(settings))
        )
    _maybe_assemble(settings, job_id)
    return "done"


def _analyse_chunk(settings: Settings, job_id: str, idx: int, p: Plan, forks: list[ForkInput]) -> ChunkResult:
    """The engine's :func:`engine.analyse` in this worker's mirror, facts shared through the store; a failure
    (upstream vanished mid-run, a full disk) becomes this chunk's forks' error."""
    stem = mirror_path(settings.mirrors_dir, p.request.upstream.name, p.request.upstream.url).stem
    try:
        return engine.analyse(
            p, forks, settings, progress=RowProgress(settings, job_id, chunk=idx), cache=DbFactsCache(settings, stem),
            material=True,
        )  # fmt: skip
    except Exception as exc:
        return ChunkResult(error=f"analysis failed on worker {worker_name()}: {_reason(exc)}")


def _maybe_assemble(settings: Settings, job_id: str) -> None:
    with session(settings) as s:
        left = s.scalar(
            func.count().select().select_from(ChunkRow).where(ChunkRow.job_id == job_id, ChunkRow.status != "done")
        )
        job = s.get(JobRow, job_id)
        status = job.status if job is not None else None
    if left == 0 and status == "chunks":
        assemble_task.apply_async(args=[job_id], queue=QUEUE)


@app.task(name="forkwise.assemble", bind=True)
def assemble_task(self: Any, job_id: str) -> str:
    """Every chunk is in: one report, classified and written, stored as a run and indexed."""
    claimed = _claimed(job_id, ("chunks", "assembling"), "assembling")
    if claimed is None:
        return "not mine"
    settings, row, lock = claimed
    try:
        with heartbeat(settings, job_id, lock=lock):
            errors = _assemble(settings, job_id, row)
    except Exception as exc:
        _fail(settings, job_id, f"assembling the report failed: {_reason(exc)}", lock)
        return "failed"
    with session(settings) as s:
        job = s.get(JobRow, job_id)
        assert job is not None
        job.status, job.finished_at = "done", now()
        job.errors = [*(job.errors or []), *errors]
        job.report_url = report_url(job.upstream)
    lock.release()
    return "done"


def _assemble(settings: Settings, job_id: str, row: JobRow) -> list[str]:
    """The engine's :func:`engine.assemble` over the stored chunks, then :func:`engine.finish`."""
    p = Plan.model_validate(row.plan)
    with session(settings) as s:
        rows = sorted(s.query(ChunkRow).filter(ChunkRow.job_id == job_id), key=lambda c: c.idx)
        chunks = [([ForkInput.model_validate(f) for f in c.forks], ChunkResult.model_validate(c.result or {}))
                  for c in rows]  # fmt: skip
    report = engine.assemble(p, chunks, settings)
    ensure_heads(settings, p.request.upstream, {})  # upstream's README, for its chunks
    material = {name: m for _forks, res in chunks for name, m in res.material.items()}
    vectors = None
    for _forks, res in chunks:  # each chunk's embeddings of its forks' commits and diffs
        vectors = res.vectors if vectors is None else vectors.merged(res.vectors)
    report, stats = engine.finish(
        report, settings, writer=p.request.writer, index=p.request.index,
        progress=RowProgress(settings, job_id, stages=row.stages), job_id=job_id, material=material,
        vectors=vectors,
    )  # fmt: skip
    return engine.run_errors(report, stats)


# --- the sweep: tasks whose worker stopped beating are sent again ------------------------------------------


def sweep(settings: Settings) -> list[str]:
    """Send again every task whose heartbeat stopped (its worker was lost); returns what was sent."""
    stale, sent = _stale(settings), []
    with session(settings) as s:
        lost_chunks = [
            (c.job_id, c.idx)
            for c in s.query(ChunkRow).filter(ChunkRow.status == "running", ChunkRow.heartbeat_at < stale)
        ]
        lost_jobs = [
            (j.id, j.status)
            for j in s.query(JobRow).filter(JobRow.status.in_(("planning", "assembling")), JobRow.heartbeat_at < stale)
        ]
        waiting = [j.id for j in s.query(JobRow).filter(JobRow.status == "chunks", JobRow.heartbeat_at < stale)]
        parked = [
            (c.job_id, c.idx, c.sent_to)
            for c in s.query(ChunkRow).filter(
                ChunkRow.status == "queued", ChunkRow.sent_to != QUEUE, ChunkRow.heartbeat_at < stale
            )
        ]
    for job_id, idx in lost_chunks:
        chunk_task.apply_async(args=[job_id, idx], queue=QUEUE)
        sent.append(f"chunk {job_id}/{idx}")
    for job_id, idx, home in parked:  # its preferred home did not take it in time: any worker may
        _send_chunk(settings, job_id, idx, QUEUE)
        sent.append(f"chunk {job_id}/{idx} (not taken from {home})")
    for job_id, status in lost_jobs:
        (job_task if status == "planning" else assemble_task).apply_async(args=[job_id], queue=QUEUE)
        sent.append(f"{status} {job_id}")
    for job_id in waiting:  # every chunk in, but the assembly message was lost with its worker
        _maybe_assemble(settings, job_id)
    return sent


def _sweeper(settings: Settings, stop: threading.Event) -> None:
    while not stop.wait(max(1.0, settings.task_stale / 2)):
        try:
            for what in sweep(settings):
                log.warning("sent again (its worker stopped beating): %s", what)
        except Exception as exc:  # the store or the broker is away: try again next round
            log.warning("sweep failed: %s", exc)


_stop_sweeper = threading.Event()


@signals.worker_ready.connect
def _start_sweeper(**_: Any) -> None:
    threading.Thread(target=_sweeper, args=(get_settings(), _stop_sweeper), daemon=True, name="sweeper").start()


@signals.worker_process_init.connect
def _fresh_connections(**_: Any) -> None:
    db.dispose_all()  # a pool child never shares its parent's database sockets


# --- refresh on a schedule ----------------------------------------------------------------------------------


@app.task(name="forkwise.refresh")
def refresh_task() -> list[str]:
    """Queue a refresh of every tracked upstream whose newest run is older than ``FORKWISE_REFRESH_HOURS``."""
    settings = get_settings()
    return refresh_due(settings)


def refresh_due(settings: Settings, at: datetime | None = None) -> list[str]:
    """Queue a refresh of every tracked upstream whose newest run is older than ``FORKWISE_REFRESH_HOURS``, oldest
    first, spread over the beat's interval (:func:`spread`) so that upstreams due together do not all start at
    once; returns their names in that order."""
    if not settings.refresh_hours:
        return []
    cutoff = (at or now()) - timedelta(hours=settings.refresh_hours)
    with session(settings) as s:
        rows = [(u.name, u.last_run_at) for u in s.query(UpstreamRow).filter(UpstreamRow.tracked.is_(True))]
    never = datetime.min.replace(tzinfo=UTC)
    oldest_first = sorted((_aware(last) if last else never, name) for name, last in rows)
    due = [name for last, name in oldest_first if last <= cutoff and active_job(settings, name) is None]
    delays = spread(due, beat_interval(settings))
    jobs = QueueJobs(settings)
    for name in due:
        jobs.enqueue(name, JobSpec(upstream=name, refresh=True), countdown=delays[name])
    return due


def beat_interval(settings: Settings) -> float:
    """How often the beat looks for refreshes due: every hour, or every ``FORKWISE_REFRESH_HOURS`` when shorter."""
    return min(settings.refresh_hours * 3600, 3600.0)


def spread(names: list[str], over: float) -> dict[str, float]:
    """Each refresh's delay: evenly over ``over`` seconds in the given order, the first at once, so N upstreams
    due at the same beat start ``over / N`` apart instead of together."""
    return {name: round(i * over / len(names), 1) for i, name in enumerate(names)}


def _aware(t: datetime) -> datetime:
    return t if t.tzinfo else t.replace(tzinfo=UTC)


# --- the server's side --------------------------------------------------------------------------------------


class QueueJobs:
    """The job interface of :class:`forkwise.service.runs.jobs.JobManager`, with the work done by workers."""

    def __init__(self, settings: Settings):
        self.settings = settings
        configure(settings)

    def get(self, job_id: str) -> Job | None:
        return load_job(self.settings, job_id)

    def __len__(self) -> int:
        with session(self.settings) as s:
            return int(s.scalar(func.count().select().select_from(JobRow)) or 0)

    def start(
        self,
        upstream: str,
        req: SummarizeRequest,
        on_done: Callable[[Job], None] | None = None,
        *,
        spec: JobSpec | None = None,
    ) -> Job:
        """The job queued or running for ``upstream``, or a new one sent to the workers."""
        running = active_job(self.settings, upstream)
        if running is not None:
            return running
        with session(self.settings) as s:
            active = s.scalar(func.count().select().select_from(JobRow).where(JobRow.status.in_(ACTIVE))) or 0
        if active >= self.settings.max_jobs + self.settings.job_queue:
            raise JobsBusy(0, int(active), self.settings.job_retry_after)
        job = self.enqueue(upstream, spec or JobSpec(upstream=upstream))
        if on_done is not None:
            threading.Thread(target=self._watch, args=(job.id, on_done), daemon=True).start()
        return job

    def enqueue(self, upstream: str, spec: JobSpec, countdown: float = 0.0) -> Job:
        """A job row (``queued``) and its planning task, sent now or ``countdown`` seconds from now."""
        job = Job(id=uuid.uuid4().hex[:12], upstream=upstream)
        store_job(self.settings, job, spec=spec.model_dump(mode="json"))
        job_task.apply_async(args=[job.id], queue=QUEUE, countdown=countdown or None)
        return job

    def _watch(self, job_id: str, on_done: Callable[[Job], None], every: float = 1.0) -> None:
        while True:
            job = self.get(job_id)
            if job is None or job.finished:
                if job is not None:
                    on_done(job)
                return
            time.sleep(every)


def run_worker(settings: Settings, concurrency: int | None = None, beat: bool = False, loglevel: str = "INFO") -> None:
    """``forkwise worker``: consume jobs until stopped (``--beat``: also send the refresh schedule)."""
    if not settings.broker_url:
        raise ValueError("forkwise worker needs FORKWISE_BROKER_URL (a Redis URL, e.g. redis://127.0.0.1:6379/0)")
    configure(settings)
    db.sessions(settings)  # migrate (and import old reports) once, before any task
    db.dispose_all()
    argv = ["worker", f"--loglevel={loglevel}", "-Q", f"{QUEUE},{home_queue(settings)}",
            f"--hostname=forkwise-{os.getpid()}@%h"]  # fmt: skip
    if concurrency:
        argv.append(f"--concurrency={concurrency}")
    if beat:
        argv += ["--beat", f"--schedule={settings.beat_schedule}"]
    settings.home.mkdir(parents=True, exist_ok=True)
    app.worker_main(argv)


__all__ = ["JobSpec", "QueueJobs", "UpstreamLock", "app", "configure", "refresh_due", "run_worker", "sweep"]
