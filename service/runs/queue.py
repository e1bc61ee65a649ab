"""Index jobs on Celery workers over a Redis broker (``FORKWISE_BROKER_URL``): ``forkwise worker``.

A job fans out. ``forkwise.job`` lists the forks (the forge, when asked), runs the cheap stages on its worker
(upstream into the mirror, ``ls-remote`` every fork, prefilter, the cap: :func:`plan_network`) and cuts the forks
left into chunks of ``FORKWISE_CHUNK_FORKS``; each ``forkwise.chunk`` fetches and analyses its forks in the mirror
of whichever worker takes it (its own ``FORKWISE_HOME``) and stores their facts and chunk material; the last
chunk in sends ``forkwise.assemble``, which classifies every fork, writes verdicts, stores the run and indexes it
(in the Chroma server at ``FORKWISE_CHROMA_URL``).

At least once, and safe to repeat: tasks are acknowledged late and rejected when their worker is lost, so the
broker hands them to another; each task first *claims* its row with a conditional update (a second delivery of
a task someone is running does nothing), a chunk already done is not redone, and facts of unchanged heads come
from the store. Every running task beats a heartbeat into its row; every worker sweeps for tasks whose
heartbeat stopped (a worker killed with SIGKILL) and sends them again, so a job finishes with every fork. One
upstream is never indexed by two jobs at once: a Redis lock per upstream, owned by the job, renewed by its
heartbeats, released when the run is stored (or after ``FORKWISE_LOCK_TTL`` when everything died).
"""

from __future__ import annotations

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
from pydantic import BaseModel, Field
from sqlalchemy import func, update

from forkwise.index.github import Discovery
from forkwise.index.gitio import GitError
from forkwise.index.mirror import Rel, mirror_path, relations
from forkwise.index.network import (
    ForkInput,
    ForkOutcome,
    NetworkFacts,
    RunStats,
    analyse_network,
    coverage,
    ensure_heads,
    plan_network,
)
from forkwise.index.sources import Source
from forkwise.index.vector import Material, read_material
from forkwise.service.runs import db
from forkwise.service.runs.db import ChunkRow, JobRow, UpstreamRow, now, session
from forkwise.service.runs.jobs import Job, JobsBusy, JobSpec, StageProgress, active_job, load_job, step, store_job
from forkwise.service.runs.pipeline import finish
from forkwise.service.runs.store import DbFactsCache
from forkwise.service.settings import Settings, WriterName, get_settings
from forkwise.service.verdicts.report import build_report

if TYPE_CHECKING:  # the use cases import this module when a queue is configured
    from forkwise.service.runs.usecases import SummarizeRequest

log = logging.getLogger("forkwise.worker")

QUEUE = "forkwise"
IN_FLIGHT = ("queued", "planning", "chunks", "assembling")
"""Row statuses of a job that is not finished (the API shows the last three as ``running``)."""

app = Celery("forkwise")


class Plan(BaseModel):
    """A fanned-out job's plan, stored on its row: what every chunk and the assembly need."""

    upstream: Source
    as_of: datetime
    max_forks: int | None
    writer: WriterName | None = None
    index: bool = True
    use_cache: bool = True
    listing: Discovery | None = None
    remote: bool = Field(default=False, description="A remote caller asked (or this refreshes what one asked).")
    outcomes: list[ForkOutcome]
    dispatched: list[str] = Field(description="Keys of the forks handed to chunks.")


class ChunkResult(BaseModel):
    net: NetworkFacts | None = None
    material: dict[str, Material] = Field(default_factory=dict)
    error: str | None = None


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
            {"refresh": {"task": "forkwise.refresh", "schedule": min(settings.refresh_hours * 3600, 3600.0)}}
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
    from forkwise.service.runs.jobs import IndexRequest
    from forkwise.service.runs.usecases import index_request, refresh_request

    if spec.refresh:
        req = refresh_request(settings, spec.upstream)
    else:
        req = index_request(settings, spec.upstream, IndexRequest.model_validate(spec.request), remote=spec.remote)
    return req if spec.index else req.model_copy(update={"index": False})


@app.task(name="forkwise.job", bind=True)
def job_task(self: Any, job_id: str) -> str:
    """Plan the job and send its chunks (or wait, when another job holds the upstream)."""
    settings = get_settings()
    row = _claim_job(settings, job_id, ("queued", "planning"), "planning")
    if row is None:
        return "not mine"
    lock = UpstreamLock(settings, row.upstream, job_id)
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
    from forkwise.service.runs.usecases import prepare

    req = request_of(settings, spec)
    progress = RowProgress(settings, job_id, stages=stages)
    prep = prepare(req, settings, progress)
    as_of = req.as_of or datetime.now(UTC)
    progress("resolve", "start", len(prep.forks))
    planned = plan_network(
        prep.upstream, prep.forks, settings, as_of=as_of, max_forks=prep.max_forks, reresolve=prep.reresolve
    )
    progress("resolve", "done", None)
    plan = Plan(
        upstream=prep.upstream,
        as_of=as_of,
        max_forks=prep.max_forks,
        writer=req.writer,
        index=req.index,
        use_cache=req.use_cache,
        listing=prep.listing,
        remote=req.policy is not None,
        outcomes=planned.outcomes,
        dispatched=[o.key for o in planned.outcomes if o.key and o.error is None and o.skipped is None],
    )
    size = settings.chunk_forks
    parts = [planned.dispatch[i : i + size] for i in range(0, len(planned.dispatch), size)]
    with session(settings) as s:
        row = s.get(JobRow, job_id)
        assert row is not None
        s.query(ChunkRow).filter(ChunkRow.job_id == job_id).delete()
        for i, part in enumerate(parts):
            s.add(ChunkRow(job_id=job_id, idx=i, forks=[f.model_dump(mode="json") for f in part]))
        row.plan, row.chunks, row.status = plan.model_dump(mode="json"), len(parts), "chunks"
    return plan


def _dispatch(settings: Settings, job_id: str, plan: Plan) -> str:
    with session(settings) as s:
        todo = [c.idx for c in s.query(ChunkRow).filter(ChunkRow.job_id == job_id, ChunkRow.status != "done")]
    for idx in todo:
        chunk_task.apply_async(args=[job_id, idx], queue=QUEUE)
    if not todo:
        assemble_task.apply_async(args=[job_id], queue=QUEUE)
    return f"{len(todo)} chunks"


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
            .values(status="done", result=result.model_dump(mode="json"), heartbeat_at=now())
        )
    _maybe_assemble(settings, job_id)
    return "done"


def _analyse_chunk(settings: Settings, job_id: str, idx: int, plan: Plan, forks: list[ForkInput]) -> ChunkResult:
    progress = RowProgress(settings, job_id, chunk=idx)
    stem = mirror_path(settings.mirrors_dir, plan.upstream.name, plan.upstream.url).stem
    try:
        net = analyse_network(
            plan.upstream,
            forks,
            settings,
            as_of=plan.as_of,
            progress=progress,
            use_cache=plan.use_cache,
            cache=DbFactsCache(settings, stem),
        )
    except Exception as exc:  # upstream vanished mid-run, a full disk: this chunk's forks say why
        return ChunkResult(error=f"analysis failed on worker {worker_name()}: {_reason(exc)}")
    # material (commit messages, diffs) only for the forks the assembly will index: those whose head the vector
    # index does not hold yet (a refresh over unchanged heads reads nothing)
    wanted = _needs_material(settings, plan, [o for o in net.forks if o.facts is not None and o.error is None])
    # facts that came from the store were found by another worker: this mirror may lack those forks' commits,
    # and their material is read from it, so they are fetched first
    sources = {f.name: f.source for f in forks if f.source is not None}
    cached = {o.name: (sources[o.name], o.facts.head) for o in wanted if o.cached and o.facts and o.name in sources}
    mirror = mirror_path(settings.mirrors_dir, plan.upstream.name, plan.upstream.url)
    if cached:
        with suppress(GitError, OSError):  # then those forks' material is what this mirror has
            mirror = ensure_heads(settings, plan.upstream, cached, fetch_upstream=False)
    material = {}
    for o in wanted:
        if o.facts is not None:
            try:
                material[o.name] = read_material(o.facts, mirror)
            except GitError:
                material[o.name] = Material()
    return ChunkResult(net=net, material=material)


def _needs_material(settings: Settings, plan: Plan, outcomes: list[ForkOutcome]) -> list[ForkOutcome]:
    """The forks whose chunks the assembly will build: none when the job does not index; with a shared Chroma
    server (``FORKWISE_CHROMA_URL``), those whose head it does not hold; otherwise (each worker's own embedded
    store says nothing about the assembler's) all of them."""
    if not plan.index:
        return []
    if not settings.chroma_url:
        return outcomes
    from forkwise.index.vector import VectorIndex

    try:
        indexed = VectorIndex(settings, plan.upstream.name).heads()
    except Exception:  # the server is down: read everything, the assembly will say what indexing did
        return outcomes
    return [o for o in outcomes if o.facts is not None and indexed.get(o.name) != o.facts.head]


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
    settings = get_settings()
    row = _claim_job(settings, job_id, ("chunks", "assembling"), "assembling")
    if row is None:
        return "not mine"
    lock = UpstreamLock(settings, row.upstream, job_id)
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
        job.report_url = f"/v1/repos/{job.upstream}"
    lock.release()
    return "done"


def _assemble(settings: Settings, job_id: str, row: JobRow) -> list[str]:
    plan = Plan.model_validate(row.plan)
    with session(settings) as s:
        chunks = sorted(s.query(ChunkRow).filter(ChunkRow.job_id == job_id), key=lambda c: c.idx)
        results = [(c, ChunkResult.model_validate(c.result or {})) for c in chunks]
    analysed: dict[str, ForkOutcome] = {}
    material: dict[str, Material] = {}
    nets: list[NetworkFacts] = []
    warnings: list[str] = []
    for c, res in results:
        if res.net is None:
            for f in c.forks:
                fi = ForkInput.model_validate(f)
                key = _key(fi)
                analysed[key] = ForkOutcome(
                    name=fi.name, url=fi.source.url if fi.source else None, ref=fi.source.ref if fi.source else None,
                    key=key, meta=fi.meta, error=res.error or "analysis failed",
                )  # fmt: skip
            continue
        nets.append(res.net)
        material.update(res.material)
        for o in res.net.forks:
            analysed[o.key or o.name] = o
        warnings += [w for w in res.net.warnings if w not in warnings]
    outcomes = [analysed.get(o.key or "", o) if o.key in plan.dispatched else o for o in plan.outcomes]
    if not nets:  # nothing was analysed: upstream's facts from this worker's mirror
        nets.append(analyse_network(plan.upstream, [], settings, as_of=plan.as_of))
    heads = {n.upstream.head for n in nets}
    if len(heads) > 1:
        warnings.append(f"upstream moved while the forks were analysed ({len(heads)} heads); compared with each")
    stats = RunStats(
        fetched=sum(n.stats.fetched for n in nets),
        cached=sum(n.stats.cached for n in nets),
        seconds={k: round(sum(n.stats.seconds.get(k, 0.0) for n in nets), 3) for k in nets[0].stats.seconds},
    )
    net = NetworkFacts(
        upstream=nets[0].upstream,
        upstream_web_url=nets[0].upstream_web_url,
        forks=outcomes,
        stats=stats,
        as_of=plan.as_of,
        coverage=coverage(outcomes, plan.max_forks),
        warnings=warnings,
    )
    sources = {
        o.name: Source(name=o.name, url=o.url, ref=o.ref)
        for o in outcomes
        if o.url and o.facts is not None and o.error is None
    }
    fork_heads = {o.name: o.facts.head for o in outcomes if o.facts is not None and o.error is None}

    def relate(pairs: list[tuple[str, str]]) -> dict[tuple[str, str], Rel]:
        names = {n for p in pairs for n in p}
        wanted = {n: (sources[n], fork_heads[n]) for n in names if n in sources}
        mirror = ensure_heads(settings, plan.upstream, wanted)  # forks another worker fetched
        return relations(mirror, fork_heads, pairs, settings.git_timeout)

    progress = RowProgress(settings, job_id, stages=row.stages)
    report = build_report(net, None, None, plan.listing, relate).model_copy(update={"remote_request": plan.remote})
    ensure_heads(settings, plan.upstream, {})  # upstream's README, for its chunks
    report, stats_ = finish(
        report, settings, writer=plan.writer, index=plan.index, progress=progress, job_id=job_id, material=material
    )
    errors = [f"{f.name}: {f.error}" for f in report.forks if f.error]
    if stats_ is not None and stats_.error:
        errors.append(f"indexing failed (the report was saved; chat cannot use it yet): {stats_.error}")
    return errors


def _key(fi: ForkInput) -> str:
    from forkwise.index.mirror import source_key

    return source_key(fi.source) if fi.source else fi.name


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
    for job_id, idx in lost_chunks:
        chunk_task.apply_async(args=[job_id, idx], queue=QUEUE)
        sent.append(f"chunk {job_id}/{idx}")
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
    if not settings.refresh_hours:
        return []
    cutoff = (at or now()) - timedelta(hours=settings.refresh_hours)
    with session(settings) as s:
        due = [
            u.name
            for u in s.query(UpstreamRow).filter(UpstreamRow.tracked.is_(True))
            if u.last_run_at is None or _aware(u.last_run_at) <= cutoff
        ]
    started = []
    for name in due:
        if active_job(settings, name) is None:
            QueueJobs(settings).enqueue(name, JobSpec(upstream=name, refresh=True))
            started.append(name)
    return started


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
            active = s.scalar(func.count().select().select_from(JobRow).where(JobRow.status.in_(IN_FLIGHT))) or 0
        if active >= self.settings.max_jobs + self.settings.job_queue:
            raise JobsBusy(0, int(active), self.settings.job_retry_after)
        job = self.enqueue(upstream, spec or JobSpec(upstream=upstream))
        if on_done is not None:
            threading.Thread(target=self._watch, args=(job.id, on_done), daemon=True).start()
        return job

    def enqueue(self, upstream: str, spec: JobSpec) -> Job:
        job = Job(id=uuid.uuid4().hex[:12], upstream=upstream)
        store_job(self.settings, job, spec=spec.model_dump(mode="json"))
        job_task.apply_async(args=[job.id], queue=QUEUE)
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
    argv = ["worker", f"--loglevel={loglevel}", "-Q", QUEUE, f"--hostname=forkwise-{os.getpid()}@%h"]
    if concurrency:
        argv.append(f"--concurrency={concurrency}")
    if beat:
        argv += ["--beat", f"--schedule={settings.beat_schedule}"]
    settings.home.mkdir(parents=True, exist_ok=True)
    app.worker_main(argv)


__all__ = ["JobSpec", "QueueJobs", "UpstreamLock", "app", "configure", "refresh_due", "run_worker", "sweep"]
