"""The service under load, over real HTTP (``forkwise serve`` in its own process, on the demo store).

* chat: ``--chats`` retrieval-only questions, ``--concurrency`` at a time, to a server that has just started
  (``serve`` loads the chat stack and the recent indexes before it listens), then again warm: errors (target 0)
  and p50/p95 latency (target p95 <= 1 s on this machine, both waves); for reference, the first wave to a server
  that loads on the first question (``FORKWISE_WARM_UPSTREAMS=0``), and each server's time to its first answer;
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
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
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


@contextmanager
def serving(env: dict[str, str]) -> Iterator[tuple[str, float]]:
    """``forkwise serve`` in its own process: its base URL, and the seconds from start to its first /healthz."""
    port = free_port()
    t = time.perf_counter()
    server = subprocess.Popen(
        [sys.executable, "-m", "forkwise.service.surfaces.cli", "serve", "--port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        if not wait_until_up(f"{base}/healthz", 60, alive=lambda: server.poll() is None):
            raise SystemExit("server did not start")
        yield base, time.perf_counter() - t
    finally:
        server.terminate()
        server.wait(timeout=20)


def chat_wave(base: str, upstream: str, wave: str, n: int, concurrency: int) -> list[str]:
    """``n`` questions, ``concurrency`` at a time; prints the figures, returns the errors."""
    t = time.perf_counter()
    lat, failed = asyncio.run(chats(base, upstream, n, concurrency))
    wall = time.perf_counter() - t
    print(
        f"chat (retrieval-only, over HTTP, {wave}): {n} requests, {concurrency} at a time: {len(failed)} errors; "
        f"p50 {pct(lat, 0.5):.2f} s, p95 {pct(lat, 0.95):.2f} s (target <= 1 s); {n / wall:.1f} answers/s"
    )
    for e in failed[:5]:
        print(f"  error: {e}")
    return failed


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--chats", type=int, default=200)
    ap.add_argument("--concurrency", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=9.0, help="per route, over 3 rounds")
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
        # the per-client limits are not what is measured here (one client sends everything)
        env = {
            **os.environ,
            "FORKWISE_HOME": str(settings.home),
            "FORKWISE_LLM": "facts",
            "FORKWISE_RATE_CHAT": "100000/minute",
        }
        env.pop("FORKWISE_API_KEY", None)
        up_name = report.upstream.name
        errors: list[str] = []
        # cold: the first wave meets a server that has just started (serve loads the chat stack and the recent
        # indexes before it listens); then warm; then, for reference, a server that loads on the first question
        # (FORKWISE_WARM_UPSTREAMS=0), the first wave arriving while the model and the index load
        with serving(env) as (base, ready):
            print(f"serve answered /healthz {ready:.1f} s after it started (the chat stack loaded first)")
            for wave in ("cold server", "again, warm"):
                errors += chat_wave(base, up_name, wave, a.chats, a.concurrency)
            # the two routes in turn, three rounds each, so a slow spell of the machine lands on both
            path = f"/v1/repos/{up_name}/forks/{fork}"
            bares, reads_, bare_failed, reads_failed = [], [], 0, 0
            for _ in range(3):
                got, bad = asyncio.run(rate(base, "/healthz", a.seconds / 3, 8))
                bares.append(got)
                bare_failed += bad
                got, bad = asyncio.run(rate(base, path, a.seconds / 3, 8))
                reads_.append(got)
                reads_failed += bad
            ratios = [r / b for r, b in zip(reads_, bares, strict=True)]  # each round against its own baseline
            print(
                f"reads: {path} {statistics.median(reads_):.0f} req/s vs bare route {statistics.median(bares):.0f} "
                f"req/s -> ratio {statistics.median(ratios):.2f}, the median of 3 alternating rounds "
                f"({', '.join(f'{r:.2f}' for r in ratios)}; target >= 0.8; report {size / 1024:.0f} KiB, "
                f"{len(report.forks)} forks)"
            )
        with serving({**env, "FORKWISE_WARM_UPSTREAMS": "0"}) as (base, ready):
            print(f"reference, nothing loaded before listening: /healthz {ready:.1f} s after start")
            errors += chat_wave(base, up_name, "cold server, loading on the first question", a.chats, a.concurrency)
        failures = len(errors) + bare_failed + reads_failed
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
