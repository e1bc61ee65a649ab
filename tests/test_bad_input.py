"""Broken forks fail alone, with a clear message; the run goes on and says what failed."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from forkwise.index.network import ForkInput, UpstreamError, analyse_network
from forkwise.index.sources import Source
from forkwise.service.settings import Settings
from forkwise.service.verdicts.report import build_report
from tests.conftest import AS_OF, analyse, build, git

UP = {
    "name": "acme/up",
    "commits": [
        {"message": "init", "files": {"README.md": "# up\n\nUp.\n", "src/a.py": {"lines": 10}}},
        {"message": "more", "files": {"src/b.py": {"lines": 10}}},
    ],
}


def test_each_broken_fork_fails_alone(tmp_path: Path, settings: Settings) -> None:
    spec = {
        "name": "bad",
        "upstream": UP,
        "forks": [
            {"name": "ok/fork", "base": 0, "commits": [{"message": "Add c", "files": {"src/c.py": {"lines": 5}}}]},
            {"name": "gone/fork", "kind": "missing"},
            {"name": "plain/folder", "kind": "not-a-repo"},
            {"name": "empty/repo", "kind": "empty"},
            {"name": "noref/fork", "base": 0, "ref": "no-such-branch"},
            {
                "name": "huge/binary",
                "base": "head",
                "commits": [{"message": "Add weights", "files": {"model.bin": {"binary_kb": 12_000}}}],
            },
        ],
    }
    net = build(spec, tmp_path / "net", as_of=AS_OF)
    report = build_report(analyse(net, settings))
    err = {f.name: f.error for f in report.forks}
    assert err["ok/fork"] is None and err["huge/binary"] is None
    assert err["gone/fork"] == f"no such path: {net.forks[1].path}"
    assert "not a git repository" in (err["plain/folder"] or "")
    assert err["empty/repo"] == f"repository is empty (no commits): {net.forks[3].path}"
    assert "ref 'no-such-branch' not found" in (err["noref/fork"] or "") and "branches: main" in (
        err["noref/fork"] or ""
    )
    assert (report.counts.forks, report.counts.analysed, report.counts.failed) == (6, 2, 4)
    huge = report.fork("huge/binary")
    assert huge.facts and huge.facts.largest_binary and huge.facts.largest_binary.size == 12_000 * 1024
    assert huge.verdict and any("large binary" in r.text and "12.3 MB" in r.text for r in huge.verdict.risks)


def test_fork_that_disappears_mid_run(tmp_path: Path, settings: Settings) -> None:
    spec = {
        "name": "vanish",
        "upstream": UP,
        "forks": [
            {"name": "stays/fork", "base": 0, "commits": [{"message": "x", "files": {"x.py": "x\n"}}]},
            {"name": "leaves/fork", "base": 0, "commits": [{"message": "y", "files": {"y.py": "y\n"}}]},
        ],
    }
    net = build(spec, tmp_path / "net", as_of=AS_OF)
    up, forks = net.inputs()

    def delete_after_resolve(stage: str) -> None:
        if stage == "resolve":
            shutil.rmtree(net.forks[1].path)

    nf = analyse_network(up, forks, settings, as_of=AS_OF, between_stages=delete_after_resolve)
    stays, leaves = nf.forks
    assert stays.error is None and stays.facts and stays.facts.ahead == 1
    assert leaves.facts is None and leaves.error and leaves.error.startswith("fetch failed for")


def test_unrelated_history(tmp_path: Path, settings: Settings) -> None:
    spec = {
        "name": "unrel",
        "upstream": UP,
        "forks": [
            {
                "name": "other/thing",
                "kind": "unrelated",
                "commits": [{"message": "a", "files": {"a": "a\n"}}, {"message": "b", "files": {"b": "b\n"}}],
            }
        ],
    }
    net = build(spec, tmp_path / "net", as_of=AS_OF)
    f = build_report(analyse(net, settings)).forks[0]
    assert f.facts and (f.facts.shared_history, f.facts.merge_base, f.facts.ahead, f.facts.behind) == (
        False,
        None,
        2,
        2,
    )
    assert f.verdict and (f.archetype, f.verdict.recommendation) == ("unrelated", "upstream")


def test_unusable_upstream_is_one_clear_error(tmp_path: Path, settings: Settings) -> None:
    with pytest.raises(UpstreamError, match="no such path"):
        analyse_network(Source(name="x/y", url=str(tmp_path / "nope")), [], settings)


def test_same_repository_different_refs(tmp_path: Path, settings: Settings) -> None:
    """The forks-file case where upstream and fork live in one mirror under different refs."""
    spec = {
        "name": "refs",
        "upstream": UP,
        "forks": [{"name": "v/fork", "base": 0, "commits": [{"message": "Add v", "files": {"v.py": {"lines": 3}}}]}],
    }
    net = build(spec, tmp_path / "net", as_of=AS_OF)
    combo = tmp_path / "combo.git"
    git(tmp_path, "clone", "--bare", "-q", str(net.upstream_path), str(combo))
    git(combo, "fetch", "-q", str(net.forks[0].path), "+refs/heads/main:refs/remotes/vendor/HEAD")
    up = Source(name="acme/up", url=str(combo), ref="refs/heads/main")
    fork = Source(name="vendor/up", url=str(combo), ref="refs/remotes/vendor/HEAD")
    nf = analyse_network(up, [ForkInput(name="vendor/up", source=fork)], settings, as_of=AS_OF)
    (f,) = nf.forks
    assert f.error is None and f.facts and (f.facts.ahead, f.facts.behind) == (1, 1)
    assert f.facts.ref == "refs/remotes/vendor/HEAD" and f.facts.other_branches == []
