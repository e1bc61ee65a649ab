"""Source parsing and refusal of unsafe URLs and refs."""

from __future__ import annotations

from pathlib import Path

import pytest

from forkwise.index.gitio import GitError, run
from forkwise.index.sources import (
    Source,
    SourceError,
    UnsafeSourceError,
    check_ref,
    load_forks_file,
    parse_source,
)


@pytest.mark.parametrize(
    "url",
    [
        "ext::sh -c touch% /tmp/pwned",
        "fd::17",
        "-oProxyCommand=touch /tmp/pwned",
        "--upload-pack=touch /tmp/pwned",
        "foo::https://example.com/x.git",
        "https://example.com/x.git\nfoo",
        "ssh://-oProxyCommand=x/y",
        "ftp://example.com/x.git",
    ],
)
def test_unsafe_urls_are_refused(url: str) -> None:
    with pytest.raises(UnsafeSourceError):
        parse_source(url)
    with pytest.raises(ValueError):
        Source(name="x", url=url)


def test_ext_transport_is_blocked_in_git_itself_too(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    with pytest.raises(GitError):
        run(None, "ls-remote", f"ext::sh -c touch% {marker}")
    assert not marker.exists()


@pytest.mark.parametrize("ref", ["-delete", "a..b", "x~1", "refs/heads/x.lock", "a b", "x:y"])
def test_bad_refs_are_refused(ref: str) -> None:
    with pytest.raises(SourceError):
        check_ref(ref)


def test_parse_github_owner_name_and_urls(tmp_path: Path) -> None:
    s = parse_source("deepspeedai/DeepSpeed")
    assert (s.name, s.url, s.forge) == (
        "deepspeedai/DeepSpeed",
        "https://github.com/deepspeedai/DeepSpeed.git",
        "github",
    )
    assert s.web_url == "https://github.com/deepspeedai/DeepSpeed"
    s = parse_source("https://github.com/HabanaAI/DeepSpeed/")
    assert (s.name, s.url) == ("HabanaAI/DeepSpeed", "https://github.com/HabanaAI/DeepSpeed.git")
    s = parse_source("git@example.org:team/tool.git")
    assert (s.name, s.url, s.is_local) == ("team/tool", "git@example.org:team/tool.git", False)
    s = parse_source("https://git.example.org/team/tool.git", ref="dev")
    assert (s.name, s.full_ref) == ("team/tool", "refs/heads/dev")
    local = tmp_path / "owner" / "repo"
    local.mkdir(parents=True)
    s = parse_source(str(local))
    assert s.url == str(local.resolve()) and s.is_local and s.name == "owner/repo"
    with pytest.raises(SourceError):
        parse_source("not a thing at all")


def test_forks_file_resolves_relative_paths(tmp_path: Path) -> None:
    (tmp_path / "up.git").mkdir()
    (tmp_path / "f1.git").mkdir()
    f = tmp_path / "forks.toml"
    f.write_text(
        '[upstream]\nname = "acme/up"\nurl = "up.git"\nref = "refs/remotes/upstream/master"\n'
        '[[forks]]\nname = "x/f1"\nurl = "f1.git"\n'
        '[[forks]]\nname = "y/gone"\nurl = "gone.git"\n'
        '[[forks]]\nname = "HabanaAI/DeepSpeed"\n'
    )
    up, forks = load_forks_file(f)
    assert up is not None and up.url == str(tmp_path / "up.git") and up.ref == "refs/remotes/upstream/master"
    assert [x.name for x in forks] == ["x/f1", "y/gone", "HabanaAI/DeepSpeed"]
    assert forks[1].url == str(tmp_path / "gone.git")  # kept: it fails on its own later, with a clear error
    assert forks[2].url == "https://github.com/HabanaAI/DeepSpeed.git"
    bad = tmp_path / "bad.toml"
    bad.write_text('[[forks]]\nname = "a/b"\nurll = "typo"\n')
    with pytest.raises(SourceError, match="urll"):
        load_forks_file(bad)
