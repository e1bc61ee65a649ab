"""The service under load, over real HTTP (``forkwise serve`` in its own process, on the demo store).

* chat: ``--chats`` retrieval-only questions, ``--concurrency`` at a time, to a cold server (the first wave
  arrives while the embedding model and the index are loading), then again warm: errors (target 0) and p50/p95
  latency (target p95 <= 1 s on this machine, both waves);
* reads: requests/s of ``GET /v1/repos/{o}/{r}/forks/{fo}/{fr}`` against a bare route of the same server
  (``/healthz``), measured in the same run (target ratio >= 0.8).

Exits 1 when a request errs (not on timings: those are figures to read).

Usage: python bench/bench_load.py [--chats 200] [--concurrency 50] [--seconds 5] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import QUESTIONS, pct
from forkwise.evals.builder import build_network
from forkwise.evals.demo import DEMO_SPEC, load_spec
from forkwise.evals.local_server import wait_until_up
from forkwise.service.runs.engine import RunRequest, run
from forkwise.service.settings import Settings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def chats(base: str, upstream: str, n: int, concurrency: int) -> tuple[list[float], list[str]]:
    sem = asyncio.Semaphore(concurrency)
    lat: list[float] = []
    errors: list[str] = []

    async with httpx.AsyncClient(base_url=base, timeout=120, limits=httpx.Limits(max_connections=concurrency)) as c:

        async def one(i: int) -> None:
            async with sem:
                t = time.perf_counter()
                try:
                    r = await c.post("/v1/chat", json={"upstream": upstream, "question": QUESTIONS[i % len(QUESTIONS)]})
                    if r.status_code != 200:
                        errors.append(f"{r.status_code}: {r.text[:200]}")
                except httpx.HTTPError as exc:
                    errors.append(f"{type(exc).__name__}: {exc}")
                lat.append(time.perf_counter() - t)

        await asyncio.gather(*(one(i) for i in range(n)))
    return lat, errors


async def rate(base: str, path: str, seconds: float, concurrency: int) -> tuple[float, int]:
    """Requests/s of GET ``path`` with ``concurrency`` clients for ``seconds``; and the number of failures."""
    done = failed = 0
    stop = time.perf_counter() + seconds
    async with httpx.AsyncClient(base_url=base, timeout=60) as c:

        async def worker() -> None:
            nonlocal done, failed
            while time.perf_counter() < stop:
                r = await c.get(path)
                done += 1
                failed += r.status_code != 200

        t = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return done / (time.perf_counter() - t), failed


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--chats", type=int, default=200)
    ap.add_argument("--concurrency", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--quick", action="store_true", help="a small run that checks the benchmark works")
    a = ap.parse_args()
    if a.quick:
        a.chats, a.concurrency, a.seconds = 20, 10, 1.0
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        net = build_network(load_spec(DEMO_SPEC), root / "net")
        settings = Settings(home=root / "home", workers=2)
        up, forks = net.inputs()
        report, _ = run(RunRequest(upstream=up, forks=forks, as_of=net.as_of), settings)
        fork = next(f.name for f in report.forks if f.facts is not None)
        size = len(report.model_dump_json())  # the stored report (a run in the store, as JSON)
        port = free_port()
        # the per-client limits are not what is measured here (one client sends everything)
        env = {
            **os.environ,
            "FORKWISE_HOME": str(settings.home),
            "FORKWISE_LLM": "facts",
            "FORKWISE_RATE_CHAT": "100000/minute",
        }
        env.pop("FORKWISE_API_KEY", None)
        server = subprocess.Popen(
            [sys.executable, "-m", "forkwise.service.surfaces.cli", "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            if not wait_until_up(f"{base}/healthz", 60, alive=lambda: server.poll() is None):
                print("server did not start")
                return 1
            up_name = report.upstream.name
            errors: list[str] = []
            # cold: the first wave arrives while the embedding model and the store are still loading; then warm
            for wave in ("cold server", "again, warm"):
                t = time.perf_counter()
                lat, failed = asyncio.run(chats(base, up_name, a.chats, a.concurrency))
                wall = time.perf_counter() - t
                print(
                    f"chat (retrieval-only, over HTTP, {wave}): {a.chats} requests, {a.concurrency} at a time: "
                    f"{len(failed)} errors; p50 {pct(lat, 0.5):.2f} s, p95 {pct(lat, 0.95):.2f} s (target <= 1 s); "
                    f"{a.chats / wall:.1f} answers/s"
                )
                for e in failed[:5]:
                    print(f"  error: {e}")
                errors += failed
            bare, bare_failed = asyncio.run(rate(base, "/healthz", a.seconds, 8))
            path = f"/v1/repos/{up_name}/forks/{fork}"
            reads, reads_failed = asyncio.run(rate(base, path, a.seconds, 8))
            print(
                f"reads: {path} {reads:.0f} req/s vs bare route {bare:.0f} req/s -> ratio {reads / bare:.2f} "
                f"(target >= 0.8; report {size / 1024:.0f} KiB, {len(report.forks)} forks)"
            )
            failures = len(errors) + bare_failed + reads_failed
        finally:
            server.terminate()
            server.wait(timeout=20)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
