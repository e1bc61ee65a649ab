"""What changed in a repository's forks since the last digest: the digest's logic (the surfaces render it).

A digest compares two stored runs: the newest run of the repository (``forkwise summarize``, an API job or a
worker's scheduled refresh stored it) with the run the last digest reported, whose id the store keeps. It reports
forks with new commits, new forks worth a look (not mirrors or snapshots) and verdicts that changed. The first digest
of a repository sets the baseline and says so. (A digest state file an older forkwise kept under
``FORKWISE_HOME/digest`` is still read once, when the store has no digest yet.)
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, Field

from forkwise.service.runs.db import MetaRow, session
from forkwise.service.runs.store import load_run
from forkwise.service.settings import Settings
from forkwise.service.verdicts.models import Report

SNAPSHOTS = {"mirror", "stale-snapshot"}


class ForkState(BaseModel):
    head: str
    ahead: int
    recommendation: str
    archetype: str


class DigestState(BaseModel):
    repo: str
    at: datetime
    forks: dict[str, ForkState]


class Change(BaseModel):
    fork: str
    detail: str
    url: str | None = None
    headline: str = Field(default="", description="The fork's one-line verdict now.")


class Digest(BaseModel):
    repo: str
    baseline: bool = False
    new_commits: list[Change] = Field(default_factory=list)
    new_forks: list[Change] = Field(default_factory=list)
    changed_verdicts: list[Change] = Field(default_factory=list)
    since: datetime | None = None

    @property
    def empty(self) -> bool:
        return not (self.new_commits or self.new_forks or self.changed_verdicts)


def state_of(report: Report) -> DigestState:
    forks = {
        f.name: ForkState(
            head=f.facts.head, ahead=f.facts.ahead, recommendation=f.verdict.recommendation, archetype=f.archetype or ""
        )
        for f in report.forks
        if f.facts and f.verdict
    }
    return DigestState(repo=report.upstream.name, at=datetime.now(UTC), forks=forks)


def _path(settings: Settings, repo: str) -> Path:
    owner, _, name = repo.partition("/")
    return settings.digest_dir / owner / f"{name}.json"


class DigestMark(BaseModel):
    """What the store keeps per repository: the run the last digest reported, and when."""

    run_id: int
    at: datetime


def _key(repo: str) -> str:
    return f"digest:{repo}"


def load_state(settings: Settings, repo: str) -> DigestState | None:
    """The forks as the last digest of ``repo`` saw them: its stored run (or an older forkwise's state file)."""
    with session(settings) as s:
        row = s.get(MetaRow, _key(repo))
        mark = DigestMark.model_validate_json(row.value) if row is not None else None
    if mark is not None:
        report = load_run(settings, mark.run_id)
        if report is not None:
            return state_of(report).model_copy(update={"at": mark.at})
    p = _path(settings, repo)
    return DigestState.model_validate_json(p.read_text()) if p.exists() else None


def save_state(settings: Settings, repo: str, run_id: int) -> None:
    """Record that the digest of ``repo`` reported run ``run_id``: the next digest compares with it."""
    with session(settings) as s:
        s.merge(MetaRow(key=_key(repo), value=DigestMark(run_id=run_id, at=datetime.now(UTC)).model_dump_json()))


def compute(report: Report, previous: DigestState | None) -> Digest:
    now = state_of(report)
    d = Digest(repo=report.upstream.name, baseline=previous is None, since=previous.at if previous else None)
    web = {f.name: f.web_url for f in report.forks}
    line = {f.name: f.verdict.headline for f in report.forks if f.verdict}

    def change(name: str, detail: str) -> Change:
        return Change(fork=name, detail=detail, url=web[name], headline=line.get(name, ""))

    for name, st in now.forks.items():
        old = previous.forks.get(name) if previous else None
        if old is None:
            if previous is not None and st.archetype not in SNAPSHOTS:
                d.new_forks.append(change(name, f"{st.archetype}, {st.ahead} ahead, {st.recommendation}"))
            continue
        if st.head != old.head and st.ahead > 0:
            d.new_commits.append(change(name, f"now {st.ahead} ahead (was {old.ahead}), head {st.head[:7]}"))
        if st.recommendation != old.recommendation or st.archetype != old.archetype:
            verdicts = f"{old.recommendation} ({old.archetype}) → {st.recommendation} ({st.archetype})"
            d.changed_verdicts.append(change(name, verdicts))
    return d
