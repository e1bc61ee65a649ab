"""One fork's facts against upstream (:func:`fork_facts`): its own commits (minus those already upstream), what
upstream gained, file changes, README, licence, packages, other branches, terms, presence checks and merges."""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from typing import Any, NamedTuple

from forkwise.index import presence, security, statements
from forkwise.index import readme as readme_mod
from forkwise.index.facts.common import (
    HEXISH,
    NUL,
    RS,
    STATUS,
    UPSTREAM_REF,
    US,
    body_text,
    iso,
    parse_diff,
    text_of,
    unquote,
)
from forkwise.index.facts.upstream import UpstreamContext
from forkwise.index.gitio import GitError, blob_sizes, read_blob, read_blobs, records
from forkwise.index.kinds import SCRIPT_MAX_BYTES, file_kind, may_be_script, script_kind, top_folder
from forkwise.index.licenses import UNKNOWN
from forkwise.index.manifests import is_license, is_manifest, package_info
from forkwise.index.merge import Replay, merge_facts, port_ref
from forkwise.index.models import (
    BranchFact,
    CommitFact,
    FileChange,
    ForkFacts,
    GroupStat,
    LicenseChange,
    PackageChange,
    ReadmeDiff,
    Statement,
    UpstreamGain,
)
from forkwise.index.terms import TermDoc, TermScore, distinctive, is_bot_commit, subject_text

ADDED_LINES = 400


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
        boundary[base] = iso(ctx.git("log", "-1", "--format=%cI", base))
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
        paths = [unquote(ln.partition("\t")[2]) for ln in raw.splitlines() if ln.startswith(":")]
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
                date=iso(date),
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
        return iso(known if known else ctx.git("log", "-1", "--format=%cI", sha))

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
        TermDoc(evidence=f"commit:{c.sha}", text=subject_text(c.subject) + "\n" + body_text(bodies.get(c.sha, "")))
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
    return [t for t in found if not HEXISH.fullmatch(t.term)]


def _file_changes(ctx: UpstreamContext, base: str, head: str) -> list[FileChange]:
    out = ctx.git("diff", "-z", "--raw", "--numstat", "-M", "--no-abbrev", base, head)
    entries = parse_diff(out)
    sizes = blob_sizes(ctx.mirror, [e["sha"] for e in entries if e["status"] != "D"])
    versions = ctx.history().versions
    upstream_now = ctx.head_paths()
    # extensionless files (git-flow's ``git-flow-feature``): a ``#!`` line makes them source, read in one batch
    maybe = [e["sha"] for e in entries if e["status"] != "D" and not e["binary"] and may_be_script(e["path"])]
    scripts = {sha for sha, data in read_blobs(ctx.mirror, maybe[:500], limit=SCRIPT_MAX_BYTES).items()
               if script_kind(data)} if maybe else set()  # fmt: skip
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
                # STATUS maps git's letters onto FileChange's literal statuses; a dict's values type cannot say so
                status=STATUS.get(e["status"], "modified"),  # type: ignore[arg-type]
                added=e["added"],
                deleted=e["deleted"],
                binary=e["binary"],
                size=None if e["status"] == "D" else sizes.get(e["sha"]),
                blob=None if e["status"] == "D" else e["sha"],
                kind="source" if e["sha"] in scripts and e["status"] != "D" else file_kind(path, e["binary"]),
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
    before = text_of(read_blob(ctx.mirror, f"{base}:{c.old_path or c.path}")) if c.status != "added" else None
    after = text_of(read_blob(ctx.mirror, f"{head}:{c.path}")) if c.status != "deleted" else None
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
        b = package_info(c.path, text_of(read_blob(ctx.mirror, f"{base}:{c.path}")))
        a = package_info(c.path, text_of(read_blob(ctx.mirror, f"{head}:{c.path}")))
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
    dates = {sha: iso(d) for sha, _, d in (ln.partition(NUL) for ln in out.splitlines())}
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
        last_commit_date=iso(ctx.git("log", "-1", "--format=%cI", head)),
        upstream_last_commit_date=ctx.last_commit_date,
        upstream_gain=UpstreamGain(commits=behind, first_date=None, last_date=None),
    )
