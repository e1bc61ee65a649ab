"""A run's writes to the default store (SQLite in the home) through the standard library's ``sqlite3``: the run with
its fork rows, pruning, and the ``meta`` rows the vector ledger keeps. Everything else, and every other case,
goes through the ORM (:mod:`forkwise.service.runs.store`).

Why not SQLAlchemy here: importing it and its ORM costs ~0.25 s, more than git needs for the facts of a warm
10-fork network, and a command-line ``summarize`` would pay it for a handful of statements (issue 24). The schema
stays the ORM's (``db.py``, kept by the Alembic migrations); this module writes its columns the way SQLAlchemy's
SQLite types do (JSON as ``json.dumps`` text, datetimes as naive ``YYYY-MM-DD HH:MM:SS.ffffff``, booleans as
0/1), and ``tests/test_litestore.py`` writes the same reports both ways and compares every column.

It is used only when the store is the default SQLite file, already at the newest schema revision and past its
one-time import of old JSON reports; otherwise (a PostgreSQL store, a first run, a schema to migrate) the ORM does
the write and brings the database there first."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from forkwise.service.settings import Settings
    from forkwise.service.verdicts.models import Report

HEAD_REVISION = "0002"  # the newest migration in migrations/versions (a test checks it against Alembic's head)
JSON_IMPORT_MARKER = "json_reports_imported"  # the meta key the ORM sets once old JSON reports are imported


def _now() -> datetime:
    return datetime.now(UTC)


def stamp(dt: datetime) -> str:
    """A datetime as SQLAlchemy's ``DateTime`` stores it in SQLite (its fields as given, no offset)."""
    return dt.strftime("%Y-%m-%d %H:%M:%S.%f")


def _json(value: Any) -> str:
    """A JSON column's value as SQLAlchemy writes it: its default serializer, and None as JSON ``null`` (the
    type's ``none_as_null`` is off), not SQL NULL."""
    return json.dumps(value)


def upstream_url(report: Report) -> str:
    """Where upstream was fetched from: only a report shown to a remote caller lacks it, and that one is never
    stored or indexed."""
    if report.upstream.url is None:
        raise ValueError(f"{report.upstream.name}: a report without upstream's URL (as shown remotely) is not stored")
    return report.upstream.url


def writer_name(report: Report) -> str:
    return report.stats.writer.writer if report.stats.writer else "facts"


def fork_columns(report: Report) -> list[dict[str, Any]]:
    """One ``forks`` row per fork of ``report`` (without ``id`` and ``run_id``): the ORM's rows and this module's
    are made from these."""
    rows = []
    for f in report.forks:
        v = f.verdict
        rows.append(
            {
                "name": f.name,
                "url": f.url,
                "status": f.status,
                "head": f.facts.head if f.facts else None,
                "archetype": v.archetype if v else None,
                "recommendation": v.recommendation if v else None,
                "ahead": f.facts.ahead if f.facts else None,
                "behind": f.facts.behind if f.facts else None,
                "facts": f.facts.model_dump(mode="json") if f.facts else None,
                "verdict": v.model_dump(mode="json") if v else None,
                "error": f.error or f.skipped,
            }
        )
    return rows


def connect(settings: Settings) -> sqlite3.Connection | None:
    """A connection to the default SQLite store when this module may write it (see the module's text), else None."""
    if settings.database_url:
        return None
    path = settings.sqlite_path
    if not path.is_file():
        return None
    conn = sqlite3.connect(path, timeout=30, isolation_level=None)
    try:
        conn.execute("PRAGMA synchronous=NORMAL")  # what the ORM's connections set (WAL is the file's own mode)
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA busy_timeout=30000")
        revision = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        imported = conn.execute("SELECT 1 FROM meta WHERE key = ?", (JSON_IMPORT_MARKER,)).fetchone()
    except sqlite3.Error:
        conn.close()
        return None
    if revision != (HEAD_REVISION,) or imported is None:
        conn.close()
        return None
    return conn


def available(settings: Settings) -> bool:
    """Whether this module writes the store of ``settings`` (else the ORM does)."""
    conn = connect(settings)
    if conn is None:
        return False
    conn.close()
    return True


@contextmanager
def _transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One write transaction, its lock taken first (``BEGIN IMMEDIATE``: no read-then-upgrade deadlock between
    processes); committed when the block ends, rolled back when it raises; the connection closed either way."""
    with closing(conn):
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")


def _in(ids: list[Any]) -> str:
    return ", ".join("?" for _ in ids)


def _insert_forks(conn: sqlite3.Connection, run_id: int, report: Report) -> None:
    rows = [
        (run_id, c["name"], c["url"], c["status"], c["head"], c["archetype"], c["recommendation"], c["ahead"],
         c["behind"], _json(c["facts"]), _json(c["verdict"]), c["error"])
        for c in fork_columns(report)
    ]  # fmt: skip
    conn.executemany(
        "INSERT INTO forks (run_id, name, url, status, head, archetype, recommendation, ahead, behind, facts, "
        "verdict, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )


def _add_run(conn: sqlite3.Connection, report: Report, job_id: str | None) -> tuple[int, int]:
    """As ``store.add_run``: the upstream row (made when missing), a run row and its fork rows. Returns the run's
    and the upstream's ids."""
    name, url = report.upstream.name, upstream_url(report)
    conn.execute(
        "INSERT INTO upstreams (name, url, tracked, created_at) VALUES (?, ?, 1, ?) ON CONFLICT (name) DO NOTHING",
        (name, url, stamp(_now())),
    )
    (upstream_id,) = conn.execute("SELECT id FROM upstreams WHERE name = ?", (name,)).fetchone()
    created = stamp(_now())
    cur = conn.execute(
        "INSERT INTO runs (upstream_id, job_id, created_at, updated_at, as_of, upstream_head, writer, report) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (upstream_id, job_id, created, created, stamp(report.as_of), report.upstream.head, writer_name(report),
         report.model_dump_json()),
    )  # fmt: skip
    run_id = cur.lastrowid
    assert run_id is not None
    _insert_forks(conn, run_id, report)
    conn.execute(
        "UPDATE upstreams SET url = ?, last_run_id = ?, last_run_at = ? WHERE id = ?",
        (url, run_id, created, upstream_id),
    )
    return run_id, upstream_id


def _prune(conn: sqlite3.Connection, upstream_id: int, keep: int) -> int:
    """As ``store.prune``: keep the newest ``keep`` runs (and the digest's and the last), the newest ``keep``
    finished jobs, and the chunk results of the newest finished job only. Returns the number of runs deleted."""
    if keep <= 0:
        return 0
    name, last_run_id = conn.execute("SELECT name, last_run_id FROM upstreams WHERE id = ?", (upstream_id,)).fetchone()
    digest = conn.execute("SELECT value FROM meta WHERE key = ?", (f"digest:{name}",)).fetchone()
    pinned = {json.loads(digest[0]).get("run_id")} if digest is not None else set()
    old = [
        rid
        for (rid,) in conn.execute(
            "SELECT id FROM runs WHERE upstream_id = ? ORDER BY id DESC LIMIT -1 OFFSET ?", (upstream_id, keep)
        )
        if rid not in pinned and rid != last_run_id
    ]
    if old:
        conn.execute(f"DELETE FROM forks WHERE run_id IN ({_in(old)})", old)
        conn.execute(f"DELETE FROM runs WHERE id IN ({_in(old)})", old)
    finished = [
        jid
        for (jid,) in conn.execute(
            "SELECT id FROM jobs WHERE upstream = ? AND status IN ('done', 'failed') ORDER BY created_at DESC", (name,)
        )
    ]
    if gone := finished[keep:]:
        conn.execute(f"DELETE FROM chunks WHERE job_id IN ({_in(gone)})", gone)
        conn.execute(f"DELETE FROM jobs WHERE id IN ({_in(gone)})", gone)
    if kept := finished[1:keep]:
        # JSON null, as the ORM writes None
        conn.execute(f"UPDATE chunks SET result = 'null' WHERE job_id IN ({_in(kept)})", kept)
        conn.execute(f"UPDATE jobs SET \"plan\" = 'null' WHERE id IN ({_in(kept)})", kept)
    return len(old)


def save_report(report: Report, settings: Settings, *, run_id: int | None = None, job_id: str | None = None) -> int:
    """Store ``report`` as a new run (or as a new version of run ``run_id``: the same run after its verdicts were
    rewritten) in one transaction, pruning what ``FORKWISE_KEEP_RUNS`` lets go; returns the run's id. Here when
    :func:`connect` allows it, else through the ORM."""
    conn = connect(settings)
    if conn is None:
        from forkwise.service.runs.store import save_report as orm_save_report

        return orm_save_report(report, settings, run_id=run_id, job_id=job_id)
    with _transaction(conn):
        if run_id is not None and conn.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone():
            conn.execute(
                "UPDATE runs SET report = ?, updated_at = ?, writer = ? WHERE id = ?",
                (report.model_dump_json(), stamp(_now()), writer_name(report), run_id),
            )
            conn.execute("DELETE FROM forks WHERE run_id = ?", (run_id,))
            _insert_forks(conn, run_id, report)
            return run_id
        new_id, upstream_id = _add_run(conn, report, job_id)
        _prune(conn, upstream_id, settings.keep_runs)
        return new_id


def meta_get(settings: Settings, key: str) -> str | None:
    """The ``meta`` row ``key``'s value, or None."""
    conn = connect(settings)
    if conn is None:
        from forkwise.service.runs.db import MetaRow, session

        with session(settings) as s:
            row = s.get(MetaRow, key)
            return None if row is None else row.value
    with closing(conn):
        hit = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return None if hit is None else str(hit[0])


def meta_put(settings: Settings, key: str, value: str) -> None:
    """Set the ``meta`` row ``key`` to ``value``."""
    conn = connect(settings)
    if conn is None:
        from forkwise.service.runs.db import MetaRow, session

        with session(settings) as s:
            s.merge(MetaRow(key=key, value=value))
        return
    with _transaction(conn):
        conn.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )
