"""The forkwise command line, run in-process on real repositories."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from forkwise.service.cli import SCHEMA_PATH, app
from forkwise.service.models import Report
from tests.conftest import AS_OF, build

runner = CliRunner()
SPEC = {
    "name": "cli",
    "upstream": {
        "name": "acme/tool",
        "commits": [
            {"message": "init", "files": {"README.md": "# tool\n\nA tool.\n", "tool.py": {"lines": 20}}},
            {"message": "More", "files": {"more.py": {"lines": 20}}},
        ],
    },
    "forks": [
        {
            "name": "x/tool",
            "base": 0,
            "commits": [
                {"message": "Add ROCm backend", "files": {"rocm/backend.py": {"lines": 200}}},
                {"message": "ROCm tests", "files": {"tests/test_rocm.py": {"lines": 9}}},
            ],
        },
        {"name": "y/tool", "base": "head"},
        {"name": "z/tool", "kind": "missing"},
    ],
}


def test_summarize_forks_file_json(tmp_path: Path) -> None:
    net = build(SPEC, tmp_path / "net", as_of=AS_OF)
    ff = tmp_path / "forks.toml"
    ff.write_text(net.forks_toml())
    res = runner.invoke(app, ["summarize", "--forks-file", str(ff), "--format", "json", "-q", "--find", "rocm"])
    assert res.exit_code == 1, res.output  # one fork failed: the exit code says so
    report = Report.model_validate_json(res.stdout)
    assert report.upstream.name == "acme/tool"
    assert [(f.name, f.archetype) for f in report.forks] == [
        ("x/tool", "niche-variant"),
        ("y/tool", "mirror"),
        ("z/tool", None),
    ]
    x = report.fork("x/tool")
    assert x.facts and (x.facts.ahead, x.facts.behind) == (2, 1) and x.verdict
    assert x.verdict.recommendation == "fork-for-niche" and "is for ROCm backend (commit " in x.verdict.summary
    assert "“Add ROCm backend”" in x.verdict.summary  # the words it came from, quoted beside it
    assert report.fork("z/tool").error and (report.counts.analysed, report.counts.failed) == (2, 1)
    assert "forks carrying 'rocm': x/tool" in res.stderr
    data = json.loads(res.stdout)
    assert set(data["forks"][0]["facts"]) >= {"ahead", "behind", "merge_base", "last_commit_date"}
    assert set(data["forks"][0]["verdict"]) >= {
        "recommendation",
        "choose_fork_if",
        "choose_upstream_if",
        "summary",
        "evidence",
    }
    # second run: unchanged heads are reused
    again = Report.model_validate_json(
        runner.invoke(app, ["summarize", "--forks-file", str(ff), "--format", "json", "-q"]).stdout
    )
    assert again.counts.cached == 2 and again.stats.fetched == 0


def test_compare_and_outputs(tmp_path: Path) -> None:
    net = build(SPEC, tmp_path / "net", as_of=AS_OF)
    out = tmp_path / "r.md"
    res = runner.invoke(app, ["compare", str(net.upstream_path), str(net.forks[0].path), "--out", str(out), "-q"])
    assert res.exit_code == 0, res.output
    md = out.read_text()
    assert "# Forks of net/upstream" in md and "niche-variant" in md and "AMD ROCm" in md
    html = tmp_path / "r.html"
    res = runner.invoke(
        app, ["compare", str(net.upstream_path), str(net.forks[1].path), "--format", "html", "--out", str(html), "-q"]
    )
    assert res.exit_code == 0 and "<td>mirror</td>" in html.read_text()


def test_bad_upstream_and_unsafe_input_exit_2(tmp_path: Path) -> None:
    res = runner.invoke(app, ["summarize", "ext::sh -c id", "-q"])
    assert res.exit_code == 2 and "refused" in res.stderr
    res = runner.invoke(app, ["summarize", str(tmp_path / "nothing-here"), "-q"])
    assert res.exit_code == 2
    res = runner.invoke(app, ["summarize", "-q"])
    assert res.exit_code == 2 and "give UPSTREAM" in res.stderr


def test_unsafe_fork_fails_alone(tmp_path: Path) -> None:
    net = build(SPEC, tmp_path / "net", as_of=AS_OF)
    res = runner.invoke(
        app,
        [
            "summarize",
            str(net.upstream_path),
            "--fork",
            "--upload-pack=touch /tmp/x",
            "--fork",
            str(net.forks[1].path),
            "--format",
            "json",
            "-q",
        ],
    )
    assert res.exit_code == 1
    r = Report.model_validate_json(res.stdout)
    assert "refused" in (r.forks[0].error or "") and r.forks[1].archetype == "mirror"


def test_schema_is_committed_and_current() -> None:
    assert SCHEMA_PATH.exists()
    res = runner.invoke(app, ["schema", "--check"])
    assert res.exit_code == 0, res.stderr


def test_demo_command(tmp_path: Path) -> None:
    res = runner.invoke(app, ["demo", "--out", str(tmp_path / "demo"), "-q"])
    assert res.exit_code == 0, res.output
    report = Report.model_validate_json((tmp_path / "demo" / "reports" / "report.json").read_text())
    assert report.counts.forks == 12 and report.counts.failed == 1
    assert (tmp_path / "demo" / "reports" / "report.html").exists()
    assert f"report: {tmp_path / 'demo' / 'reports' / 'report.md'}" in res.stderr.replace("\n", "")
