"""Public shapes of forkwise output: the same models back the CLI's JSON, the reports and (later) the API.

A :class:`Claim` is one sentence with the evidence IDs it rests on. A :class:`Verdict` is what a writer
produces for one fork; every ID it cites resolves in that fork's evidence catalogue.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, NamedTuple, Protocol

from pydantic import BaseModel, ConfigDict, Field, model_validator

from forkwise.index.github import RepoMeta
from forkwise.index.models import ForkFacts
from forkwise.index.names import WebLink
from forkwise.index.network import Coverage
from forkwise.index.sources import NoCredentials, Redacted, is_local_url
from forkwise.service.settings import WriterName
from forkwise.service.verdicts.classify import Archetype, Breakdown, Classification, Recommendation
from forkwise.service.verdicts.convergence import SharedChange
from forkwise.service.verdicts.evidence import Evidence

SCHEMA_VERSION = 1


class Claim(BaseModel):
    model_config = ConfigDict(frozen=True)
    text: str
    evidence: list[str] = Field(min_length=1)


VerdictField = Literal["purpose", "summary", "choose_fork_if", "choose_upstream_if", "verdict"]


class FieldNote(BaseModel):
    """Who wrote one field of a verdict an LLM writer was asked for, and why the facts did when the model failed."""

    field: VerdictField
    source: Literal["model", "repaired", "facts"] = Field(
        description="model: the first answer passed the checks; repaired: the answer after one repair turn; "
        "facts: both failed, so the facts writer's text stands for this field."
    )
    reason: str | None = Field(default=None, description="Why the model's text was rejected (facts, repaired).")


class Verdict(BaseModel):
    recommendation: Recommendation
    archetype: Archetype
    archetype_rule: str = Field(description="Why the classifier chose the archetype, rendered from facts.")
    headline: str = Field(description="One line for lists: what the fork is, in a user's terms.")
    summary: str
    choose_fork_if: list[Claim]
    choose_upstream_if: list[Claim]
    risks: list[Claim] = Field(default_factory=list)
    terms: list[str] = Field(default_factory=list, description="What the fork is for, in plain words.")
    purpose: str = Field(
        default="",
        description="What the fork is for as a short phrase from what it says about itself (README, notes, package "
        'description, forge description) or its commit subjects, e.g. "Habana Gaudi (HPU) support"; empty when no '
        "source says it in words a person would use (never a list of identifiers).",
    )
    purpose_quote: str = Field(default="", description="The fork's own words the phrase comes from. Untrusted.")
    purpose_source: str = Field(default="", description='Where they were said: "its README", "commit 216264f".')
    purpose_kind: str = Field(default="", description="readme, notes, changelog, package, forge, commit or branch.")
    purpose_evidence: list[str] = Field(default_factory=list, description="The evidence IDs of the quote.")

    confidence: Literal["high", "medium", "low"]
    confidence_reason: str = Field(default="", description="Why the confidence is what it is.")
    breakdown: Breakdown | None = Field(
        default=None, description="The commits upstream lacks, in parts that add up (own, merges, already upstream, "
        "from another fork's line): the one breakdown every surface shows.",
    )  # fmt: skip
    evidence: list[str] = Field(description="Every evidence ID cited above, in first-cited order.")
    writer: WriterName = Field(default=WriterName.facts, description="Who wrote the sentences.")
    prompt: str = Field(description="The prompt file the sentences came from and its sha256 prefix: file@hash.")
    fallback_reason: str | None = Field(
        default=None, description="Set when an LLM writer failed for every field it was asked for (or its call)."
    )
    fields: list[FieldNote] = Field(
        default_factory=list, description="Per field an LLM writer was asked for: model, repaired or facts."
    )
    classification: Classification = Field(description="What the classifier decided; the labels above repeat it.")

    @property
    def purpose_cite(self) -> str:
        """'its README: “…”': the quote with where it was said."""
        return f"{self.purpose_source}: “{self.purpose_quote}”" if self.purpose_quote else ""

    @property
    def use(self) -> str:
        """The recommendation as a person reads it: ``other-fork`` names the fork to use instead."""
        if self.recommendation == "other-fork" and self.classification.relative_to:
            return f"use {self.classification.relative_to}"
        return self.recommendation


ForkStatus = Literal["analysed", "prefiltered", "skipped", "failed"]


class ForkReport(BaseModel):
    name: str
    url: NoCredentials | None
    ref: str | None
    web_url: WebLink = None
    status: ForkStatus = Field(
        description="analysed: fetched and compared; prefiltered: every head is an upstream commit, compared "
        "without fetching; skipped: over the --max-forks cap; failed: see error."
    )
    meta: RepoMeta | None = Field(default=None, description="Forge metadata (stars, archived, parent, dates …).")
    facts: ForkFacts | None = None
    archetype: Archetype | None = None
    verdict: Verdict | None = None
    evidence: list[Evidence] = Field(default_factory=list, description="The catalogue cited IDs resolve in.")
    error: Redacted | None = None
    skipped: str | None = None
    cached: bool = False


class Judged(NamedTuple):
    """An analysed fork with what was decided of it: facts and verdict, never None (see :meth:`Report.judged`)."""

    report: ForkReport
    facts: ForkFacts
    verdict: Verdict

    @property
    def name(self) -> str:
        return self.report.name


RECOMMENDATION_ORDER: dict[str, int] = {"fork": 0, "fork-for-niche": 1, "other-fork": 2, "upstream": 3}
"""Best first: a fork to use instead of upstream, one for a niche, one that another fork supersedes, upstream's."""


class UpstreamSummary(BaseModel):
    name: str
    url: NoCredentials | None = Field(
        description="Where it was fetched from; None when shown to a remote caller and local."
    )
    web_url: WebLink
    ref: str
    head: str
    default_branch: str | None
    last_commit_date: datetime
    readme_title: str | None
    readme_lead: str = Field(description="The README's first descriptive paragraph, plain text. Untrusted.")
    readme_lead_markdown: str = Field(default="", description="The same paragraph as Markdown. Untrusted.")
    description: str | None = Field(default=None, description="The forge's description, when it was listed there.")
    successors: list[str] = Field(
        default_factory=list, description="README sentences that point to where the project went. Untrusted."
    )
    head_describe: str | None = Field(default=None, description="The compared head as `git describe --tags`.")
    commits_30d: int
    commits_90d: int
    commits_365d: int
    tags: list[tuple[str, datetime]] = Field(description="Newest tags the compared ref contains, with dates.")
    files: int


class Pick(BaseModel):
    fork: str
    reason: str


class Counts(BaseModel):
    forks: int
    analysed: int
    failed: int
    cached: int
    by_archetype: dict[str, int]
    by_recommendation: dict[str, int]


class WriterStats(BaseModel):
    """What the verdict writer did in one run: shown in the report header and in ``forkwise eval``."""

    writer: str = Field(description="The writer asked for: facts, local or openai.")
    verdicts: int = 0
    by_model: int = Field(default=0, description="Verdicts with at least one field the model wrote.")
    fields_asked: int = 0
    fields_model: int = Field(default=0, description="Fields whose first answer passed the checks.")
    fields_repaired: int = Field(default=0, description="Fields that passed after one repair turn.")
    fields_fallback: int = Field(default=0, description="Fields the facts writer wrote after the model failed.")
    reasons: dict[str, int] = Field(
        default_factory=dict, description="Why fields fell back, by kind (truncated, json, grounding, polarity …)."
    )
    seconds: float = Field(default=0.0, description="Time spent writing verdicts.")

    @property
    def fallback_rate(self) -> float:
        return self.fields_fallback / self.fields_asked if self.fields_asked else 0.0

    @property
    def seconds_per_verdict(self) -> float:
        return self.seconds / self.verdicts if self.verdicts else 0.0

    @classmethod
    def of(cls, writer: str, verdicts: list[Verdict], seconds: float) -> WriterStats:
        st = cls(writer=writer, verdicts=len(verdicts), seconds=round(seconds, 3))
        for v in verdicts:
            st.by_model += any(n.source != "facts" for n in v.fields)
            for n in v.fields:  # only an LLM writer's verdicts have fields
                from forkwise.service.verdicts.checks import kind

                st.fields_asked += 1
                st.fields_model += n.source == "model"
                st.fields_repaired += n.source == "repaired"
                if n.source == "facts":
                    st.fields_fallback += 1
                    k = kind(n.reason or "")
                    st.reasons[k] = st.reasons.get(k, 0) + 1
        return st


class ReportStats(BaseModel):
    """How the run went: fetches, time per stage, and what the writer did."""

    fetched: int = 0
    cached: int = 0
    seconds: dict[str, float] = Field(default_factory=dict, description="Seconds per stage of the run.")
    writer: WriterStats = Field(default_factory=lambda: WriterStats(writer="facts"))

    @model_validator(mode="before")
    @classmethod
    def _flat(cls, data: Any) -> Any:
        """Reports written before stats had a shape kept ``seconds_<stage>`` keys side by side."""
        if isinstance(data, dict) and any(str(k).startswith("seconds_") for k in data):
            data = dict(data)
            data["seconds"] = {k.removeprefix("seconds_"): data.pop(k) for k in list(data) if k.startswith("seconds_")}
        return data


class Report(BaseModel):
    """A whole upstream: its summary, every fork's facts and verdict, and cross-fork picks."""

    schema_version: int = SCHEMA_VERSION
    generated_at: datetime
    as_of: datetime
    upstream: UpstreamSummary
    forks: list[ForkReport]
    counts: Counts
    coverage: Coverage
    picks: dict[str, Pick] = Field(description="most_active, closest_to_upstream, most_added (when any fork adds).")
    terms: dict[str, list[str]] = Field(description="Distinctive term → forks that carry it.")
    stats: ReportStats = Field(default_factory=ReportStats)
    warnings: list[str] = Field(default_factory=list, description="What could not be checked, and why.")
    shared: list[SharedChange] = Field(
        default=[],
        description="Changes several forks carry independently and upstream lacks (service/verdicts/convergence.py).",
    )
    remote_request: bool = Field(
        default=False,
        description="Started by a remote caller (HTTP, the web page, Slack): every refresh of it (the worker's beat, "
        "`forkwise digest`) checks its sources against the source policy, as the first run did.",
    )

    def judged(self) -> list[Judged]:
        """The forks that were analysed and given a verdict, in the report's order."""
        return [Judged(f, f.facts, f.verdict) for f in self.forks if f.facts is not None and f.verdict is not None]

    def ranked(self) -> list[Judged]:
        """The one ranking every surface shows forks in (the web page's table and chat example, Slack's top forks,
        chat's "which should I use"): the fork picked to use first, then by recommendation (a fork to use instead
        of upstream, then one for a niche, one another fork supersedes, upstream's), then the most commits
        upstream lacks, then by name."""
        use = self.picks.get("use")
        return sorted(
            self.judged(),
            key=lambda j: (
                not (use is not None and j.name == use.fork),
                RECOMMENDATION_ORDER.get(j.verdict.recommendation, len(RECOMMENDATION_ORDER)),
                -j.facts.ahead,
                j.name,
            ),
        )

    def fork(self, name: str) -> ForkReport:
        for f in self.forks:
            if f.name == name:
                return f
        raise KeyError(name)

    def for_remote(self) -> Report:
        """What a caller on another machine sees: the report without this machine's file system. Local paths and
        ``file://`` URLs of upstream and forks become ``None``, and wherever an error or reason quotes one, it reads
        ``<local path>``. Callers on this machine (and the CLI) see the report as stored."""
        local = sorted({u for u in [self.upstream.url, *(f.url for f in self.forks)] if u and is_local_url(u)}, key=len)
        if not local:
            return self

        def scrub(text: str | None) -> str | None:
            for u in reversed(local):  # longest first: a path that contains another is replaced whole
                text = text.replace(u, "<local path>") if text else text
            return text

        data = self.model_dump(mode="json")
        if is_local_url(data["upstream"]["url"]):
            data["upstream"]["url"] = None
        for f in data["forks"]:
            if is_local_url(f["url"]):
                f["url"] = None
            f["error"], f["skipped"] = scrub(f["error"]), scrub(f["skipped"])
        for key in ("skipped", "failures"):
            for note in data["coverage"][key]:
                note["reason"] = scrub(note["reason"])
        data["coverage"]["listing_note"] = scrub(data["coverage"]["listing_note"])
        data["warnings"] = [scrub(w) for w in data["warnings"]]
        return Report.model_validate(data)


class WriterInput(BaseModel):
    """Everything a writer (and the validator) reads for one fork: a verdict is a function of this, the prompt files
    and the code (what lets :mod:`forkwise.service.verdicts.memo` remember it)."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)
    name: str = Field(description="The fork's name.")
    upstream: str
    facts: ForkFacts
    classification: Classification
    catalogue: dict[str, Evidence]
    as_of: datetime
    forge_description: str | None = Field(
        default=None, description="The fork's forge description, when it is its own (not one the network shares)."
    )
    upstream_successor: str | None = Field(
        default=None, description="The sentence of upstream's README that names this fork as where it went."
    )
    line_commits: frozenset[str] = Field(
        default=frozenset(),
        description="The own commits of the fork this one is described against (relative_to): the line it shares.",
    )

    def days(self) -> dict[str, int]:
        """What of the date a verdict reads: whole days since upstream's last commit and since the fork's. A writer
        reads ``as_of`` only through this, so a verdict is the same all day (what the memo keys on)."""
        return {
            "idle_days": (self.as_of - self.facts.upstream_last_commit_date).days,
            "fork_idle_days": (self.as_of - self.facts.last_commit_date).days,
        }


class Writer(Protocol):
    """What writes one fork's verdict from its :class:`WriterInput`: the facts writer, an LLM writer."""

    name: WriterName

    def write(self, inp: WriterInput) -> Verdict: ...
