"""Start-up cost: what a command pays before and around its own work (issue 24).

- ``forkwise --help`` against ``python -c "import typer"`` (target ≤ 0.4 s);
- a warm ``forkwise summarize --no-index`` of a generated network (every fork's facts cached) against plain git
  computing the same facts on the same mirror (``ls-remote`` of each fork, as summarize does, then ``rev-list
  --left-right --count``, ``merge-base``, ``diff --numstat`` and ``log --numstat`` per fork; target ≤ 1.2×), and the
  same summarize with indexing, every chunk already stored (target ≤ 1.4×).

Each figure is the best of ``--rounds`` runs, each a fresh process. Usage:
python bench/bench_startup.py [--forks 10] [--upstream-commits 1500] [--files 400] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_facts import raw_git
from bench.common import build, network_args
from forkwise.index.mirror import mirror_path

BIN = Path(sys.executable).parent


def best(cmd: list[str], rounds: int, env: dict[str, str] | None = None) -> float:
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        times.append(time.perf_counter() - t)
    return min(times)


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
            plain = []
            for _ in range(a.rounds):
                t = time.perf_counter()
                for f in net.forks:  # what summarize asks every fork's remote before it uses the cache
                    subprocess.run(["git", "ls-remote", "--symref", str(f.path)], capture_output=True, check=False)
                plain.append(time.perf_counter() - t + raw_git(mirror, keys))
            target = 1.2 if index else 1.4
            print(
                f"warm summarize {label}: {warm:.3f}s vs plain git {min(plain):.3f}s "
                f"({a.forks} forks, {len(keys)} fetched): {warm / min(plain):.2f}x (target <= {target}x)"
            )


if __name__ == "__main__":
    main()
