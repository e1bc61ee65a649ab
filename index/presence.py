"""Does a side hold a commit's change? Judged by the content of its files, never by SHA or patch-id.

The same fix is often committed twice: a fork carries it in 2020, upstream merges it in 2021 with a neighbouring
line touched too (another patch-id). Before a verdict says one side *lacks* a change, the lines the change added
must be missing there and the lines it removed still present; when the side's files already have the added
lines and not the removed ones, it *holds* the change. Anything in between is ``unknown``, and nothing is claimed.

Lines are compared whitespace-normalised, and only significant ones (not blank, not a lone brace or keyword).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from forkwise.index.gitio import GitError, read_blob, records, run

State = Literal["holds", "lacks", "unknown"]
_TRIVIAL = re.compile(r"^[\W_]*$|^(else|end|pass|return|break|continue|try|finally|begin|fi|done|esac)\W*$")


def _norm(line: str) -> str | None:
    text = " ".join(line.split())
    if len(text) < 3 or _TRIVIAL.match(text):
        return None
    return text


@dataclass
class FileDelta:
    path: str
    added: set[str] = field(default_factory=set)
    removed: set[str] = field(default_factory=set)
    new_file: bool = False
    deleted_file: bool = False


def commit_deltas(mirror: Path, sha: str, timeout: float = 120.0) -> list[FileDelta]:
    """The significant lines ``sha`` added and removed, per file (against its first parent)."""
    return many_deltas(mirror, [sha], timeout).get(sha, [])


def many_deltas(mirror: Path, shas: list[str], timeout: float = 120.0) -> dict[str, list[FileDelta]]:
    """:func:`commit_deltas` of several commits in one ``git log -p``."""
    if not shas:
        return {}
    try:
        out = run(mirror, "log", "--no-walk=unsorted", "-p", "--no-renames", "-m", "--first-parent", "-U0",
                  "--format=%x1e%H", *shas, timeout=timeout)  # fmt: skip
    except GitError:
        return {}
    result: dict[str, list[FileDelta]] = {}
    for chunk in records(out):
        sha, _, patch = chunk.partition("\n")
        result[sha.strip()] = parse_patch(patch)
    return result


def parse_patch(out: str) -> list[FileDelta]:
    """Per-file deltas of a ``-U0`` patch (``diff --git`` blocks)."""
    deltas = []
    for block in out.split("diff --git ")[1:]:
        lines = block.splitlines()
        old = next((ln[4:] for ln in lines if ln.startswith("--- ")), None)
        new = next((ln[4:] for ln in lines if ln.startswith("+++ ")), None)
        if old is None or new is None:
            continue  # binary or mode-only change: no lines to compare
        d = FileDelta(
            path=(new if new != "/dev/null" else old).removeprefix("b/").removeprefix("a/"),
            new_file=old == "/dev/null",
            deleted_file=new == "/dev/null",
        )
        in_hunk = False
        for ln in lines:
            if ln.startswith("@@"):
                in_hunk = True
            elif in_hunk and ln.startswith("+") and (t := _norm(ln[1:])):
                d.added.add(t)
            elif in_hunk and ln.startswith("-") and (t := _norm(ln[1:])):
                d.removed.add(t)
        deltas.append(d)
    return deltas


def state(
    mirror: Path, deltas: list[FileDelta], tree_rev: str, untouched: Callable[[str], bool] = lambda _p: False
) -> State:
    """Whether the tree at ``tree_rev`` holds the change ``deltas`` describe, lacks it, or cannot be told.

    ``untouched(path)``: that side has not changed the file since the two sides parted, so its file is an older
    version of the other side's: missing the added lines is enough to say it lacks the change."""
    states: list[State] = []
    for d in deltas:
        removed = d.removed - d.added
        data = read_blob(mirror, f"{tree_rev}:{d.path}")
        if data is None:  # a file it adds is missing there (however short); a file it deletes is gone there too
            states.append("lacks" if d.new_file else "holds" if d.deleted_file else "unknown")
            continue
        if not d.added and not removed:
            continue
        have = {t for ln in data.decode("utf-8", "replace").splitlines() if (t := _norm(ln))}
        if d.deleted_file:
            states.append("lacks")
            continue
        gone = not (removed & have)
        if d.added <= have and gone:
            states.append("holds")
        elif (removed <= have or untouched(d.path)) and len(d.added & have) * 2 < max(1, len(d.added)):
            states.append("lacks")
        else:
            states.append("unknown")
    if not states:
        return "unknown"
    if all(s == "holds" for s in states):
        return "holds"
    if all(s == "lacks" for s in states):
        return "lacks"
    return "unknown"


def same_change(mirror: Path, deltas: list[FileDelta], candidates: list[str]) -> str | None:
    """The first of ``candidates`` (commits) that adds every significant line ``deltas`` add, file by file."""
    wanted = {d.path: d.added for d in deltas if d.added}
    if not wanted:
        return None
    found = many_deltas(mirror, candidates)
    for sha in candidates:
        theirs = {d.path: d.added for d in found.get(sha, [])}
        if all(lines <= theirs.get(path, set()) for path, lines in wanted.items()):
            return sha
    return None
