"""Verdict writers and the validator every verdict passes.

The ``facts`` writer is deterministic: sentence templates from ``prompts/verdict.toml`` filled with values
computed from git facts (:func:`context`). LLM writers (later) implement the same :class:`Writer` protocol;
their output goes through :func:`validate` and falls back to the facts writer, flagged, when it fails.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from typing import Any

from pydantic import BaseModel

from forkwise.index.kinds import file_kind
from forkwise.index.models import CommitFact, ForkFacts, Statement
from forkwise.index.terms import TermScore, tokens, words
from forkwise.service.settings import WriterName
from forkwise.service.verdicts.classify import (
    CODE_KINDS,
    Breakdown,
    added_licences,
    breakdown,
    held_upstream,
    landed_security,
    own_changes,
    security_commits,
    upstream_security,
)
from forkwise.service.verdicts.evidence import Evidence
from forkwise.service.verdicts.models import Claim, Verdict, WriterInput
from forkwise.service.verdicts.prompts import count, day, load_toml, pct, prompt_hash, text_template
from forkwise.service.verdicts.purpose import (
    INSTRUCTIONS,
    Purpose,
    candidates,
    clean_subject,
    purpose,
    usable_subject,
)

PROMPT = "verdict.toml"
_NUMBER = re.compile(r"(?<![\w.+-])[+-]?\d[\d.,:-]*(?<![.,:-])%?(?![\w])")


def _beyond(b: Breakdown) -> str:
    """What a fork adds beyond the fork it builds on, by part: "4 commits of its own and 1 merge"."""
    own = count(b.own, "commit") + " of its own"
    return f"{own} and {count(b.merges, 'merge')}" if b.merges else own


def _join(items: list[str]) -> str:
    if len(items) <= 2:
        return " and ".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _glossary() -> dict[str, Any]:
    return load_toml("glossary.toml")


def strong_terms(terms: list[TermScore]) -> list[TermScore]:
    """Terms worth naming: in the glossary, or seen in two or more places, and at least half the best score; never
    the CI and tooling words the glossary ignores."""
    glossary: dict[str, str] = _glossary()["terms"]
    ignore = set(_glossary()["ignore"]["terms"])  # CI and tooling: never what a fork is for
    keep = [t for t in terms if t.term not in ignore and (t.term in glossary or t.count >= 2)]
    if not keep:
        return []
    best = keep[0].score
    return [t for t in keep if t.score >= best / 2]


def term_name(t: TermScore) -> str:
    """A term as a person would name it: the glossary's name, else the fork's own spelling."""
    return _glossary()["terms"].get(t.term) or t.display or t.term


def term_names(terms: list[TermScore], limit: int = 3) -> list[str]:
    """Distinctive terms as a person would name them (glossary), de-duplicated."""
    out: list[str] = []
    for t in strong_terms(terms):
        name = term_name(t)
        if not any(_same_word(name, o) for o in out):
            out.append(name)
    return out[:limit]


def _same_word(a: str, b: str) -> bool:
    """One name repeats the other ("translation" / "translations", "plugin" / "plugins")."""
    a, b = a.lower(), b.lower()
    return a == b or a.rstrip("s") == b.rstrip("s") or (min(len(a), len(b)) >= 6 and a[:6] == b[:6])


def _basenames(t: TermScore) -> list[str]:
    paths = [*t.where, *(e.removeprefix("file:") for e in t.evidence if e.startswith("file:"))]
    return [p.rstrip("/").rsplit("/", 1)[-1].rsplit(".", 1)[0] for p in paths]


def _names_place(place: str, terms: list[TermScore]) -> bool:
    words = set(tokens(place.rstrip("/").rsplit("/", 1)[-1]))
    return any(t.term in words for t in terms)


def _named_together(a: TermScore, b: TermScore) -> bool:
    return any({a.term, b.term} <= set(tokens(name)) for name in _basenames(a) + _basenames(b))


class _Topic(BaseModel):
    name: str
    where: str | None
    terms: list[TermScore]


def topics(terms: list[TermScore], limit: int = 3) -> list[_Topic]:
    """The strong terms grouped into topics: terms that concentrate in the same place are one topic, named by the
    glossary or, when two of them make up that place's name, by both in its order ("sparse attention")."""
    out: list[_Topic] = []
    for t in strong_terms(terms):
        loc = t.where[0] if t.where else None
        # one topic: the same place, named after the topic's lead or this term ("op_builder/hpu/" for habana)
        same = next((g for g in out if loc and g.where == loc and _names_place(loc, [g.terms[0], t])), None)
        if same is None:  # or named together in one file's name ("async_writer.py")
            same = next((g for g in out if _named_together(g.terms[0], t)), None)
        if same is not None:
            same.terms.append(t)
            continue
        name = term_name(t)
        if any(_same_word(name, g.name) for g in out):
            continue
        out.append(_Topic(name=name, where=loc, terms=[t]))
    glossary = _glossary()["terms"]
    for g in out:
        if len(g.terms) < 2 or g.where is None or g.terms[0].term in glossary:
            continue
        own = {t.term for t in g.terms}
        for name in [g.where.rstrip("/").rsplit("/", 1)[-1].rsplit(".", 1)[0], *_basenames(g.terms[0])]:
            picked = list(dict.fromkeys(w for w in tokens(name) if w in own))
            if len(picked) >= 2:
                g.name = " ".join(picked)
                break
    return out[:limit]


def purpose_of(inp: WriterInput) -> Purpose | None:
    """What the fork is for (:mod:`forkwise.service.verdicts.purpose`), with its distinctive terms as supporting detail;
    computed once per writer input (the writer, the validator and the LLM tasks all ask)."""
    f = inp.facts
    key = (f.head, f.upstream_head, inp.name, inp.upstream, inp.forge_description, hash(tuple(f.statements)))
    with _PURPOSE_LOCK:
        if key in _PURPOSES:
            return _PURPOSES[key]
    what = purpose(
        inp.facts,
        name=inp.name,
        upstream=inp.upstream,
        forge_description=inp.forge_description,
        detail=term_names(inp.facts.terms),
    )
    with _PURPOSE_LOCK:
        if len(_PURPOSES) > 2048:
            _PURPOSES.clear()
        _PURPOSES[key] = what
    return what


_PURPOSES: dict[tuple[str, str, str, str, str | None, int], Purpose | None] = {}
_PURPOSE_LOCK = threading.Lock()


def _shas(shas: list[str], inline: int = 3) -> str:
    """At most ``inline`` short SHAs, then "and N more" (all of them stay in the evidence)."""
    short = [s[:7] for s in shas]
    if len(short) <= inline:
        return _join(short)
    return ", ".join(short[:inline]) + f" and {len(short) - inline} more"


def nothing_reason(f: ForkFacts) -> str:
    """Why the commits a fork has beyond upstream add nothing (for snapshots and mirrors that are ahead)."""
    if f.unique_commits and len(held_upstream(f)) == f.unique_commits:
        return (
            "upstream's files already hold their changes"
            if f.unique_commits > 1
            else ("upstream's files already hold its change")
        )
    if f.unique_commits and not own_changes(f):
        if f.files:
            return "every file they change is upstream's own version"
        return "they cancel out" if f.unique_commits > 1 else "it changes no file"
    parts = []
    if f.upstream_equivalent_commits:
        parts.append(f"{count(f.upstream_equivalent_commits, 'is', 'are')} already upstream as the same patch")
    if f.merge_commits:
        parts.append(f"{count(f.merge_commits, 'is a merge', 'are merges')}")
    return " and ".join(parts) or "none of them is new"


def example_commits(unique: list[CommitFact], purpose: str = "", n: int = 3) -> list[CommitFact]:
    """The commits a claim about a fork's own work cites as examples: those whose subject carries the words of what
    the fork is for first, then other subjects that say something (no bumps, bots, merges, releases or bare
    housekeeping), newest first; the rest only when nothing else is there."""
    said = _matchable(purpose, versioned_only=True) - {"support", "fork", "version"}
    usable = [c for c in unique if usable_subject(c.subject, c.author) and not _HOUSEKEEPING.match(c.subject)]
    carrying = [c for c in usable if said & _matchable(c.subject)]
    ordered = carrying + [c for c in usable if c not in carrying] + [c for c in unique if c not in usable]
    return ordered[:n]


_NAMED_MAJOR = re.compile(r"(?i)\b(py(?:thon)?|[a-z]{2,})[ -]?v?(\d)")


def _matchable(text: str, *, versioned_only: bool = False) -> set[str]:
    """:func:`words`, with a name and its major version as one word however it is written: "python3 support",
    "More python 3 tweaks" and "py34 fixes" all carry ``python3``. ``versioned_only``: a name that comes with a
    version stands only with it ("Python 3 support" does not match every subject that says "python")."""
    found = [(m.group(1).lower(), m.group(2)) for m in _NAMED_MAJOR.finditer(text)]
    named = {("python" if n == "py" else n) + v for n, v in found}
    plain = words(text) - ({n for n, _v in found} if versioned_only else set())
    return plain | named


def own_words(f: ForkFacts, among: frozenset[str] | None = None) -> Statement | None:
    """When no phrase says what a fork is for, the commit subject that says most of what it adds, to quote as its
    authors wrote it ("add uuid.NewIncUUID()"): the first of the subjects :func:`purpose.candidates` ranks (feature
    words and the fork's distinctive terms first) that is short enough to quote and carries no instructions.
    ``among``: only these commits (what a fork adds beyond another fork's line)."""
    for st in candidates(f, among=among):
        said = clean_subject(st.text)
        if (
            st.kind == "commit"
            and len(said) <= 100
            and not _CODE.search(said)
            and not _TESTING.search(said)
            and not INSTRUCTIONS.search(st.text)
        ):
            return st
    return None


_TESTING = re.compile(r"(?i)\b(tests?|specs?|testing)\b")
"""A subject about the fork's tests ("Fixed test script"): how it checks its work, not what the work is."""

_CODE = re.compile(r"[=;{}\[\]]")
"""A subject written as code ("add strategies = [hypothesis, crosshair]"): a line of a file, not words about it."""


_HOUSEKEEPING = re.compile(r"(?i)^\s*(ci|build|chore|style|test|tests|docs?)(\(.*?\))?!?:")


_FIXING = re.compile(
    r"(?i)\b(fix\w*|bug\w*|typos?|correct\w*|repair\w*|patch\w*|workaround|resolv\w*|crash\w*|broken|regression|leak\w*"
    r"|avoid\w*|prevent\w*|handl\w*|hotfix\w*|issue|error|errors|fail\w*)\b"
)


def fixes_mostly(commits: list[CommitFact]) -> bool:
    """Whether a few commits read as fixes (half or more of their subjects say they fix, correct, avoid … something):
    "2 small fixes" only then, else "2 small changes" (instructions to build on MSYS2 fix nothing)."""
    return bool(commits) and 2 * sum(bool(_FIXING.search(c.subject)) for c in commits) >= len(commits)


def _no_code(c: CommitFact, f: ForkFacts) -> bool:
    """Whether a commit changes no code, build or test file (README and wiki pages, docs, other text): its files'
    kinds in the fork's diff, or by their paths when the diff no longer holds them."""
    kinds = {x.path: x.kind for x in f.files}
    return not any(kinds.get(p, file_kind(p)) in CODE_KINDS for p in c.files)


def new_title(f: ForkFacts, upstream: str) -> str:
    """The name a fork's README gives it when that is new ("git-flow (AVH Edition)" for nvie/gitflow, "Comlin" for
    a rewrite of linenoise): short, quoted as written (untrusted). Never upstream's name or title, a part of that
    title ("UUID" of "UUID package for Go language"), a generic heading, Markdown, words addressing the reader or a
    model, nor a name the package rename says already."""
    title = " ".join((f.readme.title_after or "").split())
    if (
        not title
        or len(title.split()) > 6
        or re.search(r"[*_`<>\[\]]", title)
        or INSTRUCTIONS.search(title)
        or not f.readme.changed
        or title.lower() in _GENERIC_TITLES
        or _NOT_A_NAME.search(title)  # a heading, not a name: "Notes about this fork"
        or published_as(f)  # "It publishes the package as …" names it already
    ):
        return ""

    def plain(x: str) -> str:
        return re.sub(r"[^a-z0-9]", "", x.lower())

    said, before = plain(title), plain(f.readme.title_before or "")
    if not said or said == plain(upstream.rsplit("/", 1)[-1]) or (before and said in before):
        return ""
    return title


_NOT_A_NAME = re.compile(
    r"(?i)\b(about|this|that|these|fork|forked|notes?|the|for|of|with|how|what|why|to|in|on|my|our|your|is|are)\b"
)
_GENERIC_TITLES = frozenset(
    "introduction about overview readme contents installation usage description features documentation "
    "table of contents getting started".split(" ")
) | {"table of contents", "getting started"}


def published_as(f: ForkFacts) -> tuple[str | None, str, str] | None:
    """The package name a fork publishes under when a manifest it changed names another than upstream's: (upstream's
    name when a manifest says it, else None; the fork's; that manifest). A manifest the fork added under a name
    upstream's manifests already use is no new name."""
    upstream_names = sorted({p.before.name for p in f.packages if p.before and p.before.name})
    for p in f.packages:
        if not (p.name_changed and p.after and p.after.name):
            continue
        before = p.before.name if p.before and p.before.name else None
        if before is None and p.after.name in upstream_names:
            continue
        return before or (upstream_names[0] if upstream_names else None), p.after.name, p.manifest
    return None


def context(inp: WriterInput) -> dict[str, Any]:
    """Every value a template may use, all derived from git facts (the only source of numbers in text)."""
    f, cls = inp.facts, inp.classification
    unique = [c for c in f.own_commits if not c.is_merge and not c.upstream_equivalent]
    folders = sorted(((k, g.added + g.deleted) for k, g in f.by_folder.items()), key=lambda x: -x[1])
    top_folders = [k if k != "." else "the root folder" for k, _ in folders[:3]]
    changed = sorted((c for c in f.files if c.status != "deleted"), key=lambda c: -((c.added or 0) + (c.deleted or 0)))
    deleted = [c for c in f.files if c.status == "deleted"]
    del_counts = Counter(c.path.rsplit("/", 1)[0] if "/" in c.path else c.path for c in deleted)
    del_folders = [d for d, _n in sorted(del_counts.items(), key=lambda x: (-x[1], x[0]))]
    sec_fork = security_commits(f)
    sec_up = upstream_security(f)
    landed = landed_security(f)
    term_ids = [ev for t in strong_terms(f.terms)[:3] for ev in t.evidence[:2]]
    what = purpose_of(inp)
    quoted = None if what else own_words(f)
    # beyond the fork it is described against: its own commits that fork's line does not hold
    beyond = own_words(f, frozenset(c.sha for c in unique) - inp.line_commits) if inp.line_commits else None
    added = [c for c in unique if c.sha not in inp.line_commits]  # its own beyond the line it is described against
    pkg = published_as(f)
    big = f.largest_binary
    merge = f.merge
    port = merge.port if merge else None
    first = port.first_conflict if port else None
    return {
        "name": inp.name,
        "upstream": inp.upstream,
        "archetype": cls.archetype,
        "branch": f.ref.removeprefix("refs/heads/"),
        "ahead": f.ahead,
        "behind": f.behind,
        "unique": f.unique_commits,
        "equivalent": f.upstream_equivalent_commits,
        "upstream_merges": f.upstream_merges,
        "last_date": day(f.last_commit_date),
        "upstream_last_date": day(f.upstream_last_commit_date),
        **inp.days(),
        "lead_days": (f.last_commit_date - f.upstream_last_commit_date).days,
        "base_short": (f.merge_base or "")[:7],
        "base_date": day(f.merge_base_date),
        "describe": f.merge_base_describe,
        "upstream_describe": f.upstream_describe,
        "files_changed": len(f.files),
        "lines_added": f.lines_added,
        "lines_deleted": f.lines_deleted,
        "source_lines": sum(g.added + g.deleted for k, g in f.by_kind.items() if k in ("source", "tests")),
        "files_deleted": f.files_deleted,
        "base_files": f.base_tree_files,
        "deleted_pct": pct(f.deleted_share),
        "touched_pct": pct(f.touched_share),
        "deleted_folders": _join(del_folders[:3]) or "the deleted files",
        "deleted_file_ids": " ".join(f"file:{c.path}" for c in deleted[:3]),
        "gain_first": day(f.upstream_gain.first_date),
        "gain_last": day(f.upstream_gain.last_date),
        "terms_phrase": _join([g.name for g in topics(f.terms)]),
        "purpose": what.phrase if what else "",
        "purpose_ids": " ".join(what.evidence) if what else "",
        "purpose_cite": what.cite if what else "",
        "work_quote": f"{quoted.source}: “{clean_subject(quoted.text)}”" if quoted else "",
        "work_quote_ids": quoted.evidence if quoted else "",
        "beyond_quote": f"{beyond.source}: “{clean_subject(beyond.text)}”" if beyond else "",
        "beyond_commits": len(added),
        "beyond_no_code": bool(added) and all(_no_code(c, f) for c in added),
        "beyond_quote_ids": beyond.evidence if beyond else "",
        "upstream_successor": inp.upstream_successor or "",
        "new_title": new_title(f, inp.upstream),
        "term_ids": " ".join(dict.fromkeys(term_ids)),
        "top_folders": _join(top_folders),
        "top_paths": _join([c.path for c in changed[:2]]),
        "top_file_ids": " ".join(f"file:{c.path}" for c in changed[:3]),
        "top_commit_ids": " ".join(f"commit:{c.sha}" for c in example_commits(unique, what.phrase if what else "")),
        "kinds_phrase": _join(sorted(f.by_kind)),
        "security_fork": sec_fork,
        "security_fork_count": len(sec_fork),
        "security_fork_short": _shas(sec_fork),
        "security_fork_ids": " ".join(f"commit:{s}" for s in sec_fork),
        "security_up": sec_up,
        "security_up_count": len(sec_up),
        "security_up_short": _shas(sec_up),
        "security_up_ids": " ".join(f"commit:{s}" for s in sec_up),
        "security_landed_count": len(landed),
        "security_landed_short": _shas([a for a, _b in landed]),
        "security_landed_as": _shas([b for _a, b in landed if b]),
        "security_landed_ids": " ".join(f"commit:{x}" for pair in landed for x in pair if x),
        "copied_files": f.copied_files,
        "copied_lines": f.copied_lines_added + f.copied_lines_deleted,
        "nothing_reason": nothing_reason(f),
        "patch_noun": "fix" if fixes_mostly(unique) else "change",
        "patch_nouns": "fixes" if fixes_mostly(unique) else "changes",
        "relative_to": cls.relative_to,
        "relative_ahead": cls.relative_ahead,
        "relative_behind": cls.relative_behind,
        "beyond": _beyond(breakdown(f, cls)),
        "others_count": len(cls.others),
        "others_phrase": _join(cls.others[:4]) + (f" and {len(cls.others) - 4} more" if len(cls.others) > 4 else ""),
        "other_relation_ids": " ".join(f"fact:relation:{o}" for o in cls.others),
        "other_branches": len(f.other_branches),
        "other_branch_names": ", ".join(b.name for b in f.other_branches[:5]),
        "license_changed": f.license.changed,
        "license_before": f.license.before.spdx or "none",
        "license_after": f.license.after.spdx or "none",
        "license_added": " and ".join(added_licences(f)),
        "pkg_before": pkg[0] if pkg else None,
        "pkg_after": pkg[1] if pkg else None,
        "package_ids": f"fact:package:{pkg[2]}" if pkg else "fact:files_changed",
        "largest_binary": big.path if big else None,
        "largest_binary_mb": round((big.size or 0) / 1_000_000, 1) if big else 0,
        "merge_onto": merge.onto[:7] if merge else "",
        "conflict_count": len(merge.conflicts) if merge else 0,
        "conflict_paths": _listed(merge.conflicts) if merge else "",
        "port_applied": port.applied if port else 0,
        "port_total": port.total if port else 0,
        "port_next": ordinal(port.applied + 1) if port else "",
        "port_first_short": first.sha[:7] if first else "",
        "port_first_paths": _listed(first.paths) if first else "",
        "port_first_id": f"commit:{first.sha}" if first else "",
    }


def _listed(paths: list[str], inline: int = 3) -> str:
    """Up to ``inline`` paths, then "and N more"."""
    shown = _join(paths[:inline]) if len(paths) <= inline else ", ".join(paths[:inline])
    return shown + (f" and {len(paths) - inline} more" if len(paths) > inline else "")


def ordinal(n: int) -> str:
    """1st, 2nd, 3rd, 4th … 11th, 12th, 13th, 21st."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def allowed_numbers(ctx: dict[str, Any]) -> set[str]:
    """Number tokens that may appear in text: exactly those in the facts context."""
    out: set[str] = set()

    def walk(v: Any) -> None:
        if isinstance(v, bool) or v is None:
            return
        if isinstance(v, list | tuple):
            for x in v:
                walk(x)
        else:
            out.update(_NUMBER.findall(str(v)))

    for v in ctx.values():
        walk(v)
    return out


def numbers_in(text: str) -> list[str]:
    return _NUMBER.findall(text)


class FactsWriter:
    """The deterministic writer: templates + facts, no model.

    An LLM writer reuses it for everything the model does not write: it may pass its own ``purpose`` (rendered
    into the same templates), ``replace`` the archetype's own "choose … if" claims of a section (the notes'
    claims stay: they are the classifier's), and a ``summary``.
    """

    name = WriterName.facts

    def write(
        self,
        inp: WriterInput,
        *,
        purpose: Purpose | None = None,
        replace: dict[str, list[Claim]] | None = None,
        summary: str | None = None,
    ) -> Verdict:
        ctx = context(inp)
        what = purpose if purpose is not None else purpose_of(inp)
        if purpose is not None:
            ctx["purpose"], ctx["purpose_ids"] = purpose.phrase, " ".join(purpose.evidence)
            ctx["purpose_cite"] = purpose.cite
        spec = load_toml(PROMPT)
        arch = spec[inp.classification.template or inp.classification.archetype]
        notes = spec["notes"]
        replace = replace or {}

        def render(entries: list[dict[str, Any]]) -> list[Claim]:
            return _claims(entries, ctx, inp.catalogue)

        def claims(key: str) -> list[Claim]:
            held = [notes[n] for n in notes if n in inp.classification.notes and notes[n]["section"] == key]
            own = replace[key] if key in replace else render(arch.get(key, []))
            return own + render(held)

        text = summary if summary is not None else text_template(arch["summary"]).render(**ctx)
        headline = _sentence(text_template(arch["headline"]).render(**ctx))
        fork_if, up_if, risks = claims("choose_fork_if"), claims("choose_upstream_if"), claims("risks")
        cited = [*inp.classification.evidence]
        for c in (*fork_if, *up_if, *risks):
            cited += c.evidence
        cited = [i for i in dict.fromkeys(cited) if i in inp.catalogue]
        return Verdict(
            recommendation=inp.classification.recommendation,
            archetype=inp.classification.archetype,
            archetype_rule=inp.classification.rule,
            headline=headline,
            summary=_sentence(text),
            choose_fork_if=fork_if,
            choose_upstream_if=up_if,
            risks=risks,
            terms=term_names(inp.facts.terms),
            purpose=ctx["purpose"],
            purpose_quote=what.quote if what and ctx["purpose"] else "",
            purpose_source=what.source if what and ctx["purpose"] else "",
            purpose_kind=what.kind if what and ctx["purpose"] else "",
            purpose_evidence=[e for e in what.evidence if e in inp.catalogue] if what and ctx["purpose"] else [],
            confidence=inp.classification.confidence,
            confidence_reason=inp.classification.confidence_reason,
            breakdown=breakdown(inp.facts, inp.classification),
            evidence=cited,
            writer=self.name,
            classification=inp.classification,
            prompt=f"{PROMPT}@{prompt_hash(PROMPT)}",
        )

    def own_claims(self, inp: WriterInput, key: str) -> list[Claim]:
        """The archetype's own claims for ``key`` (without the notes'): what a model's conditions may replace."""
        arch = load_toml(PROMPT)[inp.classification.template or inp.classification.archetype]
        return _claims(arch.get(key, []), context(inp), inp.catalogue)


def _claims(entries: list[dict[str, Any]], ctx: dict[str, Any], catalogue: dict[str, Evidence]) -> list[Claim]:
    """Claims rendered from template entries; an entry none of whose evidence IDs resolve is left out."""
    out = []
    for e in entries:
        text = _sentence(text_template(e["text"]).render(**ctx))
        ids = [i for ev in e["evidence"] for i in text_template(ev).render(**ctx).split()]
        ids = [i for i in dict.fromkeys(ids) if i in catalogue]
        if ids:
            out.append(Claim(text=text, evidence=ids))
    return out


def _sentence(text: str) -> str:
    return " ".join(text.split())


def validate(verdict: Verdict, inp: WriterInput) -> list[str]:
    """Problems with a verdict: unknown evidence IDs, numbers not in the facts, labels that disagree."""
    problems: list[str] = []
    allowed = allowed_numbers(context(inp))
    cls = inp.classification
    if verdict.recommendation != cls.recommendation:
        problems.append(f"recommendation {verdict.recommendation!r} differs from the facts' {cls.recommendation!r}")
    if verdict.archetype != cls.archetype:
        problems.append(f"archetype {verdict.archetype!r} differs from the facts' {cls.archetype!r}")
    claims = [*verdict.choose_fork_if, *verdict.choose_upstream_if, *verdict.risks]
    for eid in [*verdict.evidence, *(e for c in claims for e in c.evidence)]:
        if eid not in inp.catalogue:
            problems.append(f"cites unknown evidence {eid!r}")
    for text in [verdict.headline, verdict.summary, *(c.text for c in claims)]:
        for n in numbers_in(text):
            if n not in allowed:
                problems.append(f"number {n!r} is not a computed fact: {text[:80]!r}")
    return problems
