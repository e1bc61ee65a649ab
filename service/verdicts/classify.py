"""Archetypes: what kind of fork this is, by explicit rules over git facts, checked in a fixed order.

Each rule returns the archetype, a one-line explanation rendered from the facts, and the evidence IDs it
rests on. Thresholds live in :class:`Rules` so the explanation, the tests and the docs agree.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

from forkwise.index.kinds import file_kind
from forkwise.index.manifests import is_license
from forkwise.index.mirror import Rel
from forkwise.index.models import FileChange, ForkFacts
from forkwise.service.verdicts.prompts import count, pct

Archetype = Literal[
    "mirror",
    "stale-snapshot",
    "niche-variant",
    "feature-superset",
    "patch-fork",
    "continuation",
    "pruned",
    "diverged",
    "rebrand",
    "cosmetic",
    "unrelated",
]
ARCHETYPES: tuple[str, ...] = get_args(Archetype)
Recommendation = Literal["fork", "fork-for-niche", "upstream", "other-fork"]
"""``other-fork``: use the fork the classification names in ``relative_to`` instead (an older copy of it)."""
COSMETIC_KINDS = frozenset({"docs", "ci"})
REBRAND_KINDS = frozenset({"docs", "ci", "build", "other"})


class Rules(BaseModel):
    """Thresholds of the classifier."""

    model_config = ConfigDict(frozen=True)
    upstream_inactive_days: int = 365
    continuation_lead_days: int = 180
    continuation_min_commits: int = 8
    continuation_min_months: int = 3
    continuation_min_code_files: int = 3
    pruned_deleted_share: float = 0.25
    diverged_touched_share: float = 0.4
    diverged_min_lines: int = 300
    """Lines changed in upstream's files (added, deleted, renamed or modified ones; not files the fork added)."""
    diverged_min_commits: int = 5
    patch_max_commits: int = 3
    patch_max_lines: int = 150
    superset_max_behind: int = 25
    rebrand_max_source_lines: int = 20
    fork_max_behind: int = 25
    large_binary_mb: float = 10.0
    far_behind: int = 100
    idle_days: int = 365


Note = Literal[
    "security_fork",
    "other_branches",
    "security_upstream",
    "security_landed",
    "copied_upstream",
    "license_changed",
    "large_binary",
    "far_behind",
    "idle",
    "already_upstream",
    "merge_clean",
    "merge_conflicts",
    "port_partial",
    "default_continuation",
]
"""Extra claims a verdict makes beyond its archetype's own, each decided by :func:`notes` from the facts."""


class Classification(BaseModel):
    """Everything decided about a fork, from its facts alone; writers only phrase it."""

    model_config = ConfigDict(frozen=True)
    archetype: Archetype
    rule: str = Field(description="The rule that fired, rendered from the facts.")
    evidence: list[str]
    recommendation: Recommendation
    confidence: Literal["high", "medium", "low"]
    confidence_reason: str = Field(default="", description="Why the confidence is what it is, in a clause.")
    notes: list[Note] = Field(default_factory=list, description="Extra claims the verdict makes (see notes()).")
    template: str | None = Field(default=None, description="Verdict template when not the archetype's own.")
    relative_to: str | None = Field(default=None, description="The fork this one is described against.")
    relative_ahead: int = Field(default=0, description="Commits this fork has that relative_to lacks.")
    relative_behind: int = Field(default=0, description="Commits relative_to has that this fork lacks.")
    relative_merges: int = Field(default=0, description="How many of the relative_ahead commits are merges.")
    others: list[str] = Field(default_factory=list, description="For the default continuation: the other ones.")
    relations: dict[str, tuple[int, int]] = Field(
        default_factory=dict,
        description="Other fork → (commits this fork has that it lacks, commits it has that "
        "this fork lacks), from git, for the forks this verdict is described against.",
    )


class Breakdown(BaseModel):
    """The commits a fork has that upstream lacks, in parts that add up: ``ahead = own + merges + already_upstream
    + from_line``. Every surface shows this one breakdown, and a sentence's number says which part it is."""

    model_config = ConfigDict(frozen=True)
    ahead: int = Field(description="Commits upstream lacks (git rev-list upstream..fork).")
    own: int = Field(description="Of those, its own work: not merges, not already upstream, not another fork's.")
    merges: int = Field(description="Merge commits among them.")
    already_upstream: int = Field(description="Commits whose patch upstream already has (cherry-picked, rebased).")
    from_line: int = Field(default=0, description="Commits it shares with `line`, the fork it builds on.")
    line: str | None = Field(default=None, description="The fork whose line it builds on (its older state).")

    @property
    def text(self) -> str:
        """'581 commits upstream lacks: 520 of its own, 61 merges'."""
        if self.ahead == 0:
            return "no commit upstream lacks"
        parts = []
        if self.from_line:
            parts.append(f"{self.from_line} from {self.line}'s line")
        if self.own:
            parts.append(f"{self.own} of its own")
        if self.merges:
            parts.append(count(self.merges, "merge"))
        if self.already_upstream:
            parts.append(f"{self.already_upstream} already upstream (same patch)")
        head = f"{count(self.ahead, 'commit')} upstream lacks"
        if len(parts) == 1 and self.own == self.ahead:
            return f"{head}, all its own"
        if len(parts) == 1 and self.from_line == self.ahead:
            return f"{head}, all from {self.line}'s line"
        return f"{head}: " + ", ".join(parts)


def breakdown(f: ForkFacts, c: Classification) -> Breakdown:
    """The fork's :class:`Breakdown`: against upstream, or, for a fork described against another fork's line it
    shares commits with, its own part is what it adds beyond that fork (from git's comparison of the two)."""
    shared = f.ahead - c.relative_ahead
    if c.relative_to and shared > 0:
        merges = min(c.relative_merges, c.relative_ahead)
        return Breakdown(ahead=f.ahead, own=c.relative_ahead - merges, merges=merges, already_upstream=0,
                         from_line=shared, line=c.relative_to)  # fmt: skip
    merges = f.merge_commits
    already = f.upstream_equivalent_commits
    return Breakdown(ahead=f.ahead, own=max(f.ahead - merges - already, 0), merges=merges, already_upstream=already)


def _lines(f: ForkFacts, kinds: set[str] | frozenset[str] | None = None) -> int:
    return sum(g.added + g.deleted for k, g in f.by_kind.items() if kinds is None or k in kinds)


def tracks_upstream(f: ForkFacts, rules: Rules) -> bool:
    """Keeps up with upstream: merges it (and is not far behind), or is 0 behind an upstream that kept working
    after the fork point (0 behind an upstream that went quiet first says nothing about keeping up)."""
    if f.upstream_merges > 0 and f.behind <= rules.superset_max_behind:
        return True
    quiet_before = f.merge_base_date is not None and f.upstream_last_commit_date <= f.merge_base_date
    return f.behind == 0 and not (quiet_before and f.merge_base == f.upstream_head and f.ahead > 0 and _idle(f, rules))


def _idle(f: ForkFacts, rules: Rules) -> bool:
    """Upstream went quiet long before this fork's last commit."""
    return (f.last_commit_date - f.upstream_last_commit_date).days >= rules.continuation_lead_days


def classify(f: ForkFacts, as_of: datetime, rules: Rules = Rules()) -> Classification:
    """Where a verdict is decided: archetype (and the rule that fired), recommendation, confidence and notes."""
    archetype, rule, ev = _archetype(f, as_of, rules)
    confidence, why = _confidence(archetype, f, rules)
    return Classification(
        archetype=archetype,
        rule=rule,
        evidence=ev,
        recommendation=_recommend(archetype, f, rules),
        confidence=confidence,
        confidence_reason=why,
        notes=notes(archetype, f, as_of, rules),
    )


NO_MERGE: frozenset[str] = frozenset({"mirror", "stale-snapshot", "unrelated"})
"""Archetypes with nothing of their own to merge onto upstream: their merge facts are not stated."""
MERGE_NOTES: frozenset[str] = frozenset({"merge_clean", "merge_conflicts", "port_partial"})


def notes(a: Archetype, f: ForkFacts, as_of: datetime, r: Rules) -> list[Note]:
    """The claims beyond the archetype's own that hold for this fork, in the order verdicts state them."""
    big = f.largest_binary
    # copies have nothing of their own to merge; a continuation is the project now: porting it back is not the
    # question its verdict answers (its merge facts stay in the report and on the page)
    # and a fork 0 behind already holds upstream's head: "it merges onto today's upstream" would say nothing
    merge = f.merge if a not in NO_MERGE and a != "continuation" and f.behind > 0 else None
    held: dict[Note, bool] = {
        "security_fork": bool(security_commits(f)),
        "other_branches": bool(f.other_branches),
        "security_upstream": bool(upstream_security(f)) and a not in ("mirror", "unrelated"),
        "security_landed": bool(landed_security(f)),
        "copied_upstream": f.copied_files > 0 and a not in ("mirror", "unrelated"),
        "license_changed": f.license.changed,
        "large_binary": big is not None and round((big.size or 0) / 1_000_000, 1) >= r.large_binary_mb,
        "far_behind": f.behind >= r.far_behind and a != "unrelated",
        "idle": (as_of - f.last_commit_date).days >= r.idle_days and a not in ("mirror", "stale-snapshot", "unrelated"),
        "already_upstream": f.upstream_equivalent_commits > 0 and a not in ("mirror", "stale-snapshot"),
        "merge_clean": merge is not None and merge.clean,
        "merge_conflicts": merge is not None and not merge.clean,
        # one commit that does not apply is the merge conflict already stated: say it once
        "port_partial": merge is not None
        and merge.port is not None
        and merge.port.first_conflict is not None
        and merge.port.total > 1,
    }
    return [n for n, holds in held.items() if holds]


def _archetype(f: ForkFacts, as_of: datetime, r: Rules) -> tuple[Archetype, str, list[str]]:
    if not f.shared_history:
        return "unrelated", "it shares no commit with upstream (no merge base)", ["fact:shared_history"]
    if f.ahead == 0 and f.behind == 0:
        return "mirror", "its head is upstream's head", ["fact:ahead", "fact:behind"]
    if f.ahead == 0:
        return (
            "stale-snapshot",
            f"its head is an upstream commit: 0 ahead, {f.behind} behind",
            ["fact:ahead", "fact:behind", "fact:merge_base"],
        )
    held = held_upstream(f)
    if f.unique_commits and len(held) == f.unique_commits:
        arche1: Archetype = "stale-snapshot" if f.behind else "mirror"
        what = "its one commit's change is" if len(held) == 1 else f"the changes of its {len(held)} commits are"
        return (
            arche1,
            f"it adds nothing of its own: {what} already in upstream's files (committed there separately)",
            ["fact:unique_commits", *[f"commit:{s}" for s in held[:3]]],
        )
    if f.unique_commits and not own_changes(f):
        arche0: Archetype = "stale-snapshot" if f.behind else "mirror"
        n = len(f.files)
        if n:
            why0 = f"{'its changed file is' if n == 1 else f'all {n} files it changed are'} upstream's own versions"
        elif f.unique_commits == 1:
            why0 = "its one commit changes no file"
        else:
            why0 = f"its {f.unique_commits} own commits cancel out: its files are the merge base's"
        return arche0, f"it adds nothing of its own: {why0}", ["fact:unique_commits", "fact:files_changed"]
    if f.unique_commits == 0:
        why = []
        if f.upstream_equivalent_commits:
            why.append(f"{f.upstream_equivalent_commits} already upstream as the same patch")
        if f.merge_commits:
            why.append(count(f.merge_commits, "merge"))
        arche: Archetype = "stale-snapshot" if f.behind else "mirror"
        return (
            arche,
            f"none of its {count(f.ahead, 'own commit')} is new ({', '.join(why)})",
            ["fact:ahead", "fact:unique_commits", "fact:upstream_equivalent_commits"],
        )
    up_idle = (as_of - f.upstream_last_commit_date).days
    lead = (f.last_commit_date - f.upstream_last_commit_date).days
    if up_idle >= r.upstream_inactive_days and lead >= r.continuation_lead_days:
        sustained = _sustained(f, r)
        if sustained is not None:
            return (
                "continuation",
                f"upstream's last commit is {up_idle} days old; this fork committed {lead} days later, "
                f"with sustained work: {sustained}",
                ["fact:upstream_last_commit_date", "fact:last_commit_date", "fact:unique_commits", "fact:by_kind"],
            )
    if f.deleted_share >= r.pruned_deleted_share and f.lines_added * 3 < f.lines_deleted:
        return (
            "pruned",
            f"it deleted {f.files_deleted} of upstream's {f.base_tree_files} files "
            f"({pct(f.deleted_share)}) and added little",
            ["fact:deleted_share", "fact:files_changed"],
        )
    # a licence text is no measure of the work: a relicensed small fix stays a small fix
    total = (
        f.lines_added
        + f.lines_deleted
        - sum((c.added or 0) + (c.deleted or 0) for c in own_changes(f) if is_license(c.path))
    )
    # a rewrite changes upstream's own lines: files the fork added (new modules, vendored code) make no rewrite of
    # a small project whose few files it touched lightly
    rewritten = sum(
        (c.added or 0) + (c.deleted or 0)
        for c in own_changes(f)
        if c.status not in ("added", "copied") and not is_license(c.path)
    )
    if (
        f.touched_share >= r.diverged_touched_share
        and rewritten >= r.diverged_min_lines
        and f.unique_commits >= r.diverged_min_commits
    ):
        return (
            "diverged",
            f"it rewrote {pct(f.touched_share)} of upstream's files "
            f"({count(f.lines_added, 'line')} added, {f.lines_deleted} deleted)",
            ["fact:touched_share", "fact:files_changed"],
        )
    kinds = set(f.by_kind)
    renamed_pkg = [p for p in f.packages if p.name_changed]
    retitled = f.readme.changed and f.readme.title_before != f.readme.title_after
    if (
        (renamed_pkg or retitled)
        and kinds <= REBRAND_KINDS | {"source"}
        and _lines(f, {"source", "tests"}) <= r.rebrand_max_source_lines
    ):
        ev = [f"file:{p.manifest}" for p in renamed_pkg] + (["fact:readme_title"] if retitled else [])
        return "rebrand", "it renames the project and changes little else", [*ev, "fact:files_changed"]
    if kinds and kinds <= COSMETIC_KINDS:
        return (
            "cosmetic",
            f"it only changes {' and '.join(sorted(kinds))} files",
            ["fact:by_kind", "fact:files_changed"],
        )
    if f.unique_commits <= r.patch_max_commits and total <= r.patch_max_lines:
        return (
            "patch-fork",
            f"{count(f.unique_commits, 'commit')} of its own, {count(total, 'line')} changed",
            ["fact:unique_commits", "fact:files_changed"],
        )
    if tracks_upstream(f, r):
        return (
            "feature-superset",
            f"it keeps up with upstream ({f.behind} behind, {count(f.upstream_merges, 'merge')} "
            f"from upstream) and adds {count(f.unique_commits, 'commit')}",
            ["fact:behind", "fact:upstream_merges", "fact:unique_commits"],
        )
    return (
        "niche-variant",
        f"{count(f.unique_commits, 'commit')} of its own "
        + (f"on a base {count(f.behind, 'commit')} behind upstream" if f.behind else "on upstream's latest commit"),
        ["fact:unique_commits", "fact:behind"],
    )


CODE_KINDS = frozenset({"source", "build", "tests"})


def _sustained(f: ForkFacts, r: Rules) -> str | None:
    """Why the fork's work carries the project on (months active, commits, code breadth, authors or a version
    bump), or None when it is too narrow to call a continuation (a late patch, a data-only fork)."""
    unique = [c for c in f.own_commits if not c.is_merge and not c.upstream_equivalent]
    months = len({(c.date.year, c.date.month) for c in unique})
    authors = len({c.author for c in unique if c.author})
    code = sum(1 for c in own_changes(f) if c.kind in CODE_KINDS)
    bumped = any(p.version_changed for p in f.packages)
    if (
        len(unique) < r.continuation_min_commits
        or months < r.continuation_min_months
        or code < r.continuation_min_code_files
        or not (authors >= 2 or bumped)
    ):
        return None
    who = count(authors, "author") if authors >= 2 else "a version bump"
    return f"{count(len(unique), 'commit')} over {months} months across {count(code, 'code file')}, {who}"


def own_changes(f: ForkFacts) -> list[FileChange]:
    """The fork's own file changes: not copies of an upstream version."""
    return [c for c in f.files if not c.copied]


def held_upstream(f: ForkFacts) -> list[str]:
    """The fork's own commits whose change upstream's files already hold (same change, another commit)."""
    return [c.sha for c in f.own_commits if not c.is_merge and not c.upstream_equivalent and c.counterpart == "holds"]


def security_commits(f: ForkFacts) -> list[str]:
    """The fork's security fixes (strong evidence) whose change upstream's files lack (checked by content)."""
    return [
        c.sha
        for c in f.own_commits
        if c.security and not c.upstream_equivalent and not c.is_merge and c.counterpart == "lacks"
    ]


def upstream_security(f: ForkFacts) -> list[str]:
    """Upstream's security fixes since the fork point whose change the fork's files lack (checked by content)."""
    return [c.sha for c in f.upstream_gain.notable if c.security and c.counterpart == "lacks"]


def landed_security(f: ForkFacts) -> list[tuple[str, str | None]]:
    """The fork's security fixes upstream holds too (by content): (fork commit, upstream commit if found)."""
    return [
        (c.sha, c.landed_as)
        for c in f.own_commits
        if c.security and not c.is_merge and not c.upstream_equivalent and c.counterpart == "holds"
    ]


def _recommend(a: Archetype, f: ForkFacts, r: Rules) -> Recommendation:
    if a in ("mirror", "stale-snapshot", "cosmetic", "rebrand", "unrelated"):
        return "upstream"
    if a == "continuation":
        return "fork"
    if a in ("patch-fork", "feature-superset") and security_commits(f) and f.behind <= r.fork_max_behind:
        return "fork"
    return "fork-for-niche"


def added_licences(f: ForkFacts) -> list[str]:
    """The licences a fork's licence file names beside upstream's own (["LGPL-2.1"] when BSD-2-Clause became
    "BSD-2-Clause AND LGPL-2.1", the licence of a bundled library): not a relicensing. [] otherwise."""
    before, terms = f.license.before.spdx, (f.license.after.spdx or "").split(" AND ")
    return [t for t in terms if t != before] if before and before in terms and len(terms) > 1 else []


def _confidence(a: Archetype, f: ForkFacts, r: Rules) -> tuple[Literal["high", "medium", "low"], str]:
    """High for structural verdicts read straight off the graph; low when a licence change muddies it; medium when
    the verdict rests on counts and dates, and what the work is worth is for a reader to judge. With its reason."""
    if f.license.changed:
        added = added_licences(f)
        if added:
            return "low", f"its licence file adds {' and '.join(added)} to {f.license.before.spdx}"
        return "low", f"the licence changed from {f.license.before.spdx} to {f.license.after.spdx}"
    if a in ("mirror", "stale-snapshot", "unrelated", "cosmetic"):
        return "high", "read straight off the commit graph"
    return "medium", "from commit counts, dates and changed files; whether its work suits you is for you to judge"


RIDER_MAX_COMMITS = 10
"""A fork that holds a whole line of work and adds at most this many commits to its code (or 5% of the line's, if
more), none by the line's own authors, is a fork of that line, not where it is carried on (:func:`_rides_on`)."""


def _rides_on(outer: ForkFacts, inner: ForkFacts) -> bool:
    """Whether ``outer``, which holds every commit of ``inner``'s line, only adds a little to it by other hands:
    lifeready/gitflow-avh adds 2 code commits by its own team to the 692 of petervanderdoes/gitflow-avh (Peter van
    der Does's git-flow AVH Edition), theredcmdcraft/gitflow-avh its wiki's 216 page edits and none to the code, so
    the line is still petervanderdoes's. A fork whose extra code commits are by the line's own authors
    (PyMySQL/mysqlclient ahead of methane/mysqlclient, both Inada Naoki's) is where the line went, as before."""
    mine = {c.sha for c in inner.own_commits}
    extra = [c for c in outer.own_commits if c.sha not in mine and not c.is_merge]
    kinds = {c.path: c.kind for c in outer.files}
    code = [c for c in extra if any(kinds.get(p, file_kind(p)) in CODE_KINDS for p in c.files)]
    if not extra or len(code) > max(RIDER_MAX_COMMITS, inner.unique_commits // 20):
        return False
    authors = Counter(c.author for c in inner.own_commits if not c.is_merge)
    keepers = {a for a, n in authors.items() if n * 20 >= sum(authors.values())}  # 5% of the line's work or more
    return not keepers & {c.author for c in code}


def _authors_own(name: str, f: ForkFacts) -> bool:
    """Whether the repository's owner is the main author of its own commits (``petervanderdoes`` and "Peter van der
    Does"): of two copies of one line at the same commit, the author's is its home."""
    authors = Counter(c.author for c in f.own_commits if not c.is_merge and c.author)
    if not authors:
        return False
    top = re.sub(r"[^a-z0-9]", "", authors.most_common(1)[0][0].lower())
    owner = re.sub(r"[^a-z0-9]", "", name.split("/", 1)[0].lower())
    return len(owner) >= 4 and len(top) >= 4 and (owner in top or top in owner)


Relate = Callable[[list[tuple[str, str]]], dict[tuple[str, str], Rel]]
"""``relate(pairs)`` → for each pair (a, b), both ways: (commits a has that b lacks, commits b has that a lacks,
merges among the first)."""


def one_default(
    decided: dict[str, tuple[ForkFacts, Classification]], relate: Relate, stars: dict[str, int] | None = None
) -> dict[str, Classification]:
    """When forks carry an idle upstream on: one default (``fork``), every fork on its line described against it.

    Continuations are compared with each other (ahead/behind between them, from git); the default is the newest
    of those no other contains (then most commits, then stars). Then every other fork with commits of its own is
    compared with the default: one that shares the default's history and holds nothing it lacks is an older copy
    (``other-fork``: use the default); one that shares it and adds a little is a variant of an older state of it;
    another continuation with a line of its own stays a continuation, described as the less recent one.
    """
    stars = stars or {}
    out = {n: c for n, (_f, c) in decided.items()}
    facts = {n: f for n, (f, _c) in decided.items()}
    conts = sorted(n for n, c in out.items() if c.archetype == "continuation")
    if not conts:
        return out
    rel = relate([(a, b) for i, a in enumerate(conts) for b in conts[i + 1 :]])
    within = {(a, b) for a in conts for b in conts if a != b and rel[(a, b)].ahead == 0 and rel[(a, b)].behind > 0}
    # a fork that holds (nearly) all of a line and only adds a little by other hands leaves the line where its
    # authors keep it
    nearly = {
        (a, b)
        for a in conts
        for b in conts
        if a != b
        and rel[(a, b)].behind > 0
        and rel[(a, b)].ahead <= max(RIDER_MAX_COMMITS, facts[a].unique_commits // 50)
    }
    riders = {b for a, b in nearly if _rides_on(facts[b], facts[a])}
    contained = {a for a, b in within if b not in riders}
    default = max(
        [n for n in conts if n not in contained | riders] or [n for n in conts if n not in contained],
        key=lambda n: (
            facts[n].last_commit_date,
            facts[n].unique_commits,
            _authors_own(n, facts[n]),
            stars.get(n, 0),
            n,
        ),
    )
    rest = sorted(n for n in out if n != default and facts[n].ahead > 0 and facts[n].shared_history)
    rel |= relate([(n, default) for n in rest if (n, default) not in rel])
    others: list[str] = []
    for n in rest:
        mine, theirs, merges = rel[(n, default)]
        shared = facts[n].ahead - mine  # commits beyond upstream it shares with the default
        c, ev = out[n], [f"fact:relation:{default}"]
        if shared <= 0 and c.archetype != "continuation":
            continue  # not on the default's line: it stays what it is
        others.append(n)
        common = {
            "relative_to": default,
            "relative_ahead": mine,
            "relative_behind": theirs,
            "relative_merges": merges,
            "relations": {default: (mine, theirs)},
            "confidence": "medium",
            "confidence_reason": f"from git's comparison with {default}: which commits it shares, lacks and adds",
        }
        if mine == 0:
            where = f"{count(theirs, 'commit')} behind it" if theirs else "the same commit"
            update = {
                "archetype": "stale-snapshot",
                "template": "copy-of-fork",
                "recommendation": "other-fork",
                "notes": [n for n in c.notes if n not in MERGE_NOTES],  # a copy: its work is the default's
                "rule": f"its head is a commit of {default}: nothing beyond it, {where}",
                "evidence": ev,
            }
        elif shared > 0:  # on its latest commit ("extends"), or on an older state of it ("variant")
            where = f"the latest commit of {default}" if theirs == 0 else (
                f"an older state of {default}, which has {count(theirs, 'commit')} it lacks")  # fmt: skip
            update = {
                "archetype": "niche-variant",
                "template": "extends-fork" if theirs == 0 else "variant-of-fork",
                "recommendation": "fork-for-niche",
                "rule": f"{count(mine - merges, 'commit')} of its own"
                + (f" and {count(merges, 'merge')}" if merges else "")
                + f" on {where}",
                "evidence": [*ev, "fact:unique_commits"],
            }
        else:
            update = {
                "template": "other-continuation",
                "recommendation": "fork-for-niche",
                "rule": f"{c.rule}; {default} carries the project on more recently",
                "evidence": [*c.evidence, *ev],
            }
        out[n] = c.model_copy(update={**common, **update})
    if others:
        base = out[default]
        out[default] = base.model_copy(
            update={
                "notes": [*base.notes, "default_continuation"],
                "others": others,
                "relations": {o: (rel[(default, o)].ahead, rel[(default, o)].behind) for o in others},
            }
        )
    return out
