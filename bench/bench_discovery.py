"""Discovery + prefilter on a 2,000-fork network (most forks snapshots), against "compare every fork".

The forks are listed by a local server speaking GitHub's REST format (``evals.github_stub``) and served as real
git repositories over the local transport. Measured in the same run:

* **forkwise**: list the forks (Link pagination), ``ls-remote`` each, prefilter the snapshots, fetch and analyse
  only the forks with commits of their own. API calls = the fork-list pages.
* **naive**: the same listing, then every fork fetched and compared (prefilter off). A compare-API tool needs at
  least one more API call per fork on top of the listing; that count is printed as the naive API figure.

Usage: python bench/bench_discovery.py [--forks 2000] [--own 100] [--upstream-commits 300]
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from forkwise.evals.builder import CommitSpec, Gen, NetworkSpec, UpstreamSpec, build_network
from forkwise.evals.github_stub import GitHubStub
from forkwise.index.forge import client_for, discover
from forkwise.index.network import analyse_network
from forkwise.service.settings import Settings


def snapshot_repo(path: Path, upstream: Path, sha: str) -> None:
    """A bare fork that shares upstream's objects (``objects/info/alternates``) with its branch at ``sha``."""
    (path / "objects" / "info").mkdir(parents=True)
    (path / "refs" / "heads").mkdir(parents=True)
    (path / "refs" / "tags").mkdir()
    (path / "HEAD").write_text("ref: refs/heads/main\n")
    (path / "config").write_text("[core]\n\trepositoryformatversion = 0\n\tbare = true\n")
    (path / "objects" / "info" / "alternates").write_text(str((upstream / "objects").resolve()) + "\n")
    (path / "refs" / "heads" / "main").write_text(sha + "\n")


def own_commit(path: Path, parent: str, n: int) -> None:
    """One commit of the fork's own on top of ``parent``, written with plumbing (no work tree)."""
    env = {
        "GIT_AUTHOR_NAME": "Dev",
        "GIT_AUTHOR_EMAIL": "d@x",
        "GIT_COMMITTER_NAME": "Dev",
        "GIT_COMMITTER_EMAIL": "d@x",
        "PATH": "/usr/bin:/bin",
    }

    def git(*args: str, stdin: str | None = None) -> str:
        done = subprocess.run(
            ["git", "-C", str(path), *args],
            input=stdin.encode() if stdin is not None else None,
            capture_output=True,
            check=True,
            env=env,
        )
        return done.stdout.decode().strip()

    blob = git("hash-object", "-w", "--stdin", stdin=f"device {n}\n")
    tree = git("mktree", stdin=f"100644 blob {blob}\tdevice{n}.py\n")
    sha = git("commit-tree", tree, "-p", parent, "-m", f"Add device {n}")
    (path / "refs" / "heads" / "main").write_text(sha + "\n")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--forks", type=int, default=2000)
    ap.add_argument("--own", type=int, default=100, help="forks with commits of their own; the rest are snapshots")
    ap.add_argument("--upstream-commits", type=int, default=300)
    a = ap.parse_args()
    rnd = random.Random(3)
    with tempfile.TemporaryDirectory() as tmp, GitHubStub(budget=1_000_000) as stub:
        root = Path(tmp)
        t = time.perf_counter()
        commits = [
            CommitSpec(message=f"Change {i}", files={f"src/m{i % 40}.py": Gen(lines=30, seed=str(i))})
            for i in range(a.upstream_commits)
        ]
        net = build_network(NetworkSpec(name="b", upstream=UpstreamSpec(name="big/proj", commits=commits)), root / "n")
        stub.add_repo("big/proj", net.upstream_path.as_uri(), stars=10_000)
        own = set(rnd.sample(range(a.forks), a.own))
        for k in range(a.forks):
            path = root / "forks" / f"u{k}.git"
            snapshot_repo(path, net.upstream_path, net.upstream_commits[rnd.randrange(len(net.upstream_commits))])
            if k in own:
                own_commit(path, (path / "refs" / "heads" / "main").read_text().strip(), k)
            stub.add_repo(f"u{k}/proj", path.as_uri(), parent="big/proj", stars=rnd.randrange(50))
        print(f"built {a.forks} forks ({a.own} with own commits) in {time.perf_counter() - t:.1f}s (not timed)")

        def run(label: str, prefilter: bool) -> tuple[float, float, int, int]:
            settings = Settings(home=root / f"home-{label}", workers=2, github_api_url=stub.url, github_token=None)
            calls0 = len(stub.calls)
            t0 = time.perf_counter()
            with client_for(settings) as client:
                found = discover(client, "big/proj")
            t_list = time.perf_counter() - t0
            nf = analyse_network(found.upstream, found.forks, settings, prefilter=prefilter)
            total = time.perf_counter() - t0
            cov = nf.coverage
            print(
                f"{label:>9}: listed {cov.listed} in {t_list:.1f}s; prefiltered {cov.prefiltered}, analysed "
                f"{cov.analysed}, failed {cov.failed}; fetched {nf.stats.fetched}; API calls {len(stub.calls) - calls0}"
                f"; stage seconds {nf.stats.seconds}; total {total:.1f}s"
            )
            pre = t_list + nf.stats.seconds["resolve"] + nf.stats.seconds.get("prefilter", 0.0)
            return total, pre, len(stub.calls) - calls0, nf.stats.fetched

        ours_total, ours_pre, ours_calls, ours_fetched = run("forkwise", True)
        naive_total, _, list_calls, naive_fetched = run("naive", False)
        naive_calls = list_calls + a.forks  # plus one compare call per fork, at the least
        print(f"forkwise discovery + prefilter: {ours_pre:.1f}s, {ours_calls} API calls")
        print(f"API calls: forkwise {ours_calls} vs naive {naive_calls} -> ratio {naive_calls / ours_calls:.0f}x fewer")
        print(f"fetches: forkwise {ours_fetched} vs naive {naive_fetched}")
        print(
            f"wall time end to end: forkwise {ours_total:.1f}s vs naive {naive_total:.1f}s "
            f"-> ratio {naive_total / ours_total:.1f}x faster"
        )


if __name__ == "__main__":
    main()
