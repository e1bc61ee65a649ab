"""Start-up cost: what a command pays before and around its own work (issue 24).

- ``forkwise --help`` against ``python -c "import typer"`` (target ≤ 0.4 s);
- a warm ``forkwise summarize --no-index`` of a generated network (every fork's facts cached) against plain git
  computing the same facts from the repositories, as a script would without forkwise's cache: a bare clone of
  upstream, ``ls-remote`` of each fork, a fetch of each fork whose head upstream does not contain, then
  ``rev-list --left-right --count``, ``merge-base``, ``diff --numstat`` and ``log --numstat`` per fetched fork
  (target ≤ 1.2×); the same summarize with indexing, every chunk already stored (target ≤ 1.4×).
- for reference, the same git computations on forkwise's warm mirror (no clone, no fetch): what git alone costs
  once everything is local. No Python program that starts an interpreter and reads a store gets near it on a
  small network, so it carries no target.
- the floor: a Python process that only imports the libraries the command line is built on (typer, pydantic's
  models) and asks every repository its refs (``ls-remote``, four at a time as forkwise does), the least
  any warm ``summarize`` of this design must do before it reads a fact.

Each figure is the best of ``--rounds`` runs, each a fresh process. Usage:
python bench/bench_startup.py [--forks 10] [--upstream-commits 1500] [--files 400] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_facts import UPSTREAM_REF, raw_git
from bench.common import build, network_args
from forkwise.index.mirror import mirror_path

BIN = Path(sys.executable).parent
FLOOR = """
import subprocess, sys
from concurrent.futures import ThreadPoolExecutor
import typer, pydantic, pydantic.main
with ThreadPoolExecutor(4) as pool:
    list(pool.map(lambda u: subprocess.run(["git", "ls-remote", "--symref", u], capture_output=True), sys.argv[1:]))
"""


def best(cmd: list[str], rounds: int, env: dict[str, str] | None = None) -> float:
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        times.append(time.perf_counter() - t)
    return min(times)


def plain_git(upstream: Path, forks: list[Path], work: Path) -> float:
    """The facts from the repositories with git alone: clone upstream, ask each fork its head, fetch the forks
    whose head upstream does not already contain, then the per-fork computations of :func:`raw_git`."""
    t = time.perf_counter()
    repo = work / "plain.git"
    shutil.rmtree(repo, ignore_errors=True)

    def g(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=check)

    # --no-local: a real transfer, as from a remote (a local clone would only hard-link the objects)
    subprocess.run(
        ["git", "clone", "--bare", "--no-local", "-q", str(upstream), str(repo)], check=True, capture_output=True
    )
    g("update-ref", UPSTREAM_REF, "HEAD")
    keys = []
    for k, fork in enumerate(forks):
        head = subprocess.run(["git", "ls-remote", str(fork), "HEAD"], capture_output=True, text=True, check=True)
        sha = head.stdout.split()[0]
        if g("merge-base", "--is-ancestor", sha, UPSTREAM_REF, check=False).returncode == 0:
            continue  # a snapshot: upstream has every commit of it
        g("fetch", "-q", str(fork), f"HEAD:refs/forks/f{k}/target")
        keys.append(f"f{k}")
    return time.perf_counter() - t + raw_git(repo, keys)


def main() -> None:
    ap = argparse.ArgumentParser()
    network_args(ap, forks=10, upstream_commits=1500, files=400)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    typer_s = best([sys.executable, "-c", "import typer"], a.rounds)
    help_s = best([str(BIN / "forkwise"), "--help"], a.rounds)
    print(f"import typer      : {typer_s:.3f}s")
    print(f"forkwise --help   : {help_s:.3f}s  ({help_s / typer_s:.1f}x import typer; target <= 0.4 s)")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        net = build(root / "net", a.forks, a.upstream_commits, a.files)
        forks_file = root / "forks.toml"
        lines = ["[upstream]", f'name = "{net.upstream_name}"', f'url = "{net.upstream_path}"']
        for f in net.forks:
            lines += ["[[forks]]", f'name = "{f.name}"', f'url = "{f.path}"']
        forks_file.write_text("\n".join(lines) + "\n")
        scratch = min(plain_git(net.upstream_path, [f.path for f in net.forks], root) for _ in range(a.rounds))
        print(f"plain git from the repositories (clone, ls-remote, fetch, facts): {scratch:.3f}s ({a.forks} forks)")
        repos = [str(net.upstream_path), *(str(f.path) for f in net.forks)]
        floor = best([sys.executable, "-c", FLOOR, *repos], a.rounds)
        print(
            f"floor (interpreter, typer + pydantic's BaseModel imported, {len(repos)} ls-remotes): "
            f"{floor:.3f}s = {floor / scratch:.2f}x plain git"
        )
        for label, index in (("--no-index", ["--no-index"]), ("with index", [])):
            env = {**os.environ, "FORKWISE_HOME": str(root / f"home{len(index)}")}
            cmd = [str(BIN / "forkwise"), "summarize", "--forks-file", str(forks_file), "-q", "--format", "json",
                   *index]  # fmt: skip
            subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)  # cold
            warm = best(cmd, a.rounds, env)
            mirror = mirror_path(root / f"home{len(index)}" / "mirrors", net.upstream_name, str(net.upstream_path))
            keys = subprocess.run(
                ["git", "-C", str(mirror), "for-each-ref", "--format=%(refname:rstrip=-3)", "refs/forks/*/target"],
                capture_output=True, text=True, check=True,
            ).stdout.split()  # fmt: skip
            keys = [k.removeprefix("refs/forks/") for k in keys]
            local = []
            for _ in range(a.rounds):
                t = time.perf_counter()
                for f in net.forks:  # what summarize asks every fork's remote before it uses the cache
                    subprocess.run(["git", "ls-remote", "--symref", str(f.path)], capture_output=True, check=False)
                local.append(time.perf_counter() - t + raw_git(mirror, keys))
            target = 1.2 if index else 1.4  # index holds "--no-index" for the first
            print(
                f"warm summarize {label}: {warm:.3f}s = {warm / scratch:.2f}x plain git from the repositories "
                f"(target <= {target}x); git alone on the warm mirror {min(local):.3f}s ({len(keys)} forks fetched)"
            )


if __name__ == "__main__":
    main()
