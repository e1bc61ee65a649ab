"""Generated fork networks for the benchmarks (real git repositories, built with fast-import), and the chat
questions the benchmarks ask of the demo network."""

from __future__ import annotations

import argparse
import random
from pathlib import Path

from forkwise.evals.builder import BuiltNetwork, CommitSpec, ForkSpec, Gen, NetworkSpec, UpstreamSpec, build_network

QUESTIONS = [
    "which fork adds Gaudi support?",
    "which fork fixes the XSS in the report?",
    "who adds FP8 training?",
    "which forks only change docs or CI?",
    "is there a fork with ROCm support?",
    "which fork renamed the package?",
    "which fork deletes the most files?",
    "what does the windows port change?",
]


def pct(xs: list[float], p: float) -> float:
    """The ``p`` quantile of ``xs`` (nearest rank); NaN when empty."""
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(p * (len(xs) - 1)))] if xs else float("nan")


def network_spec(n_forks: int, upstream_commits: int, files: int, seed: int = 7) -> NetworkSpec:
    """An upstream with ``upstream_commits`` commits over ``files`` files, and ``n_forks`` forks.

    Mix: 60% snapshots (0 ahead), 25% niche variants (3–15 commits), 15% supersets that merge upstream.
    """
    rnd = random.Random(seed)
    first = CommitSpec(
        message="init",
        days_ago=upstream_commits + 10,
        files={f"pkg/mod{i // 20}/file{i}.py": Gen(lines=60, seed=f"f{i}") for i in range(files)}
        | {"README.md": "# big\n\nA big project.\n"},
    )
    commits = [first]
    for c in range(1, upstream_commits):
        i = rnd.randrange(files)
        commits.append(
            CommitSpec(
                message=f"Improve module {i} (#{c})",
                days_ago=upstream_commits - c + 1,
                files={f"pkg/mod{i // 20}/file{i}.py": Gen(lines=60 + c % 7, seed=f"f{i}-{c}")},
            )
        )
    forks = []
    for k in range(n_forks):
        base = rnd.randrange(upstream_commits // 2, upstream_commits)
        r = rnd.random()
        if r < 0.6:
            forks.append(ForkSpec(name=f"user{k}/big", base=base))
            continue
        own = [
            CommitSpec(message=f"Port to device{k} part {j}", files={f"pkg/device{k}/part{j}.py": Gen(lines=40)})
            for j in range(rnd.randrange(3, 16))
        ]
        if r >= 0.85:
            own.append(CommitSpec(message="Merge upstream", merge="head"))
        forks.append(ForkSpec(name=f"user{k}/big", base=base, commits=own))
    return NetworkSpec(name="bench", upstream=UpstreamSpec(name="bench/big", commits=commits), forks=forks)


def build(root: Path, n_forks: int, upstream_commits: int, files: int) -> BuiltNetwork:
    return build_network(network_spec(n_forks, upstream_commits, files), root)


def network_args(ap: argparse.ArgumentParser, forks: int, upstream_commits: int, files: int) -> None:
    """The generated network's size, the same three flags in every benchmark that builds one with :func:`build`."""
    ap.add_argument("--forks", type=int, default=forks, help="forks in the generated network")
    ap.add_argument("--upstream-commits", type=int, default=upstream_commits, help="commits on upstream")
    ap.add_argument("--files", type=int, default=files, help="files in upstream's tree")
