"""Jobs on real Celery workers (`forkwise worker` processes) over a real redis-server, the store on a real
PostgreSQL (initdb + pg_ctl) or a SQLite file they share, vectors in a real `chroma run`; the API over real HTTP.

No eager mode: every task goes through the broker to another process.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from datetime import timedelta
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from forkwise.evals.builder import BuiltNetwork, build_network
from forkwise.evals.demo import DEMO_SPEC, load_spec
from forkwise.index.vector import VectorIndex
from forkwise.service.runs import db
from forkwise.service.runs.db import ChunkRow, JobRow, session
from forkwise.service.runs.jobs import JobRequest
from forkwise.service.runs.queue import UpstreamLock, home_queue, refresh_due
from forkwise.service.runs.store import run_history
from forkwise.service.runs.usecases import index_request, load, summarize
from forkwise.service.settings import Settings
from forkwise.service.verdicts.models import Report
from tests.conftest import Server, free_port
from tests.services import Worker, chroma_server, postgres_server, redis_server, worker_env

pytestmark = pytest.mark.slow

SLOW = "habana-ai__trainer.git"


class _SlowGit(SimpleHTTPRequestHandler):
    """Git's "dumb" HTTP protocol (plain files) for the demo's fork repositories; one of them lists its refs
    slowly, so the worker that takes its chunk is surely still on it when the test kills it."""

    delay = 2.0

    def do_GET(self) -> None:
        if SLOW in self.path and "info/refs" in self.path:
            time.sleep(self.delay)
        super().do_GET()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("queue")
    net = build_network(load_spec(DEMO_SPEC), root / "net")
    forks = net.root / "forks"
    for repo in forks.glob("*.git"):
        subprocess.run(["git", "-C", str(repo), "repack", "-adq"], check=True)
        subprocess.run(["git", "-C", str(repo), "update-server-info"], check=True)
    port = free_port()
    server = ThreadingHTTPServer(("127.0.0.1", port), partial(_SlowGit, directory=str(forks)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield net, f"http://127.0.0.1:{port}/"
    server.shutdown()


def _request(net: BuiltNetwork, http: str) -> JobRequest:
    up, forks = net.inputs()
    urls = [f.source.url for f in forks if f.source and Path(f.source.url).exists()]
    return JobRequest(url=up.url, forks=[http + Path(u).name if SLOW in u else u for u in urls])


def _wait_for(what, timeout: float, every: float = 0.1):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        got = what()
        if got:
            return got
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout} s")


def _env(settings: Settings, home: Path) -> dict[str, str]:
    # git 2.39 loops on lazy fetches from a dumb-HTTP promisor remote: this server is dumb, so no partial fetch
    return worker_env(settings, home, WORKERS="2", BLOBLESS="false")


def _outline(report: Report) -> list[tuple]:
    return [
        (
            f.name,
            f.status,
            f.facts.head if f.facts else None,
            f.archetype,
            f.verdict.recommendation if f.verdict else None,
        )
        for f in report.forks
    ]


def test_a_worker_killed_mid_chunk_leaves_it_to_another_and_the_job_completes(tmp_path: Path, network) -> None:
    net, http = network
    with (
        redis_server(tmp_path / "redis") as broker,
        postgres_server(tmp_path / "pg") as database,
        chroma_server(tmp_path / "chroma") as chroma,
    ):
        settings = Settings(
            home=tmp_path / "api",
            broker_url=broker,
            database_url=database,
            chroma_url=chroma,
            chunk_forks=3,
            task_stale=4,
            trusted_sources=f"{net.root},{http}",
        )
        workers = [
            Worker(_env(settings, tmp_path / f"w{i}"), "--concurrency", "1", log=tmp_path / f"w{i}.log") for i in (1, 2)
        ]
        try:
            with Server(settings) as api:
                res = api.post("/v1/repos/acme/trainer/index", json=_request(net, http).model_dump())
                assert res.status_code == 202, res.text
                job_id = res.json()["job"]

                def slow_chunk() -> ChunkRow | None:
                    with session(settings) as s:
                        for c in s.query(ChunkRow).filter(ChunkRow.job_id == job_id, ChunkRow.status == "running"):
                            if any(SLOW in (f.get("source") or {}).get("url", "") for f in c.forks):
                                return c
                    return None

                victim_chunk = _wait_for(slow_chunk, 120)
                # mid-job: the API and the web page show the fanned-out progress against every dispatched fork
                with session(settings) as s:
                    row = s.get(JobRow, job_id)
                    dispatched = len(row.plan["dispatched"])
                    in_chunks = sum(len(c.forks) for c in s.query(ChunkRow).filter(ChunkRow.job_id == job_id))
                assert dispatched == in_chunks and dispatched >= 6
                mid = api.get(f"/v1/jobs/{job_id}").json()
                assert mid["status"] == "running" and mid["stage"] in ("fetch", "analyse"), mid
                assert mid["stages"]["fetch"]["total"] == dispatched and mid["stages"]["fetch"]["done"] < dispatched
                assert mid["stages"]["resolve"]["state"] == "done"
                page = api.get(f"/jobs/{job_id}").text
                assert (
                    f'<progress id="st-fetch" max="{dispatched}"' in page
                    and 'Status: <strong class="status">running' in page
                )
                pid = int(str(victim_chunk.worker).rsplit(":", 1)[1])
                (victim,) = [w for w in workers if os.getpgid(pid) == w.group]
                victim.kill()  # SIGKILL, worker and pool child at once, mid-chunk
                survivor = next(w for w in workers if w is not victim)

                job = _wait_for(
                    lambda: (j := api.get(f"/v1/jobs/{job_id}").json())["status"] in ("done", "failed") and j, 180, 0.5
                )
                assert job["status"] == "done", (job, survivor.output()[-3000:])
                for stage in ("fetch", "analyse"):  # the redone chunk's forks counted once
                    assert job["stages"][stage] == {"done": dispatched, "total": dispatched, "state": "done"}
                report = Report.model_validate(api.get("/v1/repos/acme/trainer/report").json())
        finally:
            for w in workers:
                w.stop()
        with session(settings) as s:
            again = s.get(ChunkRow, (job_id, victim_chunk.idx))
            assert again is not None and again.status == "done" and again.attempts == 2
            assert str(again.worker) != str(victim_chunk.worker)  # the survivor finished it
            assert s.get(JobRow, job_id).attempts == 2  # planned once, assembled once

        # every fork, each as a one-process run over the same request decides it
        alone = Settings(
            home=tmp_path / "alone", database_url=f"sqlite:///{tmp_path / 'alone.db'}", workers=2, blobless=False
        )
        local = summarize(index_request(alone, "acme/trainer", _request(net, http), remote=False), alone).report
        assert len(report.forks) == len(local.forks) == 11
        assert report.counts.failed == 0
        assert _outline(report) == _outline(local)
        # the vectors are in the Chroma server, for every analysed fork's head
        heads = VectorIndex(settings, "acme/trainer").heads()
        assert heads == {f.name: f.facts.head for f in report.forks if f.facts is not None and f.verdict is not None}
    db.dispose_all()


def material(settings: Settings, job: str) -> dict:
    """The material (commit messages, diff excerpts) a job's chunks read, by fork."""
    with session(settings) as s:
        return {
            name: m
            for c in s.query(ChunkRow).filter(ChunkRow.job_id == job)
            for name, m in (c.result or {}).get("material", {}).items()
        }


def _jobs(settings: Settings, status: str | None = None) -> list[str]:
    with session(settings) as s:
        q = s.query(JobRow).order_by(JobRow.created_at)
        return [j.id for j in q if status is None or j.status == status]


def test_one_job_per_upstream_across_the_cluster_and_refresh_reuses_stored_facts(tmp_path: Path, network) -> None:
    net, http = network
    with redis_server(tmp_path / "redis") as broker, chroma_server(tmp_path / "chroma") as chroma:
        settings = Settings(
            home=tmp_path / "api",
            broker_url=broker,
            database_url=f"sqlite:///{tmp_path / 'shared.db'}",  # one SQLite file (WAL) for every process here
            chroma_url=chroma,
            chunk_forks=4,
            task_stale=6,
            trusted_sources=f"{net.root},{http}",
        )
        other = UpstreamLock(settings, "acme/trainer", "another-job")
        assert other.acquire()  # another job holds the upstream (say, on another server)
        worker = Worker(_env(settings, tmp_path / "w"), "--concurrency", "2", log=tmp_path / "w.log")
        try:
            with Server(settings) as api:
                job_id = api.post("/v1/repos/acme/trainer/index", json=_request(net, http).model_dump()).json()["job"]
                _wait_for(lambda: api.get(f"/v1/jobs/{job_id}").json()["stage"] == "wait", 60)
                time.sleep(3)
                held = api.get(f"/v1/jobs/{job_id}").json()
                assert held["status"] == "queued" and held["stage"] == "wait"  # not run beside the other job
                assert api.post("/v1/repos/acme/trainer/index", json={}).json()["job"] == job_id  # one at a time
                assert other.release()
                done = _wait_for(
                    lambda: (j := api.get(f"/v1/jobs/{job_id}").json())["status"] in ("done", "failed") and j, 180, 0.5
                )
                assert done["status"] == "done", worker.output()[-3000:]
                assert UpstreamLock(settings, "acme/trainer", "x").holder() is None  # released with the run

                first_material = material(settings, job_id)
                assert sum(len(m["diffs"]) for m in first_material.values()) >= 10
                vectors = VectorIndex(settings, "acme/trainer")
                ids = set(vectors._existing())

                # refreshes go to a worker whose mirror is empty: facts come from the store
                worker.stop()
                worker = Worker(_env(settings, tmp_path / "w2"), "--concurrency", "2", log=tmp_path / "w2.log")

                # the schedule: a run older than FORKWISE_REFRESH_HOURS is refreshed from the same sources
                assert refresh_due(settings) == []  # just ran
                later = load(settings, "acme/trainer").generated_at + timedelta(hours=settings.refresh_hours + 1)
                assert refresh_due(settings, at=later) == ["acme/trainer"]
                _wait_for(lambda: len(run_history(settings, "acme/trainer")) == 2, 180, 0.5)
                # the run is stored before its job is marked done: until then the upstream has an active job, and
                # a refresh asked for meanwhile is (rightly) not queued beside it
                _wait_for(lambda: _jobs(settings, "done")[1:], 60, 0.5)
                # every head is in the index already: no fork's commits or diffs are read (nor fetched)
                assert material(settings, _jobs(settings)[1]) == {}

                # the index is lost (or was never built): the next refresh reads every fork's material, fetching
                # the forks into this worker's mirror first, and the index comes back chunk for chunk
                vectors.client.delete_collection(vectors.name)
                assert refresh_due(settings, at=later) == ["acme/trainer"]
                _wait_for(lambda: len(run_history(settings, "acme/trainer")) == 3, 180, 0.5)
                _wait_for(lambda: _jobs(settings, "done")[2:], 60, 0.5)
                assert material(settings, _jobs(settings)[2]) == first_material
                assert set(VectorIndex(settings, "acme/trainer")._existing()) == ids
                # each chunk's embeddings came from its worker: the assembly embedded only what no chunk had
                third = _jobs(settings)[2]
                with session(settings) as s:
                    made = {k for c in s.query(ChunkRow).filter(ChunkRow.job_id == third)
                            for k in ((c.result or {}).get("vectors") or {}).get("by_id", {})}  # fmt: skip
                assert made and made <= ids

                # chunks go where the upstream's mirror is: job 1 ran on w; job 2 was offered to w's home queue
                # (w had stopped), fell back to the shared queue after FORKWISE_TASK_STALE and ran on w2; job 3
                # went to w2's home queue (a chunk w2 could not start within FORKWISE_TASK_STALE, its two slots
                # busy, was offered to any worker: here w2 again)
                w1, w2 = (home_queue(settings.model_copy(update={"home": tmp_path / h})) for h in ("w", "w2"))
                with session(settings) as s:
                    homes = {
                        job: sorted({(c.sent_to, c.home) for c in s.query(ChunkRow).filter(ChunkRow.job_id == job)})
                        for job in _jobs(settings)
                    }
                first, second, third_homes = homes.values()
                assert first == [("forkwise", w1)] and second == [("forkwise", w2)]
                assert (w2, w2) in third_homes and {home for _sent, home in third_homes} == {w2}
        finally:
            worker.stop()
        (_, newest), (second, newer), (first, older) = run_history(settings, "acme/trainer")
        assert second > first
        assert _outline(newer) == _outline(older) == _outline(newest)
        for run in (newer, newest):
            analysed = [f for f in run.forks if f.status in ("analysed", "prefiltered")]
            assert analysed and all(f.cached for f in analysed)  # heads unchanged: facts from the store
    db.dispose_all()
