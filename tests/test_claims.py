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
