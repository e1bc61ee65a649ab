"""Running git safely through GitPython.

Every git process forkwise starts gets the same hardened environment: remote helpers and the ``ext``/``fd``
transports are off, only file/git/http(s)/ssh protocols are allowed, git never prompts for credentials, and
automatic gc/maintenance is off so concurrent fetches into one mirror do not race a repack.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from pathlib import Path

from git import Git, Repo
from git.exc import GitCommandError

_CONFIG = {
    "protocol.ext.allow": "never",
    "protocol.fd.allow": "never",
    "core.quotepath": "off",
    "gc.auto": "0",
    "maintenance.auto": "false",
    "fetch.writeCommitGraph": "false",
    "advice.detachedHead": "false",
    "diff.renames": "true",
    "core.hooksPath": "/dev/null",
}

SAFE_ENV: dict[str, str] = {
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_ASKPASS": "",
    "SSH_ASKPASS": "",
    "GIT_SSH_COMMAND": "ssh -o BatchMode=yes -o StrictHostKeyChecking=accept-new",
    "GIT_ALLOW_PROTOCOL": "file:git:http:https:ssh",
    "GIT_CONFIG_NOSYSTEM": "1",
    "LC_ALL": "C",
    "GIT_CONFIG_COUNT": str(len(_CONFIG)),
}
for _i, (_k, _v) in enumerate(_CONFIG.items()):
    SAFE_ENV[f"GIT_CONFIG_KEY_{_i}"] = _k
    SAFE_ENV[f"GIT_CONFIG_VALUE_{_i}"] = _v


class GitError(RuntimeError):
    """A git command failed; ``message`` is the useful part of its stderr."""

    def __init__(self, args: Sequence[str], message: str, status: int | None = None):
        self.args_ = list(args)
        self.message = message
        self.status = status
        super().__init__(message)


def _clean_stderr(stderr: str) -> str:
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    lines = [re.sub(r"^(fatal|error|warning): ", "", ln) for ln in lines if not ln.startswith("hint:")]
    return "; ".join(dict.fromkeys(lines))[:500] or "git failed without a message"


def _git(path: Path | None) -> Git:
    g = Git(str(path)) if path else Git()
    g.update_environment(**SAFE_ENV)
    return g


def run(path: Path | None, *args: str, timeout: float = 600.0, ok_codes: tuple[int, ...] = (0,)) -> str:
    """Run ``git <args>`` (in ``path`` when given) and return stdout decoded leniently."""
    g = _git(path)
    try:
        status, out, err = g.execute(
            ["git", *args],
            with_extended_output=True,
            with_exceptions=False,
            stdout_as_string=False,
            kill_after_timeout=timeout,
            strip_newline_in_stdout=False,
        )
    except GitCommandError as exc:  # raised for timeouts and spawn failures
        raise GitError(args, _clean_stderr(str(exc.stderr or exc)), exc.status) from exc
    if status not in ok_codes:
        text = err.decode("utf-8", "replace") if isinstance(err, bytes) else str(err)
        raise GitError(args, _clean_stderr(text), status)
    return out.decode("utf-8", "replace") if isinstance(out, bytes) else str(out)


_local = threading.local()


def thread_repo(path: Path) -> Repo:
    """A GitPython ``Repo`` owned by the calling thread (its persistent cat-file processes are not shareable)."""
    repos: dict[str, Repo] = getattr(_local, "repos", None) or {}
    _local.repos = repos
    key = str(path)
    if key not in repos:
        repo = Repo(key)
        repo.git.update_environment(**SAFE_ENV)
        repos[key] = repo
    return repos[key]


def read_blob(path: Path, spec: str, limit: int = 2_000_000) -> bytes | None:
    """Read ``<rev>:<path>`` through the thread's persistent ``cat-file --batch``; None if absent or too big."""
    repo = thread_repo(path)
    try:
        _hex, typ, size = repo.git.get_object_header(spec)
    except (ValueError, GitCommandError):
        return None
    if typ != b"blob" and typ != "blob":
        return None
    if int(size) > limit:
        return None
    _hex, _typ, _size, data = repo.git.get_object_data(spec)
    return data


def blob_sizes(path: Path, shas: Sequence[str]) -> dict[str, int]:
    """Sizes of blobs by SHA, through the thread's persistent ``cat-file --batch-check``."""
    repo = thread_repo(path)
    sizes: dict[str, int] = {}
    for sha in dict.fromkeys(shas):
        try:
            _hex, _typ, size = repo.git.get_object_header(sha)
            sizes[sha] = int(size)
        except (ValueError, GitCommandError):
            continue
    return sizes


def close_thread_repos() -> None:
    for repo in (getattr(_local, "repos", None) or {}).values():
        repo.close()
    _local.repos = {}
