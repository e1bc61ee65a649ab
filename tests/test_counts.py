"""One breakdown of a fork's commits, the same on every surface (issue 23, point 2), and picks that say what they
measure (point 3). The network has the practice network's shape, built in git: an upstream that went quiet, a
continuation that merged upstream once, an older copy of it, and a variant of an older state of it with one commit
and one merge of its own; plus a small patch fork on upstream's latest commit."""

from __future__ import annotations

import re

import pytest

from forkwise.service.runs.engine import RunRequest
from forkwise.service.runs.engine import report as engine_report
from forkwise.service.settings import Settings
from forkwise.service.surfaces.slack import fork_blocks
from forkwise.service.verdicts.models import Report
from forkwise.service.verdicts.report import render
from tests.conftest import build


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Report:
    tmp = tmp_path_factory.mktemp("counts")
    keep = [
        {"message": f"Carry on {i}", "days_ago": 300 - 25 * i, "author": ["Ann <a@x.x>", "Ben <b@x.x>"][i % 2],
         "files": {f"src/k{i}.py": {"lines": 20, "prefix": f"k{i}"}}}
        for i in range(10)
    ]  # fmt: skip
    keep.insert(5, {"message": "Merge upstream's fix", "days_ago": 180, "merge": "head"})
    net = build(
        {
            "name": "counts",
            "upstream": {
                "name": "acme/dead",
                "commits": [
                    {"message": "init", "days_ago": 900, "files": {"src/a.py": {"lines": 40}, "README.md": "# dead\n"}},
                    {"message": "Fix a crash", "days_ago": 880, "files": {"src/a.py": {"lines": 41}}},
                ],
            },
            "forks": [
                {"name": "keep/dead", "base": "up:1", "commits": keep},
                {"name": "copy/dead", "base": "fork:keep/dead:9"},
                {
                    "name": "var/dead",
                    "base": "fork:keep/dead:8",
                    "commits": [
                        {"message": "Add gevent support", "days_ago": 100, "files": {"src/g.py": {"lines": 30}}},
                        {"message": "Merge upstream", "days_ago": 99, "merge": "head"},
                    ],
                },
                {
                    "name": "pat/dead",
                    "base": "head",
                    "commits": [
                        {
                            "message": "Fix the Windows build",
                            "days_ago": 50,
                            "files": {"setup_windows.py": "print('win')\n"},
                        }
                    ],
                },
            ],
        },
        tmp / "net",
    )
    up, forks = net.inputs()
    return engine_report(RunRequest(upstream=up, forks=forks, as_of=net.as_of), Settings(home=tmp / "home", workers=2))


def test_the_parts_add_up_for_every_fork(report: Report) -> None:
    for f in report.forks:
        assert f.facts is not None and f.verdict is not None and f.verdict.breakdown is not None, f.name
        b = f.verdict.breakdown
        assert b.ahead == f.facts.ahead == b.own + b.merges + b.already_upstream + b.from_line, (f.name, b)


def test_each_fork_has_the_breakdown_git_gives(report: Report) -> None:
    by = {f.name: f.verdict.breakdown for f in report.forks if f.verdict}
    keep, copy, var, pat = (by[n] for n in ("keep/dead", "copy/dead", "var/dead", "pat/dead"))
    assert (keep.ahead, keep.own, keep.merges, keep.from_line, keep.line) == (11, 10, 1, 0, None)
    assert keep.text == "11 commits upstream lacks: 10 of its own, 1 merge"
    # the copy's head is keep's 10th commit (9 own + the merge): all of them keep's
    assert (copy.ahead, copy.own, copy.merges, copy.from_line, copy.line) == (10, 0, 0, 10, "keep/dead")
    assert copy.text == "10 commits upstream lacks, all from keep/dead's line"
    # the variant starts at keep's 9th (8 own + the merge), then one commit and one merge of its own
    assert (var.ahead, var.own, var.merges, var.from_line, var.line) == (11, 1, 1, 9, "keep/dead")
    assert var.text == "11 commits upstream lacks: 9 from keep/dead's line, 1 of its own, 1 merge"
    assert (pat.ahead, pat.own, pat.merges) == (1, 1, 0) and pat.text == "1 commit upstream lacks, all its own"


def test_every_surface_shows_the_same_numbers(report: Report) -> None:
    md = render(report, "md")
    html = render(report, "html")
    by = {f.name: f for f in report.forks}
    var = by["var/dead"]
    assert var.verdict is not None and var.verdict.breakdown is not None
    # the table: ahead and own side by side
    assert re.search(r"\| \[var/dead\]\(#vardead\) \| [^|]+ \| 11 \| 1 \| ", md), md
    assert re.search(r"\| \[keep/dead\]\(#keepdead\) \| [^|]+ \| 11 \| 10 \| ", md)
    # the verdict's own line, the headline and the summary use the same parts
    assert "11 commits upstream lacks: 9 from keep/dead's line, 1 of its own, 1 merge." in md
    assert var.verdict.headline.startswith("A variant of an older keep/dead: 1 commit of its own and 1 merge,")
    assert "it adds 1 commit of its own and 1 merge" in var.verdict.summary
    assert "1 commit of its own and 1 merge on an older state of keep/dead" in var.verdict.archetype_rule
    labels = {e.id: e.label for e in var.evidence}
    assert labels["fact:ahead"] == "11 commits upstream lacks: 9 from keep/dead's line, 1 of its own, 1 merge"
    assert (
        labels["fact:unique_commits"]
        == "9 commits upstream lacks that are not merges: 8 from keep/dead's line, 1 of its own"
    )
    keep = by["keep/dead"]
    assert keep.verdict is not None
    assert {e.id: e.label for e in keep.evidence}["fact:ahead"] == "11 commits upstream lacks: 10 of its own, 1 merge"
    assert "10 commits of its own" in keep.verdict.headline
    assert "11 commits upstream lacks: 10 of its own, 1 merge." in html
    slack = " ".join(b["text"]["text"] for b in fork_blocks(report, var, None) if b.get("type") == "section")
    assert "11 commits upstream lacks: 9 from keep/dead's line, 1 of its own, 1 merge / 0 behind" in slack
    assert report.model_dump(mode="json")["forks"][2]["verdict"]["breakdown"] == {
        "ahead": 11, "own": 1, "merges": 1, "already_upstream": 0, "from_line": 9, "line": "keep/dead"}  # fmt: skip


def test_picks_say_what_they_measure_and_pick_by_it(report: Report) -> None:
    picks = report.picks
    assert picks["closest_to_upstream"].fork == "pat/dead"  # 1 apart; keep/dead is 11 apart
    assert picks["closest_to_upstream"].reason == (
        "of the forks that add work, the fewest commits apart from upstream: 1 commit upstream lacks, "
        "on upstream's latest commit"
    )
    assert picks["most_added"].fork == "keep/dead"
    assert picks["most_added"].reason == "10 commits of its own, the most of any fork"


def test_no_sentence_states_a_zero_and_every_confidence_has_its_reason(report: Report) -> None:
    md = render(report, "md")
    prose = "\n".join(ln for ln in md.splitlines() if not ln.startswith("- `"))  # not the evidence catalogue
    assert not re.search(r"\b0 commits? (since|behind|ahead)", prose), re.findall(r"[^.]*\b0 commits?[^.]*", prose)
    for f in report.forks:
        v = f.verdict
        assert v is not None and v.confidence_reason, f.name
        assert f"confidence {v.confidence} ({v.confidence_reason})" in md.replace("\\", "")
    assert by_name(report, "pat/dead").verdict.confidence_reason.startswith("from commit counts")
    assert by_name(report, "copy/dead").verdict.confidence_reason == (
        "from git's comparison with keep/dead: which commits it shares, lacks and adds"
    )


def by_name(report: Report, name: str):
    return next(f for f in report.forks if f.name == name)
