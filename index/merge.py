"""Can this fork's work be had on today's upstream? Merges and a port plan, computed in memory from git alone.

- **Merge**: ``git merge-tree --write-tree -z --name-only <upstream head> <fork head>`` merges the two heads
  without a work tree or an index; its exit status says clean (0) or conflicted (1), and its messages name every
  conflicted path and the kind of conflict (content, rename/delete, modify/delete, add/add, …).
- **Port plan**: the fork's own commits (no merges, none whose patch upstream already has), oldest first, are
  replayed one by one onto upstream's head, stopping at the first that conflicts. git 2.39 (Debian 12) has no
  ``merge-tree --merge-base``, so each replay is a merge of two synthetic commits that share the commit's parent
  *tree* as their only ancestor: ``P' = commit-tree P^{tree}``, ``C' = commit-tree C^{tree} -p P'``,
  ``T' = commit-tree T^{tree} -p P'``; ``merge-tree T' C'`` is then exactly a cherry-pick of C onto T. The result
  is recorded with ``commit-tree <tree> -p T`` under the original author, committer, dates and message, so the
  same inputs give the same SHAs, and the last one is kept at ``refs/forkwise/port/<owner>/<name>`` in the mirror
  (``forkwise port`` pushes it where the user wants). The synthetic commits are unreferenced and go at the next gc.

Nothing here checks anything out or touches the analysed repositories: objects and one ref are written to
forkwise's own mirror only.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from forkwise.index.models import FirstConflict, Frozen, MergeFacts, PortPlan

NUL = "\x00"
PORT_LIMIT = 300
"""Own commits replayed at most; beyond, the plan says how far it went (``limited``)."""

Git = Callable[..., str]
"""``git(*args, ok_codes=…, env=…)`` in the mirror, returning stdout."""


def port_ref(fork_name: str) -> str:
    """``refs/forkwise/port/<owner>/<name>`` for a fork's name (anything git would refuse becomes ``_``)."""
    safe = "".join(ch if ch.isalnum() or ch in "._-/" else "_" for ch in fork_name).strip("/.") or "fork"
    parts = [p.strip(".") or "_" for p in safe.split("/") if p]
    return "refs/forkwise/port/" + "/".join(p.removesuffix(".lock") for p in parts)


def parse_merge_tree(out: str, status: int) -> tuple[str | None, list[str], dict[str, str]]:
    """``merge-tree --write-tree -z --name-only`` output → (tree or None when conflicted, paths, path → kind)."""
    fields = out.split(NUL)
    tree = fields[0].strip()
    i, paths = 1, []
    while i < len(fields) and fields[i] != "":
        paths.append(fields[i])
        i += 1
    i += 1  # the empty field that ends the conflicted-file list
    kinds: dict[str, str] = {}
    conflicted = set(paths)
    while i < len(fields) and fields[i].strip().isdigit():
        n = int(fields[i])
        named = fields[i + 1 : i + 1 + n]
        kind = fields[i + 1 + n] if i + 1 + n < len(fields) else ""
        message = fields[i + 2 + n] if i + 2 + n < len(fields) else ""
        i += n + 3  # count, n paths, type, message
        if not kind.startswith("CONFLICT ("):
            continue
        # the message names the kind as a person reads it ("add/add" where the type field says "contents")
        said = re.match(r"CONFLICT \(([^)]+)\)", message) or re.match(r"CONFLICT \(([^)]+)\)", kind)
        label = said.group(1).strip() if said else "content"
        label = {"contents": "content"}.get(label, label)
        targets = [p for p in named if p in conflicted] or named
        for p in targets:
            kinds.setdefault(p, label)
    for p in paths:
        kinds.setdefault(p, "content")
    clean = status == 0
    return (tree if clean else None), sorted(set(paths)), {p: kinds[p] for p in sorted(kinds) if p in conflicted}


def merge(git: Git, ours: str, theirs: str) -> tuple[str | None, list[str], dict[str, str]]:
    """Merge ``theirs`` onto ``ours`` in memory: (merged tree, or None when it conflicts; conflicted paths; kinds)."""
    out, status = _status(git, "merge-tree", "--write-tree", "-z", "--name-only", ours, theirs)
    return parse_merge_tree(out, status)


def _status(git: Git, *args: str) -> tuple[str, int]:
    statuses: list[int] = []
    out = git(*args, ok_codes=(0, 1), status=statuses)
    return out, statuses[0] if statuses else 0


class Commit(Frozen):
    sha: str
    parent: str
    author: tuple[str, str, str]
    committer: tuple[str, str, str]
    message: str
    subject: str


def own_commits_to_port(git: Git, upstream_head: str, fork_head: str, skip: set[str]) -> list[Commit]:
    """The fork's non-merge commits upstream lacks, oldest first (topological), without those in ``skip`` (patches
    upstream already has), with what ``commit-tree`` needs to record them again. One ``git log``."""
    fmt = "%H%x00%P%x00%an%x00%ae%x00%aI%x00%cn%x00%ce%x00%cI%x00%s%x00%B%x1e"
    out = git("log", "--reverse", "--topo-order", "--no-merges", f"--format={fmt}", f"{upstream_head}..{fork_head}")
    commits = []
    for rec in out.split("\x1e"):
        rec = rec.lstrip("\n")
        if not rec:
            continue
        sha, parents, an, ae, ad, cn, ce, cd, subject, body = [*rec.split(NUL), *[""] * 10][:10]
        if sha in skip:
            continue
        commits.append(
            Commit(
                sha=sha,
                parent=parents.split()[0] if parents else "",
                author=(an, ae, ad),
                committer=(cn, ce, cd),
                message=body,
                subject=subject,
            )
        )
    return commits


def _identity(c: Commit) -> dict[str, str]:
    (an, ae, ad), (cn, ce, cd) = c.author, c.committer
    return {
        "GIT_AUTHOR_NAME": an, "GIT_AUTHOR_EMAIL": ae, "GIT_AUTHOR_DATE": ad,
        "GIT_COMMITTER_NAME": cn, "GIT_COMMITTER_EMAIL": ce, "GIT_COMMITTER_DATE": cd,
    }  # fmt: skip


_SYNTH = {
    "GIT_AUTHOR_NAME": "forkwise", "GIT_AUTHOR_EMAIL": "forkwise@localhost", "GIT_AUTHOR_DATE": "1970-01-01T00:00:00Z",
    "GIT_COMMITTER_NAME": "forkwise", "GIT_COMMITTER_EMAIL": "forkwise@localhost",
    "GIT_COMMITTER_DATE": "1970-01-01T00:00:00Z",
}  # fmt: skip


def _commit_tree(git: Git, tree: str, parent: str | None, message: str, env: dict[str, str]) -> str:
    args = ["commit-tree", tree, *(["-p", parent] if parent else []), "-m", message.rstrip("\n") or "(no message)"]
    return git(*args, env=env).strip()


def replay(git: Git, onto: str, commit: Commit) -> tuple[str | None, list[str]]:
    """Cherry-pick ``commit`` onto the commit ``onto`` in memory: (the new commit, []) or (None, conflicted paths)."""
    if not commit.parent:  # a root commit: nothing to diff it against
        return None, []
    base = _commit_tree(git, f"{commit.parent}^{{tree}}", None, "base", _SYNTH)
    theirs = _commit_tree(git, f"{commit.sha}^{{tree}}", base, "theirs", _SYNTH)
    ours = _commit_tree(git, f"{onto}^{{tree}}", base, "ours", _SYNTH)
    tree, paths, _kinds = merge(git, ours, theirs)
    if tree is None:
        return None, paths
    return _commit_tree(git, tree, onto, commit.message, _identity(commit)), []


def port_plan(git: Git, upstream_head: str, fork_head: str, skip: set[str], ref: str) -> PortPlan:
    """Replay the fork's own commits onto ``upstream_head`` until the first conflict; keep the result at ``ref``."""
    commits = own_commits_to_port(git, upstream_head, fork_head, skip)
    tip, applied, first = upstream_head, 0, None
    for c in commits[:PORT_LIMIT]:
        new, paths = replay(git, tip, c)
        if new is None:
            first = FirstConflict(sha=c.sha, subject=c.subject[:200], paths=sorted(paths))
            break
        tip, applied = new, applied + 1
    if applied:
        git("update-ref", ref, tip)
    else:
        git("update-ref", "-d", ref, ok_codes=(0, 1))
    return PortPlan(
        applied=applied,
        total=len(commits),
        first_conflict=first,
        ref=ref if applied else None,
        head=tip if applied else None,
        limited=first is None and len(commits) > PORT_LIMIT,
    )


def merge_facts(git: Git, upstream_head: str, fork_head: str, skip: set[str], ref: str) -> MergeFacts:
    """The fork's head merged onto upstream's, and the port plan of its own commits."""
    tree, conflicts, kinds = merge(git, upstream_head, fork_head)
    return MergeFacts(
        onto=upstream_head,
        clean=tree is not None,
        conflicts=conflicts,
        conflict_kinds=kinds,
        port=port_plan(git, upstream_head, fork_head, skip, ref),
    )
