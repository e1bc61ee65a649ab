"""Verdicts remembered across runs (service/verdicts/memo.py): a warm run reads back each verdict written before
for exactly its input and this code; a fork that moved, a template edited or ``--no-cache`` writes afresh."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from forkwise.service.runs import engine
from forkwise.service.runs.engine import RunRequest
from forkwise.service.settings import Settings
from forkwise.service.verdicts.memo import code_stamp
from forkwise.service.verdicts.models import Report
from forkwise.service.verdicts.prompts import prompts_dir
from tests.conftest import AS_OF, build, git

SPEC = {
    "name": "memo",
    "upstream": {"name": "acme/engine", "preset": "small"},
    "forks": [
        {"name": "amy/engine", "base": "up:6",
         "commits": [{"message": f"Add ROCm support, part {i}", "files": {f"rocm/backend{i}.py": {"lines": 80}}}
                     for i in range(4)]},
        {"name": "bob/engine", "base": "up:4"},
    ],
}  # fmt: skip


def _headlines(report: Report) -> dict[str, str]:
    return {f.name: f.verdict.headline for f in report.forks if f.verdict}


def test_a_warm_run_reads_each_verdict_back_and_writes_only_what_changed(tmp_path: Path) -> None:
    net = build(SPEC, tmp_path / "net", as_of=AS_OF)
    settings = Settings(home=tmp_path / "home", workers=2)
    up, forks = net.inputs()
    req = RunRequest(upstream=up, forks=forks, as_of=net.as_of, index=False)
    first = engine.report(req, settings)
    written = _headlines(first)
    assert written["amy/engine"].startswith("ROCm support: 4 commits of its own")
    [memo] = settings.cache_dir.glob("*/verdicts.json")
    data = json.loads(memo.read_text())
    assert data["stamp"] == code_stamp() and len(data["verdicts"]) == 2
    # what the file holds for an input is what the next run reports: the writer is not asked (a minute later
    # counts the same whole days)
    [key] = [k for k, v in data["verdicts"].items() if v["headline"] == written["amy/engine"]]
    data["verdicts"][key]["headline"] = "From the file."
    memo.write_text(json.dumps(data))
    later = req.model_copy(update={"as_of": net.as_of + timedelta(minutes=1)})
    assert _headlines(engine.report(later, settings)) == {**written, "amy/engine": "From the file."}
    # --no-cache writes every verdict, and leaves the file alone
    fresh = engine.report(later.model_copy(update={"use_cache": False}), settings)
    assert _headlines(fresh) == written
    assert json.loads(memo.read_text())["verdicts"][key]["headline"] == "From the file."
    # bob's fork moves to a newer upstream commit: its verdict is written again, amy's still read back; the file
    # keeps this run's two verdicts only
    git(net.forks[1].path, "update-ref", "refs/heads/main", net.upstream_commits[6])
    moved = _headlines(engine.report(later, settings))
    assert moved["amy/engine"] == "From the file."
    assert moved["bob/engine"] != written["bob/engine"] and "behind" in moved["bob/engine"]
    assert len(json.loads(memo.read_text())["verdicts"]) == 2
    # a day later the days a verdict reads have changed: every verdict is written again
    assert _headlines(engine.report(req.model_copy(update={"as_of": net.as_of + timedelta(days=1)}), settings)) == {
        **moved, "amy/engine": written["amy/engine"]}  # fmt: skip


def test_an_edited_template_is_new_code_and_writes_every_verdict_again(tmp_path: Path) -> None:
    """The file is valid for one state of the code and prompt files: a run with an edited verdict template (the
    prompts directory a user may point FORKWISE_PROMPTS_DIR at) writes with it, and a warm run after it reads back
    what it wrote. Each run is a process of its own, as commands are."""
    net = build(SPEC, tmp_path / "net", as_of=AS_OF)
    argv = [sys.executable, "-m", "forkwise.service.surfaces.cli", "summarize", str(net.upstream_path),
            "--fork", str(net.forks[0].path), "--no-index", "-q", "--format", "json"]  # fmt: skip
    env = {**os.environ, "FORKWISE_HOME": str(tmp_path / "home")}

    def headline(extra: dict[str, str]) -> str:
        res = subprocess.run(argv, capture_output=True, text=True, env={**env, **extra}, timeout=300, check=True)
        return json.loads(res.stdout)["forks"][0]["verdict"]["headline"]

    before = headline({})
    assert before.startswith("ROCm support: 4 commits of its own")
    edited = tmp_path / "prompts"
    shutil.copytree(prompts_dir(), edited)
    toml = edited / "verdict.toml"
    toml.write_text(toml.read_text().replace(
        '[niche-variant]\nheadline = "', '[niche-variant]\nheadline = "Edited. ', 1))  # fmt: skip
    custom = {"FORKWISE_PROMPTS_DIR": str(edited)}
    assert headline(custom) == "Edited. " + before
    assert headline(custom) == "Edited. " + before
    assert headline({}) == before
