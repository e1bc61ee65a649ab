"""Can this fork's work be had on today's upstream? Merges and a port plan, computed in memory from git alone.

- **Merge**: ``git merge-tree --write-tree -z --name-only <upstream head> <fork head>`` merges the two heads
  without a work tree or an index; its exit status says clean (0) or conflicted (1), and its messages name every
  conflicted path and the kind of conflict (content, rename/delete, modify/delete, add/add, …).
- **Port plan**: the fork's own commits (no merges, none whose patch upstream already has), oldest first, are
  replayed one by one onto upstream's head, stopping at the first that conflicts. git 2.39 (Debian 12) has no
  ``merge-tree --merge-base``, so each replay is a merge of two synthetic commits that share the commit's parent
  *tree* as their only ancestor: ``P' = (P's tree)``, ``C' = (C's tree, parent P')``, ``T' = (T's tree, parent
  P')``; ``merge-tree T' C'`` is then exactly a cherry-pick of C onto T. The synthetic commits are written in
  process (:func:`forkwise.index.gitio.write_object`: no ``git commit-tree`` per step) and are unreferenced: the
  next gc drops them.
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

import os
import re
import select
import subprocess
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from forkwise.index.gitio import SAFE_ENV, GitError, records, write_object
from forkwise.index.models import CommitFact, FirstConflict, Frozen, MergeFacts, PortPlan

NUL = "\x00"
FILES_KEPT = 200
"""Paths a :class:`CommitFact` keeps at most (``files[:200]``)."""
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


_SENTINELS: dict[Path, tuple[str, str, tuple[str, ...]]] = {}
_SENTINEL_LOCK = threading.Lock()


def _sentinel(mirror: Path) -> tuple[str, str, tuple[str, ...]]:
    """Two tiny commits that conflict, written into the mirror once, and the fields ``merge-tree --stdin`` answers
    for them: (ours, theirs, fields)."""
    with _SENTINEL_LOCK:
        known = _SENTINELS.get(mirror)
        if known and (mirror / "objects" / known[0][:2] / known[0][2:]).exists():  # not a mirror made anew since
            return known
        trees = []
        for text in (b"base\n", b"ours\n", b"theirs\n"):
            blob = write_object(mirror, "blob", text)
            trees.append(write_object(mirror, "tree", b"100644 forkwise-sentinel\0" + bytes.fromhex(blob)))
        base = _commit(mirror, trees[0], [], _SYNTH_IDENT, _SYNTH_IDENT, "sentinel base")
        ours = _commit(mirror, trees[1], [base], _SYNTH_IDENT, _SYNTH_IDENT, "sentinel ours")
        theirs = _commit(mirror, trees[2], [base], _SYNTH_IDENT, _SYNTH_IDENT, "sentinel theirs")
        res = subprocess.run(
            ["git", "merge-tree", "--stdin", "-z", "--name-only"], cwd=str(mirror), input=f"{ours} {theirs}\n".encode(),
            capture_output=True, env={**os.environ, **SAFE_ENV}, check=False,
        )  # fmt: skip
        fields = res.stdout.decode("utf-8", "surrogateescape").split(NUL)
        while fields and fields[-1] == "":
            fields.pop()
        if not fields or fields[0] != "0":
            raise GitError(["merge-tree", "--stdin"], "the sentinel merge did not conflict")
        _SENTINELS[mirror] = (ours, theirs, tuple(fields))
        return _SENTINELS[mirror]


class MergeStream:
    """One ``git merge-tree --stdin -z --name-only`` process for the many merges of a replay: a process spawn per
    step cost 2.6 ms of the 3.2 a replayed commit took on the benchmark network.

    git writes each result as it computes it, but flushes its output only after conflict messages, and a result's
    last field comes only when the next one starts. So every request is followed by a sentinel merge that
    conflicts (two tiny commits, :func:`_sentinel`): its answer, whose fields are known, is flushed and marks where
    the request's answer ends; its own last field opens the next answer and is skipped."""

    def __init__(self, mirror: Path, timeout: float = 600.0):
        self.ours, self.theirs, self.marker = _sentinel(mirror)
        self.proc = subprocess.Popen(
            ["git", "merge-tree", "--stdin", "-z", "--name-only"], cwd=str(mirror), stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env={**os.environ, **SAFE_ENV},
        )  # fmt: skip
        self.timeout = timeout
        self.buf = b""

    def _field(self) -> str:
        assert self.proc.stdout is not None
        while b"\0" not in self.buf:
            ready, _, _ = select.select([self.proc.stdout], [], [], self.timeout)
            chunk = os.read(self.proc.stdout.fileno(), 65536) if ready else b""
            if not chunk:
                self.close()
                raise GitError(["merge-tree", "--stdin"], "git merge-tree --stdin stopped answering")
            self.buf += chunk
        field, _, self.buf = self.buf.partition(b"\0")
        return field.decode("utf-8", "surrogateescape")

    def merge(self, ours: str, theirs: str) -> tuple[str | None, list[str]]:
        """``ours`` and ``theirs`` merged: (the tree, []) or (None, the conflicted paths)."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(f"{ours} {theirs}\n{self.ours} {self.theirs}\n".encode())
        self.proc.stdin.flush()
        got: list[str] = []
        n = len(self.marker)
        while len(got) < n or tuple(got[-n:]) != self.marker:
            f = self._field()
            if f or got:  # the previous answer's last field comes first
                got.append(f)
        answer = got[:-n]
        status, tree, rest = answer[0], answer[1], answer[2:]
        paths = rest[: rest.index("")] if "" in rest else rest
        return (tree if status == "1" else None), sorted(set(paths))

    def close(self) -> None:
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


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


def own_commits_to_port(git: Git, upstream_head: str, fork_head: str, skip: frozenset[str] | set[str]) -> list[Commit]:
    """The fork's non-merge commits upstream lacks, oldest first (topological), without those in ``skip`` (patches
    upstream already has), with their trees, files, identities (raw dates) and messages. One ``git log``."""
    fmt = "%x1e%H%x00%T%x00%P%x00%an <%ae> %ad%x00%cn <%ce> %cd%x00%s%x00%B%x00"
    out = git(
        "log", "--reverse", "--topo-order", "--no-merges", "--date=raw", "--name-only", "--no-renames",
        f"--format={fmt}", f"{upstream_head}..{fork_head}",
    )  # fmt: skip
    commits = []
    for rec in records(out):
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
    return write_object(mirror, kind.decode(), data)


def _commit(mirror: Path, tree: str, parents: list[str], author: str, committer: str, message: str) -> str:
    lines = [f"tree {tree}", *(f"parent {p}" for p in parents), f"author {author}", f"committer {committer}", ""]
    body = "\n".join(lines) + "\n" + (message.rstrip("\n") or "(no message)") + "\n"
    return _store(mirror, b"commit", body.encode("utf-8", "surrogateescape"))


def replay(
    stream: MergeStream, mirror: Path, onto_tree: str, c: Commit, parent_tree: str
) -> tuple[str | None, list[str]]:
    """Cherry-pick ``c`` onto a tree in memory: (the resulting tree, []) or (None, conflicted paths)."""
    base = _commit(mirror, parent_tree, [], _SYNTH_IDENT, _SYNTH_IDENT, "base")
    theirs = _commit(mirror, c.tree, [base], _SYNTH_IDENT, _SYNTH_IDENT, "theirs")
    ours = _commit(mirror, onto_tree, [base], _SYNTH_IDENT, _SYNTH_IDENT, "ours")
    return stream.merge(ours, theirs)


@dataclass(frozen=True)
class Replay:
    """One fork's own commits replayed onto upstream's head, in one mirror: what :func:`port_plan` and
    :func:`merge_facts` work on. ``skip``: the fork's commits whose patch upstream already has; ``ref``: where the
    replayed commits are kept when they are recorded."""

    git: Git
    mirror: Path
    onto: str
    head: str
    skip: frozenset[str]
    ref: str


def port_plan(
    r: Replay,
    *,
    upstream_paths: set[str] | None = None,
    linear: bool = False,
    own: list[CommitFact] | None = None,
    materialize: bool = False,
) -> tuple[PortPlan, str | None]:
    """Replay the fork's own commits onto ``r.onto`` until the first conflict: the plan, and (when
    ``materialize``) the last replayed commit, kept at ``r.ref``.

    ``upstream_paths`` (paths upstream changed since the merge base) and ``linear`` (no merge commits among the
    fork's own) allow skipping the replay of commits that cannot conflict; ``materialize`` replays them all. ``own``:
    the fork's own commits as the facts hold them (files included): when none of them can conflict, the plan needs
    no git call at all."""
    if not materialize and linear and upstream_paths is not None and own is not None:
        kept = [c for c in own if not c.is_merge and c.sha not in r.skip]
        held = {p for c in own if c.sha in r.skip for p in c.files}
        complete = all(len(c.files) < FILES_KEPT for c in own)  # the facts keep at most 200 paths a commit
        if complete and all(disjoint(c.files, upstream_paths) and held.isdisjoint(c.files) for c in kept):
            n = min(len(kept), PORT_LIMIT)
            return _plan(n, len(kept), None, r.ref), None
    commits = own_commits_to_port(r.git, r.onto, r.head, r.skip)
    todo = commits[:PORT_LIMIT]
    skipped_files = set() if not r.skip else set(_files_of(r.git, set(r.skip)))
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
            return _plan(len(todo), len(commits), None, r.ref), None
    trees = _trees(r.git, ({c.parent for c in todo} - {c.sha for c in todo}) | {r.onto})  # one rev-parse
    trees |= {c.sha: c.tree for c in todo}
    if start:  # everything before it applies: the state then is the clean merge of upstream and its parent
        tree, _paths, _kinds = merge(r.git, r.onto, todo[start - 1].sha)
        if tree is None:  # cannot happen for disjoint paths; replay from the start to be exact
            start, tip_tree = 0, trees[r.onto]
        else:
            tip_tree = tree
    else:
        tip_tree = trees[r.onto]
    tip, applied, first = r.onto, start, None
    stream = MergeStream(r.mirror)
    try:
        for c in todo[start:]:
            parent_tree = trees.get(c.parent) or trees_of(r.git, c.parent)
            tree, paths = replay(stream, r.mirror, tip_tree, c, parent_tree)
            if tree is None:
                first = FirstConflict(sha=c.sha, subject=c.subject[:200], paths=sorted(paths))
                break
            tip_tree, applied = tree, applied + 1
            if materialize:
                tip = _commit(r.mirror, tree, [tip], c.author, c.committer, c.message)
    finally:
        stream.close()
    head = None
    if materialize:
        if applied:
            r.git("update-ref", r.ref, tip)
            head = tip
        else:
            r.git("update-ref", "-d", r.ref, ok_codes=(0, 1))
    return _plan(applied, len(commits), first, r.ref), head


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
    r: Replay,
    *,
    fork_paths: set[str],
    upstream_paths: set[str],
    linear: bool,
    own: list[CommitFact] | None = None,
) -> MergeFacts:
    """The fork's head merged onto upstream's, and the port plan of its own commits. ``fork_paths`` and
    ``upstream_paths``: what each side changed since the merge base (old and new paths of renames included)."""
    tree: str | None
    conflicts: list[str]
    kinds: dict[str, str]
    if disjoint(fork_paths, upstream_paths):
        tree, conflicts, kinds = "", [], {}  # nothing meets: git's merge is clean
    else:
        tree, conflicts, kinds = merge(r.git, r.onto, r.head)
    plan, _head = port_plan(r, upstream_paths=upstream_paths, linear=linear, own=own)
    return MergeFacts(onto=r.onto, clean=tree is not None, conflicts=conflicts, conflict_kinds=kinds, port=plan)
