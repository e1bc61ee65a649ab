"""The store on a real PostgreSQL (initdb + pg_ctl in a temp dir) and on SQLite: runs kept per summarize, the
newest run is the report, concurrent writers, the one-time import of old JSON reports, migrations run twice, and
the API's whole-report endpoint giving exactly what ``summarize --format json`` prints."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import create_engine, func, select, text
from typer.testing import CliRunner

from forkwise.service.runs import db
from forkwise.service.runs.db import ForkRow, MetaRow, RunRow, UpstreamRow, session
from forkwise.service.runs.store import delete_upstream, list_reports, load_report, run_history, save_report
from forkwise.service.settings import Settings
from forkwise.service.surfaces.cli import app as cli
from forkwise.service.verdicts.models import Report
from tests.conftest import AS_OF, Server, build
from tests.services import postgres_server
from tests.test_cli import SPEC

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def pg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with postgres_server(tmp_path_factory.mktemp("pg")) as url:
        yield url


_n = iter(range(1_000_000))


@pytest.fixture
def pg_settings(pg: str, tmp_path: Path) -> Iterator[Settings]:
    """A database of its own on the shared cluster, per test."""
    name = f"t{next(_n)}_{threading.get_ident() % 10_000}"
    admin = pg.replace("postgresql://", "postgresql://", 1)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = pg.rsplit("/", 1)[0] + f"/{name}"
    yield Settings(home=tmp_path / "home", database_url=url)
    db.dispose_all()


def at_once(fn: Callable[[Any], Any], items: list) -> list:
    """``fn(item)`` for every item, each in a thread of its own, released together; their results (a failure in
    any thread fails the test with it)."""
    results: list = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(items))

    def one(item: Any) -> None:
        try:
            barrier.wait()
            results.append(fn(item))
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=one, args=(i,)) for i in items]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    return results


def _renamed(report: Report, name: str) -> Report:
    r = report.model_copy(deep=True)
    r.upstream.name = name
    return r


def test_runs_are_kept_and_the_newest_is_the_report(pg_settings: Settings, demo_run) -> None:
    _, _, report, _ = demo_run
    first = save_report(report, pg_settings)
    later = report.model_copy(deep=True)
    later.upstream.head = "f" * 40
    second = save_report(later, pg_settings, job_id="job-2")
    assert second > first
    assert load_report(pg_settings, report.upstream.name).upstream.head == "f" * 40
    assert [(rid, r.upstream.head) for rid, r in run_history(pg_settings, report.upstream.name)] == [
        (second, "f" * 40),
        (first, report.upstream.head),
    ]
    with session(pg_settings) as s:
        assert s.execute(select(func.count()).select_from(UpstreamRow)).scalar_one() == 1
        run = s.get(RunRow, second)
        assert run.job_id == "job-2" and run.upstream_head == "f" * 40
        rows = s.execute(select(ForkRow).where(ForkRow.run_id == second).order_by(ForkRow.name)).scalars().all()
        expected = sorted(report.forks, key=lambda f: f.name)
        assert [(r.name, r.status, r.archetype, r.ahead, r.behind) for r in rows] == [
            (f.name, f.status, f.archetype, f.facts.ahead if f.facts else None, f.facts.behind if f.facts else None)
            for f in expected
        ]
        heads = {r.name: r.head for r in rows}
        assert all(heads[f.name] == f.facts.head for f in report.forks if f.facts)
    # a rewrite of the same run (verdicts written again) is a new version of it, not a new run
    rewritten = later.model_copy(deep=True)
    rewritten.forks = rewritten.forks[:1]
    assert save_report(rewritten, pg_settings, run_id=second) == second
    assert len(run_history(pg_settings, report.upstream.name)) == 2
    assert [f.name for f in load_report(pg_settings, report.upstream.name).forks] == [report.forks[0].name]
    with session(pg_settings) as s:
        assert s.execute(select(func.count()).where(ForkRow.run_id == second)).scalar_one() == 1
    assert delete_upstream(pg_settings, report.upstream.name)
    assert load_report(pg_settings, report.upstream.name) is None and list_reports(pg_settings) == []
    assert not delete_upstream(pg_settings, report.upstream.name)


def test_concurrent_saves_make_one_upstream_row_and_every_run(pg_settings: Settings, demo_run) -> None:
    """Sixteen writers, two upstreams, all at once: each new upstream is made once, no run is lost."""
    _, _, report, _ = demo_run
    reports = [_renamed(report, f"race/{'ab'[i % 2]}") for i in range(16)]
    ids = at_once(lambda r: save_report(r, pg_settings), reports)
    assert len(set(ids)) == 16
    with session(pg_settings) as s:
        ups = s.execute(select(UpstreamRow).order_by(UpstreamRow.name)).scalars().all()
        assert [u.name for u in ups] == ["race/a", "race/b"]
        for u in ups:
            runs = s.execute(select(RunRow.id).where(RunRow.upstream_id == u.id)).scalars().all()
            assert len(runs) == 8 and u.last_run_id in runs
        assert s.execute(select(func.count()).select_from(ForkRow)).scalar_one() == 16 * len(report.forks)
    assert [r.upstream.name for r in list_reports(pg_settings)] == ["race/a", "race/b"]


def _old_json_reports(settings: Settings, report: Report) -> list[str]:
    names = ["old/one", "old/two"]
    for name in names:
        path = settings.reports_dir / f"{name}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_renamed(report, name).model_dump_json())
    (settings.reports_dir / "old" / "broken.json").write_text("{not json")
    return names


@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
def test_old_json_reports_are_imported_once(backend: str, request: pytest.FixtureRequest, tmp_path: Path, demo_run):
    _, _, report, _ = demo_run
    cfg = request.getfixturevalue("pg_settings") if backend == "postgresql" else Settings(home=tmp_path / "h")
    names = _old_json_reports(cfg, report)
    assert [r.upstream.name for r in list_reports(cfg)] == names  # the first use imports them (the broken one not)
    assert load_report(cfg, "old/one").forks == report.forks
    delete_upstream(cfg, "old/one")
    db.dispose_all()  # a new process starting: the files are still there, they are not imported again
    assert [r.upstream.name for r in list_reports(cfg)] == ["old/two"]
    with session(cfg) as s:
        assert s.get(MetaRow, "json_reports_imported") is not None
        assert s.execute(select(func.count()).select_from(RunRow)).scalar_one() == 1


def test_migrations_run_twice_and_from_two_processes_at_once(pg_settings: Settings) -> None:
    url = db.database_url(pg_settings)
    engines = [create_engine(url) for _ in range(3)]
    at_once(lambda engine: db.migrate(engine, pg_settings), engines)
    db.migrate(engines[0], pg_settings)  # again: nothing to do
    with engines[0].connect() as conn:
        heads = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
        tables = set(conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).scalars().all())
    from alembic.script import ScriptDirectory

    assert heads == [ScriptDirectory.from_config(db.alembic_config()).get_current_head()]
    assert tables >= {"upstreams", "runs", "forks", "jobs", "chunks", "facts_cache", "meta", "alembic_version"}
    for e in engines:
        e.dispose()


def test_the_fast_schema_check_knows_alembics_head(tmp_path: Path) -> None:
    """A started process skips Alembic when the database is at HEAD_REVISION: it must be Alembic's head."""
    from alembic.script import ScriptDirectory

    assert ScriptDirectory.from_config(db.alembic_config()).get_current_head() == db.HEAD_REVISION
    engine = create_engine(f"sqlite:///{tmp_path / 'f.db'}")
    assert db.schema_revision(engine) is None  # nothing yet
    db.migrate(engine, Settings(home=tmp_path))
    assert db.schema_revision(engine) == db.HEAD_REVISION
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'older'"))
    assert db.schema_revision(engine) == "older"  # not at head: migrate() would hand it to Alembic
    engine.dispose()


@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
def test_report_endpoint_is_what_summarize_json_prints(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = request.getfixturevalue("pg_settings") if backend == "postgresql" else Settings(home=tmp_path / "h")
    monkeypatch.setenv("FORKWISE_HOME", str(cfg.home))
    if cfg.database_url:
        monkeypatch.setenv("FORKWISE_DATABASE_URL", cfg.database_url)
    from forkwise.service.settings import get_settings

    get_settings.cache_clear()
    net = build(SPEC, tmp_path / "net", as_of=AS_OF)
    ff = tmp_path / "forks.toml"
    ff.write_text(net.forks_toml())
    res = CliRunner().invoke(cli, ["summarize", "--forks-file", str(ff), "--format", "json", "-q", "--no-index"])
    assert res.exit_code == 1, res.output  # z/tool is missing: one fork failed, the report stands
    printed = json.loads(res.stdout)
    with Server(cfg) as http:
        got = http.get("/v1/repos/acme/tool/report")
        assert got.status_code == 200 and got.headers["content-type"] == "application/json"
        assert got.json() == printed
        assert http.get("/v1/repos/acme/nothing/report").status_code == 404
    assert Report.model_validate(printed).fork("x/tool").archetype == "niche-variant"
    assert [r.upstream.name for r in list_reports(cfg)] == ["acme/tool"]


@pytest.mark.parametrize("backend", ["postgresql", "sqlite", "sqlite3"])
def test_old_runs_jobs_and_chunk_results_are_pruned(backend: str, request: pytest.FixtureRequest, tmp_path, demo_run):
    """FORKWISE_KEEP_RUNS=3: the three newest runs stay, and the run the last digest reported; finished jobs beyond
    three go with their chunks; chunk results (on their way to an assembly) stay only for the newest finished job.
    ``sqlite3``: the later runs written as a command-line run writes them (``litestore``, without the ORM)."""
    from datetime import timedelta

    from forkwise.service.runs import litestore
    from forkwise.service.runs.db import ChunkRow, JobRow, now
    from forkwise.service.runs.digest import save_state

    _, _, report, _ = demo_run
    base = request.getfixturevalue("pg_settings") if backend == "postgresql" else Settings(home=tmp_path / "h")
    save = litestore.save_report if backend == "sqlite3" else save_report
    cfg = base.model_copy(update={"keep_runs": 3})
    name = report.upstream.name
    ids = [save_report(report, cfg)]
    save_state(cfg, name, ids[0])  # the digest reported the first run
    t0 = now()
    with session(cfg) as s:
        for i in range(5):
            s.add(JobRow(id=f"job{i}", upstream=name, status="done", plan={"p": i}, created_at=t0 + timedelta(i)))
        s.add(JobRow(id="other", upstream="someone/else", status="done", created_at=t0))
        s.add(JobRow(id="running", upstream=name, status="chunks", created_at=t0 + timedelta(9)))
        s.flush()  # the jobs first: chunks refer to them
        for i in range(5):
            s.add(ChunkRow(job_id=f"job{i}", idx=0, status="done", result={"r": i}))
        s.add(ChunkRow(job_id="other", idx=0, status="done", result={"r": "x"}))
        s.add(ChunkRow(job_id="running", idx=0, status="done", result={"r": "live"}))
    assert litestore.available(cfg) == (backend != "postgresql")
    ids += [save(report, cfg) for _ in range(4)]
    assert [rid for rid, _ in run_history(cfg, name)] == [ids[4], ids[3], ids[2], ids[0]]
    with session(cfg) as s:
        assert {r.run_id for r in s.query(ForkRow)} == {ids[0], ids[2], ids[3], ids[4]}
        jobs = {j.id: j.plan for j in s.query(JobRow)}
        assert jobs == {"job4": {"p": 4}, "job3": None, "job2": None, "running": None, "other": None}
        results = {c.job_id: c.result for c in s.query(ChunkRow)}
        assert results == {"job4": {"r": 4}, "job3": None, "job2": None, "running": {"r": "live"}, "other": {"r": "x"}}
    assert load_report(cfg, name) is not None
    unlimited = base.model_copy(update={"keep_runs": 0})
    save(report, unlimited)
    assert len(run_history(unlimited, name)) == 5


@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
def test_the_fork_endpoint_serves_each_saved_version_at_once(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path, demo_run
) -> None:
    """The fork endpoint runs on the event loop: with SQLite, a version already parsed is found by one inline
    query, a new one is read in the thread pool; PostgreSQL always goes through the pool. Either way a saved
    version is what the next request gets."""
    from forkwise.service.runs.store import parsed_report

    cfg = request.getfixturevalue("pg_settings") if backend == "postgresql" else Settings(home=tmp_path / "h")
    _net, _facts, report, _ = demo_run
    fork = next(f for f in report.forks if f.verdict is not None)
    save_report(report, cfg)
    path = f"/v1/repos/{report.upstream.name}/forks/{fork.name}"
    with Server(cfg) as http:
        assert parsed_report(cfg, report.upstream.name) is None  # nothing read yet: the first request parses
        first = http.get(path)
        assert first.status_code == 200 and first.json()["fork"]["verdict"]["headline"] == fork.verdict.headline
        assert parsed_report(cfg, report.upstream.name) == report  # from now on, one small query finds it
        assert http.get(path).json() == first.json()
        changed = report.model_copy(deep=True)
        changed.fork(fork.name).verdict.headline = "A new verdict."  # type: ignore[union-attr]  # checked above
        save_report(changed, cfg)
        assert http.get(path).json()["fork"]["verdict"]["headline"] == "A new verdict."
        missing = http.get(f"/v1/repos/{report.upstream.name}/forks/nobody/nothing")
        assert missing.status_code == 404
