"""README parsing: title, lead paragraph and sections, and a by-section diff. README text is untrusted data."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from forkwise.index.gitio import read_blobs
from forkwise.index.models import ReadmeDiff, ReadmeSection

README_RE = re.compile(r"^readme(\.(md|markdown|rst|txt|adoc|org))?$", re.I)
INTRO = "(intro)"
_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")


def is_readme(path: str) -> bool:
    """A README at the root (git paths: "/"-separated, never "./" or "//")."""
    return "/" not in path and bool(README_RE.match(path))


def find_readme(paths: list[str]) -> str | None:
    """The root README, preferring Markdown."""
    found = sorted((p for p in paths if is_readme(p)), key=lambda p: (not p.lower().endswith(".md"), p))
    return found[0] if found else None


def read_at(mirror: Path, rev: str, files: list[str]) -> tuple[str | None, str | None]:
    """The root README of ``rev`` (whose tree lists ``files``): its path and text, or Nones when there is none."""
    path = find_readme(files)
    if path is None:
        return None, None
    # one ``cat-file --batch`` of its own: upstream's README is read on every run, analysed forks or not, and a
    # warm run should not load GitPython for one blob
    data = read_blobs(mirror, [f"{rev}:{path}"]).get(f"{rev}:{path}")
    return path, None if data is None else data.decode("utf-8", "replace")


_UNDERLINE = re.compile(r"^(=+|-+|~+|\^+|\*+)\s*$")
_PLAIN_LINE = re.compile(r"^\s{0,3}[^\s#>\-*+|<`=~^]")


def atx(text: str) -> str:
    """Setext and reStructuredText headings ("Title" over a line of ``=`` or ``-``, an overline allowed) as ATX
    headings ("# Title"), so one parser reads both. A single dash line under a paragraph is a heading too (as in
    CommonMark); a dash line after a blank line stays a rule."""
    lines = text.splitlines()
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        over = _UNDERLINE.match(line) and len(line.strip()) >= 3
        if over and i + 2 < len(lines) and lines[i + 1].strip() and _UNDERLINE.match(lines[i + 2]):
            out.append(("# " if line.strip()[0] == "=" else "## ") + lines[i + 1].strip())  # overlined RST title
            i += 3
            continue
        if (
            line.strip()
            and _PLAIN_LINE.match(line)
            and _UNDERLINE.match(nxt)
            and len(nxt.strip()) >= 3
            and (not out or not out[-1].strip() or out[-1].startswith("#"))
        ):
            out.append(("# " if nxt.strip()[0] == "=" else "## ") + line.strip())
            i += 2
            continue
        out.append(line)
        i += 1
    return "\n".join(out)


def sections(text: str) -> dict[str, str]:
    """Split Markdown into ``{heading: body}``; text before the first heading (after the title) is '(intro)'.
    Setext and reStructuredText headings count (:func:`atx`)."""
    text = atx(text)
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
    for line in atx(text).splitlines():
        m = _HEADING.match(line)
        if m:
            return m.group(2).strip()[:200]
        if line.strip():
            return None
    return None


_SKIP_SECTIONS = re.compile(
    r"(?i)\b(news|changelog|change log|release notes|what'?s new|updates|announcements?|table of contents|contents"
    r"|toc|badges?|sponsors?|contributors?)\b"
)
_LIST_ITEM = re.compile(r"^(\s*)([-*+]|\d+[.)])\s+")
_BADGES = re.compile(r"^(\[?!\[[^\]]*\]\([^)]*\)(\]\([^)]*\))?\s*)+$")
_WORD = re.compile(r"[A-Za-z]{2,}")


def _blocks(text: str) -> list[tuple[str, str, list[str]]]:
    """Markdown split into blocks: ``(kind, section heading, lines)``; kinds: heading, code, html, list, table,
    badges, rule, paragraph."""
    blocks: list[tuple[str, str, list[str]]] = []
    section = ""
    lines = atx(text).splitlines()
    i = 0
    while i < len(lines):
        s = lines[i].strip()
        if not s:
            i += 1
            continue
        if s.startswith(("```", "~~~")):
            fence, j = s[:3], i + 1
            while j < len(lines) and not lines[j].strip().startswith(fence):
                j += 1
            blocks.append(("code", section, lines[i : j + 1]))
            i = j + 1
            continue
        m = _HEADING.match(s)
        if m:
            section = m.group(2).strip()
            blocks.append(("heading", section, [s]))
            i += 1
            continue
        j = i
        while j < len(lines) and lines[j].strip() and not _HEADING.match(lines[j].strip()):
            j += 1
        block = lines[i:j]
        first = block[0].strip()
        if all(ln.startswith(("\t", "    ")) for ln in block):
            kind = "code"  # an indented code block (the blank line before it ended the block above)
        elif first.startswith("<"):
            kind = "html"
        elif _LIST_ITEM.match(block[0]):
            kind = "list"
        elif first.startswith("|") or (len(block) > 1 and set(block[1].strip()) <= set("|-: ")):
            kind = "table"
        elif all(_BADGES.match(ln.strip()) for ln in block):
            kind = "badges"
        elif set(first) <= set("-=*_ "):
            kind = "rule"
        else:
            kind = "paragraph"
        blocks.append((kind, section, block))
        i = j
    return blocks


def lead_markdown(text: str, limit: int = 600) -> str:
    """The README's first descriptive paragraph, as Markdown: not a badge row, a news or changelog list, a table,
    HTML, code or a heading, and not inside a news, changelog or contents section. Untrusted repository text."""
    paras = [
        " ".join(ln.strip() for ln in block)
        for kind, section, block in _blocks(text)
        if kind == "paragraph" and not (section and _SKIP_SECTIONS.search(section))
    ]
    # a tagline of a word or two says little: the first paragraph of four words or more, else the first one
    para = next((p for p in paras if len(_WORD.findall(p)) >= 4), paras[0] if paras else "")
    return para if len(para) <= limit else para[: limit - 1].rsplit(" ", 1)[0] + "…"


def lead(text: str, limit: int = 400) -> str:
    """The first descriptive paragraph as plain text (links keep their words, markup goes)."""
    return plain(lead_markdown(text, limit=limit * 2), limit)


def plain(markdown: str, limit: int = 400) -> str:
    """Inline Markdown as one line of plain text: links keep their text, images their alt text, markup goes."""
    from markdown_it import MarkdownIt

    tokens = MarkdownIt("commonmark", {"html": False}).parseInline(markdown)
    words: list[str] = []
    for tok in tokens:
        for child in tok.children or []:
            if child.type in ("text", "code_inline") or child.type == "image":
                words.append(child.content)
            elif child.type in ("softbreak", "hardbreak"):
                words.append(" ")
    out = " ".join("".join(words).split())
    return out if len(out) <= limit else out[: limit - 1].rsplit(" ", 1)[0] + "…"


def _excerpt(body: str, limit: int = 240) -> str:
    body = " ".join(body.split())
    return body if len(body) <= limit else body[: limit - 1] + "…"


def _markdown(body: str, limit: int = 700) -> str:
    """The section's first lines as written, cut at a line (a page renders them as Markdown)."""
    text = body.strip("\n")
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit("\n", 1)[0] if "\n" in text[:limit] else text[: limit - 1]
    return cut.rstrip() + "\n\n…"


def _section(heading: str, change: Literal["added", "removed", "changed"], body: str) -> ReadmeSection:
    return ReadmeSection(heading=heading, change=change, excerpt=_excerpt(body), markdown=_markdown(body))


def diff(path: str | None, before: str | None, after: str | None) -> ReadmeDiff:
    """Compare two README texts section by section."""
    if before == after:
        return ReadmeDiff(path=path, changed=False)
    a, b = sections(before or ""), sections(after or "")
    out: list[ReadmeSection] = []
    for heading, body in b.items():
        if heading not in a:
            out.append(_section(heading, "added", body))
        elif " ".join(a[heading].split()) != " ".join(body.split()):
            out.append(_section(heading, "changed", body))
    for heading, body in a.items():
        if heading not in b:
            out.append(_section(heading, "removed", body))
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
