"""The use cases every surface calls, and the bugs found on the way (each test fails without its fix)."""

from __future__ import annotations

import sqlite3
import sys
import threading
import time
from pathlib import Path

import pytest

import forkwise.service as fw
from forkwise.index.names import full_names_in, is_full_name, split_full_name, valid_name
from forkwise.index.network import Progress
from forkwise.index.sources import parse_source
from forkwise.index.vector import fork_chunks
from forkwise.service.runs.jobs import JobManager, load_job
from forkwise.service.runs.store import load_report, run_history, save_report
from forkwise.service.runs.usecases import SummarizeRequest
from forkwise.service.settings import Settings
from forkwise.service.verdicts.models import Report


def test_the_package_names_its_use_cases() -> None:
    assert {"summarize", "verdict", "answer", "start_job", "load"} <= set(fw.__all__)
    assert fw.summarize.__module__ == "forkwise.service.runs.usecases"
    assert "forkwise.service.verdicts.classify.classify" in (fw.__doc__ or "")


def test_one_owner_repo_rule() -> None:
    assert is_full_name("deepspeedai/DeepSpeed") and is_full_name("a.b/c_d-e")
    assert not is_full_name("a/b/c") and not is_full_name("../x") and not is_full_name("a/..")
    assert not is_full_name("-x/y") and not is_full_name("x") and not valid_name("a", "")
    assert split_full_name("o/r") == ("o", "r")
    with pytest.raises(ValueError, match="not an owner/repo"):
        split_full_name("o/r/x")
    assert full_names_in("which fork of acme/trainer, or bob/x.js? not a/b/c") == ["acme/trainer", "bob/x.js"]


@pytest.fixture(scope="module")
def store(shared_demo) -> tuple[Report, Settings]:
    _net, report, settings, _stats = shared_demo
    return report, settings


def test_verdict_and_lookup(store: tuple[Report, Settings]) -> None:
    _report, settings = store
    got, fork = fw.verdict(settings, "acme/trainer", "habana-ai")  # an owner names their only fork
    assert got.upstream.name == "acme/trainer" and fork.name == "habana-ai/trainer"
    assert fw.verdict(settings, "acme/trainer", "HABANA-AI/Trainer")[1].name == "habana-ai/trainer"
    with pytest.raises(fw.NoSuchFork, match="no such fork"):
        fw.verdict(settings, "acme/trainer", "nobody")
    with pytest.raises(fw.NotSummarized, match="has not been summarized"):
        fw.load(settings, "acme/other")


def test_each_verdict_records_its_decision_and_provenance(store: tuple[Report, Settings]) -> None:
    report, _settings = store
    carol = report.fork("carol/trainer")
    assert carol.verdict is not None
    c = carol.verdict.classification
    assert (c.archetype, c.recommendation) == (carol.verdict.archetype, carol.verdict.recommendation)
    assert c.rule == carol.verdict.archetype_rule and "security_fork" in c.notes
    assert carol.verdict.writer == "facts" and carol.verdict.prompt.startswith("verdict.toml@")
    assert len(carol.verdict.prompt.split("@")[1]) == 12
    # the note the classifier decided is the sentence the writer states
    assert any("security fix" in cl.text for cl in carol.verdict.choose_fork_if)


def test_deleted_files_get_no_diff_chunks(store: tuple[Report, Settings]) -> None:
    """Regression: statuses are words ("deleted"); comparing with "D" let deleted files into the diff chunks."""
    report, settings = store
    frank = report.fork("frank/trainer-lite")
    assert frank.facts is not None
    deleted = {f.path for f in frank.facts.files if f.status == "deleted"}
    assert "trainer/ddp.py" in deleted
    mirror = next(settings.mirrors_dir.glob("*.git"))
    chunks = fork_chunks(frank.name, frank.facts, mirror)
    diff_paths = {str(c.metadata["path"]) for c in chunks if c.metadata["kind"] == "diff"}
    assert diff_paths and not diff_paths & deleted


def test_concurrent_saves_of_one_report_never_collide(store: tuple[Report, Settings], tmp_path: Path) -> None:
    """Regression: two writers shared one `<repo>.tmp`, so one rename found its file gone. Now: four threads
    saving at once into the SQLite store each get a run of their own, and the newest run is the report."""
    report, _settings = store
    settings = Settings(home=tmp_path / "home", keep_runs=0)  # every run kept: each one is counted below
    errors: list[BaseException] = []

    def save_many() -> None:
        try:
            for _ in range(40):
                save_report(report, settings)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=save_many) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert load_report(settings, "acme/trainer") == report
    assert [run_id for run_id, _ in run_history(settings, "acme/trainer", limit=500)] == list(range(160, 0, -1))


def test_job_progress_counts_every_advance_from_many_threads() -> None:
    """Regression: `done += 1` ran unlocked from the pipeline's threads and lost counts."""
    threads, per_thread = 8, 3000

    def work(upstream: str, req: SummarizeRequest, progress: Progress, job_id: str) -> list[str]:
        progress("analyse", "start", threads * per_thread)

        def advance() -> None:
            for _ in range(per_thread):
                progress("analyse", "advance", None)

        pool = [threading.Thread(target=advance) for _ in range(threads)]
        for t in pool:
            t.start()
        for t in pool:
            t.join()
        return []

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible: an unlocked counter loses updates
    try:
        jobs = JobManager(Settings(), work)
        job = jobs.start("acme/x", _request("acme/x"))
        assert _wait(lambda: job.finished)
    finally:
        sys.setswitchinterval(old)
    assert job.status == "done" and job.stages["analyse"].done == threads * per_thread
    stored = load_job(Settings(), job.id)  # the row agrees with memory once the job is done
    assert stored is not None and stored.stages["analyse"].done == threads * per_thread


def test_a_job_seen_finished_is_finished_in_the_store() -> None:
    """Regression (CI): the job was marked done in memory before its last store write, so a reader could see it
    done in memory and running in the store. Another connection holds SQLite's write lock while the job ends."""
    settings = Settings()
    release = threading.Event()
    jobs = JobManager(settings, lambda *_: release.wait(10) and [])
    job = jobs.start("acme/x", _request("acme/x"))
    assert _wait(lambda: (row := load_job(settings, job.id)) is not None and row.status == "running")
    blocker = sqlite3.connect(settings.home / "forkwise.db", timeout=30)
    blocker.execute("BEGIN IMMEDIATE")  # the job's final write waits for this transaction
    release.set()
    time.sleep(0.5)
    assert not job.finished  # its status stays running in memory while the store cannot take it
    blocker.rollback()
    blocker.close()
    assert _wait(lambda: job.finished)
    stored = load_job(settings, job.id)
    assert stored is not None and stored.status == "done" and stored.finished_at is not None


def test_one_running_job_per_upstream_and_finished_jobs_are_forgotten() -> None:
    release = threading.Event()

    def work(upstream: str, req: SummarizeRequest, progress: Progress, job_id: str) -> list[str]:
        if upstream == "acme/slow":
            release.wait(10)
        return []

    jobs = JobManager(Settings(), work, keep=3)
    first = jobs.start("acme/slow", _request("acme/slow"))
    # shares the running job (and its mirror and report)
    assert jobs.start("acme/slow", _request("acme/slow")).id == first.id
    done = []
    for i in range(6):
        job = jobs.start(f"acme/quick{i}", _request(f"acme/quick{i}"))
        assert _wait(lambda job=job: job.finished)
        done.append(job.id)
    assert jobs.get(first.id) is not None and not first.finished  # running jobs are never forgotten
    assert len(jobs) <= 3 + 1 and jobs.get(done[-1]) is not None
    # forgotten in memory, kept in the store: a finished job is still reported (a copy read back from its row)
    stored = jobs.get(done[0])
    assert stored is not None and stored.status == "done" and stored.upstream == "acme/quick0"
    assert stored.id not in jobs._jobs
    release.set()
    assert _wait(lambda: first.finished)
    assert jobs.start("acme/slow", _request("acme/slow")).id != first.id  # finished: a new request starts a new job


def _request(name: str) -> SummarizeRequest:
    return SummarizeRequest(upstream=parse_source(name))


def _wait(cond, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.01)
    return False


def test_runs_on_one_mirror_take_turns(tmp_path: Path) -> None:
    """Regression: two jobs on one upstream fetched into (and configured) one mirror at once."""
    from forkwise.index.mirror import Mirror
    from forkwise.index.sources import Source

    up = Source(name="acme/x", url=str(tmp_path / "x.git"))
    first, second = Mirror(tmp_path / "mirrors", up), Mirror(tmp_path / "mirrors", up)
    order: list[str] = []

    def take_second() -> None:
        with second.lock():
            order.append("second")

    with first.lock():
        t = threading.Thread(target=take_second)
        t.start()
        time.sleep(0.3)
        order.append("first done")
    t.join(5)
    assert order == ["first done", "second"]


def test_the_digest_is_a_use_case(tmp_path: Path) -> None:
    """``digest(settings, upstream)``: the newest stored run against the run the last digest reported."""
    from forkwise.service.runs.digest import save_state
    from tests.conftest import build

    net = build({"name": "dg", "upstream": {"name": "acme/dg", "preset": "small"},
                 "forks": [{"name": "amy/dg", "base": "up:6", "commits": [{"message": "Add ROCm",
                                                                         "files": {"rocm.py": "r\n"}}]}]},
                tmp_path / "net")  # fmt: skip
    settings = Settings(home=tmp_path / "home", workers=2)
    with pytest.raises(fw.NotSummarized):
        fw.digest(settings, "acme/dg")
    up, forks = net.inputs()
    fw.summarize(SummarizeRequest(upstream=up, forks=forks, discover=False, index=False), settings)
    run_id, report, d = fw.digest(settings, "acme/dg")
    assert run_id == run_history(settings, "acme/dg")[0][0] and report.upstream.name == "acme/dg"
    assert d.baseline and d.empty  # the first digest sets the baseline
    save_state(settings, "acme/dg", run_id)
    _, _, again = fw.digest(settings, "acme/dg")
    assert not again.baseline and again.empty and again.since is not None
