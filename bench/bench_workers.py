"""Jobs fanned out over Celery workers: the generated fork network indexed by 1 worker and by 2, each from cold
(fresh mirrors, a fresh database), over a real redis-server and a real PostgreSQL (initdb + pg_ctl in a temp dir;
``--sqlite``: one shared SQLite file instead).

A worker here is ``forkwise worker --concurrency 1`` with ``FORKWISE_WORKERS=1`` (one fork at a time), its own
``FORKWISE_HOME`` (its own mirror), so the ratio measures the fan-out alone. Figures:

* wall time from enqueue to a stored run, 1 worker vs 2 (the ratio; this machine has 2 cores);
* per fork: CPU seconds (every worker process and the git it ran, less a worker's start-up, measured in the
  same run), objects and bytes fetched into the workers' mirrors, store rows, chunks;
* a refresh over unchanged heads (facts from the store, nothing fetched but ``ls-remote``) with indexing into a
  real ``chroma run``: its wall time, chunks indexed, and the Chroma server's disk;
* the store's size on disk per fork (PostgreSQL: ``pg_database_size``).

Exits 1 when a job fails or a run lacks a fork (never on timings: those are figures to read).

Usage: python bench/bench_workers.py [--forks 200] [--upstream-commits 800] [--files 300] [--chunk 25] [--sqlite]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import build, network_args
from forkwise.service.runs import db
from forkwise.service.runs.db import ChunkRow, FactsCacheRow, ForkRow, JobRow, RunRow, session
from forkwise.service.runs.jobs import JobRequest, JobSpec
from forkwise.service.runs.queue import QueueJobs
from forkwise.service.runs.store import load_report
from forkwise.service.settings import Settings
from tests.services import Worker, chroma_server, postgres_server, redis_server, worker_env


def children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.exists() else 0


def objects(home: Path) -> int:
    """Objects in the worker's mirrors (loose and packed): what it fetched, the upstream's included."""
    n = 0
    for gitdir in (home / "mirrors").glob("*") if (home / "mirrors").exists() else []:
        out = subprocess.run(["git", "-C", str(gitdir), "count-objects", "-v"], capture_output=True, text=True).stdout
        kv = dict(line.split(": ", 1) for line in out.splitlines() if ": " in line)
        n += int(kv.get("count", 0)) + int(kv.get("in-pack", 0))
    return n


def env(settings: Settings, home: Path) -> dict[str, str]:
    return worker_env(settings, home, WORKERS="1", REFRESH_HOURS="0")  # one fork at a time; no schedule


def start(settings: Settings, homes: list[Path], logs: Path) -> list[Worker]:
    workers = [Worker(env(settings, h), "--concurrency", "1", log=logs / f"{h.name}.log") for h in homes]
    for w in workers:  # ready: the worker says so once connected to the broker
        end = time.monotonic() + 120
        while "ready." not in w.output():
            if time.monotonic() > end or w.proc.poll() is not None:
                raise SystemExit(f"worker did not start: {w.output()[-2000:]}")
            time.sleep(0.1)
    return workers


def stop(workers: list[Worker]) -> None:
    for w in workers:
        w.stop()


def run_job(settings: Settings, upstream: str, spec: JobSpec, timeout: float = 3600) -> tuple[float, str, dict]:
    """Enqueue, wait for the end; returns (wall s, status, seconds from enqueue when the job row reached each
    status: planning, chunks, assembling)."""
    jobs = QueueJobs(settings)
    t = time.perf_counter()
    job = jobs.enqueue(upstream, spec)
    seen: dict[str, float] = {}
    while True:
        with session(settings) as s:
            row = s.get(JobRow, job.id)
            status = row.status if row is not None else "queued"
        seen.setdefault(status, time.perf_counter() - t)
        got = jobs.get(job.id)
        if got is not None and got.finished:
            return time.perf_counter() - t, got.status + ("" if not got.errors else f": {got.errors[:3]}"), seen
        if time.perf_counter() - t > timeout:
            return time.perf_counter() - t, "timed out", seen
        time.sleep(0.1)


def phases(wall: float, seen: dict) -> str:
    """Planning (one worker), chunks (all), assembly (one worker), from when each status was first seen."""
    plan_end = seen.get("chunks", seen.get("assembling", wall))
    chunks_end = seen.get("assembling", wall)
    return f"plan {plan_end:.1f} s, chunks {chunks_end - plan_end:.1f} s, assembly {wall - chunks_end:.1f} s"


def rows(settings: Settings) -> dict[str, int]:
    with session(settings) as s:
        return {t.__tablename__: s.query(t).count() for t in (RunRow, ForkRow, JobRow, ChunkRow, FactsCacheRow)}


def store_bytes(settings: Settings, root: Path) -> int:
    if settings.database_url and settings.database_url.startswith("postgres"):
        from sqlalchemy import text

        with session(settings) as s:
            return int(s.execute(text("SELECT pg_database_size(current_database())")).scalar_one())
    path = Path(db.database_url(settings).removeprefix("sqlite:///"))
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    network_args(ap, forks=200, upstream_commits=800, files=300)
    ap.add_argument("--chunk", type=int, default=25, help="FORKWISE_CHUNK_FORKS")
    ap.add_argument("--sqlite", action="store_true", help="one shared SQLite file instead of PostgreSQL")
    args = ap.parse_args()

    root = Path(tempfile.mkdtemp(prefix="bench-workers-"))
    os.chmod(root, 0o755)
    t = time.perf_counter()
    net = build(root / "net", args.forks, args.upstream_commits, args.files)
    print(
        f"network: {args.forks} forks, {args.upstream_commits} upstream commits, "
        f"built in {time.perf_counter() - t:.1f} s"
    )
    up, forks = net.inputs()
    request = JobRequest(url=up.url, forks=[f.source.url for f in forks if f.source], max_forks=args.forks)
    upstream = up.name
    failed = False
    with (
        redis_server(root / "redis") as broker,
        postgres_server(root / "pg") as pg,
        chroma_server(root / "chroma") as chroma,
    ):

        def settings_for(tag: str) -> Settings:
            if args.sqlite:
                url = f"sqlite:///{root / f'shared-{tag}.db'}"
            else:
                import psycopg

                with psycopg.connect(pg, autocommit=True) as conn:
                    conn.execute(f"CREATE DATABASE bench_{tag}")
                url = pg.rsplit("/", 1)[0] + f"/bench_{tag}"
            return Settings(
                home=root / f"api-{tag}",
                broker_url=broker,
                database_url=url,
                chroma_url=chroma,
                chunk_forks=args.chunk,
                trusted_sources=str(net.root),
            )

        # the baseline: a worker's start-up and shutdown with no job (CPU it costs whatever it does)
        base_settings = settings_for("idle")
        before = children_cpu()
        stop(start(base_settings, [root / "idle"], root))
        startup_cpu = children_cpu() - before
        empty_store = store_bytes(base_settings, root)  # migrated by that worker, nothing in it
        print(
            f"baseline: a worker's start-up and shutdown costs {startup_cpu:.2f} CPU s; "
            f"an empty store {empty_store / 1e6:.1f} MB"
        )

        results: dict[int, dict] = {}
        for n in (1, 2):
            cfg = settings_for(f"w{n}")
            homes = [root / f"w{n}-{i}" for i in range(n)]
            before = children_cpu()
            workers = start(cfg, homes, root)
            wall, status, seen = run_job(
                cfg, upstream, JobSpec(upstream=upstream, request=request.model_dump(), remote=False, index=False)
            )
            stop(workers)
            cpu = children_cpu() - before - n * startup_cpu
            report = load_report(cfg, upstream)
            complete = report is not None and len(report.forks) == args.forks and report.counts.failed == 0
            if status != "done" or not complete:
                print(f"FAIL: {n} worker(s): job {status}; forks in the run: {len(report.forks) if report else 0}")
                failed = True
            fetched = sum(du(h / "mirrors") for h in homes)
            objs = sum(objects(h) for h in homes)
            r = rows(cfg)
            results[n] = dict(
                wall=wall,
                cpu=cpu,
                bytes=fetched,
                objects=objs,
                rows=r,
                store=store_bytes(cfg, root) - empty_store,
                cfg=cfg,
                homes=homes,
            )
            print(
                f"{n} worker(s): {wall:.1f} s wall, {args.forks / wall:.1f} forks/s; CPU {cpu:.1f} s "
                f"({cpu / args.forks * 1000:.0f} ms/fork); mirrors {fetched / 1e6:.1f} MB, {objs} objects; "
                f"chunks {r['chunks']}; rows {r}; {phases(wall, seen)}"
            )
        ratio = results[1]["wall"] / results[2]["wall"]
        print(
            f"speed-up with 2 workers: {ratio:.2f}x "
            f"(1 worker {results[1]['wall']:.1f} s, 2 workers {results[2]['wall']:.1f} s)"
        )
        one = results[1]
        print(
            f"per fork (1 worker, cold): {one['cpu'] / args.forks:.3f} CPU s, "
            f"{one['objects'] / args.forks:.0f} objects, {one['bytes'] / args.forks / 1e3:.1f} kB of mirror, "
            f"{sum(one['rows'].values()) / args.forks:.2f} store rows, "
            f"{one['store'] / args.forks / 1e3:.1f} kB of store"
        )
        extra = results[2]["bytes"] - one["bytes"]
        print(
            f"2 workers keep {results[2]['bytes'] / 1e6:.1f} MB of mirrors ({extra / 1e6:+.1f} MB: each holds upstream)"
        )

        # refreshes on the 2 workers' warm mirrors: the first indexes everything (embeddings), the second finds
        # every head unchanged (the steady state of a scheduled refresh: ls-remote, stored facts, nothing embedded)
        from forkwise.index.vector import VectorIndex

        cfg, homes = results[2]["cfg"], results[2]["homes"]
        for what in ("refresh, first indexing", "refresh, unchanged"):
            before_chroma, before_store = du(root / "chroma"), store_bytes(cfg, root)
            before = children_cpu()
            workers = start(cfg, homes, root)
            wall, status, seen = run_job(cfg, upstream, JobSpec(upstream=upstream, refresh=True, remote=False))
            stop(workers)
            cpu = children_cpu() - before - 2 * startup_cpu
            report = load_report(cfg, upstream)
            cached = report.counts.cached if report else 0
            if status != "done" or cached != args.forks:
                print(f"FAIL: {what}: job {status}, {cached} forks from the store")
                failed = True
            chunks = VectorIndex(cfg, upstream).store._collection.count()
            chroma_bytes = du(root / "chroma") - before_chroma
            print(
                f"{what} (2 workers): {wall:.1f} s wall ({phases(wall, seen)}), CPU {cpu:.1f} s "
                f"({cpu / args.forks * 1000:.0f} ms/fork); {cached} forks' facts from the "
                f"store; {chunks} chunks in Chroma "
                f"({chunks / args.forks:.1f}/fork), Chroma grew {chroma_bytes / 1e6:.1f} MB "
                f"({chroma_bytes / args.forks / 1e3:.1f} kB/fork); the store grew "
                f"{(store_bytes(cfg, root) - before_store) / args.forks / 1e3:.1f} kB/fork"
            )
        if not args.sqlite:
            from sqlalchemy import text

            with session(cfg) as s:
                sizes = {
                    t: int(s.execute(text(f"SELECT pg_total_relation_size('{t}')")).scalar_one())
                    for t in ("runs", "forks", "jobs", "chunks", "facts_cache", "upstreams", "meta")
                }
            print(
                f"store after 3 runs of {args.forks} forks: "
                + ", ".join(f"{t} {b / 1e6:.2f} MB" for t, b in sizes.items())
            )
    db.dispose_all()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
