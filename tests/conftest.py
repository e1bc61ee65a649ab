"""Shared fixtures: real git repositories built from specs in temp dirs; a data dir per test."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from forkwise.evals.builder import BuiltNetwork, NetworkSpec, build_network
from forkwise.evals.demo import DEMO_SPEC, load_spec
from forkwise.evals.local_server import wait_until_up
from forkwise.evals.presets import expand
from forkwise.index.network import NetworkFacts, analyse_network
from forkwise.index.vector import VectorStats
from forkwise.service.settings import Settings
from forkwise.service.surfaces.api import create_app
from forkwise.service.surfaces.guard import uvicorn_options
from forkwise.service.verdicts.models import Report
from forkwise.service.verdicts.report import build_report

AS_OF = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test touches the user's data dir."""
    monkeypatch.setenv("FORKWISE_HOME", str(tmp_path / "fw-home"))
    from forkwise.service.settings import get_settings

    get_settings.cache_clear()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home", workers=2)


def analyse(net: BuiltNetwork, settings: Settings, **kw) -> NetworkFacts:
    up, forks = net.inputs()
    return analyse_network(up, forks, settings, as_of=net.as_of, **kw)


def sustained(message: str = "Carry on {i}", n: int = 10) -> list[dict[str, Any]]:
    """Builder commits of sustained work (two authors, every 25 days over the last 300, one new file each): what
    makes a fork of a quiet upstream a continuation."""
    return [
        {
            "message": message.format(i=i),
            "days_ago": 300 - 25 * i,
            "author": ["Ann <a@x.example>", "Ben <b@x.example>"][i % 2],
            "files": {f"src/k{i}.py": {"lines": 20, "prefix": f"k{i}"}},
        }
        for i in range(n)
    ]


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True).stdout


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[BuiltNetwork, NetworkFacts, Report, Settings]:
    root = tmp_path_factory.mktemp("demo")
    net = build_network(load_spec(DEMO_SPEC), root / "network")
    settings = Settings(home=root / "home", workers=2)
    facts = analyse(net, settings)
    return net, facts, build_report(facts), settings


def demo_store(root: Path, **settings: Any) -> tuple[BuiltNetwork, Report, Settings, VectorStats | None]:
    """The demo network built under ``root``, summarized, indexed and stored, as `make demo` leaves it."""
    from forkwise.service.runs.engine import RunRequest, run

    net = build_network(load_spec(DEMO_SPEC), root / "net")
    cfg = Settings(home=root / "home", workers=2, **settings)
    up, forks = net.inputs()
    report, stats = run(RunRequest(upstream=up, forks=forks, as_of=net.as_of), cfg)
    return net, report, cfg, stats


@pytest.fixture(scope="session")
def shared_demo(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[BuiltNetwork, Report, Settings, VectorStats | None]:
    """One demo store per test session (per xdist worker) for the tests that only read it."""
    return demo_store(tmp_path_factory.mktemp("shared-demo"))


def build(spec: dict, root: Path, as_of: datetime | None = None) -> BuiltNetwork:
    """Build a network spec (``upstream: {preset: small}`` allowed, as in the eval cases)."""
    return build_network(NetworkSpec.model_validate(expand(spec)), root, as_of=as_of)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self, settings: Settings):
        self.port = free_port()
        self.server = uvicorn.Server(
            uvicorn.Config(
                create_app(settings),
                host="127.0.0.1",
                port=self.port,
                log_level="warning",
                **uvicorn_options(settings),
            )
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> httpx.Client:
        self.thread.start()
        for _ in range(100):
            if self.server.started:
                break
            time.sleep(0.05)
        self.client = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=60)
        return self.client

    def __exit__(self, *exc: object) -> None:
        self.client.close()
        self.server.should_exit = True
        self.thread.join(timeout=10)


class ServeProcess:
    """``forkwise serve`` in a process of its own (nothing loaded, nothing shared with the test's process).

    ``with ServeProcess(env, "--host", "0.0.0.0") as s:`` waits for ``/healthz``; ``s.base`` is where to reach it;
    after the block, ``s.output`` is what it printed (stdout and stderr).
    """

    def __init__(self, env: dict[str, str | None], *args: str, timeout: float = 60.0):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        merged: dict[str, str | None] = {**os.environ, **env}  # None: unset that variable
        self.env = {k: v for k, v in merged.items() if v is not None}
        self.args = args
        self.timeout = timeout
        self.output = ""

    def __enter__(self) -> ServeProcess:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "forkwise.service.surfaces.cli", "serve", "--port", str(self.port), *self.args],
            env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        if wait_until_up(f"{self.base}/healthz", self.timeout, alive=lambda: self.proc.poll() is None):
            return self
        self.__exit__()
        raise AssertionError(f"serve did not answer within {self.timeout} s: {self.output[-2000:]}")

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        self.output, _ = self.proc.communicate(timeout=20)
