"""Claims that hold: what counts as a security fix, and whether a side holds a change, judged by content."""

from __future__ import annotations

from pathlib import Path

import pytest

from forkwise.index import presence
from forkwise.index.security import evidence
from tests.conftest import build, git, sustained


@pytest.mark.parametrize(
    "message",
    [
        "Improve overflow handling in ZeRO",
        "Adapt Llama injection policy",
        "Update SECURITY.md",
        "Create SECURITY.md",
        "Sanitize m3u8 URLs",
        "Bump sanitize-html from 1.2.0 to 2.0.1",
        "Exploit vectorised paths in ops",
        "security: tidy imports",
        "Add dependency injection container",
        "Add xsrf token extraction",
        "Reject path traversal in archive extraction",
        "Fix XSS in the report",
        "Fix a security vulnerability in auth",
        "Stack overflow when parsing nested arrays",
        "Use GHSA ids in the changelog template",
    ],
)
def test_wording_alone_is_never_a_security_fix(message: str) -> None:
    assert evidence(message, ["src/x.py"]) is None


@pytest.mark.parametrize(
    ("message", "files", "want"),
    [
        ("Fix CVE-2024-31337: escape tokens", ["src/log.py"], "CVE-2024-31337"),
        ("Patch for ghsa-2xhg-w2g5-w95x", ["src/a.py"], "GHSA-2XHG-W2G5-W95X"),
        ("Reject path traversal in archive extraction (PYSEC-2023-117)", ["src/arc.py"], "PYSEC-2023-117"),
        ("Fix XSS in the report\n\nRefs: GHSA-2xhg-w2g5-w95x, CVE-2024-1", ["src/report.py"], "GHSA-2XHG-W2G5-W95X"),
        ("Bound nested arrays (RUSTSEC-2021-0078)", ["src/parse.rs"], "RUSTSEC-2021-0078"),
        ("Reject oversized headers, GO-2022-0969 and OSV-2022-12", ["h.go"], "GO-2022-0969, OSV-2022-12"),
    ],
)
def test_advisory_identifiers_are_the_evidence(message: str, files: list[str], want: str) -> None:
    assert evidence(message, files) == want


def test_docs_tests_ci_and_merges_are_never_the_fix() -> None:
    assert evidence("Add a regression test for CVE-2024-31337", ["tests/test_cve.py"]) is None
    assert evidence("Document CVE-2024-31337", ["SECURITY.md", "docs/cve.md"]) is None
    assert evidence("Run a scan for XSS", [".github/workflows/scan.yml"]) is None
    assert evidence("Merge pull request #12 from x/fix-xss", ["src/a.py"], is_merge=True) is None
    assert evidence("Fix CVE-2024-31337 and document it", ["src/a.py", "docs/a.md"]) == "CVE-2024-31337"


def test_a_side_holds_lacks_or_cannot_tell_by_content(tmp_path: Path) -> None:
    body = "def render(run):\n    title = 'Run report'\n    name = run.name\n    footer = '<footer>'\n"
    fixed = body.replace("name = run.name", "name = html.escape(run.name)")
    moved_on = "def render(run, style):\n    head = make_head(style)\n    return head\n"
    net = build(
        {
            "name": "presence",
            "upstream": {
                "name": "acme/p",
                "commits": [
                    {"message": "init", "files": {"r.py": body}},
                    {"message": "Fix XSS", "files": {"r.py": fixed}},
                    {"message": "Rewrite", "files": {"r.py": moved_on}},
                ],
            },
            "forks": [],
        },
        tmp_path / "net",
    )
    repo = net.upstream_path
    c0, c1, c2 = net.upstream_commits
    deltas = presence.commit_deltas(repo, c1)
    assert [(d.path, d.added, d.removed) for d in deltas] == [
        ("r.py", {"name = html.escape(run.name)"}, {"name = run.name"})
    ]
    assert presence.state(repo, deltas, c1) == "holds"
    assert presence.state(repo, deltas, c0) == "lacks"
    assert presence.state(repo, deltas, c2) == "unknown"  # the code moved on: nothing may be claimed
    # an older version of the file, untouched since the sides parted, lacks it even when its lines moved
    assert presence.state(repo, deltas, c2, untouched=lambda p: True) == "lacks"
    assert presence.same_change(repo, deltas, [c2, c1]) == c1
    assert git(repo, "rev-parse", "HEAD").strip() == c2  # nothing was written


def test_one_default_among_continuations_the_others_said_for_what_they_are(tmp_path: Path) -> None:
    """A continuation, an older copy of it, a variant of an older state of it: built in git, related by git."""
    from forkwise.service.runs.engine import RunRequest
    from forkwise.service.runs.engine import report as engine_report
    from forkwise.service.settings import Settings

    keep = sustained()
    net = build(
        {
            "name": "one",
            "upstream": {
                "name": "acme/dead",
                "commits": [{"message": "init", "days_ago": 900, "files": {"src/a.py": {"lines": 40}}}],
            },
            "forks": [
                {"name": "keep/dead", "base": "head", "commits": keep},
                {"name": "copy/dead", "base": "fork:keep/dead:6"},
                {
                    "name": "var/dead",
                    "base": "fork:keep/dead:8",
                    "commits": [{"message": "Add gevent", "days_ago": 100, "files": {"src/g.py": {"lines": 30}}}],
                },
            ],
        },
        tmp_path / "net",
    )
    up, forks = net.inputs()
    report = engine_report(
        RunRequest(upstream=up, forks=forks, as_of=net.as_of), Settings(home=tmp_path / "home", workers=2)
    )
    by = {f.name: f for f in report.forks}
    keep_v, copy_v, var_v = (by[n].verdict for n in ("keep/dead", "copy/dead", "var/dead"))
    assert keep_v and copy_v and var_v
    assert (keep_v.recommendation, by["keep/dead"].archetype) == ("fork", "continuation"), keep_v.archetype_rule
    assert keep_v.classification.others == ["copy/dead", "var/dead"], by["copy/dead"].verdict.archetype_rule
    assert keep_v.classification.relations == {"copy/dead": (3, 0), "var/dead": (1, 1)}
    assert (copy_v.recommendation, copy_v.use, by["copy/dead"].archetype) == (
        "other-fork",
        "use keep/dead",
        "stale-snapshot",
    )
    assert copy_v.headline == "An older copy of keep/dead, 3 commits behind it, with nothing of its own."
    assert (var_v.recommendation, by["var/dead"].archetype) == ("fork-for-niche", "niche-variant")
    assert var_v.headline == "A variant of an older keep/dead: 1 commit of its own, 1 behind it."
    assert report.picks["use"].fork == "keep/dead" and next(iter(report.picks)) == "use"


def _line(n: int = 10, main: str = "Anna Lee <anna@x.example>") -> list[dict]:
    """A line of sustained work, mostly by one author (as petervanderdoes/gitflow-avh is Peter van der Does's)."""
    return [
        {
            "message": f"Carry on {i}",
            "days_ago": 300 - 25 * i,
            "author": "Ben <b@x.example>" if i == 4 else main,
            "files": {f"src/k{i}.py": {"lines": 20, "prefix": f"k{i}"}},
        }
        for i in range(n)
    ]


def _default_run(tmp_path: Path, forks: list[dict]):
    from forkwise.service.runs.engine import RunRequest
    from forkwise.service.runs.engine import report as engine_report
    from forkwise.service.settings import Settings

    spec = {
        "name": "riders",
        "upstream": {
            "name": "acme/flow",
            "commits": [{"message": "init", "days_ago": 900, "files": {"src/a.py": {"lines": 40}}}],
        },
        "forks": forks,
    }
    net = build(spec, tmp_path / "net")
    up, inputs = net.inputs()
    report = engine_report(
        RunRequest(upstream=up, forks=inputs, as_of=net.as_of), Settings(home=tmp_path / "home", workers=2)
    )
    return {f.name: f for f in report.forks}, report


def test_a_fork_that_adds_a_little_by_other_hands_leaves_the_line_where_its_authors_keep_it(tmp_path: Path) -> None:
    """From nvie/gitflow's network: lifeready/gitflow-avh holds all of petervanderdoes/gitflow-avh (the AVH Edition)
    and adds a few commits of its own team's; theredcmdcraft/gitflow-avh adds its wiki's page edits, none to the
    code; alvistack/petervanderdoes-gitflow-avh is the same commit. The line stays petervanderdoes's: the others
    are described against it, as what they are."""
    wiki = [{"message": f"Updated Page {i} (markdown)", "days_ago": 40 - i, "author": f"W{i} <w{i}@x.example>",
             "files": {f"wiki/p{i}.md": f"# Page {i}\n"}} for i in range(12)]  # fmt: skip
    by, report = _default_run(
        tmp_path,
        [
            {"name": "annalee/flow", "base": "head", "commits": _line()},
            {"name": "zed/flow", "base": "fork:annalee/flow:9"},  # the same commit, under a later name
            {"name": "ride/flow", "base": "fork:annalee/flow:9", "commits": [
                {"message": "Abort a release when master is ahead", "days_ago": 50, "author": "Cy <c@x.example>",
                 "files": {"src/release.py": {"lines": 30}}},
                {"message": "Add a test script", "days_ago": 49, "author": "Cy <c@x.example>",
                 "files": {"test.sh": "#!/bin/sh\nexit 0\n"}}]},
            {"name": "wiki/flow", "base": "fork:annalee/flow:9", "commits": wiki},
        ],
    )  # fmt: skip
    keep = by["annalee/flow"]
    assert (keep.archetype, keep.verdict.recommendation) == ("continuation", "fork"), keep.verdict.archetype_rule
    assert report.picks["use"].fork == "annalee/flow"
    assert sorted(keep.verdict.classification.others) == ["ride/flow", "wiki/flow", "zed/flow"]
    ride, twin, pages = by["ride/flow"].verdict, by["zed/flow"].verdict, by["wiki/flow"].verdict
    assert (by["ride/flow"].archetype, ride.recommendation) == ("niche-variant", "fork-for-niche")
    assert ride.headline == "annalee/flow plus 2 commits of its own on its latest commit."
    assert ride.summary.startswith("ride/flow builds on the latest commit of annalee/flow, the fork that carries ")
    assert "What it adds includes commit " in ride.summary and "Abort a release when master is ahead" in ride.summary
    assert ride.risks[0].text.startswith("Its additions are not part of annalee/flow, where the line is carried on")
    assert pages.headline == "annalee/flow plus 12 commits of its own on its latest commit."
    assert "(markdown)" not in pages.summary  # a wiki page's edit is never what a fork adds
    assert " None of its 12 commits of its own changes code." in pages.summary
    assert "changes code" not in ride.summary  # its commits change code
    assert (by["zed/flow"].archetype, twin.use) == ("stale-snapshot", "use annalee/flow")
    assert twin.headline == "A copy of annalee/flow at its latest commit, with nothing of its own."
    assert "behind" not in twin.summary and "older" not in twin.summary


def test_a_fork_ahead_of_the_line_by_its_own_authors_is_where_the_line_went(tmp_path: Path) -> None:
    """methane/mysqlclient behind PyMySQL/mysqlclient: the commits the newer fork adds are by the line's own author,
    so the newer fork carries the line and the other is its older copy, as before."""
    by, _report = _default_run(
        tmp_path,
        [
            {"name": "annalee/flow", "base": "head", "commits": _line()},
            {"name": "org/flow", "base": "fork:annalee/flow:9", "commits": [
                {"message": "Support Python 3.14", "days_ago": 20, "author": "Anna Lee <anna@x.example>",
                 "files": {"src/py314.py": {"lines": 25}}}]},
        ],
    )  # fmt: skip
    assert (by["org/flow"].archetype, by["org/flow"].verdict.recommendation) == ("continuation", "fork")
    older = by["annalee/flow"].verdict
    assert older.headline == "An older copy of org/flow, 1 commit behind it, with nothing of its own."
