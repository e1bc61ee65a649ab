"""Upstream, once per run: its summary facts (:func:`upstream_facts`) and the context every fork's analysis
shares (:class:`UpstreamContext`: trees, licences, vocabulary, and the history scan, read when a fork needs it)."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field, ValidationError

from forkwise.index.facts.common import NUL, RS, UPSTREAM_REF, US, iso, text_of, unquote
from forkwise.index.gitio import read_blob, read_blobs, records, run, tree_names
from forkwise.index.kinds import file_kind
from forkwise.index.licenses import UNKNOWN
from forkwise.index.models import (
    LicenseInfo,
    UpstreamFacts,
)

if TYPE_CHECKING:  # what reads upstream's README, manifests and history loads when a fork is analysed, not before:
    # a warm run (every fork's facts stored, upstream's head unchanged) needs none of it
    from forkwise.index.terms import Vocabulary


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
        from forkwise.index import readme as readme_mod
        from forkwise.index.terms import Vocabulary

        history = self.history()
        with self._history_lock:
            if self._vocab is None:
                files = self.tree(self.head)
                _, text = readme_mod.read_at(self.mirror, self.head, files)
                paragraphs = [p for p in (text or "").split("\n\n") if p.strip()]
                self._vocab = Vocabulary.build([*files, *paragraphs, *history.recent_subjects])
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
        from forkwise.index.manifests import LICENSE_DIRS, is_license, is_manifest, license_info, package_info

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
                info = license_info(name, text_of(data))
                if info.spdx not in (None, UNKNOWN):
                    break
        if info.spdx in (None, UNKNOWN):
            for manifest in (p for p in root if is_manifest(p)):
                pkg = package_info(manifest, text_of(read_blob(self.mirror, f"{rev}:{manifest}")))
                if pkg is not None and pkg.license:
                    info = LicenseInfo(path=f"{manifest} (licence metadata)", spdx=pkg.license)
                    break
        with self._lock:
            self._license[rev] = info
        return info


CODE_SAMPLE_FILES = 80
CODE_SAMPLE_BYTES = 12_000


def _code_sample(ctx: UpstreamContext) -> list[str]:
    """Up to ``CODE_SAMPLE_FILES`` source, test and doc files at upstream's head (a stable pseudo-random sample),
    each cut at ``CODE_SAMPLE_BYTES``, read by one ``cat-file`` process."""
    files = [p for p in ctx.tree(ctx.head) if file_kind(p) in ("source", "tests", "docs", "build")]
    files.sort(key=lambda p: hashlib.sha1(p.encode()).digest())
    specs = [f"{ctx.head}:{path}" for path in files[:CODE_SAMPLE_FILES]]
    blobs = read_blobs(ctx.mirror, specs, limit=4 * CODE_SAMPLE_BYTES, timeout=ctx.timeout)
    return [blobs[s][:CODE_SAMPLE_BYTES].decode("utf-8", "replace") for s in specs if s in blobs]


_RAW = re.compile(r"^:\d+ \d+ \w+ (\w+) (\w)\w*\t(.*)$", re.M)


def _scan_history(ctx: UpstreamContext) -> UpstreamHistory:
    """One ``log --raw`` of every commit upstream has (merges against their first parent): the file versions it has
    had, its security fixes, commit dates, recent subjects, and the tree size along its first-parent line."""
    from forkwise.index import security

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
            path = unquote(path)
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


class HeadFacts(BaseModel):
    """What upstream's head commit decides, kept beside the fork facts so a run whose upstream did not move neither
    lists the tree, parses the README nor asks git about tags and recent commits again.

    The tree and README parts depend on the head alone (``key``); the tags on the head and the tag refs
    (``tags_key``); the recent commit dates on the head and how far back they were read (``dates_since``): each part
    is read again when its own input changed."""

    key: str = Field(description="The analysis version and the head's SHA these were read from.")
    files: int
    readme_path: str | None
    readme_title: str | None
    readme_lead: str
    readme_lead_markdown: str
    successors: list[str]
    tags_key: str = Field(default="", description="sha1 of the tag refs `describe` and `tags` were read with.")
    describe: str | None = None
    tags: list[tuple[str, datetime]] = Field(default_factory=list)
    dates_since: datetime | None = Field(
        default=None, description="`dates` holds every commit of the head's history since this moment."
    )
    dates: list[datetime] = Field(default_factory=list, description="Committer dates, newest first.")


def _read_head(ctx: UpstreamContext, key: str) -> HeadFacts:
    from forkwise.index import readme as readme_mod
    from forkwise.index import statements

    files = ctx.tree(ctx.head)
    readme_path, text = readme_mod.read_at(ctx.mirror, ctx.head, files)
    return HeadFacts(
        key=key,
        files=len(files),
        readme_path=readme_path,
        readme_title=readme_mod.title(text) if text else None,
        readme_lead=readme_mod.lead(text) if text else "",
        readme_lead_markdown=readme_mod.lead_markdown(text) if text else "",
        successors=statements.successors(text),
    )


def head_facts(
    ctx: UpstreamContext, key: str, cache: Path | None, *, tags_key: str = "", since: datetime | None = None
) -> HeadFacts:
    """:class:`HeadFacts` of ``ctx.head``: each part from ``cache`` when it was written for this ``key`` (and
    ``tags_key``, and a window reaching back to ``since``), else read from git (and the file rewritten). A missing,
    unreadable or stale file is read again, never an error. Without ``since`` no dates are read."""
    known: HeadFacts | None = None
    if cache is not None:
        with contextlib.suppress(OSError, ValueError, ValidationError):
            known = HeadFacts.model_validate_json(cache.read_bytes())
    facts = known if known is not None and known.key == key else _read_head(ctx, key)
    update: dict[str, Any] = {}
    if facts is not known or facts.tags_key != tags_key:
        described = ctx.git("describe", "--tags", "--abbrev=7", ctx.head, ok_codes=(0, 128)).strip()
        listed = ctx.git(
            "for-each-ref", "--sort=-creatordate", "--count=10",
            f"--merged={ctx.head}",  # only tags the compared upstream ref contains
            "--format=%(refname:short)%00%(creatordate:iso-strict)", "refs/tags",
        )  # fmt: skip
        tags = [(t, iso(d)) for t, _, d in (ln.partition(NUL) for ln in listed.splitlines()) if d]
        update |= {"tags_key": tags_key, "describe": described or None, "tags": tags}
    if since is not None and (facts is not known or facts.dates_since is None or facts.dates_since > since):
        # whole seconds, as git reads the date; the window is cut exactly below, the same way for a cached list
        out = ctx.git("log", f"--since={since.replace(microsecond=0).isoformat()}", "--format=%cI", ctx.head)
        update |= {"dates_since": since, "dates": [iso(d) for d in out.split()]}
    if update:
        facts = facts.model_copy(update=update)
    if cache is not None and facts != known:
        with contextlib.suppress(OSError):
            cache.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
            tmp.write_text(facts.model_dump_json())
            tmp.replace(cache)
    return facts


def _head_and_tags(mirror: Path, timeout: float) -> tuple[str, datetime, str]:
    """Upstream's compared head, its committer date and a key of the tag refs, in one ``for-each-ref``. A head that
    is an annotated tag (a pinned release) is peeled by ``log``, whose date is its commit's."""
    out = run(
        mirror, "for-each-ref", "--format=%(objectname)%00%(*objectname)%00%(refname)%00%(creatordate:iso-strict)",
        UPSTREAM_REF, "refs/tags", timeout=timeout,
    )  # fmt: skip
    head, date, tags = "", "", []
    for line in out.splitlines():
        sha, peeled, ref, created = [*line.split(NUL), "", "", ""][:4]
        if ref == UPSTREAM_REF:
            head, date = ("", "") if peeled else (sha, created)
        else:
            tags.append(line)
    if not head:
        head, date = run(mirror, "log", "-1", "--format=%H%x00%cI", UPSTREAM_REF, timeout=timeout).strip().split(NUL)
    return head, iso(date), hashlib.sha1("\n".join(tags).encode()).hexdigest()


def upstream_facts(
    mirror: Path,
    name: str,
    url: str,
    ref: str,
    default_branch: str | None,
    as_of: datetime,
    timeout: float = 600.0,
    *,
    cache: Path | None = None,
    version: str = "",
) -> tuple[UpstreamFacts, UpstreamContext]:
    """Summary facts about upstream and the shared context for fork analysis. ``cache``: a file for what the head
    decides (:class:`HeadFacts`, keyed by ``version`` and the head); None reads it every time."""
    head, last, tags_key = _head_and_tags(mirror, timeout)
    ctx = UpstreamContext(
        mirror=mirror, head=head, last_commit_date=last, timeout=timeout, names=tuple(name.split("/"))
    )
    since = as_of - timedelta(days=365)
    at_head = head_facts(ctx, f"{version}:{head}", cache, tags_key=tags_key, since=since)
    ctx.head_describe = at_head.describe
    dates = [d for d in at_head.dates if d >= since]
    facts = UpstreamFacts(
        name=name,
        url=url,
        ref=ref,
        head=head,
        default_branch=default_branch,
        last_commit_date=last,
        readme_path=at_head.readme_path,
        readme_title=at_head.readme_title,
        readme_lead=at_head.readme_lead,
        readme_lead_markdown=at_head.readme_lead_markdown,
        successors=at_head.successors,
        head_describe=ctx.head_describe,
        commits_30d=sum(d >= as_of - timedelta(days=30) for d in dates),
        commits_90d=sum(d >= as_of - timedelta(days=90) for d in dates),
        commits_365d=len(dates),
        tags=at_head.tags,
        files=at_head.files,
    )
    return facts, ctx
