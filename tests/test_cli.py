"""The forkwise command line, run in-process on real repositories."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from forkwise.service.surfaces.cli import SCHEMA_PATH, app
from forkwise.service.verdicts.models import Report
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


def _network_bundle(tmp_path: Path) -> tuple[Path, object]:
    """The practice network's form: one bundle holding upstream and every fork as refs/remotes/<owner>/*."""
    import subprocess

    net = build(SPEC | {"forks": SPEC["forks"][:2]}, tmp_path / "net", as_of=AS_OF)
    bare = tmp_path / "all.git"
    subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True)
    for owner, path in [("upstream", net.upstream_path), *((f.name.split("/")[0], f.path) for f in net.forks)]:
        subprocess.run(["git", "-C", str(bare), "fetch", "-q", str(path), f"+refs/heads/*:refs/remotes/{owner}/*"],
                       check=True)  # fmt: skip
        subprocess.run(["git", "-C", str(bare), "symbolic-ref", f"refs/remotes/{owner}/HEAD",
                        f"refs/remotes/{owner}/main"], check=True)  # fmt: skip
    bundle = tmp_path / "tools.bundle"
    subprocess.run(["git", "-C", str(bare), "bundle", "create", "-q", str(bundle), "--all"], check=True)
    return bundle, net


def test_help_reads_as_a_command_line() -> None:
    for cmd in ([], ["summarize"], ["compare"], ["port"], ["demo"], ["serve"], ["worker"], ["digest"], ["eval"]):
        res = runner.invoke(app, [*cmd, "--help"], env={"COLUMNS": "160"})
        assert res.exit_code == 0, (cmd, res.output)
        for python in ("<bool>", "<str>", "<list[", "<path>", "range>", "<int>", "<float>", "{upstream}", "{FORK}"):
            assert python not in res.stdout, (cmd, python)
    res = runner.invoke(app, ["compare", "--help"], env={"COLUMNS": "160"})
    assert "Usage: root compare [OPTIONS] UPSTREAM FORK" in res.stdout
    for opt in ("--writer", "--index", "--no-index", "--cache", "--no-cache", "md|json|html"):
        assert opt in res.stdout, opt
    for line in res.stdout.splitlines():  # every option says what it does
        if line.startswith("│ --") or line.startswith("│ -"):
            assert len(line.split("  ")) > 2 and line.rstrip("│ ").strip().count(" ") > 2, line
    res = runner.invoke(app, ["summarize", "--help"], env={"COLUMNS": "160"})
    assert "Usage: root summarize [OPTIONS] [UPSTREAM]" in res.stdout and "--max-wait" in res.stdout


def test_errors_keep_their_brackets_and_say_no_pydantic() -> None:
    res = runner.invoke(app, ["summarize", "-q"])
    assert res.exit_code == 2 and "give UPSTREAM or a forks file with an [upstream] table" in res.stderr
    res = runner.invoke(app, ["summarize", "x/y", "--format", "bad"], env={"COLUMNS": "160"})
    assert res.exit_code == 2 and "Value error" not in res.output
    assert "'bad' is not one of 'md', 'json', 'html'" in res.output


def test_a_ref_per_source_and_a_whole_network_in_one_command(tmp_path: Path) -> None:
    bundle, net = _network_bundle(tmp_path)
    # every remote of the bundle a fork, upstream the remote named upstream: no forks file
    res = runner.invoke(app, ["summarize", str(bundle), "--no-index", "--format", "json"])
    assert res.exit_code == 0, res.output
    report = Report.model_validate_json(res.stdout)
    assert report.upstream.name == "upstream/tools" and report.upstream.ref == "refs/remotes/upstream/HEAD"
    assert f"{bundle}: upstream refs/remotes/upstream/HEAD, 2 forks from its remotes" in res.stderr
    by = {f.name: f for f in report.forks}
    assert set(by) == {"x/tools", "y/tools"}
    assert by["x/tools"].facts is not None and (by["x/tools"].facts.ahead, by["x/tools"].facts.behind) == (2, 1)
    assert by["y/tools"].archetype == "mirror"
    # SOURCE#REF on both sides of compare; the two sides of one bundle are named apart
    res = runner.invoke(app, ["compare", f"{bundle}#refs/remotes/upstream/HEAD", f"{bundle}#refs/remotes/x/HEAD",
                              "--no-index", "--format", "json", "-q"])  # fmt: skip
    assert res.exit_code == 0, res.output
    cmp = Report.model_validate_json(res.stdout)
    assert cmp.upstream.name == "upstream/tools" and [f.name for f in cmp.forks] == ["x/tools"]
    assert cmp.forks[0].facts is not None and cmp.forks[0].facts.ahead == 2
    # the same repository twice, refs by --ref/--fork-ref: still two names
    res = runner.invoke(app, ["compare", str(bundle), str(bundle), "--ref", "refs/remotes/upstream/HEAD",
                              "--fork-ref", "refs/remotes/x/HEAD", "--no-index", "--format", "json", "-q"])  # fmt: skip
    assert res.exit_code == 0, res.output
    two = Report.model_validate_json(res.stdout)
    assert two.forks[0].name != two.upstream.name and two.forks[0].name.endswith("#refs/remotes/x/HEAD")
    # a fork given with --fork URL#REF inside summarize
    res = runner.invoke(app, ["summarize", f"{bundle}#refs/remotes/upstream/HEAD", "--fork",
                              f"{bundle}#refs/remotes/x/main", "--no-index", "--format", "json", "-q"])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert [f.name for f in Report.model_validate_json(res.stdout).forks] == ["x/tools"]
    # refs are checked like any other: an option-like one is refused
    res = runner.invoke(app, ["compare", f"{bundle}#-oops", str(net.upstream_path), "-q"])
    assert res.exit_code == 2 and "refused ref" in res.stderr


def test_the_demo_hint_names_the_program_as_it_was_run(tmp_path: Path, monkeypatch) -> None:
    import os

    from forkwise.evals.cli import invoked_as

    exe = tmp_path / "venv" / "bin" / "forkwise"
    exe.parent.mkdir(parents=True)
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("sys.argv", [str(exe), "demo"])
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    assert invoked_as() == "venv/bin/forkwise"  # not on PATH: the path that was typed
    monkeypatch.setenv("PATH", f"{exe.parent}{os.pathsep}/usr/bin")
    assert invoked_as() == "forkwise"  # installed on PATH (pip install): the plain name
