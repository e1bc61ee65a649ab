"""The store's writes through sqlite3 (``litestore``) are the ORM's writes: the same rows, read back the same by the
ORM, the same pruning, and the ORM (which migrates) whenever the database is not the default one at the newest
schema (issue 24: a command-line summarize writes its run without loading SQLAlchemy)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from forkwise.service.runs import litestore
from forkwise.service.runs.db import RunRow, dispose_all, session
from forkwise.service.runs.store import load_report, run_history
from forkwise.service.runs.store import save_report as orm_save
from forkwise.service.settings import Settings
from forkwise.service.verdicts.models import Report
from tests.test_store import _renamed, at_once

pytestmark = pytest.mark.slow

TABLES = {
    "upstreams": "name, url, tracked, last_run_id IS NOT NULL, typeof(created_at), typeof(last_run_at)",
    "runs": "job_id, upstream_head, writer, report, as_of, typeof(created_at), typeof(updated_at), "
    "length(created_at), length(updated_at)",
    "forks": "name, url, status, head, archetype, recommendation, ahead, behind, facts, typeof(facts), verdict, "
    "typeof(verdict), error",
}


def _rows(settings: Settings, table: str) -> list[tuple]:
    with sqlite3.connect(settings.sqlite_path) as conn:
        return conn.execute(f"SELECT {TABLES[table]} FROM {table} ORDER BY 1").fetchall()


def _with_a_failed_fork(report: Report) -> Report:
    """The demo report plus a fork that failed (no facts, no verdict, an error): its NULL columns too."""
    r = report.model_copy(deep=True)
    broken = r.forks[0].model_copy(update={"name": "zed/broken", "facts": None, "verdict": None, "status": "failed",
                                           "error": "fetch failed: repository not found"})  # fmt: skip
    r.forks.append(broken)
    return r


def _store(tmp: Path, name: str) -> Settings:
    """A default store at the newest schema (created by the ORM, as a first run does), holding another upstream."""
    return Settings(home=tmp / name)


def test_a_run_written_with_sqlite3_is_the_orms_run(tmp_path: Path, demo_run) -> None:
    _, _, demo, _ = demo_run
    report = _with_a_failed_fork(demo)
    orm, lite = _store(tmp_path, "orm"), _store(tmp_path, "lite")
    for cfg in (orm, lite):
        orm_save(_renamed(report, "first/run"), cfg)  # the first run creates and migrates the database
    assert litestore.available(orm) and litestore.available(lite)
    orm_id = orm_save(report, orm, job_id="job-1")
    lite_id = litestore.save_report(report, lite, job_id="job-1")
    assert orm_id == lite_id == 2
    for table in TABLES:
        assert _rows(lite, table) == _rows(orm, table), table
    assert ("zed/broken", report.forks[0].url, "failed", None, None, None, None, None, "null", "text", "null", "text",
            "fetch failed: repository not found") in _rows(lite, "forks")  # fmt: skip
    # the ORM reads it back as it reads its own
    dispose_all()
    for cfg in (orm, lite):
        back = load_report(cfg, report.upstream.name)
        assert back is not None and back.model_dump() == report.model_dump()
        with session(cfg) as s:
            run = s.get(RunRow, 2)
            assert run is not None and run.as_of == report.as_of.replace(tzinfo=None)
    # a rewrite of the run (the verdicts written again) is a new version of it, not a new run
    rewritten = report.model_copy(deep=True)
    rewritten.forks = rewritten.forks[:1]
    assert orm_save(rewritten, orm, run_id=2) == 2 and litestore.save_report(rewritten, lite, run_id=2) == 2
    for table in TABLES:
        assert _rows(lite, table) == _rows(orm, table), table
    dispose_all()
    assert [f.name for f in load_report(lite, report.upstream.name).forks] == [report.forks[0].name]
    assert [rid for rid, _ in run_history(lite, report.upstream.name)] == [2]


def _downgrade(settings: Settings, revision: str) -> None:
    from alembic import command
    from sqlalchemy import create_engine

    from forkwise.service.runs.db import alembic_config

    dispose_all()
    engine = create_engine(f"sqlite:///{settings.sqlite_path}")
    with engine.begin() as conn:
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)
    engine.dispose()


def test_anything_but_the_default_store_at_the_newest_schema_goes_through_the_orm(tmp_path: Path, demo_run) -> None:
    _, _, report, _ = demo_run
    cfg = Settings(home=tmp_path / "home")
    assert not litestore.available(cfg)  # no database yet
    first = litestore.save_report(report, cfg)  # the ORM creates it
    assert first == 1 and litestore.available(cfg)
    _downgrade(cfg, "0001")
    assert not litestore.available(cfg)  # behind: the ORM migrates it on its next write
    dispose_all()
    assert litestore.save_report(report, cfg) == 2
    with sqlite3.connect(cfg.sqlite_path) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone() == (litestore.HEAD_REVISION,)
        conn.execute("DELETE FROM meta WHERE key = ?", (litestore.JSON_IMPORT_MARKER,))
    assert not litestore.available(cfg)  # old JSON reports not imported yet: the ORM does that first
    other = cfg.model_copy(update={"database_url": f"sqlite:///{cfg.sqlite_path}"})
    assert not litestore.available(other)  # a database named by FORKWISE_DATABASE_URL is the ORM's
    dispose_all()


def test_meta_rows_read_and_written_both_ways(tmp_path: Path) -> None:
    cfg = Settings(home=tmp_path / "home")
    litestore.meta_put(cfg, "vector:x", "one")  # no database yet: the ORM makes it
    assert litestore.available(cfg)
    assert litestore.meta_get(cfg, "vector:x") == "one"
    litestore.meta_put(cfg, "vector:x", "two")
    litestore.meta_put(cfg, "vector:y", "three")
    assert litestore.meta_get(cfg, "vector:x") == "two" and litestore.meta_get(cfg, "nothing") is None
    from forkwise.service.runs.db import MetaRow

    with session(cfg) as s:
        assert s.get(MetaRow, "vector:x").value == "two" and s.get(MetaRow, "vector:y").value == "three"
    dispose_all()


def test_concurrent_sqlite3_writers_lose_no_run(tmp_path: Path, demo_run) -> None:
    """Twelve writers at once, two upstreams: each upstream row made once, every run kept (``BEGIN IMMEDIATE``
    and the busy timeout: none fails on a locked database)."""
    _, _, report, _ = demo_run
    cfg = Settings(home=tmp_path / "home", keep_runs=0)
    orm_save(_renamed(report, "first/run"), cfg)
    ids = at_once(lambda r: litestore.save_report(r, cfg), [_renamed(report, f"race/{'ab'[i % 2]}") for i in range(12)])
    assert len(set(ids)) == 12
    with sqlite3.connect(cfg.sqlite_path) as conn:
        ups = conn.execute("SELECT name, id, last_run_id FROM upstreams ORDER BY name").fetchall()
        assert [u[0] for u in ups] == ["first/run", "race/a", "race/b"]
        for _, uid, last in ups[1:]:
            runs = [r for (r,) in conn.execute("SELECT id FROM runs WHERE upstream_id = ?", (uid,))]
            assert len(runs) == 6 and last == max(runs)
        assert conn.execute("SELECT count(*) FROM forks").fetchone() == (13 * len(report.forks),)
    dispose_all()
