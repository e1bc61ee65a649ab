"""Changes several forks carry independently: what upstream's users want and upstream lacks.

From the forks' facts alone (no git call): a change is *shared* when

- **the same patch** (:attr:`CommitFact.patch`: the same files, the same lines added and removed) is an own commit of
  two or more forks under different SHAs, or
- **the same content**: two or more forks hold the same blob at a path they changed themselves (not a version
  upstream has had),

and the forks did not copy each other: forks that hold the *same commit* for it (one is a fork of the other, or
merged it) count as one line of work, and at least two lines are needed. Upstream lacks the change: commits whose
patch upstream already has, or whose change upstream's files hold, are left out. Copies (mirrors, snapshots,
unrelated repositories, copies of another fork) carry no work of their own and are left out.

Each shared change says whether it merges onto upstream today: none of its files is among the conflicts of the
carrying forks' merges onto upstream's head (``facts.merge``).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Literal

from pydantic import BaseModel, Field, computed_field

from forkwise.index.models import ForkFacts
from forkwise.service.verdicts.classify import NO_MERGE

LIMIT = 20


class SharedChange(BaseModel):
    kind: Literal["patch", "content"] = Field(description="patch: the same patch; content: the same file content.")
    files: list[str]
    forks: list[str] = Field(description="Forks that carry it, sorted.")
    lines: int = Field(description="Independent lines of work among them (forks sharing its commit count once).")
    commits: dict[str, str] = Field(default={}, description="Fork → its commit with this patch (kind patch).")
    subject: str | None = Field(default=None, description="A commit subject of the change (untrusted text).")
    merges_cleanly: bool | None = Field(
        description="None of its files conflicts in the carrying forks' merges onto upstream today (None: unknown)."
    )

    @computed_field  # type: ignore[prop-decorator]  # pydantic's documented form for a computed property
    @property
    def sentence(self) -> str:
        """One sentence for every surface: "3 forks carry the same change to x.py: a, b and c; upstream lacks it …"."""
        n, files = (
            len(self.forks),
            _join(self.files[:3]) + (f" and {len(self.files) - 3} more" if len(self.files) > 3 else ""),
        )
        what = "the same change to" if self.kind == "patch" else "the same version of"
        text = f"{n} forks carry {what} {files}: {_join(self.forks[:5])}" + (f" and {n - 5} more" if n > 5 else "")
        if self.lines < n:
            text += f" ({self.lines} of them made it independently, the others hold the same commits)"
        text += "; upstream lacks it"
        if self.merges_cleanly is True:
            text += "; it merges onto upstream today without a conflict"
        elif self.merges_cleanly is False:
            text += "; it conflicts with upstream today"
        return text + "."


def _join(items: list[str]) -> str:
    return " and ".join(items) if len(items) <= 2 else ", ".join(items[:-1]) + " and " + items[-1]


def _lines_of_work(touching: dict[str, set[str]]) -> int:
    """Forks → the commits through which they got a change; forks sharing a commit are one line (union-find)."""
    parent = {f: f for f in touching}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    by_sha: dict[str, str] = {}
    for fork, shas in touching.items():
        for sha in shas:
            if sha in by_sha:
                parent[find(fork)] = find(by_sha[sha])
            else:
                by_sha[sha] = fork
    return len({find(f) for f in touching})


def _clean(files: list[str], forks: list[str], facts: dict[str, ForkFacts]) -> bool | None:
    merged = [facts[f].merge for f in forks if facts[f].merge is not None]
    if not merged:
        return None
    return not any(set(files) & set(m.conflicts) for m in merged if m is not None)


def shared_changes(forks: dict[str, tuple[ForkFacts, str, str]], limit: int = LIMIT) -> list[SharedChange]:
    """``forks``: name → (facts, archetype, recommendation) of every analysed fork."""
    facts = {
        n: f for n, (f, arche, rec) in forks.items() if arche not in NO_MERGE and rec != "other-fork" and f.ahead > 0
    }
    patches: dict[str, dict[str, str]] = defaultdict(dict)  # patch → fork → sha
    files_of: dict[str, list[str]] = {}
    subjects: dict[str, str] = {}
    for name, f in facts.items():
        for c in f.own_commits:
            if c.patch and not c.is_merge and not c.upstream_equivalent and c.counterpart != "holds":
                patches[c.patch].setdefault(name, c.sha)
                files_of.setdefault(c.patch, sorted(c.files))
                subjects.setdefault(c.patch, c.subject)
    out: list[SharedChange] = []
    covered: set[tuple[str, frozenset[str]]] = set()
    for patch, carriers in patches.items():
        if len(carriers) < 2:
            continue
        lines = _lines_of_work({f: {sha} for f, sha in carriers.items()})
        if lines < 2:
            continue
        names = sorted(carriers)
        out.append(
            SharedChange(
                kind="patch", files=files_of[patch], forks=names, lines=lines, commits=dict(sorted(carriers.items())),
                subject=subjects[patch][:200], merges_cleanly=_clean(files_of[patch], names, facts),
            )
        )  # fmt: skip
        covered |= {(p, frozenset(names)) for p in files_of[patch]}
    contents: dict[tuple[str, str], list[str]] = defaultdict(list)
    for name, f in facts.items():
        for ch in f.files:
            if ch.blob and not ch.copied and ch.status != "deleted":
                contents[(ch.path, ch.blob)].append(name)
    for (path, _blob), names in contents.items():
        if len(names) < 2 or any(p == path and set(names) <= fs for p, fs in covered):
            continue
        touching = {n: {c.sha for c in facts[n].own_commits if path in c.files} for n in names}
        lines = _lines_of_work(touching)
        if lines < 2:
            continue
        names = sorted(names)
        out.append(
            SharedChange(
                kind="content", files=[path], forks=names, lines=lines, merges_cleanly=_clean([path], names, facts)
            )
        )
    out.sort(key=lambda s: (-s.lines, -len(s.forks), s.kind, s.files))
    return out[:limit]
