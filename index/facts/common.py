"""Git's output formats as facts read them: the refs, separators and status letters, dates, quoted paths, one
``diff --raw --numstat`` parser, commit bodies without trailers."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

UPSTREAM_REF = "refs/upstream/target"
RS, NUL, US = "\x1e", "\x00", "\x1f"
STATUS = {"A": "added", "M": "modified", "D": "deleted", "R": "renamed", "C": "copied", "T": "type-changed"}


def iso(text: str) -> datetime:
    return datetime.fromisoformat(text.strip())


def text_of(data: bytes | None) -> str | None:
    return None if data is None else data.decode("utf-8", "replace")


def unquote(path: str) -> str:
    if len(path) >= 2 and path[0] == '"' and path[-1] == '"':
        return (
            path[1:-1]
            .encode("latin-1", "backslashreplace")
            .decode("unicode_escape")
            .encode("latin-1", "replace")
            .decode("utf-8", "replace")
        )
    return path


def parse_diff(out: str) -> list[dict[str, Any]]:
    parts = out.split(NUL)
    entries: list[dict[str, Any]] = []
    i = 0
    while i < len(parts) and parts[i].startswith(":"):
        meta = parts[i][1:].split()
        status = meta[4][0]
        if status in "RC":
            entries.append({"old": parts[i + 1], "path": parts[i + 2], "status": status, "sha": meta[3]})
            i += 3
        else:
            entries.append({"old": None, "path": parts[i + 1], "status": status, "sha": meta[3]})
            i += 2
    stats: list[tuple[str, str]] = []
    while i < len(parts):
        if not parts[i]:
            i += 1
            continue
        a, d, p = parts[i].split("\t", 2)
        if p == "":
            i += 3  # rename: old and new paths follow
        else:
            i += 1
        stats.append((a, d))
    for e, (a, d) in zip(entries, stats, strict=False):
        e["binary"] = a == "-"
        e["added"] = None if a == "-" else int(a)
        e["deleted"] = None if d == "-" else int(d)
    return entries


HEXISH = re.compile(r"(?=[0-9a-f]*\d)[0-9a-f]{6,40}|\d+")
TRAILER = re.compile(
    r"^[\w-]+: .*$|^\s*\*? ?Merge (pull request|branch) .*$"
    r"|^\s*(co-)?(authored|written|reviewed|approved|signed)[ -]by\b.*$",
    re.M | re.I,
)


def body_text(body: str) -> str:
    """A commit body without trailers (``Signed-off-by:``, ``Co-authored-by:``) and merge lines."""
    return TRAILER.sub("", body)
