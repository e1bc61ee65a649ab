"""Can this fork's work be had on today's upstream? Merges and a port plan, computed in memory from git alone.

- **Merge**: ``git merge-tree --write-tree -z --name-only <upstream head> <fork head>`` merges the two heads
  without a work tree or an index; its exit status says clean (0) or conflicted (1), and its messages name every
  conflicted path and the kind of conflict (content, rename/delete, modify/delete, add/add, …).
- **Port plan**: the fork's own commits (no merges, none whose patch upstream already has), oldest first, are
  replayed one by one onto upstream's head, stopping at the first that conflicts. git 2.39 (Debian 12) has no
  ``merge-tree --merge-base``, so each replay is a merge of two synthetic commits that share the commit's parent
  *tree* as their only ancestor: ``P' = (P's tree)``, ``C' = (C's tree, parent P')``, ``T' = (T's tree, parent
  P')``; ``merge-tree T' C'`` is then exactly a cherry-pick of C onto T. The synthetic commits are written in
  process (GitPython's object store: no ``git commit-tree`` per step) and are unreferenced: the next gc drops them.
- **Without git, when git's answer is certain**: paths upstream changed since the merge base (``upstream``, from the
  history scan) that the fork never touched cannot conflict. A merge whose two sides changed disjoint paths (no
  file/directory clash) is clean; in a fork without merge commits, own commits that touch no path upstream changed
  apply as they are, and the replay starts at the first that does, from the head-to-head merge of its parent,
  which equals the replay of the commits before it. Only forks whose work meets upstream's pay for git calls.

``forkwise port`` (:func:`port_plan` with ``materialize=True``) records the replayed commits under the original
authors, committers, dates and messages, so the same inputs give the same SHAs, and keeps the last one at
``refs/forkwise/port/<owner>/<name>`` in the mirror. Nothing here checks anything out or touches the analysed
repositories: objects and that one ref are written to forkwise's own mirror only.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from io import BytesIO
from pathlib import Path

from gitdb import IStream

from forkwise.index.gitio import thread_repo
from forkwise.index.models import FirstConflict, Frozen, MergeFacts, PortPlan

NUL = "\x00"
PORT_LIMIT = 300
"""Own commits replayed at most; beyond, the plan says how far it went (``limited``)."""

Git = Callable[..., str]
"""``git(*args, ok_codes=…, env=…, status=…)`` in the mirror, returning stdout."""

_SYNTH_IDENT = "forkwise <forkwise@localhost> 0 +0000"


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
    statuses: list[int] = []
    out = git("merge-tree", "--write-tree", "-z", "--name-only", ours, theirs, ok_codes=(0, 1), status=statuses)
    return parse_merge_tree(out, statuses[0] if statuses else 0)


def disjoint(ours: Iterable[str], theirs: Iterable[str]) -> bool:
    """Two sides' changed paths cannot meet in a merge: no path in common, and none is a folder of the other's."""
    a, b = set(ours), set(theirs)
    if a & b:
        return False

    def folders(paths: set[str]) -> set[str]:
        return {p.rsplit("/", i)[0] for p in paths for i in range(1, p.count("/") + 1)}

    return not (folders(a) & b or folders(b) & a)


class Commit(Frozen):
    sha: str
    tree: str
    parent: str
    author: str = ""
    committer: str = ""
    message: str = ""
    subject: str = ""
    files: tuple[str, ...] = ()


def own_commits_to_port(git: Git, upstream_head: str, fork_head: str, skip: set[str]) -> list[Commit]:
    """The fork's non-merge commits upstream lacks, oldest first (topological), without those in ``skip`` (patches
    upstream already has), with their trees, files, identities (raw dates) and messages. One ``git log``."""
    fmt = "%x1e%H%x00%T%x00%P%x00%an <%ae> %ad%x00%cn <%ce> %cd%x00%s%x00%B%x00"
    out = git(
        "log", "--reverse", "--topo-order", "--no-merges", "--date=raw", "--name-only", "--no-renames",
        f"--format={fmt}", f"{upstream_head}..{fork_head}",
    )  # fmt: skip
    commits = []
    for rec in out.split("\x1e")[1:]:
        sha, tree, parents, author, committer, subject, message, files = [*rec.split(NUL), *[""] * 8][:8]
        if sha in skip:
            continue
        commits.append(
            Commit(
                sha=sha, tree=tree, parent=parents.split()[0] if parents else "", author=author,
                committer=committer, message=message, subject=subject,
                files=tuple(ln for ln in files.split("\n") if ln),
            )
        )  # fmt: skip
    return commits


def _store(mirror: Path, kind: bytes, data: bytes) -> str:
    """Write one object into the mirror in process; its SHA."""
    sha = thread_repo(mirror).odb.store(IStream(kind, len(data), BytesIO(data))).hexsha
    return sha.decode() if isinstance(sha, bytes) else sha


def _commit(mirror: Path, tree: str, parents: list[str], author: str, committer: str, message: str) -> str:
    lines = [f"tree {tree}", *(f"parent {p}" for p in parents), f"author {author}", f"committer {committer}", ""]
    body = "\n".join(lines) + "\n" + (message.rstrip("\n") or "(no message)") + "\n"
    return _store(mirror, b"commit", body.encode("utf-8", "surrogateescape"))


def replay(git: Git, mirror: Path, onto_tree: str, c: Commit, parent_tree: str) -> tuple[str | None, list[str]]:
    """Cherry-pick ``c`` onto a tree in memory: (the resulting tree, []) or (None, conflicted paths)."""
    base = _commit(mirror, parent_tree, [], _SYNTH_IDENT, _SYNTH_IDENT, "base")
    theirs = _commit(mirror, c.tree, [base], _SYNTH_IDENT, _SYNTH_IDENT, "theirs")
    ours = _commit(mirror, onto_tree, [base], _SYNTH_IDENT, _SYNTH_IDENT, "ours")
    tree, paths, _kinds = merge(git, ours, theirs)
    return tree, paths


def port_plan(
    git: Git,
    mirror: Path,
    upstream_head: str,
    fork_head: str,
    skip: set[str],
    ref: str,
    *,
    upstream_paths: set[str] | None = None,
    linear: bool = False,
    materialize: bool = False,
) -> tuple[PortPlan, str | None]:
    """Replay the fork's own commits onto ``upstream_head`` until the first conflict: the plan, and (when
    ``materialize``) the last replayed commit, kept at ``ref``.

    ``upstream_paths`` (paths upstream changed since the merge base) and ``linear`` (no merge commits among the
    fork's own) allow skipping the replay of commits that cannot conflict; ``materialize`` replays them all."""
    commits = own_commits_to_port(git, upstream_head, fork_head, skip)
    todo = commits[:PORT_LIMIT]
    skipped_files = set() if not skip else set(_files_of(git, skip))
    start = 0
    can_skip = (
        not materialize
        and linear
        and upstream_paths is not None
        and not any(skipped_files & set(c.files) for c in todo)  # a skipped patch never shares a file with a kept one
    )
    if can_skip:
        assert upstream_paths is not None
        while start < len(todo) and disjoint(todo[start].files, upstream_paths):
            start += 1
        if start == len(todo):
            return _plan(len(todo), len(commits), None, ref), None
    trees = _trees(git, {c.parent for c in todo} - {c.sha for c in todo})
    trees |= {c.sha: c.tree for c in todo}
    if start:  # everything before it applies: the state then is the clean merge of upstream and its parent
        tree, _paths, _kinds = merge(git, upstream_head, todo[start - 1].sha)
        if tree is None:  # cannot happen for disjoint paths; replay from the start to be exact
            start, tip_tree = 0, trees_of(git, upstream_head)
        else:
            tip_tree = tree
    else:
        tip_tree = trees_of(git, upstream_head)
    tip, applied, first = upstream_head, start, None
    for c in todo[start:]:
        tree, paths = replay(git, mirror, tip_tree, c, trees.get(c.parent) or trees_of(git, c.parent))
        if tree is None:
            first = FirstConflict(sha=c.sha, subject=c.subject[:200], paths=sorted(paths))
            break
        tip_tree, applied = tree, applied + 1
        if materialize:
            tip = _commit(mirror, tree, [tip], c.author, c.committer, c.message)
    head = None
    if materialize:
        if applied:
            git("update-ref", ref, tip)
            head = tip
        else:
            git("update-ref", "-d", ref, ok_codes=(0, 1))
    return _plan(applied, len(commits), first, ref), head


def _plan(applied: int, total: int, first: FirstConflict | None, ref: str) -> PortPlan:
    return PortPlan(
        applied=applied,
        total=total,
        first_conflict=first,
        ref=ref if applied else None,
        limited=first is None and total > PORT_LIMIT,
    )


def trees_of(git: Git, rev: str) -> str:
    return git("rev-parse", f"{rev}^{{tree}}").strip()


def _trees(git: Git, revs: set[str]) -> dict[str, str]:
    revs_ = sorted(r for r in revs if r)
    if not revs_:
        return {}
    out = git("rev-parse", *(f"{r}^{{tree}}" for r in revs_)).split()
    return dict(zip(revs_, out, strict=True))


def _files_of(git: Git, shas: set[str]) -> list[str]:
    out = git("show", "--no-renames", "--name-only", "--format=", *sorted(shas))
    return [ln for ln in out.splitlines() if ln]


def merge_facts(
    git: Git,
    mirror: Path,
    upstream_head: str,
    fork_head: str,
    skip: set[str],
    ref: str,
    *,
    fork_paths: set[str],
    upstream_paths: set[str],
    linear: bool,
) -> MergeFacts:
    """The fork's head merged onto upstream's, and the port plan of its own commits. ``fork_paths`` and
    ``upstream_paths``: what each side changed since the merge base (old and new paths of renames included)."""
    if disjoint(fork_paths, upstream_paths):
        tree, conflicts, kinds = "", [], {}  # nothing meets: git's merge is clean
    else:
        tree, conflicts, kinds = merge(git, upstream_head, fork_head)
    plan, _head = port_plan(git, mirror, upstream_head, fork_head, skip, ref, upstream_paths=upstream_paths,
                            linear=linear)  # fmt: skip
    return MergeFacts(onto=upstream_head, clean=tree is not None, conflicts=conflicts, conflict_kinds=kinds, port=plan)
