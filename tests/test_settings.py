"""Settings come from the environment (``FORKWISE_*`` and a few common names), read without pydantic-settings; a bad
value stops a command with one line naming its variable."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from forkwise.index.settings import settings_problem
from forkwise.service.settings import Settings, WriterName, get_settings
from forkwise.service.surfaces.cli import app


def test_each_field_is_read_from_its_variable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FORKWISE_HOME", str(tmp_path))
    monkeypatch.setenv("forkwise_workers", "3")  # any case, as pydantic-settings read it
    monkeypatch.setenv("FORKWISE_BLOBLESS", "false")
    monkeypatch.setenv("FORKWISE_LLM", "openai")
    monkeypatch.setenv("FORKWISE_WATCH", '["a/b", "c/d"]')  # a list is JSON
    monkeypatch.setenv("GITHUB_TOKEN", "from-github-token")
    monkeypatch.setenv("SLACK_API_URL", "http://127.0.0.1:9/api/")
    monkeypatch.setenv("FORKWISE_NO_SUCH_SETTING", "ignored")
    s = Settings()
    assert (s.home, s.workers, s.blobless, s.llm, s.watch) == (tmp_path, 3, False, WriterName.openai, ["a/b", "c/d"])
    assert (s.github_token, s.slack_api_url, s.chroma_url, s.max_jobs) == (
        "from-github-token", "http://127.0.0.1:9/api/", None, 2)  # fmt: skip
    # forkwise's own name comes first among a field's names
    monkeypatch.setenv("FORKWISE_GITHUB_TOKEN", "from-forkwise")
    assert Settings().github_token == "from-forkwise"
    # what the constructor is given wins over the environment
    given = Settings(workers=7, github_token="given", home=tmp_path / "other")
    assert (given.workers, given.github_token, given.home, given.blobless) == (7, "given", tmp_path / "other", False)


def test_a_bad_value_names_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("forkwise_workers", "-1")
    monkeypatch.setenv("SLACK_BOT_TOKEN", "x")
    with pytest.raises(ValidationError) as exc:
        Settings()
    assert settings_problem(Settings, exc.value) == "forkwise_workers='-1': Input should be greater than or equal to 0"
    monkeypatch.delenv("forkwise_workers")
    monkeypatch.setenv("FORKWISE_WATCH", "a/b")
    with pytest.raises(ValidationError) as exc:
        Settings()
    assert settings_problem(Settings, exc.value) == (
        "FORKWISE_WATCH must be JSON (Expecting value: line 1 column 1 (char 0))"
    )


def test_the_command_line_says_so_in_one_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FORKWISE_HOME", str(tmp_path))
    monkeypatch.setenv("FORKWISE_GIT_TIMEOUT", "soon")
    get_settings.cache_clear()
    try:
        res = CliRunner().invoke(app, ["summarize", str(tmp_path / "nowhere"), "-q"])
    finally:
        get_settings.cache_clear()
    assert res.exit_code == 2
    assert res.stderr.strip().splitlines() == [
        "error: bad setting: FORKWISE_GIT_TIMEOUT='soon': Input should be a valid number, unable to parse string as a "
        "number"
    ]
