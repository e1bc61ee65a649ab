"""Facts per fork against raw git on the same forks (target: ≤ 1.5× raw git).

Both sides run sequentially in the same fetched mirror, best of ``--rounds`` (5) each. Raw git = the three
commands any comparison needs: ``rev-list --left-right --count``, ``diff --numstat`` from the merge base, and
``log`` of the fork's commits (with ``merge-base`` to find the base). forkwise additionally finds cherry-picked
commits, renames, kinds, README/licence/package changes, upstream's gains, security fixes either way and
distinctive terms.

Merge facts (issue 26): the same forks' facts with the merge and port plan, and a whole cold summarize of a
``--merge-forks`` (200) network with ``FORKWISE_MERGE_FACTS`` off and on (each in a fresh home: fetches included),
then a warm one (every fork's facts cached: no merge runs again). Targets: ≤ 15% on the cold summarize, nothing warm.

Usage: python bench/bench_facts.py [--forks 60] [--upstream-commits 1500] [--files 400] [--merge-forks 200]
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
from forkwise.index.facts import UPSTREAM_REF, fork_facts, upstream_facts
from forkwise.index.gitio import close_thread_repos
from forkwise.index.mirror import mirror_path
from forkwise.index.network import analyse_network
from forkwise.service.settings import Settings


def raw_git(mirror: Path, keys: list[str]) -> float:
    t = time.perf_counter()
    for key in keys:
        ref = f"refs/forks/{key}/target"

        def g(*a: str) -> str:
            return subprocess.run(["git", "-C", str(mirror), *a], capture_output=True, text=True, check=True).stdout

        g("rev-list", "--left-right", "--count", f"{UPSTREAM_REF}...{ref}")
        base = g("merge-base", UPSTREAM_REF, ref).strip()
        g("diff", "--numstat", base, ref)
        g("log", "--numstat", f"{UPSTREAM_REF}..{ref}")
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    network_args(ap, forks=60, upstream_commits=1500, files=400)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--merge-forks", type=int, default=200)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        t = time.perf_counter()
        net = build(root / "net", a.forks, a.upstream_commits, a.files)
        print(
            f"built {a.forks} forks on {a.upstream_commits} upstream commits x {a.files} files "
            f"in {time.perf_counter() - t:.1f}s"
        )
        settings = Settings(home=root / "home", workers=2)
        up, forks = net.inputs()
        first = analyse_network(up, forks, settings, use_cache=False)  # fetch everything once
        mirror = mirror_path(settings.mirrors_dir, up.name, up.url)
        # forks the prefilter settled without fetching (their head is in upstream) have no refs to compare
        fetched = set(
            subprocess.run(
                ["git", "-C", str(mirror), "for-each-ref", "--format=%(refname:rstrip=-3)", "refs/forks/*/target"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.split()
        )
        analysed = [o for o in first.forks if o.key and o.facts and f"refs/forks/{o.key}" in fetched]
        keys = [o.key for o in analysed if o.key]
        fw_times, raw_times = [], []
        for _ in range(a.rounds):
            raw_times.append(raw_git(mirror, keys))
            t = time.perf_counter()
            _u, ctx = upstream_facts(mirror, up.name, up.url, "refs/heads/main", "main", first.as_of)
            bases = []
            for o in analysed:
                if o.key and o.facts:
                    f = fork_facts(
                        ctx, o.key, head=o.facts.head, default_branch="main", ref="refs/heads/main", branches={}
                    )
                    bases.append(f.merge_base or "")
            ctx.describe_many([b for b in bases if b])
            close_thread_repos()
            fw_times.append(time.perf_counter() - t)
        fw, raw = min(fw_times), min(raw_times)
        n = len(keys)
        ahead = sum(1 for o in analysed if o.facts and o.facts.ahead)
        print(f"forks analysed: {n} (ahead>0: {ahead}; {len(first.forks) - n} settled without a fetch)")
        print(f"raw git   : {raw:.3f}s  ({raw / n * 1000:.1f} ms/fork)")
        print(f"forkwise  : {fw:.3f}s  ({fw / n * 1000:.1f} ms/fork)")
        print(f"ratio     : {fw / raw:.2f}x raw git (target <= 1.5x)")
        merged = []
        for _ in range(a.rounds):
            t = time.perf_counter()
            _u, ctx = upstream_facts(mirror, up.name, up.url, "refs/heads/main", "main", first.as_of)
            for o in analysed:
                if o.key and o.facts:
                    fork_facts(ctx, o.key, head=o.facts.head, default_branch="main", ref="refs/heads/main",
                               branches={}, port_name=o.name)  # fmt: skip
            close_thread_repos()
            merged.append(time.perf_counter() - t)
        with_merge = min(merged)
        print(f"with merge: {with_merge:.3f}s  ({with_merge / n * 1000:.1f} ms/fork; facts + merge-tree + port plan)")
        print(f"merge cost: {(with_merge / fw - 1) * 100:+.1f}% of the facts")
    summarize_cost(a)


def summarize_cost(a: argparse.Namespace) -> None:
    """A whole cold summarize with merge facts off, then on (fresh homes), then each again warm (facts cached)."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        net = build(root / "net", a.merge_forks, a.upstream_commits, a.files)
        up, forks = net.inputs()
        times: dict[str, float] = {}
        runs = {}
        for label, on in (("off", False), ("on", True)):
            settings = Settings(home=root / f"home-{label}", workers=2, merge_facts=on)
            t = time.perf_counter()
            runs[label] = analyse_network(up, forks, settings, as_of=net.as_of)
            times[label] = time.perf_counter() - t
        for label, on in (("off", False), ("on", True)):
            settings = Settings(home=root / f"home-{label}", workers=2, merge_facts=on)
            t = time.perf_counter()
            runs[f"warm-{label}"] = analyse_network(up, forks, settings, as_of=net.as_of)
            times[f"warm-{label}"] = time.perf_counter() - t
        merged = [o for o in runs["on"].forks if o.facts and o.facts.merge]
        print(
            f"summarize {a.merge_forks} forks cold: {times['off']:.2f}s without merge facts, {times['on']:.2f}s with "
            f"({len(merged)} forks merged and replayed): {(times['on'] / times['off'] - 1) * 100:+.1f}% (target <= 15%)"
        )
        again = sum(1 for o in runs["warm-on"].forks if o.facts and o.facts.merge and not o.cached)
        print(
            f"summarize warm (facts cached): {times['warm-off']:.2f}s without, {times['warm-on']:.2f}s with "
            f"({(times['warm-on'] / times['warm-off'] - 1) * 100:+.1f}%); merges computed again: {again} (target 0)"
        )


if __name__ == "__main__":
    main()
