"""The evidence catalogue: every ID a verdict may cite, each resolving to a fact read from git.

IDs: ``commit:<full sha>`` (the fork's own commits, and upstream commits it lacks that matter),
``file:<path>`` (files the fork changed), ``readme:<heading>`` (README sections it changed),
``fact:<name>`` (computed facts). Each entry says what it is and, where the forge is known, links to it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict

from forkwise.index.models import CommitFact, ForkFacts
from forkwise.index.names import WebLink
from forkwise.service.verdicts.prompts import count

EvidenceKind = Literal["commit", "file", "readme", "fact"]


class Evidence(BaseModel):
    model_config = ConfigDict(frozen=True)
    id: str
    kind: EvidenceKind
    label: str
    detail: str = ""
    url: WebLink = None


def _d(x: datetime | None) -> str:
    return x.date().isoformat() if x else "unknown"


def _security_detail(c: CommitFact, other: str) -> str:
    if not c.security_evidence:
        return ""
    side = {
        "holds": f"; {other} holds the same change" + (f" (as {c.landed_as[:7]})" if c.landed_as else ""),
        "lacks": f"; {other} lacks it (its patch applies there)",
        "unknown": f"; whether {other} has it cannot be told from its files",
    }.get(c.counterpart or "", "")
    return f"; security fix ({c.security_evidence}){side}"


def catalogue(f: ForkFacts, fork_web: str | None, upstream_web: str | None) -> dict[str, Evidence]:
    """All evidence for one fork, keyed by ID."""
    out: dict[str, Evidence] = {}

    def add(kind: EvidenceKind, key: str, label: str, detail: str = "", url: str | None = None) -> None:
        out[f"{kind}:{key}"] = Evidence(id=f"{kind}:{key}", kind=kind, label=label, detail=detail, url=url)

    cmp_url = f"{upstream_web}/compare/{f.upstream_head}...{f.head}" if upstream_web else None
    own = max(f.ahead - f.merge_commits - f.upstream_equivalent_commits, 0)
    parts = [p for p in (f"{own} of its own" if own else "", count(f.merge_commits, "merge") if f.merge_commits else "",
                         f"{f.upstream_equivalent_commits} already upstream (same patch)"
                         if f.upstream_equivalent_commits else "") if p]  # fmt: skip
    add(
        "fact",
        "ahead",
        f"{count(f.ahead, 'commit')} upstream lacks" + (f": {', '.join(parts)}" if len(parts) > 1 else ""),
        f"git rev-list {f.upstream_head[:7]}..{f.head[:7]}",
        cmp_url,
    )
    add(
        "fact",
        "behind",
        f"{count(f.behind, 'commit')} behind upstream",
        f"git rev-list {f.head[:7]}..{f.upstream_head[:7]}",
        cmp_url,
    )
    add("fact", "shared_history", "shares history with upstream" if f.shared_history else "no shared history")
    add(
        "fact",
        "last_commit_date",
        f"last commit on {f.ref.removeprefix('refs/heads/')}: {_d(f.last_commit_date)}",
        f"head {f.head[:12]}",
    )
    add("fact", "upstream_last_commit_date", f"upstream's last commit: {_d(f.upstream_last_commit_date)}")
    if f.merge_base:
        add(
            "fact",
            "merge_base",
            f"merge base {f.merge_base[:12]} ({_d(f.merge_base_date)})",
            f"nearest upstream tag: {f.merge_base_describe or 'none'}",
            f"{upstream_web}/commit/{f.merge_base}" if upstream_web else None,
        )
    add("fact", "unique_commits", f"{count(f.unique_commits, 'commit')} of its own (not merges, not already upstream)")
    add(
        "fact",
        "upstream_equivalent_commits",
        f"{count(f.upstream_equivalent_commits, 'own commit')} already upstream (same patch)",
    )
    add("fact", "upstream_merges", f"{count(f.upstream_merges, 'merge')} from upstream")
    add(
        "fact",
        "files_changed",
        f"{count(len(f.files) - f.copied_files, 'file')} changed since the merge base by the fork's own work: "
        f"+{f.lines_added} -{f.lines_deleted} lines",
        f"{f.files_added} added, {f.files_modified} modified, {f.files_deleted} deleted, {f.files_renamed} renamed"
        + (f"; besides, {f.copied_files} files are upstream's own versions" if f.copied_files else ""),
    )
    if f.copied_files:
        add(
            "fact",
            "copied",
            f"{count(f.copied_files, 'file')} identical to a version upstream has had (copied, not merged)",
            f"+{f.copied_lines_added} -{f.copied_lines_deleted} lines that are upstream's work, not the fork's",
        )
    if f.merge is not None:
        m = f.merge
        shown = ", ".join(f"{p} ({m.conflict_kinds.get(p, 'content')})" for p in m.conflicts[:10])
        add(
            "fact",
            "merge",
            f"merges onto upstream's head {m.onto[:7]} without a conflict"
            if m.clean
            else f"merging onto upstream's head {m.onto[:7]} conflicts in {count(len(m.conflicts), 'file')}: {shown}",
            f"git merge-tree --write-tree {m.onto[:7]} {f.head[:7]}",
        )
        if m.port is not None:
            p = m.port
            first = p.first_conflict
            add(
                "fact",
                "port",
                f"{p.applied} of its {count(p.total, 'own commit')} apply onto upstream in order"
                + (f"; {first.sha[:7]} conflicts in {', '.join(first.paths[:5])}" if first else ""),
                (f"replayed onto {m.onto[:7]} at {p.ref} (forkwise port)" if p.ref else "nothing applied")
                + ("; stopped after the first 300" if p.limited else ""),
            )
    add("fact", "by_kind", "changes by kind: " + ", ".join(f"{k} {g.files}" for k, g in f.by_kind.items()))
    add(
        "fact",
        "by_folder",
        "changes by folder: " + ", ".join(f"{k} {g.files}" for k, g in f.by_folder.items()),
    )
    add(
        "fact",
        "deleted_share",
        f"deleted {round(f.deleted_share * 100)}% of upstream's files",
        f"{f.files_deleted} of {f.base_tree_files}",
    )
    add(
        "fact",
        "touched_share",
        f"modified, deleted or renamed {round(f.touched_share * 100)}% of upstream's files",
    )
    add(
        "fact",
        "license",
        f"licence {f.license.before.spdx or 'none'} → {f.license.after.spdx or 'none'}"
        if f.license.changed
        else f"licence unchanged ({f.license.before.spdx or 'none'})",
    )
    if f.readme.changed:
        add("fact", "readme_title", f"README title: {f.readme.title_before!r} → {f.readme.title_after!r}")
    for pkg in f.packages:
        b, a = pkg.before, pkg.after
        add(
            "fact",
            f"package:{pkg.manifest}",
            f"{pkg.manifest}: {b.name if b else None} {b.version if b else None} → "
            f"{a.name if a else None} {a.version if a else None}",
        )
    add(
        "fact",
        "other_branches",
        f"{count(len(f.other_branches), 'other branch', 'other branches')} with commits upstream lacks",
        ", ".join(f"{b.name} ({b.ahead} ahead, {_d(b.last_commit_date)})" for b in f.other_branches[:10]),
    )
    g = f.upstream_gain
    add(
        "fact",
        "upstream_gain",
        f"upstream gained {count(g.commits, 'commit')} since the merge base",
        f"{_d(g.first_date)} to {_d(g.last_date)}" if g.commits else "",
    )
    if f.largest_binary:
        add(
            "fact",
            "largest_binary",
            f"largest binary: {f.largest_binary.path} ({f.largest_binary.size} bytes)",
        )
    for c in f.own_commits:
        add(
            "commit",
            c.sha,
            f"{c.sha[:7]} {c.subject}",
            f"{c.author}, {_d(c.date)}"
            + (" (already upstream)" if c.upstream_equivalent else "")
            + (" (merge)" if c.is_merge else "")
            + _security_detail(c, "upstream"),
            f"{fork_web}/commit/{c.sha}" if fork_web else None,
        )
        if c.landed_as:
            add("commit", c.landed_as, f"{c.landed_as[:7]} (upstream)", f"upstream's commit with the same change as "
                f"{c.sha[:7]}", f"{upstream_web}/commit/{c.landed_as}" if upstream_web else None)  # fmt: skip
    for c in g.notable:
        add(
            "commit",
            c.sha,
            f"{c.sha[:7]} {c.subject}",
            f"upstream, {_d(c.date)}; not in this fork's history" + _security_detail(c, "this fork"),
            f"{upstream_web}/commit/{c.sha}" if upstream_web else None,
        )
    for fc in f.files:
        lines = "binary" if fc.binary else f"+{fc.added} -{fc.deleted}"
        add(
            "file",
            fc.path,
            f"{fc.path} ({fc.status}, {lines})",
            f"{fc.kind}, in {fc.top}" + ("; identical to a version upstream has had (copied)" if fc.copied else ""),
            f"{fork_web}/blob/{f.head}/{quote(fc.path)}" if fork_web and fc.status != "deleted" else None,
        )
    for s in f.readme.sections:
        add(
            "readme",
            s.heading,
            f"README section {s.heading!r} {s.change}",
            s.excerpt,
            f"{fork_web}/blob/{f.head}/{quote(f.readme.path or 'README.md')}" if fork_web else None,
        )
    return out
