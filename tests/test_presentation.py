"""What a person sees: one-line verdicts in every list, a readable upstream lead, tags of the compared ref, and
output that works in pipes and logs."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from forkwise.index import readme
from forkwise.service.runs.engine import RunRequest
from forkwise.service.runs.engine import report as engine_report
from forkwise.service.settings import Settings
from forkwise.service.surfaces.slack import summary_blocks
from forkwise.service.verdicts.models import Report
from forkwise.service.verdicts.prompts import markdown_inline
from forkwise.service.verdicts.report import render, verdict_problems
from tests.conftest import AS_OF, build

BADGES_NEWS_HTML = """<p align="center">
  <img src="logo.png" width="300">
</p>

[![Build](https://ci.example/badge.svg)](https://ci.example) [![PyPI](https://pypi.example/v.svg)](https://pypi.example)

## Latest News
* [2026/03] The team gave a tutorial at ExampleConf titled ["Building fast trainers"](https://example.org/talk)
* [2026/01] Release 2.0 is out with many improvements for everyone

# Trainer

***[Trainer](https://trainer.example/) makes distributed training `fast` and easy to use at any scale.***

## Install

pip install trainer
"""


def test_lead_skips_badges_news_lists_tables_and_html() -> None:
    assert readme.lead_markdown(BADGES_NEWS_HTML) == (
        "***[Trainer](https://trainer.example/) makes distributed training `fast` and easy to use at any scale.***"
    )
    assert readme.lead(BADGES_NEWS_HTML) == "Trainer makes distributed training fast and easy to use at any scale."
    table_first = "# X\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\nX computes things for people who need them.\n"
    assert readme.lead(table_first) == "X computes things for people who need them."
    changelog = "# Y\n\n## Changelog\n\nVersion 2 fixed many bugs.\n\n## About\n\nY parses YAML files quickly.\n"
    assert readme.lead(changelog) == "Y parses YAML files quickly."
    assert readme.lead("# Z\n\n```\ncode only here\n```\n") == ""


def test_lead_markdown_is_rendered_safely() -> None:
    html = str(markdown_inline("[ok](https://a.example) [bad](javascript:alert(1)) <img src=x onerror=alert(1)> *em*"))
    assert '<a href="https://a.example" rel="nofollow noopener">ok</a>' in html
    assert 'href="javascript' not in html and "<img" not in html and "<em>em</em>" in html


SPEC = {
    "name": "lead",
    "upstream": {
        "name": "acme/trainer",
        "commits": [
            {
                "message": "init",
                "days_ago": 500,
                "tag": "v1.0.0",
                "files": {"README.md": BADGES_NEWS_HTML, "trainer/core.py": {"lines": 80}},
            },
            {"message": "Faster loop", "days_ago": 420, "tag": "v1.1.0", "files": {"trainer/loop.py": {"lines": 40}}},
            {"message": "Scheduler", "days_ago": 100, "tag": "v2.0.0", "files": {"trainer/sched.py": {"lines": 40}}},
        ],
    },
    "forks": [
        {
            "name": "kim/trainer",
            "base": 1,
            "commits": [
                {"message": "Add ROCm backend", "days_ago": 300, "files": {"trainer/rocm.py": {"lines": 120}}},
                {"message": "ROCm kernels", "days_ago": 250, "files": {"trainer/rocm_kernels.py": {"lines": 80}}},
            ],
        },
        {"name": "old/trainer", "base": 0},
    ],
}


@pytest.fixture(scope="module")
def lead_report(tmp_path_factory: pytest.TempPathFactory) -> Report:
    root = tmp_path_factory.mktemp("lead")
    net = build(SPEC, root / "net", as_of=AS_OF)
    up, forks = net.inputs()
    return engine_report(RunRequest(upstream=up, forks=forks, as_of=AS_OF), Settings(home=root / "home", workers=2))


def test_report_lead_and_headlines(lead_report: Report) -> None:
    u = lead_report.upstream
    assert u.readme_lead == "Trainer makes distributed training fast and easy to use at any scale."
    assert [t for t, _d in u.tags] == ["v2.0.0", "v1.1.0", "v1.0.0"]
    md = render(lead_report, "md")
    assert "Trainer makes distributed training fast" in md and "ExampleConf" not in md
    # each header line is a line of its own (the writer's line once ran into the next: "…no model).- Facts as of")
    header = md.split("## ", 1)[0].splitlines()
    assert any(ln.startswith("- Sentences: ") for ln in header) and any(
        ln.startswith("- Facts as of ") for ln in header
    )
    # the lead is a paragraph of its own: a blank line before the facts list
    lead_at = next(i for i, ln in enumerate(header) if "Trainer makes distributed training fast" in ln)
    assert header[lead_at + 1] == "" and header[lead_at + 2].startswith("- Upstream: ")
    html = render(lead_report, "html")
    assert '<a href="https://trainer.example/" rel="nofollow noopener">Trainer</a>' in html
    kim, old = lead_report.fork("kim/trainer"), lead_report.fork("old/trainer")
    assert kim.verdict and old.verdict
    assert kim.verdict.headline == "ROCm backend: 2 commits of its own, 1 behind upstream."  # its commit's words
    assert kim.verdict.purpose_cite.startswith("commit ") and kim.verdict.purpose_cite.endswith(": “Add ROCm backend”")
    assert old.verdict.headline == "An older copy of upstream, 2 commits behind, with nothing of its own."
    assert verdict_problems(lead_report, kim) == []  # the headline's numbers are facts too
    rows = [ln for ln in md.splitlines() if ln.startswith("| [kim/trainer]")]
    assert rows and kim.verdict.headline in rows[0]
    assert f'<div class="headline">{old.verdict.headline}</div>' in html
    slack_text = str(summary_blocks(lead_report, "https://fw.example"))
    assert kim.verdict.headline in slack_text and old.verdict.headline in slack_text


def test_tags_are_those_the_compared_ref_contains(tmp_path: Path) -> None:
    net = build(SPEC, tmp_path / "net", as_of=AS_OF)
    up, forks = net.inputs()
    pinned = up.model_copy(update={"ref": "v1.1.0"})
    report = engine_report(
        RunRequest(upstream=pinned, forks=forks[:1], as_of=AS_OF), Settings(home=tmp_path / "home", workers=2)
    )
    assert [t for t, _d in report.upstream.tags] == ["v1.1.0", "v1.0.0"]
    assert report.upstream.head_describe == "v1.1.0"
    assert "Latest tags on `refs/tags/v1.1.0`: `v1.1.0`" in render(report, "md")


def test_continuation_names_upstreams_current_release_not_the_fork_point(tmp_path: Path) -> None:
    spec = {
        "name": "cont",
        "upstream": {
            "name": "acme/lib",
            "commits": [
                {"message": "init", "days_ago": 1400, "tag": "v0.9", "files": {"lib.py": {"lines": 50}}},
                {"message": "More", "days_ago": 1300, "files": {"more.py": {"lines": 30}}},
                {"message": "Last", "days_ago": 1000, "tag": "v1.0", "files": {"last.py": {"lines": 30}}},
            ],
        },
        "forks": [
            {
                "name": "new/lib",
                "base": 1,
                "commits": [
                    {
                        "message": f"Work {i}",
                        "days_ago": 400 - 40 * i,
                        "author": ["Ann <a@x.example>", "Ben <b@x.example>"][i % 2],
                        "files": {f"w{i}.py": {"lines": 20}},
                    }
                    for i in range(8)
                ],
            }
        ],
    }
    net = build(spec, tmp_path / "net", as_of=AS_OF)
    up, forks = net.inputs()
    report = engine_report(
        RunRequest(upstream=up, forks=forks, as_of=AS_OF), Settings(home=tmp_path / "home", workers=2)
    )
    f = report.fork("new/lib")
    assert f.verdict and f.verdict.archetype == "continuation"
    assert f.facts and f.facts.merge_base_describe == "v0.9-1-g" + f.facts.merge_base[:7]
    text = " ".join(c.text for c in f.verdict.choose_upstream_if)
    assert "(its last state is v1.0)" in text and "v0.9" not in text


def test_summarize_into_a_pipe_prints_progress_lines_and_unwrapped_rows(tmp_path: Path) -> None:
    net = build(SPEC, tmp_path / "net", as_of=AS_OF)
    ff = tmp_path / "forks.toml"
    ff.write_text(net.forks_toml())
    env = {**os.environ, "FORKWISE_HOME": str(tmp_path / "home"), "COLUMNS": "80"}
    res = subprocess.run(
        [sys.executable, "-m", "forkwise.service.surfaces.cli", "summarize", "--forks-file", str(ff), "--no-index"],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    lines = res.stderr.splitlines()
    stamp = r"^\[\s*\d+\.\d+s\] "
    assert any(re.match(stamp + r"resolve started: 2 to do$", ln) for ln in lines), lines
    assert any(re.match(stamp + r"analyse 2/2$", ln) for ln in lines), lines
    assert any(re.match(stamp + r"analyse done: 2 in \d+\.\ds$", ln) for ln in lines), lines
    assert not any("━" in ln or "\r" in ln for ln in lines)  # no bars redrawn into a log
    rows = [ln for ln in res.stdout.splitlines() if ln.startswith("| [")]
    assert len(rows) == 2 and all(ln.endswith("|") and len(ln) > 80 for ln in rows)  # one line each, unwrapped
