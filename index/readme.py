"""README parsing: title, lead paragraph and sections, and a by-section diff. README text is untrusted data."""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

from forkwise.index.gitio import read_blob
from forkwise.index.models import ReadmeDiff, ReadmeSection

README_RE = re.compile(r"^readme(\.(md|markdown|rst|txt|adoc|org))?$", re.I)
INTRO = "(intro)"
_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")


def is_readme(path: str) -> bool:
    p = PurePosixPath(path)
    return len(p.parts) == 1 and bool(README_RE.match(p.name))


def find_readme(paths: list[str]) -> str | None:
    """The root README, preferring Markdown."""
    found = sorted((p for p in paths if is_readme(p)), key=lambda p: (not p.lower().endswith(".md"), p))
    return found[0] if found else None


def read_at(mirror: Path, rev: str, files: list[str]) -> tuple[str | None, str | None]:
    """The root README of ``rev`` (whose tree lists ``files``): its path and text, or Nones when there is none."""
    path = find_readme(files)
    data = read_blob(mirror, f"{rev}:{path}") if path else None
    return path, None if data is None else data.decode("utf-8", "replace")


def sections(text: str) -> dict[str, str]:
    """Split Markdown into ``{heading: body}``; text before the first heading (after the title) is '(intro)'."""
    out: dict[str, list[str]] = {INTRO: []}
    current = INTRO
    title_seen = False
    for line in text.splitlines():
        m = _HEADING.match(line)
        if m:
            heading = m.group(2).strip()[:120]
            if len(m.group(1)) == 1 and not title_seen:
                title_seen = True
                current = INTRO
                out.setdefault(INTRO, [])
                continue
            base, n = heading, 2
            while heading in out:
                heading = f"{base} ({n})"
                n += 1
            out[heading] = []
            current = heading
            continue
        out[current].append(line)
    return {k: "\n".join(v).strip() for k, v in out.items() if k != INTRO or "\n".join(v).strip()}


def title(text: str) -> str | None:
    for line in text.splitlines():
        m = _HEADING.match(line)
        if m:
            return m.group(2).strip()[:200]
        if line.strip():
            return None
    return None


def lead(text: str, limit: int = 400) -> str:
    """First prose paragraph (skipping headings, badges, HTML and blank lines)."""
    para: list[str] = []
    for line in text.splitlines():
        s = line.strip()
        if not s:
            if para:
                break
            continue
        if s.startswith(("#", "<", "[![", "![", "|", "```", "---", "===")):
            if para:
                break
            continue
        para.append(s)
    out = " ".join(para)
    return out if len(out) <= limit else out[: limit - 1].rsplit(" ", 1)[0] + "…"


def _excerpt(body: str, limit: int = 240) -> str:
    body = " ".join(body.split())
    return body if len(body) <= limit else body[: limit - 1] + "…"


def diff(path: str | None, before: str | None, after: str | None) -> ReadmeDiff:
    """Compare two README texts section by section."""
    if before == after:
        return ReadmeDiff(path=path, changed=False)
    a, b = sections(before or ""), sections(after or "")
    out: list[ReadmeSection] = []
    for heading, body in b.items():
        if heading not in a:
            out.append(ReadmeSection(heading=heading, change="added", excerpt=_excerpt(body)))
        elif " ".join(a[heading].split()) != " ".join(body.split()):
            out.append(ReadmeSection(heading=heading, change="changed", excerpt=_excerpt(body)))
    for heading, body in a.items():
        if heading not in b:
            out.append(ReadmeSection(heading=heading, change="removed", excerpt=_excerpt(body)))
    old_lines = set((before or "").splitlines())
    added = [ln for ln in (after or "").splitlines() if ln.strip() and ln not in old_lines]
    return ReadmeDiff(
        path=path,
        changed=True,
        title_before=title(before or ""),
        title_after=title(after or ""),
        sections=out,
        added_text="\n".join(added)[:4000],
    )
