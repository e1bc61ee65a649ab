"""Facts about upstream and each fork, read from the mirror with a few git calls per fork.

Once per upstream (:func:`upstream_facts`, :func:`_scan_history`): one ``log --raw --diff-merges=first-parent`` of
every upstream commit (the file versions it has had, dates, subjects, security fixes), plus ``ls-tree``,
``describe`` and ``for-each-ref`` for its tags.

Per fork (:func:`fork_facts`): one ``rev-list --left-right --boundary`` walk (what upstream gained, the fork's own
commit ids and the merge base; ``merge-base`` only when the walk leaves it ambiguous); one ``log --raw -p -U0`` of the
fork's own commits (messages, files and the added/removed lines the terms, the presence checks and the patch
comparison all read); one ``diff -z --raw --numstat -M`` from the merge base (every file change and line count); the
patches of the upstream commits that touch the same files, in one ``log --no-walk -p -U0`` (``index/presence.py``;
``log --cherry-mark`` when there are very many); blob reads through a persistent ``cat-file`` process; and, with
merge facts on, ``merge-tree`` and the replay of its commits (``index/merge.py``). Nothing is computed twice.
"""

from __future__ import annotations

import hashlib
import re
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

from forkwise.index import presence, security, statements
from forkwise.index import readme as readme_mod
from forkwise.index.gitio import GitError, blob_sizes, read_blob, read_blobs, records, run, tree_names
from forkwise.index.kinds import file_kind, top_folder
from forkwise.index.licenses import UNKNOWN
from forkwise.index.manifests import LICENSE_DIRS, is_license, is_manifest, license_info, package_info
from forkwise.index.merge import Replay, merge_facts, port_ref
from forkwise.index.models import (
    BranchFact,
    CommitFact,
    FileChange,
    ForkFacts,
    GroupStat,
    LicenseChange,
    LicenseInfo,
    PackageChange,
    ReadmeDiff,
    Statement,
    UpstreamFacts,
    UpstreamGain,
)
from forkwise.index.terms import TermDoc, TermScore, Vocabulary, distinctive, is_bot_commit, subject_text

UPSTREAM_REF = "refs/upstream/target"
RS, NUL, US = "\x1e", "\x00", "\x1f"
_STATUS = {"A": "added", "M": "modified", "D": "deleted", "R": "renamed", "C": "copied", "T": "type-changed"}


def _iso(text: str) -> datetime:
    return datetime.fromisoformat(text.strip())


@dataclass
class UpstreamHistory:
    """What upstream's whole history says, read once per run (only when a fork needs it)."""

    versions: set[tuple[str, str]]
    """(path, blob) for every version of every file upstream has had (from tree diffs: no blob is read)."""
    security: dict[str, str]
    """Commit SHA → strong evidence that it fixes a vulnerability (:mod:`forkwise.index.security`)."""
    subjects: dict[str, str] = field(default_factory=dict)
    """Subjects of those commits."""
    tree_size: dict[str, int] = field(default_factory=dict)
    """Files in the tree of each commit on upstream's first-parent line (from the head's count and each commit's
    additions and deletions against its first parent)."""
    dates: dict[str, str] = field(default_factory=dict)
    """Commit SHA → committer date (ISO 8601, as git writes it) for every commit reachable from upstream's head."""
    recent_subjects: list[str] = field(default_factory=list)
    """The subjects of the newest commits (up to 3,000, newest first): part of upstream's vocabulary."""
    touched: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Commit SHA → the files it changed (commits that are not merges)."""
    merge_touched: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Merge commit SHA → the files it changed against its first parent (what it brought in, resolutions included)."""


@dataclass
class UpstreamContext:
    """What every fork's analysis shares: the mirror, upstream's head and vocabulary, and per-base caches."""

    mirror: Path
    head: str
    last_commit_date: datetime
    vocab_docs: list[str]
    """Upstream's paths and README paragraphs: with its recent subjects (from the history scan), its vocabulary."""
    timeout: float = 600.0
    head_describe: str | None = None
    names: tuple[str, ...] = ()
    """The project's and its owner's names: never a term of what a fork is for."""
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _tree: dict[str, list[str]] = field(default_factory=dict)
    _roots: dict[str, list[str]] = field(default_factory=dict)
    _head_paths: frozenset[str] | None = None
    _license: dict[str, LicenseInfo] = field(default_factory=dict)
    _history_lock: threading.Lock = field(default_factory=threading.Lock)
    _history: UpstreamHistory | None = None
    _vocab: Vocabulary | None = None
    _terms_vocab: Vocabulary | None = None

    def vocab(self) -> Vocabulary:
        """Upstream's vocabulary (paths, README paragraphs, recent subjects), built once when a fork needs it."""
        history = self.history()
        with self._history_lock:
            if self._vocab is None:
                self._vocab = Vocabulary.build([*self.vocab_docs, *history.recent_subjects])
            return self._vocab

    def terms_vocab(self) -> Vocabulary:
        """The background for distinctive terms: :meth:`vocab` plus the text of a sample of upstream's code files (so
        an identifier upstream already uses everywhere is not the fork's), read once, only when a fork needs it."""
        vocab = self.vocab()
        with self._history_lock:
            if self._terms_vocab is None:
                self._terms_vocab = vocab.with_code(_code_sample(self))
            return self._terms_vocab

    def history(self) -> UpstreamHistory:
        """Upstream's history, scanned once: one ``log --raw`` of every commit (messages and tree diffs)."""
        with self._history_lock:
            if self._history is None:
                self._history = _scan_history(self)
            return self._history

    def head_paths(self) -> frozenset[str]:
        """Upstream's paths at its head, as a set (built once)."""
        with self._lock:
            if self._head_paths is None:
                self._head_paths = frozenset(self._tree[self.head]) if self.head in self._tree else None
        return self._head_paths if self._head_paths is not None else frozenset(self.tree(self.head))

    def tree_size(self, rev: str) -> int:
        """Files in ``rev``'s tree: from the history scan for commits on upstream's first-parent line, else listed."""
        size = self.history().tree_size.get(rev)
        return size if size is not None else len(self.tree(rev))

    def root_names(self, rev: str) -> list[str]:
        """The names at the root of ``rev``'s tree (one read through the persistent ``cat-file``)."""
        with self._lock:
            if rev in self._tree:
                return [p for p in self._tree[rev] if "/" not in p]
            if rev in self._roots:
                return self._roots[rev]
        names = tree_names(self.mirror, rev)
        with self._lock:
            self._roots[rev] = names
        return names

    def git(self, *args: str, ok_codes: tuple[int, ...] = (0,)) -> str:
        return run(self.mirror, *args, timeout=self.timeout, ok_codes=ok_codes)

    def git_with(self, *args: str, **kw: Any) -> str:
        """:meth:`git` taking :func:`forkwise.index.gitio.run`'s extras (``env``, ``status``, ``ok_codes``)."""
        return run(self.mirror, *args, timeout=self.timeout, **kw)

    def tree(self, rev: str) -> list[str]:
        with self._lock:
            if rev in self._tree:
                return self._tree[rev]
        files = self.git("ls-tree", "-r", "--name-only", "-z", rev).split(NUL)
        files = [f for f in files if f]
        with self._lock:
            self._tree[rev] = files
        return files

    def describe_many(self, revs: list[str]) -> dict[str, str | None]:
        """``git describe --tags`` for many commits in one call; None where no tag is reachable."""
        revs = list(dict.fromkeys(revs))
        if not revs:
            return {}
        out = self.git("describe", "--tags", "--abbrev=7", "--always", *revs).split()
        return {r: (None if r.startswith(d) else d) for r, d in zip(revs, out, strict=True)}

    def license_at(self, rev: str) -> LicenseInfo:
        """The licence at ``rev``: its licence file by name at the root (or in a root ``license/`` folder), named by
        comparing the text with the SPDX texts; else, or when the text matches none, what a root manifest's
        metadata says (licence field, classifiers); ``unknown`` when a file is there and nothing tells."""
        with self._lock:
            if rev in self._license:
                return self._license[rev]
        root = self.root_names(rev)
        names = sorted((p for p in root if is_license(p)), key=lambda p: (len(p), p))  # LICENSE before LICENSE-x
        for folder in (p for p in root if p.lower() in LICENSE_DIRS):
            names += [f"{folder}/{n}" for n in tree_names(self.mirror, f"{rev}:{folder}")]
        info = LicenseInfo(path=None, spdx=None)
        for name in dict.fromkeys(names):
            data = read_blob(self.mirror, f"{rev}:{name}")
            if data is not None:
                info = license_info(name, _text(data))
                if info.spdx not in (None, UNKNOWN):
                    break
        if info.spdx in (None, UNKNOWN):
            for manifest in (p for p in root if is_manifest(p)):
                pkg = package_info(manifest, _text(read_blob(self.mirror, f"{rev}:{manifest}")))
                if pkg is not None and pkg.license:
                    info = LicenseInfo(path=f"{manifest} (licence metadata)", spdx=pkg.license)
                    break
        with self._lock:
            self._license[rev] = info
        return info


def _text(data: bytes | None) -> str | None:
    return None if data is None else data.decode("utf-8", "replace")


CODE_SAMPLE_FILES = 80
CODE_SAMPLE_BYTES = 12_000
ADDED_LINES = 400


def _code_sample(ctx: UpstreamContext) -> list[str]:
    """Up to ``CODE_SAMPLE_FILES`` source, test and doc files at upstream's head (a stable pseudo-random sample),
    each cut at ``CODE_SAMPLE_BYTES``, read by one ``cat-file`` process."""
    files = [p for p in ctx.tree(ctx.head) if file_kind(p) in ("source", "tests", "docs", "build")]
    files.sort(key=lambda p: hashlib.sha1(p.encode()).digest())
    specs = [f"{ctx.head}:{path}" for path in files[:CODE_SAMPLE_FILES]]
    blobs = read_blobs(ctx.mirror, specs, limit=4 * CODE_SAMPLE_BYTES, timeout=ctx.timeout)
    return [blobs[s][:CODE_SAMPLE_BYTES].decode("utf-8", "replace") for s in specs if s in blobs]


def _added_lines(
    unique: list[CommitFact], deltas: dict[str, list[presence.FileDelta]], changes: list[FileChange]
) -> dict[str, str]:
    """The significant lines the fork's own commits added, per file it still has as its own work (up to
    ``ADDED_LINES`` per file), from the patches :func:`_own_commits` read."""
    wanted = {c.path for c in changes if not c.binary and c.status != "deleted" and c.kind != "vendored"}
    added: dict[str, list[str]] = {}
    for c in unique:
        for d in deltas.get(c.sha, []):
            if d.path in wanted:
                lines = added.setdefault(d.path, [])
                lines.extend(sorted(d.added)[: ADDED_LINES - len(lines)])
    return {p: "\n".join(lines) for p, lines in added.items()}


_RAW = re.compile(r"^:\d+ \d+ \w+ (\w+) (\w)\w*\t(.*)$", re.M)


def _scan_history(ctx: UpstreamContext) -> UpstreamHistory:
    """One ``log --raw`` of every commit upstream has (merges against their first parent): the file versions it has
    had, its security fixes, commit dates, recent subjects, and the tree size along its first-parent line."""
    out = ctx.git(
        "log", "--raw", "--no-abbrev", "--no-renames", "--diff-merges=first-parent",
        f"--format={RS}%H%x00%P%x00%cI%x00%B{US}", ctx.head,
    )  # fmt: skip
    versions: set[tuple[str, str]] = set()
    found: dict[str, str] = {}
    subjects: dict[str, str] = {}
    dates: dict[str, str] = {}
    recent: list[str] = []
    first_parent: dict[str, str] = {}
    net: dict[str, int] = {}  # files added minus deleted against the first parent
    touched: dict[str, tuple[str, ...]] = {}
    merge_touched: dict[str, tuple[str, ...]] = {}
    for chunk in records(out):
        header, _, raw = chunk.partition(US)
        sha, parents, date, message = [*header.split(NUL), "", "", ""][:4]
        dates[sha] = date
        if len(recent) < 3000:
            recent.append(message.split("\n", 1)[0])
        parent_list = parents.split()
        is_merge = len(parent_list) > 1
        if parent_list:
            first_parent[sha] = parent_list[0]
        paths = []
        delta = 0
        for blob, status, path in _RAW.findall(raw):
            delta += (status == "A") - (status == "D")
            path = _unquote(path)
            if is_merge:  # a merge's first-parent diff counts files; its blobs come from commits seen on their own
                paths.append(path)
                continue
            paths.append(path)
            if status != "D":
                versions.add((path, blob))
        net[sha] = delta
        if not is_merge:
            touched[sha] = tuple(paths)
        else:
            merge_touched[sha] = tuple(paths)
        if security.candidate(message):
            ev = security.evidence(message, paths, is_merge=is_merge)
            if ev:
                found[sha] = ev
                subjects[sha] = message.split("\n", 1)[0][:300]
    size = len(ctx.tree(ctx.head))
    sizes = {ctx.head: size}
    sha = ctx.head
    while sha in first_parent and sha in net:
        size -= net[sha]
        sha = first_parent[sha]
        sizes[sha] = size
    return UpstreamHistory(
        versions=versions,
        security=found,
        subjects=subjects,
        tree_size=sizes,
        dates=dates,
        recent_subjects=recent,
        touched=touched,
        merge_touched=merge_touched,
    )


def upstream_facts(
    mirror: Path,
    name: str,
    url: str,
    ref: str,
    default_branch: str | None,
    as_of: datetime,
    timeout: float = 600.0,
) -> tuple[UpstreamFacts, UpstreamContext]:
    """Summary facts about upstream and the shared context for fork analysis."""
    head, date = run(mirror, "log", "-1", "--format=%H%x00%cI", UPSTREAM_REF, timeout=timeout).strip().split(NUL)
    last = _iso(date)
    files = [f for f in run(mirror, "ls-tree", "-r", "--name-only", "-z", head, timeout=timeout).split(NUL) if f]
    readme_path, text = readme_mod.read_at(mirror, head, files)
    paragraphs = [p for p in (text or "").split("\n\n") if p.strip()]
    ctx = UpstreamContext(
        mirror=mirror,
        head=head,
        last_commit_date=last,
        vocab_docs=[*files, *paragraphs],
        timeout=timeout,
        names=tuple(name.split("/")),
    )
    described = run(mirror, "describe", "--tags", "--abbrev=7", head, timeout=timeout, ok_codes=(0, 128)).strip()
    ctx.head_describe = described or None
    ctx._tree[head] = files
    since = (as_of - timedelta(days=365)).isoformat()
    dates = [_iso(d) for d in run(mirror, "log", f"--since={since}", "--format=%cI", head).split()]
    tags_out = run(
        mirror,
        "for-each-ref",
        "--sort=-creatordate",
        "--count=10",
        f"--merged={head}",  # only tags the compared upstream ref contains
        "--format=%(refname:short)%00%(creatordate:iso-strict)",
        "refs/tags",
    )
    tags = [(t, _iso(d)) for t, _, d in (ln.partition(NUL) for ln in tags_out.splitlines()) if d]
    facts = UpstreamFacts(
        name=name,
        url=url,
        ref=ref,
        head=head,
        default_branch=default_branch,
        last_commit_date=last,
        readme_path=readme_path,
        readme_title=readme_mod.title(text) if text else None,
        readme_lead=readme_mod.lead(text) if text else "",
        readme_lead_markdown=readme_mod.lead_markdown(text) if text else "",
        successors=statements.successors(text),
        head_describe=ctx.head_describe,
        commits_30d=sum(d >= as_of - timedelta(days=30) for d in dates),
        commits_90d=sum(d >= as_of - timedelta(days=90) for d in dates),
        commits_365d=len(dates),
        tags=tags,
        files=len(files),
    )
    return facts, ctx


def _unquote(path: str) -> str:
    if len(path) >= 2 and path[0] == '"' and path[-1] == '"':
        return (
            path[1:-1]
            .encode("latin-1", "backslashreplace")
            .decode("unicode_escape")
            .encode("latin-1", "replace")
            .decode("utf-8", "replace")
        )
    return path


def _parse_diff(out: str) -> list[dict[str, Any]]:
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


def fork_facts(
    ctx: UpstreamContext,
    key: str,
    *,
    head: str,
    default_branch: str | None,
    ref: str,
    branches: dict[str, str] | None = None,
    port_name: str | None = None,
) -> ForkFacts:
    """Compare ``refs/forks/<key>/target`` (at commit ``head``) with upstream's target in the mirror.

    ``branches``: the fork's other branches (name → SHA) to check for work upstream lacks. ``port_name``: the fork's
    name, to merge its work onto upstream and replay its own commits (:mod:`forkwise.index.merge`, kept at
    ``refs/forkwise/port/<name>``); None: no merge facts.
    Calls: one ``log --left-right --boundary`` (skipped for a mirror: both sides and the merge base, with
    ``merge-base`` only when the boundary is ambiguous); ``log --right-only --cherry-mark -p -U0`` when the fork
    has commits of its own (patch-id equivalence, files, and the lines each added); ``diff`` from the base.
    ``merge_base_describe`` is filled for all forks at once by :meth:`UpstreamContext.describe_many`.
    """
    up = ctx.head
    gained, ahead, boundary = _sides(ctx, head) if head != up else ([], set(), {})
    if not gained:  # upstream's head is in the fork
        base: str | None = up
    elif not ahead:  # the fork's head is in upstream
        base = head
    elif len(boundary) == 1:  # one boundary commit: the merge base
        base = next(iter(boundary))
    else:  # several (upstream merged older side branches), or none (unrelated): ask git
        base = ctx.git("merge-base", up, head, ok_codes=(0, 1)).strip() or None
    if base is None:
        return _unrelated(ctx, default_branch, ref, head).model_copy(
            update={"merge_note": "no history in common with upstream (no merge base): nothing to merge or replay"}
        )
    own, bodies, own_deltas = _own_commits(ctx, head, gained) if ahead else ([], {}, {})  # commits upstream lacks
    boundary.setdefault(up, ctx.last_commit_date)
    if base not in boundary:  # unusual topology: ask git directly
        boundary[base] = _iso(ctx.git("log", "-1", "--format=%cI", base))
    changes = _file_changes(ctx, base, head) if own else []
    own, gained = _presence(
        ctx, base, head, own, gained, {c.path for c in changes} | {c.old_path or "" for c in changes}, own_deltas
    )
    merges = [c for c in own if c.is_merge]
    unique = [c for c in own if not c.is_merge and not c.upstream_equivalent]
    mine = [c for c in changes if not c.copied]
    base_files = ctx.root_names(base) if changes else []  # the root: where READMEs and licences are
    readme, said = _readme(ctx, base, head, base_files, mine)
    packages = _packages(ctx, base, head, mine)
    said += statements.from_files(ctx.mirror, base, head, mine) + statements.from_packages(packages)
    merged, merge_note = None, None
    if port_name is not None and unique:
        skip = frozenset(c.sha for c in own if c.upstream_equivalent)
        history = ctx.history()
        upstream_paths = {p for g in gained for p in history.touched.get(g.sha, history.merge_touched.get(g.sha, ()))}
        fork_paths = {c.path for c in changes} | {c.old_path for c in changes if c.old_path}
        try:
            replay = Replay(git=ctx.git_with, mirror=ctx.mirror, onto=up, head=head, skip=skip, ref=port_ref(port_name))
            merged = merge_facts(
                replay, fork_paths=fork_paths, upstream_paths=upstream_paths, linear=not merges, own=own
            )
        except GitError as exc:
            merge_note = f"the merge could not be computed: {exc.message}"
    elif port_name is not None:
        merge_note = "nothing of its own to merge onto upstream: " + (
            "its commits upstream lacks are merges, or patches upstream already has" if own else "0 commits ahead"
        )
    return ForkFacts(
        upstream_ref=UPSTREAM_REF,
        upstream_head=up,
        ref=ref,
        default_branch=default_branch,
        head=head,
        shared_history=True,
        ahead=len(own),
        behind=len(gained),
        merge_base=base,
        merge_base_date=boundary[base],
        last_commit_date=max(c.date for c in own) if own else boundary[base],
        upstream_last_commit_date=ctx.last_commit_date,
        upstream_describe=ctx.head_describe,
        own_commits=own,
        unique_commits=len(unique),
        upstream_equivalent_commits=sum(c.upstream_equivalent for c in own),
        merge_commits=len(merges),
        upstream_merges=_upstream_merges(own, merges),
        readme=readme,
        license=_license(ctx, base, head, changes),
        packages=packages,
        statements=said,
        other_branches=_branches(ctx, key, head, branches or {}),
        upstream_gain=UpstreamGain(
            commits=len(gained),
            first_date=min((c.date for c in gained), default=None),
            last_date=max((c.date for c in gained), default=None),
            notable=[c for c in gained if isinstance(c, CommitFact)][:10],
        ),
        terms=_terms(ctx, unique, bodies, mine, readme, _added_lines(unique, own_deltas, mine)),
        merge=merged,
        merge_note=merge_note,
        **_change_counts(changes, ctx.tree_size(base) if changes else 0),
    )


CHERRY_CANDIDATES = 200
"""Upstream commits touching the fork's files beyond which git's own ``--cherry-mark`` compares the patches."""


def _own_commits(
    ctx: UpstreamContext, head: str, gained: list[CommitFact | Gained]
) -> tuple[list[CommitFact], dict[str, str], dict[str, list[presence.FileDelta]]]:
    """The fork's commits upstream lacks, newest first, each marked when its patch is already upstream; their
    message bodies (SHA → body) and the lines each added and removed (SHA → per-file deltas, ``-U0`` patches read
    in the same ``git log``: the terms, the presence checks and the patch comparison use them). Files over 1 MB
    count as binary, so one huge file cannot flood the output.

    "Already upstream" is decided like ``git log --cherry-mark`` but without diffing every commit upstream gained:
    only those that touch the same files (known from the history scan) can hold the same patch, and their ``-U0``
    patches are compared with the fork's (same files, same lines added and removed, whitespace-normalised)."""
    out = ctx.git(
        "-c", "core.bigFileThreshold=1m", "-c", "core.quotePath=false",
        "log", "--raw", "-p", "-U0", "--no-renames", "--no-color", "--no-ext-diff",
        f"--format={RS}%m%x00%H%x00%P%x00%an%x00%cI%x00%s%x00%b{US}", f"{ctx.head}..{head}",
    )  # fmt: skip
    commits, bodies, deltas = [], {}, {}
    for chunk in records(out):
        header, _, rest = chunk.partition(US)
        _mark, sha, parents, author, date, subject, body = [*header.split(NUL), "", "", "", "", "", ""][:7]
        raw, _, patch = rest.partition("\ndiff --git ")
        paths = [_unquote(ln.partition("\t")[2]) for ln in raw.splitlines() if ln.startswith(":")]
        bodies[sha] = body[:2000]
        if patch:
            deltas[sha] = presence.parse_patch("diff --git " + patch)
        evidence = security.evidence(f"{subject}\n{body}", paths, is_merge=len(parents.split()) > 1)
        key = _patch_key(paths, deltas.get(sha, [])) if len(parents.split()) <= 1 else None
        commits.append(
            CommitFact(
                sha=sha,
                subject=subject[:300],
                author=author,
                date=_iso(date),
                files=paths[:200],
                is_merge=len(parents.split()) > 1,
                security=evidence is not None,
                security_evidence=evidence,
                parents=parents.split(),
                patch=_digest(key) if key is not None else None,
            )
        )
    equivalent = _already_upstream(ctx, head, commits, deltas, gained)
    if equivalent:
        commits = [c.model_copy(update={"upstream_equivalent": True}) if c.sha in equivalent else c for c in commits]
    return commits, bodies, deltas


def _patch_key(files: list[str] | tuple[str, ...], deltas: list[presence.FileDelta]) -> frozenset[Any] | None:
    """What a patch changes: its files and, per file, the lines it added and removed (None: nothing to compare,
    e.g. only lines too short or trivial to count, which would make every such patch look like every other)."""
    if not files or not any(d.added or d.removed for d in deltas):
        return None
    lines = frozenset((d.path, frozenset(d.added), frozenset(d.removed)) for d in deltas)
    return frozenset([("files", frozenset(files)), ("lines", lines)])


def _digest(key: frozenset[Any]) -> str:
    """A stable hash of a patch key (sorted, so set order never matters)."""

    def canon(x: object) -> object:
        if isinstance(x, frozenset | set):
            return sorted((canon(v) for v in x), key=repr)
        if isinstance(x, tuple):
            return [canon(v) for v in x]
        return x

    return hashlib.sha1(repr(canon(key)).encode()).hexdigest()[:16]


def _already_upstream(
    ctx: UpstreamContext,
    head: str,
    commits: list[CommitFact],
    deltas: dict[str, list[presence.FileDelta]],
    gained: list[CommitFact | Gained],
) -> set[str]:
    """The fork's commits whose patch upstream has among the commits it gained since the fork point."""
    own = [c for c in commits if not c.is_merge]
    if not own or not gained:
        return set()
    touched = ctx.history().touched
    mine = {p for c in own for p in c.files}
    candidates = [g.sha for g in gained if not mine.isdisjoint(touched.get(g.sha, ()))]
    if not candidates:
        return set()
    if len(candidates) > CHERRY_CANDIDATES:  # many: git compares patch-ids itself
        marks = ctx.git("log", "--right-only", "--cherry-mark", "--no-merges", "--format=%m%H", f"{ctx.head}...{head}")
        return {ln[1:] for ln in marks.split() if ln.startswith("=")}
    theirs = presence.many_deltas(ctx.mirror, candidates, ctx.timeout)
    keys = {_patch_key(touched[sha], ds) for sha, ds in theirs.items()} - {None}
    return {c.sha for c in own if _patch_key(c.files, deltas.get(c.sha, [])) in keys}


class Gained(NamedTuple):
    """A commit upstream gained that no verdict cites: its SHA and date are all that is kept."""

    sha: str
    date: datetime
    security: bool = False


def _sides(ctx: UpstreamContext, head: str) -> tuple[list[CommitFact | Gained], set[str], dict[str, datetime]]:
    """One ``rev-list --left-right --boundary`` walk: what upstream gained since the fork point (the left side), the
    SHAs of the fork's own commits (the right side) and the boundary commits (the merge base is among them: the
    only one, when there is one). Dates and subjects come from the history scan (every commit upstream has)."""
    out = ctx.git("rev-list", "--left-right", "--boundary", f"{ctx.head}...{head}")
    history = ctx.history()
    gained: list[CommitFact | Gained] = []
    ahead: set[str] = set()
    boundary: dict[str, datetime] = {}

    def date(sha: str) -> datetime:
        known = history.dates.get(sha)
        return _iso(known if known else ctx.git("log", "-1", "--format=%cI", sha))

    for line in out.split():
        mark, sha = line[0], line[1:]
        if mark == "-":
            boundary[sha] = date(sha)
        elif mark == ">":
            ahead.add(sha)
        elif (ev := history.security.get(sha)) is not None:  # a full record only for what a verdict may cite
            subject = history.subjects.get(sha, "")
            gained.append(
                CommitFact(sha=sha, subject=subject, author="", date=date(sha), security=True, security_evidence=ev)
            )
        else:
            gained.append(Gained(sha, date(sha)))
    return gained, ahead, boundary


def _presence(
    ctx: UpstreamContext,
    base: str,
    head: str,
    own: list[CommitFact],
    gained: list[CommitFact | Gained],
    fork_paths: set[str],
    known: dict[str, list[presence.FileDelta]],
) -> tuple[list[CommitFact], list[CommitFact | Gained]]:
    """Commits checked against the other side's files (:mod:`forkwise.index.presence`): every security fix either
    way (a side that holds the change is never said to lack it, whatever the SHA or patch-id), and all of a small
    fork's own commits (a fork whose every change upstream already made adds nothing)."""
    cap = 10  # the ones a verdict may cite
    small = 5

    upstream_paths: set[str] | None = None

    def upstream_untouched(path: str) -> bool:
        nonlocal upstream_paths
        if upstream_paths is None:  # what upstream changed since the two sides parted
            upstream_paths = set(ctx.git("diff", "--name-only", "--no-renames", base, ctx.head).splitlines())
        return path not in upstream_paths

    def touching(rev_range: list[str], paths: list[str]) -> list[str]:
        if not paths:
            return []
        return ctx.git("log", "-n", "30", "--no-merges", "--format=%H", *rev_range, "--", *paths).split()

    def checked(c: CommitFact, deltas: list[presence.FileDelta], tree: str, others: list[str]) -> CommitFact:
        untouched = upstream_untouched if tree == ctx.head else (lambda p: p not in fork_paths)
        state = presence.state(ctx.mirror, deltas, tree, untouched)
        landed = None
        if state == "holds":  # where the other side has it: its commits this side lacks, on the same files
            landed = presence.same_change(ctx.mirror, deltas, touching(others, [d.path for d in deltas]))
        return c.model_copy(update={"counterpart": state, "landed_as": landed})

    unique = [c for c in own if not c.is_merge and not c.upstream_equivalent]
    own_fixes = unique if len(unique) <= small else [c for c in unique if c.security][:cap]
    up_fixes = [c for c in gained if isinstance(c, CommitFact)][:cap]
    missing = [c.sha for c in (*own_fixes, *up_fixes) if c.sha not in known]  # own commits' deltas are read
    deltas = {**known, **presence.many_deltas(ctx.mirror, missing, ctx.timeout)}
    done: dict[str, CommitFact] = {}
    for c in own_fixes:
        done[c.sha] = checked(c, deltas.get(c.sha, []), ctx.head, [ctx.head, "--not", head])
    for c in up_fixes:
        done[c.sha] = checked(c, deltas.get(c.sha, []), head, [head, "--not", ctx.head])
    return [done.get(c.sha, c) for c in own], [done.get(c.sha, c) for c in gained]


def _upstream_merges(own: list[CommitFact], merges: list[CommitFact]) -> int:
    """Merges that brought upstream in: one of their other parents is not among the fork's own commits (a parent
    of a commit the fork has is either one of its own commits or reachable from upstream's head)."""
    mine = {c.sha for c in own}
    return sum(any(p not in mine for p in c.parents[1:]) for c in merges)


def _change_counts(changes: list[FileChange], n_base: int) -> dict[str, Any]:
    """The diff's numbers (the :class:`ForkFacts` fields about files and lines), all from one ``git diff``.

    Every number but ``copied_*`` counts the fork's own changes: a file whose version upstream has had
    (copied or ported, not merged) is upstream's work, not the fork's."""
    copied = [c for c in changes if c.copied]
    mine = [c for c in changes if not c.copied]
    by_folder: dict[str, GroupStat] = {}
    by_kind: dict[str, GroupStat] = {}
    for c in mine:
        for groups, k in ((by_folder, c.top), (by_kind, c.kind)):
            g = groups.get(k, GroupStat())
            groups[k] = GroupStat(
                files=g.files + 1, added=g.added + (c.added or 0), deleted=g.deleted + (c.deleted or 0)
            )
    deleted = sum(c.status == "deleted" for c in mine)
    touched = sum(c.status in ("deleted", "modified", "renamed", "type-changed") for c in mine)
    binaries = [c for c in mine if c.binary and c.size is not None]
    return {
        "files": changes,
        "copied_files": len(copied),
        "copied_lines_added": sum(c.added or 0 for c in copied),
        "copied_lines_deleted": sum(c.deleted or 0 for c in copied),
        "by_folder": dict(sorted(by_folder.items())),
        "by_kind": dict(sorted(by_kind.items())),
        "lines_added": sum(c.added or 0 for c in mine),
        "lines_deleted": sum(c.deleted or 0 for c in mine),
        "files_added": sum(c.status in ("added", "copied") for c in mine),
        "files_modified": sum(c.status in ("modified", "type-changed") for c in mine),
        "files_deleted": deleted,
        "files_renamed": sum(c.status == "renamed" for c in mine),
        "base_tree_files": n_base,
        "deleted_share": round(deleted / n_base, 4) if n_base else 0.0,
        "touched_share": round(touched / n_base, 4) if n_base else 0.0,
        "largest_binary": max(binaries, key=lambda c: c.size or 0) if binaries else None,
    }


def _terms(
    ctx: UpstreamContext,
    unique: list[CommitFact],
    bodies: dict[str, str],
    changes: list[FileChange],
    readme: ReadmeDiff,
    added: dict[str, str],
) -> list[TermScore]:
    """What the fork is for: terms of its commit messages, the files it added or changed (paths and the
    identifiers in the lines it added) and its new README headings, against upstream's own vocabulary."""
    docs = [
        TermDoc(evidence=f"commit:{c.sha}", text=subject_text(c.subject) + "\n" + _body_text(bodies.get(c.sha, "")))
        for c in unique
        if not is_bot_commit(c.subject, c.author)
    ]
    docs += [
        TermDoc(evidence=f"file:{c.path}", text=c.path, code=added.get(c.path, ""), added=c.status == "added")
        for c in changes
        # CI config says how it is built, a licence under what terms: neither says what the fork is for
        if c.status != "deleted" and c.kind not in ("ci", "vendored") and not is_license(c.path)
    ]
    docs += [
        TermDoc(evidence=f"readme:{s.heading}", text=s.heading)
        for s in readme.sections
        if s.change != "removed" and s.heading != readme_mod.INTRO
    ]
    if not docs:
        return []
    # people are never what a fork is for: its authors' names and handles are left out like the project's own
    people = {w for c in unique for w in re.split(r"[^a-z0-9]+", c.author.lower()) if len(w) >= 3}
    found = distinctive(docs, ctx.terms_vocab() if added else ctx.vocab(), exclude=(*ctx.names, *people))
    return [t for t in found if not _HEXISH.fullmatch(t.term)]


_HEXISH = re.compile(r"(?=[0-9a-f]*\d)[0-9a-f]{6,40}|\d+")
_TRAILER = re.compile(
    r"^[\w-]+: .*$|^\s*\*? ?Merge (pull request|branch) .*$"
    r"|^\s*(co-)?(authored|written|reviewed|approved|signed)[ -]by\b.*$",
    re.M | re.I,
)


def _body_text(body: str) -> str:
    """A commit body without trailers (``Signed-off-by:``, ``Co-authored-by:``) and merge lines."""
    return _TRAILER.sub("", body)


def _file_changes(ctx: UpstreamContext, base: str, head: str) -> list[FileChange]:
    out = ctx.git("diff", "-z", "--raw", "--numstat", "-M", "--no-abbrev", base, head)
    entries = _parse_diff(out)
    sizes = blob_sizes(ctx.mirror, [e["sha"] for e in entries if e["status"] != "D"])
    versions = ctx.history().versions
    upstream_now = ctx.head_paths()
    changes = []
    for e in entries:
        path = e["path"]
        # a deletion upstream made too is upstream's; a version upstream has had at this path is upstream's
        # (a rename to a new path is the fork's own change)
        copied = path not in upstream_now if e["status"] == "D" else (path, e["sha"]) in versions
        changes.append(
            FileChange(
                path=path,
                old_path=e["old"],
                # _STATUS maps git's letters onto FileChange's literal statuses; a dict's values type cannot say so
                status=_STATUS.get(e["status"], "modified"),  # type: ignore[arg-type]
                added=e["added"],
                deleted=e["deleted"],
                binary=e["binary"],
                size=None if e["status"] == "D" else sizes.get(e["sha"]),
                blob=None if e["status"] == "D" else e["sha"],
                kind=file_kind(path, e["binary"]),
                top=top_folder(path),
                copied=copied,
            )
        )
    return changes


def _readme(
    ctx: UpstreamContext, base: str, head: str, base_files: list[str], changes: list[FileChange]
) -> tuple[ReadmeDiff, list[Statement]]:
    """The README diff, and what the fork says about itself in its README (:mod:`forkwise.index.statements`)."""
    changed = [c for c in changes if readme_mod.is_readme(c.path) or (c.old_path and readme_mod.is_readme(c.old_path))]
    if not changed:
        return ReadmeDiff(path=readme_mod.find_readme(base_files) if base_files else None, changed=False), []
    c = sorted(changed, key=lambda c: (not c.path.lower().endswith(".md"), c.path))[0]
    before = _text(read_blob(ctx.mirror, f"{base}:{c.old_path or c.path}")) if c.status != "added" else None
    after = _text(read_blob(ctx.mirror, f"{head}:{c.path}")) if c.status != "deleted" else None
    diff = readme_mod.diff(c.path, before, after)
    return diff, statements.from_readme(diff, before, after)


def _license(ctx: UpstreamContext, base: str, head: str, changes: list[FileChange]) -> LicenseChange:
    """The licence on both sides; a change only when both are known and differ (a renamed file, or an unknown
    side, is none: "unknown" is said rather than guessed)."""
    before = ctx.license_at(base)
    touched = [
        c for c in changes if is_license(c.path) or (c.old_path and is_license(c.old_path)) or is_manifest(c.path)
    ]
    if not touched:
        return LicenseChange(changed=False, before=before, after=before)
    after = ctx.license_at(head)
    known = {before.spdx, after.spdx}.isdisjoint({None, UNKNOWN})
    return LicenseChange(changed=known and after.spdx != before.spdx, before=before, after=after)


def _packages(ctx: UpstreamContext, base: str, head: str, changes: list[FileChange]) -> list[PackageChange]:
    out = []
    for c in changes:
        if not is_manifest(c.path):
            continue
        b = package_info(c.path, _text(read_blob(ctx.mirror, f"{base}:{c.path}")))
        a = package_info(c.path, _text(read_blob(ctx.mirror, f"{head}:{c.path}")))
        out.append(
            PackageChange(
                manifest=c.path,
                before=b,
                after=a,
                name_changed=(b.name if b else None) != (a.name if a else None),
                version_changed=(b.version if b else None) != (a.version if a else None),
            )
        )
    return out


def _branches(ctx: UpstreamContext, key: str, head: str, branches: dict[str, str]) -> list[BranchFact]:
    """Other branches carrying commits upstream lacks (one ``rev-list`` per candidate branch)."""
    candidates = {n: s for n, s in branches.items() if s != head and s != ctx.head}
    if not candidates:
        return []
    out = ctx.git(
        "for-each-ref",
        f"--no-merged={ctx.head}",
        "--format=%(objectname)%00%(committerdate:iso-strict)",
        f"refs/forks/{key}/heads/",
    )
    dates = {sha: _iso(d) for sha, _, d in (ln.partition(NUL) for ln in out.splitlines())}
    facts = []
    for name, sha in candidates.items():
        if sha not in dates:
            continue
        ahead = int(ctx.git("rev-list", "--count", sha, "--not", ctx.head).strip())
        facts.append(BranchFact(name=name, head=sha, ahead=ahead, last_commit_date=dates[sha]))
    return sorted(facts, key=lambda b: (b.last_commit_date, b.name), reverse=True)


def _unrelated(ctx: UpstreamContext, default_branch: str | None, ref: str, head: str) -> ForkFacts:
    behind = int(ctx.git("rev-list", "--count", ctx.head).strip())
    return ForkFacts(
        upstream_ref=UPSTREAM_REF,
        upstream_head=ctx.head,
        ref=ref,
        default_branch=default_branch,
        head=head,
        shared_history=False,
        ahead=int(ctx.git("rev-list", "--count", head).strip()),
        behind=behind,
        merge_base=None,
        merge_base_date=None,
        last_commit_date=_iso(ctx.git("log", "-1", "--format=%cI", head)),
        upstream_last_commit_date=ctx.last_commit_date,
        upstream_gain=UpstreamGain(commits=behind, first_date=None, last_date=None),
    )
