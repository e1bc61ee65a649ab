"""Where summarized reports live: runs in the database (:mod:`forkwise.service.runs.db`). What the vector index
holds of them is :mod:`forkwise.service.runs.vectors`.

`forkwise summarize`, the demo, the API's index job and the workers all go through :func:`save_report`, so
`forkwise serve` answers for everything summarized before, from one store. The newest ``FORKWISE_KEEP_RUNS`` runs of
each upstream are kept (history, the digest); the newest run of an upstream is its report.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from forkwise.index.models import ForkFacts
from forkwise.index.vector import UPSTREAM_FLAG
from forkwise.service.runs.db import (
    ChunkRow,
    EtagRow,
    FactsCacheRow,
    ForkRow,
    JobRow,
    MetaRow,
    RunRow,
    UpstreamRow,
    engine_of,
    now,
    session,
)
from forkwise.service.runs.litestore import fork_columns, upstream_url, writer_name
from forkwise.service.settings import Settings
from forkwise.service.verdicts.models import Report

if TYPE_CHECKING:
    pass


def _fork_rows(report: Report) -> list[ForkRow]:
    return [ForkRow(**columns) for columns in fork_columns(report)]


def upstream_row(s: Session, name: str, url: str) -> UpstreamRow:
    """The row of upstream ``name``, made when missing. An insert that yields to a concurrent one (never a
    read-then-insert race), and a write first, so SQLite takes its write lock before anything is read."""
    values = {"name": name, "url": url, "tracked": True, "created_at": now()}
    if s.get_bind().dialect.name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        s.execute(sqlite_insert(UpstreamRow).values(**values).on_conflict_do_nothing(index_elements=["name"]))
    else:  # the PostgreSQL dialect loads only for a PostgreSQL store (50 ms of imports otherwise)
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        s.execute(pg_insert(UpstreamRow).values(**values).on_conflict_do_nothing(index_elements=["name"]))
    return s.execute(select(UpstreamRow).where(UpstreamRow.name == name)).scalar_one()


def add_run(s: Session, report: Report, job_id: str | None = None) -> RunRow:
    """A new run of ``report``'s upstream (the upstream row made when it is the first), with its fork rows."""
    up = upstream_row(s, report.upstream.name, upstream_url(report))
    run = RunRow(
        upstream_id=up.id,
        job_id=job_id,
        as_of=report.as_of,
        upstream_head=report.upstream.head,
        writer=writer_name(report),
        report=report.model_dump_json(),
    )
    s.add(run)
    s.flush()
    for row in _fork_rows(report):
        row.run_id = run.id
        s.add(row)
    up.url, up.last_run_id, up.last_run_at = upstream_url(report), run.id, run.created_at
    return run


def prune(s: Session, upstream: UpstreamRow, keep: int) -> int:
    """Keep the newest ``keep`` runs of ``upstream`` (and the run its last digest reported), and its newest
    ``keep`` finished jobs; the chunk results (facts and material on their way to the assembly) of every finished
    job but the newest are dropped: the run holds what they carried. Returns the number of runs deleted."""
    if keep <= 0:
        return 0
    digest = s.get(MetaRow, f"digest:{upstream.name}")
    pinned = {json.loads(digest.value).get("run_id")} if digest is not None else set()
    old = [
        rid
        for rid in s.execute(
            select(RunRow.id).where(RunRow.upstream_id == upstream.id).order_by(RunRow.id.desc()).offset(keep)
        ).scalars()
        if rid not in pinned and rid != upstream.last_run_id
    ]
    if old:
        s.execute(delete(ForkRow).where(ForkRow.run_id.in_(old)))
        s.execute(delete(RunRow).where(RunRow.id.in_(old)))
    finished = list(
        s.execute(
            select(JobRow.id)
            .where(JobRow.upstream == upstream.name, JobRow.status.in_(("done", "failed")))
            .order_by(JobRow.created_at.desc())
        ).scalars()
    )
    if finished[keep:]:
        s.execute(delete(ChunkRow).where(ChunkRow.job_id.in_(finished[keep:])))
        s.execute(delete(JobRow).where(JobRow.id.in_(finished[keep:])))
    if finished[1:keep]:
        s.execute(update(ChunkRow).where(ChunkRow.job_id.in_(finished[1:keep])).values(result=None))
        s.execute(update(JobRow).where(JobRow.id.in_(finished[1:keep])).values(plan=None))
    return len(old)


def save_report(report: Report, settings: Settings, *, run_id: int | None = None, job_id: str | None = None) -> int:
    """Store ``report`` as a new run (or as a new version of run ``run_id``: the same run after its verdicts were
    rewritten) in one transaction, pruning what ``FORKWISE_KEEP_RUNS`` lets go; returns the run's id."""
    with session(settings) as s:
        run = s.get(RunRow, run_id) if run_id is not None else None
        if run is None:
            run = add_run(s, report, job_id)
            up = s.get(UpstreamRow, run.upstream_id)
            assert up is not None
            prune(s, up, settings.keep_runs)
            return run.id
        run.report, run.updated_at = report.model_dump_json(), now()
        run.writer = writer_name(report)
        s.query(ForkRow).filter(ForkRow.run_id == run.id).delete()
        for row in _fork_rows(report):
            row.run_id = run.id
            s.add(row)
        return run.id


class DbFactsCache:
    """Per-fork facts in the store, so whichever worker analyses a fork next reuses them (heads unchanged)."""

    def __init__(self, settings: Settings, prefix: str):
        self.settings, self.prefix = settings, prefix

    def get(self, key: str, cache_key: str) -> tuple[ForkFacts, bool] | None:
        with session(self.settings) as s:
            row = s.get(FactsCacheRow, f"{self.prefix}/{key}")
            if row is None or row.cache_key != cache_key:
                return None
            try:
                return ForkFacts.model_validate(row.facts), row.prefiltered
            except ValueError:
                return None

    def put(self, key: str, cache_key: str, facts: ForkFacts, prefiltered: bool) -> None:
        facts_json = facts.model_dump(mode="json")
        row = FactsCacheRow(key=f"{self.prefix}/{key}", cache_key=cache_key, prefiltered=prefiltered, facts=facts_json)
        try:
            with session(self.settings) as s:
                s.merge(row)
        except IntegrityError:
            pass  # another worker stored the same fork at the same moment: its facts are the same


class DbEtags:
    """GitHub's ETags and bodies in the store (:class:`forkwise.index.github.EtagStore`): one cache for every
    worker and server on the same database, so a listing another machine made is answered with free 304s."""

    def __init__(self, settings: Settings):
        self.settings = settings

    @staticmethod
    def _key(url: str) -> str:
        return hashlib.sha256(url.encode()).hexdigest()

    def get(self, url: str) -> dict[str, Any] | None:
        with session(self.settings) as s:
            row = s.get(EtagRow, self._key(url))
            if row is None or row.url != url:
                return None
            return {"url": row.url, "etag": row.etag, "body": row.body, "next": row.next_url}

    def put(self, url: str, etag: str, body: Any, next_url: str | None) -> None:
        row = EtagRow(key=self._key(url), url=url, etag=etag, body=body, next_url=next_url, stored_at=now())
        try:
            with session(self.settings) as s:
                s.merge(row)
        except IntegrityError:
            pass  # another worker stored the same page at the same moment


_READ_CACHE = 64
_read_cache: OrderedDict[int, tuple[object, Report]] = OrderedDict()
_read_lock = threading.Lock()


def _cached(run_id: int, version: object) -> Report | None:
    with _read_lock:
        hit = _read_cache.get(run_id)
        if hit is not None and hit[0] == version:
            _read_cache.move_to_end(run_id)
            return hit[1]
    return None


def _parse(run: RunRow) -> Report:
    """The report of ``run``, parsed once per version (its id and when it was last written). Shared: read-only."""
    hit = _cached(run.id, run.updated_at)
    if hit is not None:
        return hit
    report = Report.model_validate_json(run.report)
    with _read_lock:
        _read_cache[run.id] = (run.updated_at, report)
        while len(_read_cache) > _READ_CACHE:
            _read_cache.popitem(last=False)
    return report


def parsed_report(settings: Settings, name: str) -> Report | None:
    """The newest report of ``name`` if that version is parsed already (one small query), else None: whether there
    is none or it must still be read and parsed, :func:`load_report` says. For a caller on an event loop: this
    never reads a report's text."""
    with engine_of(settings).connect() as conn:
        newest = conn.execute(_NEWEST, {"name": name}).first()
    return None if newest is None else _cached(newest.id, newest.updated_at)


def load_report(settings: Settings, name: str) -> Report | None:
    """The newest report of ``name``, or None. Shared between callers: do not modify it (copy first).

    One small query per call (the newest run's id and version); the report's text is read and parsed only when
    that version is not parsed already."""
    with engine_of(settings).connect() as conn:  # the hot path of every read: Core, one compiled statement
        newest = conn.execute(_NEWEST, {"name": name}).first()
    if newest is None:
        return None
    hit = _cached(newest.id, newest.updated_at)
    if hit is not None:
        return hit
    with session(settings) as s:
        run = s.get(RunRow, newest.id)
        return _parse(run) if run is not None else None


_NEWEST = (
    select(RunRow.id, RunRow.updated_at)
    .join(UpstreamRow, UpstreamRow.last_run_id == RunRow.id)
    .where(UpstreamRow.name == bindparam("name"))
)


def list_reports(settings: Settings) -> list[Report]:
    """The newest report of every upstream, by name."""
    with session(settings) as s:
        ups = s.execute(select(UpstreamRow).order_by(UpstreamRow.name)).scalars().all()
        runs = [s.get(RunRow, u.last_run_id) for u in ups if u.last_run_id is not None]
        out = []
        for run in runs:
            if run is None:
                continue
            try:
                out.append(_parse(run))
            except ValueError:
                continue
        return out


def load_run(settings: Settings, run_id: int) -> Report | None:
    """The report of run ``run_id`` (any run, not only the newest), or None."""
    with session(settings) as s:
        run = s.get(RunRow, run_id)
        return _parse(run) if run is not None else None


def newest_run(settings: Settings, name: str) -> tuple[int, Report] | None:
    """The newest run of ``name``: (run id, report), or None."""
    runs = run_history(settings, name, limit=1)
    return runs[0] if runs else None


def run_history(settings: Settings, name: str, limit: int = 20) -> list[tuple[int, Report]]:
    """The runs of ``name``, newest first: (run id, report)."""
    with session(settings) as s:
        up = s.execute(select(UpstreamRow).where(UpstreamRow.name == name)).scalar_one_or_none()
        if up is None:
            return []
        runs = s.execute(
            select(RunRow).where(RunRow.upstream_id == up.id).order_by(RunRow.id.desc()).limit(limit)
        ).scalars()
        return [(r.id, _parse(r)) for r in runs]


def delete_upstream(settings: Settings, name: str) -> bool:
    """Forget ``name`` and its runs."""
    with session(settings) as s:
        up = s.execute(select(UpstreamRow).where(UpstreamRow.name == name)).scalar_one_or_none()
        if up is None:
            return False
        for run in s.execute(select(RunRow).where(RunRow.upstream_id == up.id)).scalars():
            s.query(ForkRow).filter(ForkRow.run_id == run.id).delete()
            s.delete(run)
        s.delete(up)
        return True


__all__ = [
    "UPSTREAM_FLAG",
    "DbFactsCache",
    "add_run",
    "delete_upstream",
    "list_reports",
    "load_report",
    "load_run",
    "newest_run",
    "parsed_report",
    "prune",
    "run_history",
    "save_report",
]
