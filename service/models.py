"""Public shapes of forkwise output: the same models back the CLI's JSON, the reports and (later) the API.

A :class:`Claim` is one sentence with the evidence IDs it rests on. A :class:`Verdict` is what a writer
produces for one fork; every ID it cites resolves in that fork's evidence catalogue.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from forkwise.index.github import RepoMeta
from forkwise.index.models import ForkFacts
from forkwise.index.network import Coverage
from forkwise.index.settings import WriterName
from forkwise.service.classify import Archetype, Classification, Recommendation
from forkwise.service.evidence import Evidence

SCHEMA_VERSION = 1


class Claim(BaseModel):
    model_config = ConfigDict(frozen=True)
    text: str
    evidence: list[str] = Field(min_length=1)


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
        description="What the fork is for as one phrase from its distinctive terms and where they are in the tree, "
        'e.g. "adds Habana Gaudi (HPU) support (op_builder/hpu/)"; empty when nothing distinctive is strong enough.',
    )
    confidence: Literal["high", "medium", "low"]
    evidence: list[str] = Field(description="Every evidence ID cited above, in first-cited order.")
    writer: WriterName = Field(default=WriterName.facts, description="Who wrote the sentences.")
    prompt: str = Field(description="The prompt file the sentences came from and its sha256 prefix: file@hash.")
    fallback_reason: str | None = Field(default=None, description="Set when an LLM writer failed validation.")
    classification: Classification = Field(description="What the classifier decided; the labels above repeat it.")

    @property
    def use(self) -> str:
        """The recommendation as a person reads it: ``other-fork`` names the fork to use instead."""
        if self.recommendation == "other-fork" and self.classification.relative_to:
            return f"use {self.classification.relative_to}"
        return self.recommendation


ForkStatus = Literal["analysed", "prefiltered", "skipped", "failed"]


class ForkReport(BaseModel):
    name: str
    url: str | None
    ref: str | None
    web_url: str | None = None
    status: ForkStatus = Field(
        description="analysed: fetched and compared; prefiltered: every head is an upstream commit, compared "
        "without fetching; skipped: over the --max-forks cap; failed: see error."
    )
    meta: RepoMeta | None = Field(default=None, description="Forge metadata (stars, archived, parent, dates …).")
    facts: ForkFacts | None = None
    archetype: Archetype | None = None
    verdict: Verdict | None = None
    evidence: list[Evidence] = Field(default_factory=list, description="The catalogue cited IDs resolve in.")
    error: str | None = None
    skipped: str | None = None
    cached: bool = False


class UpstreamSummary(BaseModel):
    name: str
    url: str
    web_url: str | None
    ref: str
    head: str
    default_branch: str | None
    last_commit_date: datetime
    readme_title: str | None
    readme_lead: str = Field(description="The README's first descriptive paragraph, plain text. Untrusted.")
    readme_lead_markdown: str = Field(default="", description="The same paragraph as Markdown. Untrusted.")
    description: str | None = Field(default=None, description="The forge's description, when it was listed there.")
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
    stats: dict[str, float | int] = Field(default_factory=dict)
    warnings: list[str] = Field(default_factory=list, description="What could not be checked, and why.")

    def fork(self, name: str) -> ForkReport:
        for f in self.forks:
            if f.name == name:
                return f
        raise KeyError(name)
