"""The core calls: facts for a network → verdicts → one :class:`Report`; and its renderings."""

from __future__ import annotations

import re
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from forkwise.index.github import Discovery
from forkwise.index.models import ForkFacts
from forkwise.index.network import NetworkFacts
from forkwise.service.verdicts.classify import NO_MERGE, Classification, Relate, Rules, breakdown, classify, one_default
from forkwise.service.verdicts.convergence import shared_changes
from forkwise.service.verdicts.evidence import Evidence, catalogue
from forkwise.service.verdicts.models import (
    Counts,
    ForkReport,
    ForkStatus,
    Pick,
    Report,
    ReportStats,
    UpstreamSummary,
    Verdict,
    Writer,
    WriterInput,
    WriterStats,
)
from forkwise.service.verdicts.prompts import count, html_env, load_toml, text_env


def without_merge(f: ForkFacts, c: Classification) -> ForkFacts:
    """A copy (mirror, snapshot, unrelated, or a copy of another fork) states no merge facts: it has nothing of
    its own to merge; its ``merge_note`` says so."""
    if f.merge is None or (c.archetype not in NO_MERGE and c.recommendation != "other-fork"):
        return f
    what = f"a copy of {c.relative_to}" if c.recommendation == "other-fork" and c.relative_to else c.archetype
    return f.model_copy(update={"merge": None, "merge_note": f"nothing of its own to merge onto upstream ({what})"})


def names_fork(sentence: str, name: str, web: str | None) -> bool:
    """Whether a sentence names this fork: its owner/name (as text or in a URL), or its web address."""
    low = sentence.lower()
    if web and web.lower().rstrip("/") in low:
        return True
    return re.search(rf"(?<![\w.-]){re.escape(name.lower())}(?![\w-]|\.\w)", low) is not None


def own_descriptions(descriptions: dict[str, str | None], upstream: str | None) -> dict[str, str]:
    """The forge descriptions that are a fork's own: GitHub copies upstream's description into every fork, so a
    description counts only when it differs from upstream's and no other fork in the listing has the same one."""
    clean = {n: " ".join(d.split()) for n, d in descriptions.items() if d and d.strip()}
    counts = Counter(d.lower() for d in clean.values())
    up = " ".join((upstream or "").split()).lower()
    return {n: d for n, d in clean.items() if counts[d.lower()] == 1 and d.lower() != up}


def writer_input(
    name: str,
    facts: ForkFacts,
    upstream: str,
    fork_web: str | None,
    upstream_web: str | None,
    as_of: datetime,
    classification: Classification,
    forge_description: str | None = None,
    successors: list[str] | None = None,
    line_facts: ForkFacts | None = None,
) -> WriterInput:
    """Everything a writer (and the validator) needs for one fork: its facts and what was decided about it.
    ``line_facts``: the facts of the fork its classification describes it against (``relative_to``)."""
    cat = catalogue(facts, fork_web, upstream_web)
    if forge_description:
        cat["fact:forge_description"] = Evidence(
            id="fact:forge_description", kind="fact", label=f"its forge description: {forge_description}",
            url=fork_web,
        )  # fmt: skip
    named = next((s for s in successors or [] if names_fork(s, name, fork_web)), None)
    if named:
        cat["fact:upstream_successor"] = Evidence(
            id="fact:upstream_successor", kind="fact", label=f"upstream's README: “{named}”", url=upstream_web
        )
    c = classification
    b = breakdown(facts, c)
    if b.line:  # its commits are mostly another fork's: the counts say which part is which
        cat["fact:ahead"] = cat["fact:ahead"].model_copy(update={"label": b.text})
        cat["fact:unique_commits"] = cat["fact:unique_commits"].model_copy(
            update={"label": f"{count(facts.unique_commits, 'commit')} upstream lacks that are not merges: "
                             f"{facts.unique_commits - b.own} from {b.line}'s line, {b.own} of its own"}
        )  # fmt: skip
    for other, (ahead, behind) in c.relations.items():
        cat[f"fact:relation:{other}"] = Evidence(
            id=f"fact:relation:{other}",
            kind="fact",
            label=f"{count(ahead, 'commit')} {other} lacks; {count(behind, 'commit')} of {other}'s this fork lacks",
            detail=f"git rev-list --left-right --count {facts.head[:7]}...{other}",
        )
    line = frozenset(x.sha for x in line_facts.own_commits) if c.relative_to and line_facts else frozenset()
    return WriterInput(
        name=name, upstream=upstream, facts=facts, classification=c, catalogue=cat, as_of=as_of,
        forge_description=forge_description, upstream_successor=named, line_commits=line,
    )  # fmt: skip


def stored_input(report: Report, fork: ForkReport) -> WriterInput | None:
    """The writer input of an analysed fork in a report, with the classification its verdict recorded."""
    if fork.facts is None or fork.verdict is None:
        return None
    own = own_descriptions({f.name: f.meta.description if f.meta else None for f in report.forks},
                           report.upstream.description)  # fmt: skip
    c = fork.verdict.classification
    line = next((f.facts for f in report.forks if f.name == c.relative_to), None) if c.relative_to else None
    return writer_input(
        fork.name,
        fork.facts,
        report.upstream.name,
        fork.web_url,
        report.upstream.web_url,
        report.as_of,
        c,
        own.get(fork.name),
        report.upstream.successors,
        line,
    )


def verdict_problems(report: Report, fork: ForkReport, verdict: Verdict | None = None) -> list[str]:
    """What is wrong with a fork's verdict (or ``verdict`` in its place): see :func:`service.writer.validate`."""
    inp = stored_input(report, fork)
    verdict = verdict or fork.verdict
    if inp is None or verdict is None:
        return []
    from forkwise.service.verdicts.writer import validate

    return validate(verdict, inp)


def build_report(
    net: NetworkFacts,
    writer: Writer | None = None,
    rules: Rules | None = None,
    listing: Discovery | None = None,
    relate: Relate | None = None,
) -> Report:
    """Classify every analysed fork and write its verdict. ``listing``: the forge listing the forks came from
    (its completeness goes into the coverage, its description stands in for a README without a lead).
    ``relate``: ahead/behind between forks (from the mirror), to name one default among continuations."""
    if writer is None:
        from forkwise.service.verdicts.writer import FactsWriter

        writer = FactsWriter()
    rules = rules or Rules()
    up = net.upstream
    decided = {
        o.name: (o.facts, classify(o.facts, net.as_of, rules))
        for o in net.forks
        if o.facts is not None and o.error is None
    }
    if relate is not None:
        stars = {o.name: o.meta.stars for o in net.forks if o.meta and o.meta.stars}
        final = one_default(decided, relate, stars)
    else:
        final = {n: c for n, (_f, c) in decided.items()}
    forks: list[ForkReport] = []
    writing = 0.0
    own = own_descriptions({o.name: o.meta.description if o.meta else None for o in net.forks},
                           listing.root.description if listing else None)  # fmt: skip
    for o in net.forks:
        status: ForkStatus = (
            "failed" if o.error else "skipped" if o.skipped else "prefiltered" if o.prefiltered else "analysed"
        )
        fr = ForkReport(
            name=o.name,
            url=o.url,
            ref=o.ref,
            web_url=o.web_url,
            status=status,
            meta=o.meta,
            error=o.error,
            skipped=o.skipped,
            cached=o.cached,
        )
        if o.facts is not None and o.name in final:
            facts = without_merge(o.facts, final[o.name])
            rel = final[o.name].relative_to
            inp = writer_input(
                o.name, facts, up.name, o.web_url, net.upstream_web_url, net.as_of, final[o.name], own.get(o.name),
                up.successors, decided[rel][0] if rel in decided else None,
            )  # fmt: skip
            fr.facts, fr.archetype = facts, inp.classification.archetype
            t = time.perf_counter()
            fr.verdict = writer.write(inp)
            writing += time.perf_counter() - t
            fr.evidence = list(inp.catalogue.values())
        forks.append(fr)
    ok = [f for f in forks if f.verdict and f.facts]
    counts = Counts(
        forks=len(forks),
        analysed=len(ok),
        failed=sum(f.error is not None for f in forks),
        cached=sum(f.cached for f in forks),
        by_archetype=dict(Counter(f.archetype for f in ok if f.archetype)),
        by_recommendation=dict(Counter(f.verdict.recommendation for f in ok if f.verdict)),
    )
    return Report(
        generated_at=datetime.now(UTC),
        as_of=net.as_of,
        upstream=UpstreamSummary(
            # every field upstream's facts share with the summary, then what the forge listing adds
            **up.model_dump(include=set(UpstreamSummary.model_fields) & set(type(up).model_fields) - {"readme_lead"}),
            readme_lead=up.readme_lead or (listing.root.description or "" if listing else ""),
            web_url=net.upstream_web_url,
            description=listing.root.description if listing else None,
        ),
        forks=forks,
        counts=counts,
        coverage=net.coverage
        if listing is None
        else net.coverage.model_copy(update={"listing_complete": listing.complete, "listing_note": listing.note}),
        picks=_picks(ok),
        terms=_terms(ok),
        shared=shared_changes(
            {f.name: (f.facts, f.archetype or "", f.verdict.recommendation) for f in ok if f.facts and f.verdict}
        ),
        warnings=net.warnings,
        stats=ReportStats(
            fetched=net.stats.fetched,
            cached=net.stats.cached,
            seconds=dict(net.stats.seconds),
            writer=WriterStats.of(str(writer.name), [f.verdict for f in ok if f.verdict], writing),
        ),
    )


def _picks(ok: list[ForkReport]) -> dict[str, Pick]:
    adding = [f for f in ok if f.facts and f.verdict and f.verdict.recommendation not in ("upstream", "other-fork")]
    picks: dict[str, Pick] = {}
    default = next((f for f in ok if f.verdict and "default_continuation" in f.verdict.classification.notes), None)
    if default is not None and default.verdict:
        n = len(default.verdict.classification.others)
        picks["use"] = Pick(
            fork=default.name,
            reason=f"upstream went quiet and this fork carries it on; the {count(n, 'other fork')} on its line "
            f"{'is an older copy or variant' if n == 1 else 'are older copies or variants'} of it, or less recent",
        )
    if adding:

        def last(f: ForkReport) -> datetime:
            assert f.facts is not None  # adding forks have facts
            return f.facts.last_commit_date

        a = max(adding, key=lambda f: (last(f), f.name))
        picks["most_active"] = Pick(
            fork=a.name, reason=f"latest commit of the forks that add work: {last(a).date().isoformat()}"
        )

        def own(f: ForkReport) -> int:
            b = f.verdict.breakdown if f.verdict else None
            return b.own if b is not None else f.facts.unique_commits if f.facts else 0

        # the fork that differs least from upstream: fewest commits apart, either way (then the most of its own)
        def apart(f: ForkReport) -> int:
            assert f.facts is not None  # adding forks have facts
            return f.facts.ahead + f.facts.behind

        c = min(adding, key=lambda f: (apart(f), -own(f), f.name))
        cf = c.facts
        assert cf is not None
        step = "on upstream's latest commit" if cf.behind == 0 else f"{count(cf.behind, 'commit')} behind it"
        picks["closest_to_upstream"] = Pick(
            fork=c.name,
            reason=f"of the forks that add work, the fewest commits apart from upstream: "
            f"{count(cf.ahead, 'commit')} upstream lacks, {step}",
        )
        m = max(adding, key=lambda f: (own(f), f.name))
        picks["most_added"] = Pick(fork=m.name, reason=f"{count(own(m), 'commit')} of its own, the most of any fork")
    return picks


def _terms(ok: list[ForkReport]) -> dict[str, list[str]]:
    """ "Which forks carry…": a fork's distinctive terms that name something a person would look for: a glossary
    name (a platform, a runtime, a database), or a name in what the fork says it is for (a word there written with a
    capital or a digit, not merely opening a longer phrase: "Gevent support", "Bug fix at base58.Decode"). A bare
    word mined from its diffs ("future", "deprecate", "security", "builder") is no answer to that question."""
    named = set(load_toml("glossary.toml")["terms"].values())
    out: dict[str, list[str]] = {}
    for f in ok:
        v = f.verdict
        if v is None:
            continue
        for t in v.terms:
            if t in named or t.lower() in _names_in(v.purpose):
                out.setdefault(t, []).append(f.name)
    return dict(sorted(out.items(), key=lambda kv: kv[0].lower()))


def _names_in(phrase: str) -> set[str]:
    """The words of a phrase that look like names (lower-cased): a capital after the first letter, or a digit, or
    any capital when the phrase is short enough for its first word to be the thing itself ("Gevent support")."""
    toks = re.findall(r"[A-Za-z][A-Za-z0-9+#-]*[A-Za-z0-9+#]|[A-Za-z]", phrase)
    out = set()
    for i, w in enumerate(toks):
        if re.search(r"\d", w) or re.search(r"[A-Z]", w[1:]) or (w[0].isupper() and (i > 0 or len(toks) <= 3)):
            out.add(w.lower())
    return out


def forks_carrying(report: Report, term: str) -> list[tuple[str, list[str]]]:
    """Forks whose own changes mention ``term`` (terms, paths, commit subjects), with evidence IDs."""
    t = term.lower()
    hits: list[tuple[str, list[str]]] = []
    for f in report.forks:
        if not f.facts or not f.verdict:
            continue
        ev: list[str] = []
        ev += [e for ts in f.facts.terms if t in ts.term for e in ts.evidence]
        if any(t in x.lower() for x in f.verdict.terms):
            ev += [e for ts in f.facts.terms[:3] for e in ts.evidence]
        ev += [f"commit:{c.sha}" for c in f.facts.own_commits if t in c.subject.lower() and not c.upstream_equivalent]
        ev += [f"file:{c.path}" for c in f.facts.files if t in c.path.lower()]
        ev += [
            f"readme:{s.heading}"
            for s in f.facts.readme.sections
            if t in (s.heading + " " + s.excerpt).lower() and s.change != "removed"
        ]
        if ev:
            hits.append((f.name, list(dict.fromkeys(ev))[:5]))
    return hits


def render(report: Report, fmt: str) -> str:
    if fmt == "json":
        return report.model_dump_json(indent=2)
    if fmt == "md":
        return text_env().get_template("report.md.j2").render(r=report)
    if fmt == "html":
        return html_env().get_template("report.html.j2").render(r=report)
    raise ValueError(f"unknown format {fmt!r}; use md, json or html")


def write_report(report: Report, fmt: str, out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(report, fmt), encoding="utf-8")
    return out
