"""Limits (issue: safe to put on a network, point 3): a bounded job queue (429 + Retry-After), per-client rate
limits, request body and question sizes, a fork's fetch size and the mirrors' disk budget."""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from forkwise.index.mirror import Mirror, mirror_path
from forkwise.index.network import analyse_network
from forkwise.service.settings import Settings
from tests.conftest import Server
from tests.conftest import build as build_spec


@pytest.fixture()
def silent_remote() -> Iterator[str]:
    """A git HTTP remote that accepts connections and never answers: a job on it stays running until released."""
    srv = socket.create_server(("127.0.0.1", 0))
    port = srv.getsockname()[1]
    conns: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                conns.append(srv.accept()[0])
            except TimeoutError:
                continue

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{port}"
    stop.set()
    t.join()
    for c in conns:
        c.close()
    srv.close()


def test_a_full_job_queue_answers_429_with_retry_after(tmp_path: Path, silent_remote: str) -> None:
    settings = Settings(
        home=tmp_path / "home", max_jobs=1, job_queue=1, job_retry_after=45, trusted_sources=silent_remote
    )
    with Server(settings) as api:
        ids = []
        for name in ("a/one", "a/two"):
            r = api.post(f"/v1/repos/{name}/index", json={"url": f"{silent_remote}/{name}.git"})
            assert r.status_code == 202, r.text
            ids.append(r.json()["job"])
        first, second = (api.get(f"/v1/jobs/{i}").json() for i in ids)
        assert (first["status"], second["status"]) == ("running", "queued")  # one slot; the other waits
        # the same upstream again: the job already running, not a new one
        again = api.post("/v1/repos/a/one/index", json={"url": f"{silent_remote}/a/one.git"})
        assert again.status_code == 202 and again.json()["job"] == ids[0]
        r = api.post("/v1/repos/a/three/index", json={"url": f"{silent_remote}/a/three.git"})
        assert r.status_code == 429 and r.headers["retry-after"] == "45"
        assert "1 jobs running and 1 waiting" in r.json()["detail"]


def test_rate_limits_per_client_on_chat_and_jobs(shared_demo) -> None:
    _net, report, settings, _ = shared_demo
    s = settings.model_copy(update={"rate_chat": "3/minute", "rate_jobs": "2/minute"})
    q = {"upstream": report.upstream.name, "question": "which fork adds Gaudi support?"}
    with Server(s) as api:
        assert [api.post("/v1/chat", json=q).status_code for _ in range(3)] == [200, 200, 200]
        r = api.post("/v1/chat", json=q)
        assert r.status_code == 429 and 1 <= int(r.headers["retry-after"]) <= 60
        assert "limit 3 per 1 minute" in r.json()["detail"]
        # the web page's question box counts against the same limit; reading without a question does not
        assert api.get(f"/{report.upstream.name}", params={"q": "gaudi"}).status_code == 429
        assert api.get(f"/{report.upstream.name}").status_code == 200
        codes = [api.post("/v1/repos/evil/x/index", json={"url": "/etc"}).status_code for _ in range(3)]
        assert codes == [403, 403, 429]  # refused requests still count: probing is work too


def test_oversized_bodies_get_413_before_any_endpoint_reads_them(shared_demo) -> None:
    _net, report, settings, _ = shared_demo
    s = settings.model_copy(update={"max_body_kb": 4})
    with Server(s) as api:
        big = {"upstream": report.upstream.name, "question": "x" * 1000, "history": [{"q": "y" * 5000}]}
        r = api.post("/v1/chat", json=big)
        assert r.status_code == 413 and "FORKWISE_MAX_BODY_KB" in r.json()["detail"]

        def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it streams
            yield b'{"upstream": "acme/trainer", "question": "'
            for _ in range(10):
                yield b"z" * 1000
            yield b'"}'

        r = api.post("/v1/chat", content=chunks(), headers={"content-type": "application/json"})
        assert r.status_code == 413
        long_q = {"upstream": report.upstream.name, "question": "q" * 2001}
        assert api.post("/v1/chat", json=long_q).status_code == 422  # within the body limit, over the question's


def _net(root: Path, name: str, fork_files: dict | None = None):
    return build_spec(
        {
            "name": name.replace("/", "-"),
            "upstream": {"name": name, "preset": "small"},
            "forks": [
                {"name": "big/x", "base": "up:6", "commits": [{"message": "assets", "files": fork_files or {}}]},
                {"name": "ok/x", "base": "up:6", "commits": [{"message": "fix", "files": {"fix.py": "x = 1\n"}}]},
            ],
        },
        root,
    )


def test_a_fork_bringing_more_than_the_limit_is_dropped_with_a_clear_error(tmp_path: Path) -> None:
    net = _net(tmp_path / "net", "acme/lib", {"assets/blob.bin": {"binary_kb": 600}})
    settings = Settings(home=tmp_path / "home", workers=2, max_fork_mb=0.25)
    up, forks = net.inputs()
    facts = analyse_network(up, forks, settings, as_of=net.as_of)
    big, ok = (next(o for o in facts.forks if o.name == n) for n in ("big/x", "ok/x"))
    assert big.facts is None and big.error is not None
    assert big.error.startswith("fork too large: it brings 0.6 MiB of objects upstream lacks (limit 0.25 MiB")
    assert ok.error is None and ok.facts is not None and ok.facts.ahead == 1
    mirror = mirror_path(settings.mirrors_dir, up.name, up.url)
    refs = subprocess.run(["git", "-C", str(mirror), "for-each-ref", "--format=%(refname)"], capture_output=True,
                          text=True, check=True).stdout  # fmt: skip
    assert "big_x" not in refs and "refs/forks/ok_x" in refs and "refs/remotes/" not in refs
    blob = subprocess.run(["git", "-C", str(net.forks[0].path), "rev-parse", "HEAD:assets/blob.bin"],
                          capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    present = subprocess.run(["git", "-C", str(mirror), "cat-file", "-e", blob], capture_output=True)
    assert present.returncode != 0  # its objects are off the disk too


def test_least_recently_used_mirrors_go_first_when_over_budget(tmp_path: Path) -> None:
    nets = [_net(tmp_path / f"net{i}", f"acme/lib{i}") for i in range(3)]
    settings = Settings(home=tmp_path / "home", workers=2, mirror_budget_gb=0)  # no budget while building up
    paths = []
    for net in nets:
        up, forks = net.inputs()
        analyse_network(up, forks, settings, as_of=net.as_of)
        paths.append(mirror_path(settings.mirrors_dir, up.name, up.url))
        time.sleep(0.02)  # distinct last-used times
    sizes = [sum(f.stat().st_blocks * 512 for f in p.rglob("*") if f.is_file()) for p in paths]
    assert all(p.exists() for p in paths) and all((settings.cache_dir / p.stem).exists() for p in paths)
    # room for about two mirrors; lib0 is in use by another run (locked), so lib1, the next oldest, goes
    budget_gb = (sizes[0] + sizes[2] + max(sizes) // 2) / 1024**3
    held = Mirror(settings.mirrors_dir, nets[0].inputs()[0])
    with held.lock():
        up, forks = nets[2].inputs()
        analyse_network(up, forks, settings.model_copy(update={"mirror_budget_gb": budget_gb}), as_of=nets[2].as_of)
    assert [p.exists() for p in paths] == [True, False, True]
    assert not (settings.cache_dir / paths[1].stem).exists()  # its facts cache went with it: no stale reuse
    # the evicted upstream summarizes again from scratch, correctly
    up, forks = nets[1].inputs()
    again = analyse_network(up, forks, settings, as_of=nets[1].as_of)
    assert again.stats.cached == 0 and {o.name: o.facts.ahead for o in again.forks if o.facts} == {
        "big/x": 1,
        "ok/x": 1,
    }


def test_a_mirror_size_is_counted_once_until_git_writes_there(tmp_path: Path) -> None:
    """The budget reads each mirror's recorded size; a run that fetched nothing walks no files, a fetch recounts."""
    from forkwise.index.mirror import SIZE_RECORD, disk_usage

    net = _net(tmp_path / "net", "acme/lib")
    settings = Settings(home=tmp_path / "home", workers=2, mirror_budget_gb=10)
    up, forks = net.inputs()
    analyse_network(up, forks, settings, as_of=net.as_of)
    mirror = mirror_path(settings.mirrors_dir, up.name, up.url)
    record = mirror / SIZE_RECORD
    assert int(record.read_text()) == disk_usage(mirror) > 0
    record.write_text("123")  # a warm run reads the record: no fetch, so it is not counted again
    again = analyse_network(up, forks, settings, as_of=net.as_of)
    assert again.stats.fetched == 0 and record.read_text() == "123"
    work = tmp_path / "work"  # ok/x (a bare repository) gains a commit: fetched, so the mirror is counted again
    subprocess.run(["git", "clone", "-q", str(net.forks[1].path), str(work)], check=True)
    (work / "more.py").write_text("y = 2\n")
    git = ["git", "-C", str(work), "-c", "user.name=t", "-c", "user.email=t@example.org"]
    subprocess.run([*git, "add", "more.py"], check=True)
    subprocess.run([*git, "commit", "-qm", "more"], check=True)
    subprocess.run([*git, "push", "-q", "origin", "HEAD"], check=True)
    third = analyse_network(up, forks, settings, as_of=net.as_of)
    assert third.stats.fetched == 1 and int(record.read_text()) == disk_usage(mirror)


def test_git_calls_time_out(silent_remote: str) -> None:
    """A remote that never answers fails within the git timeout, with that reason."""
    from forkwise.index.mirror import SourceProblem, ls_remote
    from forkwise.index.sources import Source

    t = time.monotonic()
    with pytest.raises(SourceProblem, match=r"did not complete in 2 secs"):
        ls_remote(Source(name="a/b", url=f"{silent_remote}/a/b.git"), timeout=2)
    assert time.monotonic() - t < 15
