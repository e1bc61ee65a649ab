"""Exact facts read from real git repositories built for the purpose."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from forkwise.index.models import ForkFacts
from forkwise.index.network import NetworkFacts
from forkwise.service.settings import Settings
from tests.conftest import AS_OF, analyse, build, git

GPL = {"license": "GPL-3.0"}
MIT = {"license": "MIT"}
README = "# proj\n\nA project.\n\n## Install\n\npip install proj\n"

SPEC = {
    "name": "facts",
    "upstream": {
        "name": "acme/proj",
        "commits": [
            {
                "message": "init",
                "files": {
                    "README.md": README,
                    "LICENSE": MIT,
                    "pyproject.toml": '[project]\nname = "proj"\nversion = "1.0"\n',
                    "src/a.py": {"lines": 10},
                    "src/b.py": {"lines": 20},
                    "docs/guide.md": "# Guide\n",
                    "tests/test_a.py": {"lines": 5},
                },
            },
            {"message": "Add c", "files": {"src/c.py": {"lines": 7}}},
            {"message": "Release", "tag": "v1.0", "files": {"CHANGES.md": "1.0\n"}},
            {"message": "Fix CVE-2025-0001 in b", "files": {"src/b.py": {"lines": 21}}},
            {"message": "Add picked helper", "files": {"src/picked.py": "def picked():\n    return 1\n"}},
            {"message": "Fix XSS in docs renderer (GHSA-9c7m-q5vh-2r8f)", "files": {"src/c.py": {"lines": 8}}},
        ],
    },
    "forks": [
        {
            "name": "f/full",
            "base": "tag:v1.0",
            "commits": [
                {"message": "Add picked helper", "files": {"src/picked.py": "def picked():\n    return 1\n"}},
                {"message": "Rename a to alpha", "rename": {"src/a.py": "src/alpha.py"}},
                {"message": "Add model weights", "files": {"assets/w.bin": {"binary_kb": 64}}},
                {"message": "Delete guide", "delete": ["docs/guide.md"]},
                {
                    "message": "Relicense as GPL and rename",
                    "files": {"LICENSE": GPL, "pyproject.toml": '[project]\nname = "proj-ng"\nversion = "2.0"\n'},
                },
                {"message": "README: Gaudi section", "files": {"README.md": README + "\n## Gaudi\n\nRuns on HPU.\n"}},
                {"message": "Merge upstream", "merge": "up:3"},
            ],
            "branches": {"exp": {"commits": [{"message": "experiment", "files": {"exp.py": "x = 1\n"}}]}},
        },
        {"name": "f/stale", "base": 1},
        {"name": "f/mirror", "base": "head"},
    ],
}


@pytest.fixture
def run(tmp_path: Path, settings: Settings):
    net = build(SPEC, tmp_path / "net", as_of=AS_OF)
    return net, analyse(net, settings)


def _facts(nf: NetworkFacts, name: str) -> ForkFacts:
    o = next(f for f in nf.forks if f.name == name)
    assert o.error is None, o.error
    assert o.facts is not None
    return o.facts


def test_counts_and_merge_base_match_git(run) -> None:
    net, nf = run
    f = _facts(nf, "f/full")
    assert f.shared_history
    assert (f.ahead, f.behind) == (7, 2)
    assert f.merge_base == net.upstream_commits[3]
    assert f.merge_base_describe is not None and f.merge_base_describe.startswith("v1.0-1-g")
    assert f.head == net.forks[0].commits[-1]
    # independent oracle: raw git in the fork's own repository (a clone of upstream, so it has both sides)
    counts = git(net.forks[0].path, "rev-list", "--left-right", "--count", f"{net.upstream_commits[-1]}...main")
    assert counts.split() == ["2", "7"]


def test_own_commits_separate_cherry_picked_and_merges(run) -> None:
    net, nf = run
    f = _facts(nf, "f/full")
    by_subject = {c.subject: c for c in f.own_commits}
    assert by_subject["Add picked helper"].upstream_equivalent is True
    assert by_subject["Add picked helper"].sha == net.forks[0].commits[0]
    assert by_subject["Merge upstream"].is_merge is True
    assert (f.unique_commits, f.upstream_equivalent_commits, f.merge_commits, f.upstream_merges) == (5, 1, 1, 1)
    assert by_subject["Add model weights"].files == ["assets/w.bin"]
    assert [c.subject for c in f.upstream_gain.notable] == ["Fix XSS in docs renderer (GHSA-9c7m-q5vh-2r8f)"]
    assert f.upstream_gain.commits == 2


def test_file_changes_statuses_kinds_and_lines(run) -> None:
    _net, nf = run
    f = _facts(nf, "f/full")
    files = {c.path: c for c in f.files}
    assert set(files) == {
        "src/alpha.py",
        "assets/w.bin",
        "docs/guide.md",
        "LICENSE",
        "pyproject.toml",
        "README.md",
        "src/picked.py",
    }
    assert (files["src/alpha.py"].status, files["src/alpha.py"].old_path) == ("renamed", "src/a.py")
    assert files["assets/w.bin"].binary and files["assets/w.bin"].size == 65536
    assert files["assets/w.bin"].added is None and files["assets/w.bin"].kind == "binary"
    assert (files["docs/guide.md"].status, files["docs/guide.md"].deleted) == ("deleted", 1)
    assert (files["README.md"].added, files["README.md"].deleted) == (4, 0)
    assert files["src/picked.py"].kind == "source" and files["src/picked.py"].top == "src"
    # the cherry-picked file is upstream's own version: copied, not the fork's work, and counted apart
    assert files["src/picked.py"].copied and not any(c.copied for c in f.files if c.path != "src/picked.py")
    assert (f.copied_files, f.copied_lines_added) == (1, files["src/picked.py"].added)
    assert (f.files_added, f.files_modified, f.files_deleted, f.files_renamed) == (1, 3, 1, 1)
    assert f.base_tree_files == 9
    assert f.deleted_share == round(1 / 9, 4)
    assert f.largest_binary is not None and f.largest_binary.path == "assets/w.bin"
    assert f.by_folder["src"].files == 1 and f.by_kind["docs"].files == 3  # alpha.py; README, LICENSE, guide


def test_readme_license_package_and_branches(run) -> None:
    net, nf = run
    f = _facts(nf, "f/full")
    assert f.readme.changed and [(s.heading, s.change) for s in f.readme.sections] == [("Gaudi", "added")]
    assert f.license.changed and (f.license.before.spdx, f.license.after.spdx) == ("MIT", "GPL-3.0")
    (pkg,) = f.packages
    assert pkg.before and pkg.after
    assert (pkg.before.name, pkg.after.name, pkg.before.version, pkg.after.version) == ("proj", "proj-ng", "1.0", "2.0")
    assert pkg.name_changed and pkg.version_changed
    (branch,) = f.other_branches
    assert (branch.name, branch.head, branch.ahead) == ("exp", net.forks[0].branches["exp"][0], 8)
    gaudi = next(t for t in f.terms if t.term == "gaudi")
    assert gaudi.evidence == ["commit:" + net.forks[0].commits[5], "readme:Gaudi", "file:README.md"]


def test_stale_and_mirror(run) -> None:
    net, nf = run
    stale, mirror = _facts(nf, "f/stale"), _facts(nf, "f/mirror")
    assert (stale.ahead, stale.behind, stale.merge_base) == (0, 4, net.upstream_commits[1])
    assert stale.files == [] and stale.own_commits == []
    assert stale.upstream_gain.commits == 4 and len(stale.upstream_gain.notable) == 2
    assert (mirror.ahead, mirror.behind, mirror.head) == (0, 0, net.upstream_commits[-1])


def test_second_run_reuses_facts_without_fetching(run, settings: Settings) -> None:
    net, first = run
    # upstream and the one fork with commits of its own; the stale fork and the mirror are prefiltered
    assert first.stats.fetched == 2 and first.stats.cached == 0
    assert [o.prefiltered for o in first.forks] == [False, True, True]
    cov = first.coverage
    assert (cov.listed, cov.prefiltered, cov.analysed, cov.skipped_by_cap, cov.failed) == (3, 2, 1, 0, 0)
    second = analyse(net, settings)
    assert second.stats.fetched == 0 and second.stats.cached == 3
    assert [f.facts for f in second.forks] == [f.facts for f in first.forks]
    assert [o.prefiltered for o in second.forks] == [False, True, True]
    # the stale fork moves to a newer upstream commit: analysed again, still without a fetch
    git(net.forks[1].path, "update-ref", "refs/heads/main", net.upstream_commits[2])
    third = analyse(net, settings)
    assert third.stats.fetched == 0 and third.stats.cached == 2
    assert _facts(third, "f/stale").behind == 3
    # a commit of its own on the stale fork: now it must be fetched
    base = net.upstream_commits[2]
    own = git(
        net.forks[1].path,
        "-c",
        "user.name=A",
        "-c",
        "user.email=a@b",
        "commit-tree",
        f"{base}^{{tree}}",
        "-p",
        base,
        "-m",
        "own work",
    ).strip()
    git(net.forks[1].path, "update-ref", "refs/heads/main", own)
    fourth = analyse(net, settings)
    assert fourth.stats.fetched == 1 and not fourth.forks[1].prefiltered and _facts(fourth, "f/stale").ahead == 1


def test_upstream_facts(run) -> None:
    net, nf = run
    u = nf.upstream
    assert u.head == net.upstream_commits[-1] and u.readme_title == "proj" and u.readme_lead == "A project."
    assert [t for t, _d in u.tags] == ["v1.0"]
    assert u.files == 10


def test_what_upstreams_head_decides_is_read_once_per_head(run, settings: Settings) -> None:
    """The README's parts and the file count come from the head-facts file while the head and the analysis version
    are the ones it was written for; a new head, a new version or a damaged file reads them from git again."""
    from forkwise.index.facts.upstream import HeadFacts
    from forkwise.index.network import ANALYSIS_VERSION

    net, first = run
    [cache] = settings.cache_dir.glob("*/upstream-head.json")
    known = HeadFacts.model_validate_json(cache.read_text())
    assert known.key == f"{ANALYSIS_VERSION}:{net.upstream_commits[-1]}"
    assert (known.files, known.readme_path, known.readme_title, known.readme_lead) == (10, "README.md", "proj",
                                                                                      "A project.")  # fmt: skip
    # a file written for this head is what the next run reports, so it is read and git is not
    cache.write_text(known.model_copy(update={"readme_title": "from the file", "files": 99}).model_dump_json())
    again = analyse(net, settings).upstream
    assert (again.readme_title, again.files, again.readme_lead) == ("from the file", 99, "A project.")
    # written for an older analysis version: read from git again, and the file rewritten
    cache.write_text(known.model_copy(update={"key": f"0:{net.upstream_commits[-1]}", "files": 99}).model_dump_json())
    assert analyse(net, settings).upstream.files == 10
    assert HeadFacts.model_validate_json(cache.read_text()) == known
    cache.write_text("{not json")
    assert analyse(net, settings).upstream == first.upstream
    # upstream moves: its new README is read
    work = net.upstream_path.parent / "work"
    subprocess.run(["git", "clone", "-q", str(net.upstream_path), str(work)], check=True)
    (work / "README.md").write_text("# proj2\n\nA new lead.\n")
    git(work, "-c", "user.name=A", "-c", "user.email=a@b", "commit", "-q", "-am", "New README")
    git(work, "push", "-q", "origin", "HEAD")
    moved = analyse(net, settings).upstream
    assert (moved.readme_title, moved.readme_lead, moved.files) == ("proj2", "A new lead.", 10)
    assert HeadFacts.model_validate_json(cache.read_text()).key == f"{ANALYSIS_VERSION}:{moved.head}"


def test_upstreams_tags_and_recent_commits_are_read_again_only_when_their_own_inputs_change(
    run, settings: Settings
) -> None:
    """`describe` and the tags are kept for the head and its tag refs, the recent commit dates for the head and how
    far back they were read: a warm run asks git neither, a new tag reads the tags again (not the dates), and a run
    dated before the window reads the dates again."""
    from datetime import timedelta

    from forkwise.index.facts.upstream import HeadFacts
    from forkwise.index.network import analyse_network

    net, first = run
    [cache] = settings.cache_dir.glob("*/upstream-head.json")
    known = HeadFacts.model_validate_json(cache.read_text())
    assert (known.describe, [t for t, _d in known.tags]) == (first.upstream.head_describe, ["v1.0"])
    assert known.dates_since == net.as_of - timedelta(days=365) and len(known.dates) == first.upstream.commits_365d
    assert first.upstream.commits_365d == 6
    # the file is what the next run reports while the head and the tags are the ones it was written for
    cache.write_text(known.model_copy(update={"describe": "from-the-file", "dates": known.dates[:2]}).model_dump_json())
    again = analyse(net, settings).upstream
    assert (again.head_describe, again.commits_365d) == ("from-the-file", 2)
    # a new tag on the same head: describe and the tags come from git again, the dates still from the file
    git(net.upstream_path, "tag", "v2.0", net.upstream_commits[-1])
    tagged = analyse(net, settings).upstream
    assert (tagged.head, tagged.head_describe, tagged.commits_365d) == (first.upstream.head, "v2.0", 2)
    assert [t for t, _d in tagged.tags] == ["v2.0", "v1.0"]
    # a run dated a year earlier reaches before the window: the dates are read again, as a run without the file does
    up, forks = net.inputs()
    earlier = net.as_of - timedelta(days=365)
    read = analyse_network(up, forks, settings, as_of=earlier).upstream
    cache.unlink()
    fresh = analyse_network(up, forks, settings, as_of=earlier).upstream
    assert (read.commits_30d, read.commits_90d, read.commits_365d) == (
        fresh.commits_30d, fresh.commits_90d, fresh.commits_365d)  # fmt: skip
    assert fresh.commits_365d != 2
    assert HeadFacts.model_validate_json(cache.read_text()).dates_since == earlier - timedelta(days=365)


def test_snapshots_at_the_same_commit_keep_their_own_branch_names(tmp_path: Path, settings: Settings) -> None:
    spec = {
        "name": "twins",
        "upstream": {"name": "acme/tw", "preset": "small"},
        "forks": [
            {"name": "a/tw", "base": "up:4"},
            {"name": "b/tw", "base": "up:4", "default_branch": "develop"},
            {"name": "c/tw", "base": "up:6"},
        ],
    }
    net = build(spec, tmp_path / "net")
    nf = analyse(net, settings)
    a, b, c = (_facts(nf, n) for n in ("a/tw", "b/tw", "c/tw"))
    assert all(o.prefiltered for o in nf.forks) and nf.stats.fetched == 1  # upstream only
    assert (a.head, a.behind, a.ref, a.default_branch) == (net.upstream_commits[4], 3, "refs/heads/main", "main")
    assert (b.head, b.behind, b.ref, b.default_branch) == (net.upstream_commits[4], 3, "refs/heads/develop", "develop")
    assert (c.behind, c.merge_base) == (1, net.upstream_commits[6])
    assert a.upstream_gain == b.upstream_gain and a.merge_base_describe == b.merge_base_describe


def test_already_upstream_agrees_with_git_cherry_mark(tmp_path, settings, monkeypatch) -> None:
    """The patch comparison over the upstream commits that touch the fork's files marks exactly what
    ``git log --cherry-mark`` marks: a pick, a pick with other whitespace (patch-ids ignore it); not a partial
    pick or a new change."""
    from forkwise.index.facts import fork as facts_mod

    guard = "def read(p):\n    if not p:\n        return []\n"
    spec = {
        "name": "cm",
        "upstream": {"name": "acme/engine", "preset": "small", "extra": [
            {"message": "Pick: guard empty input", "files": {"engine/io.py": guard}},
            {"message": "Pick: ops,  spaced", "files": {"engine/ops.py": "def add(a,  b):\n    return a + b\n"}},
            {"message": "Half of the pair", "files": {"engine/core.py": "HALF = 1\n"}},
        ]},
        "forks": [{"name": "f/engine", "base": "up:5", "commits": [
            {"message": "Guard empty input", "files": {"engine/io.py": guard}},
            {"message": "Ops", "files": {"engine/ops.py": "def add(a, b):\n    return a + b\n"}},
            {"message": "The pair", "files": {"engine/core.py": "HALF = 1\n", "engine/parquet.py": "PAIR = 2\n"}},
            {"message": "New", "files": {"engine/new.py": "NEW = 3\n"}},
        ]}],
    }  # fmt: skip
    net = build(spec, tmp_path)
    marks = {}
    for cap in (facts_mod.CHERRY_CANDIDATES, 0):  # our comparison, then git's --cherry-mark
        monkeypatch.setattr(facts_mod, "CHERRY_CANDIDATES", cap)
        f = next(x.facts for x in analyse(net, Settings(home=tmp_path / f"h{cap}")).forks if x.facts)
        marks[cap] = {c.subject: c.upstream_equivalent for c in f.own_commits}
    assert marks[0] == marks[facts_mod.CHERRY_CANDIDATES]
    assert marks[0] == {"Guard empty input": True, "Ops": True, "The pair": False, "New": False}


def test_separator_bytes_in_messages_and_diffs_do_not_split_commits(tmp_path: Path, settings: Settings) -> None:
    """Git log output is split into commits at a control byte; a real PDF sample in a text diff carried that byte
    (and a message can), which broke the fork's analysis ("Invalid isoformat string"). Each commit stays whole."""
    spec = {
        "name": "separators",
        "upstream": {"name": "acme/sep", "commits": [{"message": "init", "files": {"a.txt": "a\n"}}]},
        "forks": [
            {
                "name": "f/sep",
                "base": "head",
                "commits": [
                    {"message": "Add sample\x1ewith a record separator", "files": {"s.pdf": "%PDF\n\x1e\x1f obj\n"}},
                    {"message": "Second\n\n\x1e0123456789abcdef0123456789abcdef01234567", "files": {"b.txt": "b\n"}},
                ],
            }
        ],
    }
    net = build(spec, tmp_path / "net", as_of=AS_OF)
    facts = _facts(analyse(net, settings), "f/sep")
    assert [c.subject for c in facts.own_commits] == ["Second", "Add sample\x1ewith a record separator"]
    assert facts.unique_commits == 2
    assert sorted(c.path for c in facts.files) == ["b.txt", "s.pdf"]


def test_an_extensionless_file_with_an_interpreter_line_is_source(tmp_path: Path, settings: Settings) -> None:
    """git-flow's commands are shell scripts without an extension (``git-flow-feature``): their ``#!`` line makes
    them source, so a fork rewriting them changes code; an extensionless file without one stays "other"."""
    spec = {
        "name": "scripts",
        "upstream": {"name": "acme/flow", "commits": [{"message": "init", "files": {
            "git-flow": "#!/bin/sh\necho flow\n", "src/a.py": {"lines": 10}}}]},
        "forks": [{"name": "f/flow", "base": "head", "commits": [{"message": "Add feature command", "files": {
            "git-flow": "#!/bin/sh\necho flow 2\n", "git-flow-feature": "#!/usr/bin/env bash\necho feature\n",
            "VERSIONFILE": "1.2.3\n", "bin/.hidden": "#!/bin/sh\n"}}]}],
    }  # fmt: skip
    facts = _facts(analyse(build(spec, tmp_path / "net", as_of=AS_OF), settings), "f/flow")
    kinds = {c.path: c.kind for c in facts.files}
    assert kinds == {"git-flow": "source", "git-flow-feature": "source", "VERSIONFILE": "other", "bin/.hidden": "other"}
