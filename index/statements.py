"""What a fork says about itself, read from the files it changed: the raw material of "what it is for".

Sources, in the order a person would trust them: its README (the lead paragraph it rewrote; sections it added or
changed that describe the fork), notes files forks write about themselves (``FORK.md``, ``PATCHES.md`` …), a
changelog section it added, and a package description it changed. Each statement is one plain-text sentence
(Markdown, badges, HTML and links stripped) with the evidence ID it comes from. Repository text is untrusted: a
statement is only ever quoted, never acted on.
"""

from __future__ import annotations

import re
from pathlib import Path

from forkwise.index import readme as readme_mod
from forkwise.index.gitio import read_blob
from forkwise.index.models import FileChange, PackageChange, ReadmeDiff, Statement

CUE = re.compile(
    r"(?i)\b(fork(?:ed)?|this (?:version|repo(?:sitory)?|project|branch|edition|port|package|library)|adds?|added"
    r"|supports|support (?:for|is available)|tailor[- ]made|designed for|built for|made for|intended for"
    r"|optimi[sz]ed for|port(?:ed)? (?:of|to)|based on|variant|continu(?:ation|es|ed)|rewrite|rewritten"
    r"|replacement|drop-in|compatible with|works with|enables?|provides|implements|offers)\b"
)
"""Words with which a text says what the fork is or adds."""
INSTRUCTION = re.compile(
    r"(?i)^(add|install|use|run|see|or|and|then|to|please|clone|download|pip|npm|yarn|cargo|go|import|call|check|"
    r"read|visit|follow|note|make sure|you|if|when|for (more|details|example|instance|those|anyone|users)|like|also|"
    r"but|so|just|simply|"
    r"first|next|finally|copy|put|set|create|build|type|execute|open|click|example|e\.g)\b"
)
"""A sentence that tells the reader what to do (install steps, usage) says nothing about what the fork is for."""
NEGATION = re.compile(
    r"(?i)\b(?:do|does|did|is|are|was|were|will|would|can|could|should|shall|has|have|had|may|might|must)\s+not\b"
    r"|\b(never|no longer|cannot|can't|don't|doesn't|didn't|isn't|aren't|won't|wasn't|hasn't|haven't)\b|^(?:no|not)\b"
)
"""A sentence that says what something does not do is no description of what the fork is for. A "not" in a clause
of its own ("This fork adds functionality not added to the original branch") negates nothing the fork does."""
FORK_SECTION = re.compile(
    r"(?i)\b(this fork|the fork|fork notes?|fork changes|differen(?:t|ces?)|what'?s new|changes (?:from|since|in this)"
    r"|why (?:this )?fork|about (?:this|the) fork|additions|modifications)\b"
)
"""A README section heading about what the fork changes ("What's different in this fork?"): its words say what the
fork is for better than a lead paragraph that describes the project."""
_PROVENANCE = re.compile(
    r"(?i)^(?:this|it)\s+(?:is|was)\s+(?:just\s+|simply\s+)?(?:a|an|my|our)\s+(?:\w+\s+)?fork\s+of\s+[^\s.]+"
    r"(?:\s+(?!(?:that|which|who|with|and|adding|to|for|but|plus|so|in|on)\b)\S+){0,5}?\s*[.!]?$"
)
"""A sentence that only says what the fork was forked from ("This is a fork of MySQLdb1."): where it comes from, not
what it is for."""
_ALERT = re.compile(r"\[!(NOTE|TIP|IMPORTANT|WARNING|CAUTION)\]", re.I)
NOTES = re.compile(r"(?i)^(fork|fork[_-]?notes|forked|patches|fork[_-]?changes|readme[._-]fork)(\.(md|txt|rst))?$")
CHANGELOG = re.compile(r"(?i)^(changelog|changes|history|news|release[_-]?notes)(\.(md|markdown|txt))?$")
_SKIP = re.compile(
    r"(?i)(install|usage|licen[cs]e|copyright|contribut|^tests?$|testing|requirements|^build(ing)?$|credits|authors?"
    r"|acknowle?dge?ments?|faq|^support$|contact|documentation|^docs$|examples?|development|contents|terms and"
    r"|caveats?|^api\b|^cli$|options|methods|functions|synopsis|how to|getting started|quick ?start|setup|config"
    r"|troubleshoot|known issues|limitations|changelog|history|roadmap|todo)"
)
_API_HEADING = re.compile(r"[`()<>=\[\]{}|]|->|=>")
_BOILERPLATE = re.compile(r"(?i)permission is hereby granted|all rights reserved|licensed under|warranty")
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[A-Z0-9])")
_URL = re.compile(r"https?://\S+|www\.\S+")
MAX_QUOTE = 220


def sentences(text: str) -> list[str]:
    """Plain text split into sentences; URLs dropped, each at most :data:`MAX_QUOTE` characters (cut at a word)."""
    out = []
    for s in _SENTENCE.split(" ".join(_URL.sub("", text).split())):
        s = s.strip(" *-–—:|")
        if len(s) > MAX_QUOTE:
            s = s[: MAX_QUOTE - 1].rsplit(" ", 1)[0] + "…"
        if len(re.findall(r"[A-Za-z]{2,}", s)) >= 2:
            out.append(s)
    return out


def _paragraphs(markdown: str) -> list[str]:
    """The Markdown's prose paragraphs and list items as plain text, in order (code, HTML, tables, badges out)."""
    out = []
    for kind, _section, block in readme_mod._blocks(markdown):
        if kind == "paragraph":
            text = " ".join(_ALERT.sub("", ln.strip().lstrip(">").strip()) for ln in block)
            out.append(readme_mod.plain(text, limit=2000))
        elif kind == "list":
            items = re.split(r"\n(?=\s*(?:[-*+]|\d+[.)])\s)", "\n".join(block))
            out += [readme_mod.plain(readme_mod._LIST_ITEM.sub("", it.strip()), limit=2000) for it in items]
    return [p for p in out if p]


def _described(text: str, limit: int = 2, *, any_first: bool = False, about: str = "") -> list[str]:
    """Sentences of ``text`` that say what the fork is or adds (a cue word, or a word of the section's heading
    ``about`` in its first sentence), never one that says what it does not do; with ``any_first``, the first
    sentence when none qualifies (a rewritten lead describes the project even without a cue)."""
    topic = {w.lower() for w in re.findall(r"[A-Za-z][A-Za-z0-9+#.-]{2,}", about)}
    found: list[str] = []
    paras = _paragraphs(text)
    for n, para in enumerate(paras):
        said = sentences(para)
        if para.rstrip().endswith(":") and said and CUE.search(said[-1]) and n + 1 < len(paras):
            # a lead-in ("Goal of this fork:") says what the next paragraph or list item holds
            nxt = next((s for s in sentences(paras[n + 1]) if not NEGATION.search(s)), None)
            if nxt:
                found.append(nxt)
            continue
        for i, s in enumerate(sentences(para)):
            if NEGATION.search(s) or INSTRUCTION.match(s) or _BOILERPLATE.search(s) or s.startswith("$"):
                continue
            if CUE.search(s) or (i == 0 and not found and topic & {w.lower() for w in re.findall(r"[\w+#.-]+", s)}):
                found.append(s)
    if not found and any_first:
        firsts = [s for p in _paragraphs(text) for s in sentences(p)[:1]
                  if len(s.split()) >= 4 and not INSTRUCTION.match(s) and not NEGATION.search(s)]  # fmt: skip
        found = firsts[:1]
    return list(dict.fromkeys(found))[:limit]


def from_readme(diff: ReadmeDiff, before: str | None, after: str | None) -> list[Statement]:
    """The fork's own words in its README: its lead paragraph when it differs from upstream's, then sections it
    added or changed that describe the fork (install, usage, licence and the like are skipped)."""
    if not diff.changed or not after:
        return []
    out: list[Statement] = []
    lead_after = readme_mod.lead_markdown(after, limit=1200)
    lead_before = readme_mod.lead_markdown(before or "", limit=1200)
    intro = readme_mod.sections(after).get(readme_mod.INTRO, "")[:4000]
    if lead_after and " ".join(lead_after.split()) != " ".join(lead_before.split()) and not NEGATION.search(lead_after):
        heading = readme_mod.INTRO if any(s.heading == readme_mod.INTRO for s in diff.sections) else None
        ev = f"readme:{heading}" if heading else "fact:readme_title"
        # the lead first; the rest of the intro only where the lead leads in ("Goal of this fork:") or only says
        # where the fork comes from ("This is a fork of MySQLdb1."), so what it adds is in the next paragraph
        leads_on = lead_after.rstrip().endswith(":") or all(_PROVENANCE.match(x) for x in sentences(lead_after))
        text = intro if leads_on and intro else lead_after
        for s in _described(text, any_first=True):
            out.append(Statement(kind="readme", text=s, evidence=ev, source="its README"))
    body = readme_mod.sections(after)
    differs: list[Statement] = []  # from a section about what the fork changes: before everything else
    for sec in sorted(diff.sections, key=lambda x: x.change != "added"):  # sections it added, then changed ones
        if sec.change == "removed" or sec.heading == readme_mod.INTRO or sec.heading not in body:
            continue
        heading = sec.heading.strip()
        if _SKIP.search(heading) or _API_HEADING.search(heading) or readme_mod._SKIP_SECTIONS.search(heading):
            continue
        about_fork = bool(FORK_SECTION.search(heading))
        for s in _described(body[sec.heading], about=sec.heading, limit=1, any_first=about_fork):
            st = Statement(
                kind="readme", text=s, evidence=f"readme:{sec.heading}", source=f"its README ({sec.heading})"
            )
            (differs if about_fork else out).append(st)
    return _unique(differs + out)


def from_files(mirror: Path, base: str, head: str, changes: list[FileChange]) -> list[Statement]:
    """Notes files the fork wrote about itself (any folder), and the newest changelog section it added."""
    out: list[Statement] = []
    for c in changes:
        if c.status == "deleted" or c.copied or c.binary:
            continue
        name = c.path.rsplit("/", 1)[-1]
        if NOTES.match(name):
            text = _text(read_blob(mirror, f"{head}:{c.path}", limit=200_000))
            out += [Statement(kind="notes", text=s, evidence=f"file:{c.path}", source=c.path)
                    for s in _described(text or "", any_first=True)]  # fmt: skip
        elif "/" not in c.path and CHANGELOG.match(name) and name.lower().endswith((".md", ".markdown")):
            after = readme_mod.sections(_text(read_blob(mirror, f"{head}:{c.path}", limit=500_000)) or "")
            old = set(readme_mod.sections(_text(read_blob(mirror, f"{base}:{c.path}", limit=500_000)) or ""))
            added = [h for h in after if h not in old and h != readme_mod.INTRO]
            if added:
                first = next((s for p in _paragraphs(after[added[0]]) for s in sentences(p)
                              if not NEGATION.search(s) and not INSTRUCTION.match(s)), None)  # fmt: skip
                if first:
                    out.append(Statement(kind="changelog", text=first, evidence=f"file:{c.path}",
                                         source=f"{c.path} ({added[0]})"))  # fmt: skip
    return _unique(sorted(out, key=lambda s: s.kind != "notes"))  # notes files first, then the changelog


def from_packages(packages: list[PackageChange]) -> list[Statement]:
    """A package description the fork wrote or changed."""
    out = []
    for p in packages:
        desc = p.after.description if p.after else None
        if desc and desc != (p.before.description if p.before else None):
            for s in sentences(desc)[:1]:
                out.append(Statement(kind="package", text=s, evidence=f"fact:package:{p.manifest}",
                                     source=f"its {p.manifest} description"))  # fmt: skip
    return out


def _text(data: bytes | None) -> str | None:
    return None if data is None else data.decode("utf-8", "replace")


def _unique(items: list[Statement]) -> list[Statement]:
    seen: set[str] = set()
    out = []
    for s in items:
        if s.text not in seen:
            seen.add(s.text)
            out.append(s)
    return out


SUCCESSOR = re.compile(
    r"(?i)\b(unmaintained|no longer (maintained|developed|supported)|deprecated|archived|abandoned|moved to|"
    r"has moved|continued (at|in|by)|continuation|successor|maintained fork|active fork|use .{1,80}? instead|"
    r"superseded by|replaced by|new home|now lives|development continues|not actively maintained|dormant|"
    r"active (project|fork|version)|check out (its|the|this) fork|maintained (fork|version))\b"
)


def successors(readme: str | None, limit: int = 3) -> list[str]:
    """Sentences of upstream's README that point to where the project went ("unmaintained … use X instead",
    "moved to X", "continued at X"), links kept as their text and URL so a fork can be matched by name."""
    if not readme:
        return []
    out = []
    for kind, _section, block in readme_mod._blocks(readme):
        if kind not in ("paragraph", "list", "html"):
            continue
        raw = " ".join(ln.strip().lstrip(">").strip() for ln in block)
        raw = re.sub(r"\[([^\]]*)\]\((https?://[^)\s]+)\)", r"\1 (\2)", raw)  # keep the link's URL
        raw = re.sub(r"(?is)<a\s[^>]*href=[\"'](https?://[^\"']+)[\"'][^>]*>(.*?)</a>", r"\2 (\1)", raw)
        for sent in _SENTENCE.split(" ".join(re.sub(r"<[^>]+>", " ", raw).split())):
            if SUCCESSOR.search(sent) and re.search(r"[\w.-]+/[\w.-]+", sent):
                out.append(sent[:MAX_QUOTE])
        if len(out) >= limit:
            break
    return out[:limit]
