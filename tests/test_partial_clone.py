"""Network remotes are fetched blobless (partial clone), from a real `git daemon` on 127.0.0.1."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from forkwise.index.mirror import Mirror
from forkwise.index.network import ForkInput, analyse_network
from forkwise.index.sources import Source
from forkwise.service.settings import Settings
from tests.conftest import AS_OF, build, free_port, git

SPEC = {
    "name": "partial",
    "upstream": {"preset": "small"},
    "forks": [
        {
            "name": "amd/engine",
            "base": "tag:v1.0.0",
            "commits": [
                {"message": "Add ROCm backend", "files": {"engine/backends/rocm.py": {"lines": 150, "prefix": "rocm"}}},
                {"message": "Tune ROCm", "files": {"engine/backends/rocm.py": {"lines": 160, "prefix": "rocm"}}},
            ],
        },
    ],
}


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    from forkwise.evals.presets import expand

    net = build(expand(SPEC), tmp_path / "net", as_of=AS_OF)
    for repo in [net.upstream_path, *(f.path for f in net.forks)]:
        git(repo, "config", "uploadpack.allowFilter", "true")
        git(repo, "config", "uploadpack.allowAnySHA1InWant", "true")
    port = free_port()
    proc = subprocess.Popen(
        [
            "git",
            "daemon",
            "--reuseaddr",
            "--export-all",
            f"--base-path={net.root}",
            "--listen=127.0.0.1",
            f"--port={port}",
            str(net.root),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        yield f"git://127.0.0.1:{port}", net.root
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_blobless_fetch_gives_the_same_facts(daemon, tmp_path: Path) -> None:
    base, root = daemon
    up = Source(name="acme/engine", url=f"{base}/upstream.git")
    fork = Source(name="amd/engine", url=f"{base}/forks/amd__engine.git")
    assert not up.is_local
    settings = Settings(home=tmp_path / "home", workers=2)
    nf = analyse_network(up, [ForkInput(name="amd/engine", source=fork)], settings, as_of=AS_OF)
    (f,) = nf.forks
    assert f.error is None and f.facts is not None
    assert (f.facts.ahead, f.facts.behind, f.facts.merge_base_describe) == (2, 4, "v1.0.0")
    (change,) = f.facts.files
    assert (change.path, change.status, change.added, change.deleted) == ("engine/backends/rocm.py", "added", 160, 0)
    # the same facts as a full fetch of the same repositories from disk
    local = analyse_network(
        Source(name="acme/engine", url=str(root / "upstream.git")),
        [ForkInput(name="amd/engine", source=Source(name="amd/engine", url=str(root / "forks/amd__engine.git")))],
        Settings(home=tmp_path / "home-local", workers=2),
        as_of=AS_OF,
    )
    assert local.forks[0].facts == f.facts
    mirror = Mirror(settings.mirrors_dir, up).path
    assert git(mirror, "config", "extensions.partialclone").strip() == "upstream"
    assert git(mirror, "rev-parse", "--is-shallow-repository").strip() == "false"
    missing = [
        ln for ln in git(mirror, "rev-list", "--objects", "--all", "--missing=print").splitlines() if ln.startswith("?")
    ]
    assert missing, "a blobless mirror leaves blobs it never needed on the server"
