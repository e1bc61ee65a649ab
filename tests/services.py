"""Real servers for the tests, each on a free loopback port in a temp dir: ``redis-server``, PostgreSQL
(``initdb`` + ``pg_ctl``, as the ``postgres`` user when running as root) and ``chroma run``.

`.ci/run` installs redis-server and postgresql from Debian's packages when they are missing.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import redis

from forkwise.service.settings import Settings
from tests.conftest import free_port


def _wait(check, timeout: float, what: str, proc: subprocess.Popen | None = None) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            if check():
                return
        except Exception:
            pass
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"{what} exited with {proc.returncode}")
        time.sleep(0.1)
    raise AssertionError(f"{what} did not come up within {timeout} s")


@contextmanager
def redis_server(root: Path) -> Iterator[str]:
    """A redis-server; yields its URL."""
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    port = free_port()
    root.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(root)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"redis://127.0.0.1:{port}/0"
    try:
        _wait(lambda: redis.Redis.from_url(url).ping(), 20, "redis-server", proc)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _pg_bin(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    for d in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (d / name).exists():
            return str(d / name)
    raise AssertionError(f"{name} not found: apt-get install postgresql")


def _as_postgres(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


@contextmanager
def postgres_server(root: Path) -> Iterator[str]:
    """A PostgreSQL cluster made by initdb in ``root``, started by pg_ctl; yields a URL of its ``forkwise`` db."""
    data = root / "pgdata"
    root.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
        os.chmod(root, 0o755)
        for p in root.parents:  # postgres must reach its data dir
            if str(p).startswith("/tmp/"):
                os.chmod(p, os.stat(p).st_mode | 0o711)
    port = free_port()
    user = "postgres" if os.geteuid() == 0 else os.environ.get("USER", "postgres")
    subprocess.run(
        _as_postgres([_pg_bin("initdb"), "-D", str(data), "-U", user, "--auth=trust", "-E", "UTF8", "--no-sync"]),
        check=True, capture_output=True,
    )  # fmt: skip
    opts = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run(
        _as_postgres([_pg_bin("pg_ctl"), "-D", str(data), "-o", opts, "-l", str(root / "log"), "-w", "start"]),
        check=True, capture_output=True,
    )  # fmt: skip
    try:
        subprocess.run(
            _as_postgres([_pg_bin("createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", user, "forkwise"]),
            check=True, capture_output=True,
        )  # fmt: skip
        yield f"postgresql://{user}@127.0.0.1:{port}/forkwise"
    finally:
        subprocess.run(
            _as_postgres([_pg_bin("pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]), capture_output=True
        )


@contextmanager
def chroma_server(root: Path) -> Iterator[str]:
    """``chroma run`` (the CLI chromadb installs); yields its URL."""
    chroma = shutil.which("chroma") or str(Path(sys.executable).parent / "chroma")
    port = free_port()
    proc = subprocess.Popen(
        [chroma, "run", "--path", str(root), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        _wait(lambda: httpx.get(f"{url}/api/v2/heartbeat", timeout=2).status_code == 200, 60, "chroma run", proc)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def worker_env(settings: Settings, home: Path, **extra: str) -> dict[str, str]:
    """The environment of a ``forkwise worker`` that shares ``settings``' broker, store and Chroma server, with a
    ``FORKWISE_HOME`` (mirrors) of its own; ``extra``: more ``FORKWISE_*`` variables (``WORKERS="1"``)."""
    return {
        "FORKWISE_HOME": str(home),
        "FORKWISE_BROKER_URL": settings.broker_url or "",
        "FORKWISE_DATABASE_URL": settings.database_url or "",
        "FORKWISE_CHROMA_URL": settings.chroma_url or "",
        "FORKWISE_CHUNK_FORKS": str(settings.chunk_forks),
        "FORKWISE_TASK_STALE": str(settings.task_stale),
        "FORKWISE_TRUSTED_SOURCES": settings.trusted_sources,
        **{f"FORKWISE_{k}": v for k, v in extra.items()},
    }


class Worker:
    """``forkwise worker`` in a session of its own (so the whole worker, pool children included, can be killed)."""

    def __init__(self, env: dict[str, str], *args: str, log: Path):
        self.log = log
        self.fh = open(log, "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "forkwise.service.surfaces.cli", "worker", *args],
            env={**os.environ, **env}, stdout=self.fh, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip

    @property
    def group(self) -> int:
        return self.proc.pid  # the session leader: its pid is the process group's id

    def kill(self) -> None:
        """SIGKILL to the worker and its pool children at once: nothing gets to clean up."""
        os.killpg(self.group, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.group, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.group, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self.fh.close()

    def output(self) -> str:
        return self.log.read_text(errors="replace")
