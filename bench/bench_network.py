"""A generated 200-fork network summarized end to end (target: under 60 s on 2 cores).

Measures the whole pipeline as a user runs it (resolve with ls-remote, fetch into one mirror, analyse,
classify, write verdicts, render Markdown), then a second run over unchanged heads (cache), and compares
with the naive approach of cloning every fork separately and running raw git in each clone.

Usage: python bench/bench_network.py [--forks 200] [--upstream-commits 800] [--files 300]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import build, network_args
from forkwise.service.runs.engine import RunRequest
from forkwise.service.runs.engine import report as engine_report
from forkwise.service.settings import Settings
from forkwise.service.verdicts.report import render


def naive(root: Path, upstream: Path, forks: list[Path]) -> float:
    """Clone each fork and compare it with upstream there: what a per-fork script does."""
    t = time.perf_counter()
    for i, f in enumerate(forks):
        d = root / f"naive{i}"
        subprocess.run(["git", "clone", "-q", "--bare", str(f), str(d)], check=True)
        subprocess.run(["git", "-C", str(d), "fetch", "-q", str(upstream), "+refs/heads/main:refs/up"], check=True)
        subprocess.run(
            ["git", "-C", str(d), "rev-list", "--left-right", "--count", "refs/up...HEAD"],
            check=True,
            capture_output=True,
        )
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    network_args(ap, forks=200, upstream_commits=800, files=300)
    ap.add_argument("--naive-sample", type=int, default=20, help="forks cloned by the naive baseline")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        t = time.perf_counter()
        net = build(root / "net", a.forks, a.upstream_commits, a.files)
        print(
            f"built {a.forks} forks ({a.upstream_commits} upstream commits, {a.files} files) "
            f"in {time.perf_counter() - t:.1f}s (not timed below)"
        )
        settings = Settings(home=root / "home", workers=2)
        up, forks = net.inputs()
        t = time.perf_counter()
        report = engine_report(RunRequest(upstream=up, forks=forks), settings)
        render(report, "md")
        first = time.perf_counter() - t
        t = time.perf_counter()
        again = engine_report(RunRequest(upstream=up, forks=forks), settings)
        second = time.perf_counter() - t
        sample = [f.path for f in net.forks[: a.naive_sample]]
        nv = naive(root, net.upstream_path, sample) / len(sample) * a.forks
        print(
            f"forks: {report.counts.forks}, analysed {report.counts.analysed}, failed {report.counts.failed}; "
            f"archetypes {report.counts.by_archetype}"
        )
        print(f"stages (s): {report.stats}")
        print(f"end to end, first run : {first:.1f}s (target < 60s)")
        print(
            f"second run (cache)    : {second:.1f}s, {again.counts.cached} forks reused, {again.stats.fetched} fetched"
        )
        print(f"naive clone-per-fork  : {nv:.1f}s (extrapolated from {len(sample)} forks; counts only)")
        print(f"ratio                 : forkwise {first / nv:.2f}x the naive time")


if __name__ == "__main__":
    main()
