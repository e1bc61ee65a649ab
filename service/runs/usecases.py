"""The use cases, one typed call each. Every surface (CLI, HTTP API, web page, Slack, digest) parses its input,
calls one of these and renders the result; none of them repeats discovery, report loading or fork lookup.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from forkwise.index.forge import client_for, discover, reresolver
from forkwise.index.github import Discovery
from forkwise.index.gitio import GitError
from forkwise.index.gitio import run as run_git
from forkwise.index.mirror import mirror_path
from forkwise.index.models import FirstConflict
from forkwise.index.network import ForkInput, Progress, Reresolve, UpstreamError, ensure_heads, no_progress
from forkwise.index.policy import PolicyError, SourcePolicy
from forkwise.index.sources import Source, SourceError, check_ref, check_url, parse_source
from forkwise.index.vector import VectorStats
from forkwise.service.runs import engine
from forkwise.service.settings import DEFAULT_MAX_FORKS, Settings, WriterName
from forkwise.service.verdicts.models import ForkReport, Report

if TYPE_CHECKING:  # the chat chain (LangChain, the vector index) loads when a question is asked; the jobs and the
    # ORM's store when a server or a stored report needs them (a command-line summarize writes without SQLAlchemy)
    from forkwise.service.runs.digest import Digest
    from forkwise.service.runs.jobs import Job, JobRequest, Jobs
    from forkwise.service.verdicts.chat import ChatAnswer, ChatService, Turn

__all__ = [
    "NoSuchFork",
    "NotSummarized",
    "PolicyError",
    "SummarizeRequest",
    "Summary",
    "UpstreamError",
    "answer",
    "digest",
    "find_forks",
    "fork_inputs",
    "index_request",
    "job_manager",
    "load",
    "port",
    "refresh_request",
    "start_job",
    "summarize",
    "verdict",
    "verdict_in",
]


class NotSummarized(LookupError):
    """The upstream has no stored report yet."""

    def __init__(self, upstream: str):
        super().__init__(f"{upstream} has not been summarized yet")
        self.upstream = upstream


class NoSuchFork(LookupError):
    """No fork, or more than one, in the report matches what was asked."""

    def __init__(self, upstream: str, who: str, matches: Sequence[str] = ()):
        why = f"several forks match: {', '.join(matches)}" if matches else "no such fork"
        super().__init__(f"{who} in the {upstream} report: {why}")
        self.upstream, self.who, self.matches = upstream, who, list(matches)


class SummarizeRequest(BaseModel):
    """What to compare. ``discover=None`` lists the forks on GitHub when upstream is one and no fork is given."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    upstream: Source
    forks: list[ForkInput] = Field(default_factory=list)
    discover: bool | None = None
    depth: int = Field(default=1, ge=1, le=5)
    sort: Literal["stargazers", "newest", "oldest"] = "stargazers"
    max_forks: int | None = Field(default=None, ge=0, description=f"Default {DEFAULT_MAX_FORKS} when discovering.")
    writer: WriterName | None = None
    index: bool = True
    use_cache: bool = True
    as_of: datetime | None = None
    max_wait: float | None = Field(
        default=None,
        ge=0,
        description="Seconds to wait for a GitHub rate-limit reset (default FORKWISE_GITHUB_MAX_WAIT).",
    )
    policy: SourcePolicy | None = Field(
        default=None, description="Set for remote callers: every source is checked before git runs. None: trusted."
    )


class Summary(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)
    report: Report
    vectors: VectorStats | None = Field(default=None, description="What indexing did (None: not asked).")
    discovery: Discovery | None = None


def fork_inputs(texts: Sequence[str], settings: Settings) -> list[ForkInput]:
    """Forks as typed: each parsed into a source, or kept with the reason it cannot be used."""
    out = []
    for text in texts:
        try:
            src = parse_source(text, github_url=settings.github_url)
            out.append(ForkInput(name=src.name, source=src))
        except SourceError as exc:
            out.append(ForkInput(name=text, error=str(exc)))
    return out


def summarize(
    req: SummarizeRequest, settings: Settings, progress: Progress = no_progress, job_id: str | None = None
) -> Summary:
    """Discover (when asked), compare, classify, write verdicts, store and index: ``forkwise summarize``.

    Raises :class:`UpstreamError` when upstream cannot be read, :class:`SourceError` for unusable input and
    :class:`forkwise.index.github.GitHubError` when the forge cannot list the forks.
    """
    run_req, reresolve = prepare(req, settings, progress)
    report, stats = engine.run(run_req, settings, progress=progress, reresolve=reresolve, job_id=job_id)
    return Summary(report=report, vectors=stats, discovery=run_req.listing)


def prepare(
    req: SummarizeRequest, settings: Settings, progress: Progress = no_progress
) -> tuple[engine.RunRequest, Reresolve | None]:
    """The run a summarize request asks for: the forks as given, or listed on GitHub (the ``discover`` stage),
    every source checked against the request's policy when a remote caller asked; and how to find a fork again
    that the forge says was renamed."""
    upstream, forks, max_forks = req.upstream, list(req.forks), req.max_forks
    discovering = req.discover if req.discover is not None else (not forks and upstream.forge == "github")
    listing, reresolve = None, None
    if discovering:
        if upstream.forge != "github":
            raise SourceError(f"listing forks needs a GitHub owner/name, not {upstream.url!r}")
        from forkwise.service.runs.store import DbEtags

        client = client_for(settings, max_wait=req.max_wait, sleep=countdown(progress), etags=DbEtags(settings))
        progress("discover", "start", None)
        found = discover(client, upstream.name, ref=upstream.ref, depth=req.depth, sort=req.sort)
        progress("discover", "done", None)
        upstream, forks = found.upstream, forks + found.forks
        listing, reresolve = found.discovery, reresolver(client)
        max_forks = DEFAULT_MAX_FORKS if max_forks is None else max_forks
    else:
        progress("discover", "done", None)  # nothing to list: the forks were given
    if req.policy is not None:
        upstream, forks, reresolve = _checked(req.policy, upstream, forks, reresolve)
    run_req = engine.RunRequest(
        upstream=upstream,
        forks=forks,
        as_of=req.as_of or datetime.now(UTC),
        max_forks=max_forks,
        writer=req.writer,
        index=req.index,
        use_cache=req.use_cache,
        listing=listing,
        remote=req.policy is not None,
    )
    return run_req, reresolve


def countdown(progress: Progress) -> Callable[[float], None]:
    """A ``sleep`` that shows the wait as a ``wait`` stage counting down the seconds (rate-limit resets)."""

    def sleep(seconds: float) -> None:
        if seconds < 2:
            time.sleep(seconds)
            return
        n = math.ceil(seconds)
        progress("wait", "start", n, f"GitHub rate limit: waiting {n} s for the reset")
        end = time.monotonic() + seconds
        for i in range(n):
            time.sleep(max(0.0, min(1.0, end - time.monotonic())))
            progress("wait", "advance", None, f"{n - i - 1} s left")
        progress("wait", "done", None)

    return sleep


def _checked(
    policy: SourcePolicy, upstream: Source, forks: list[ForkInput], reresolve: Reresolve | None
) -> tuple[Source, list[ForkInput], Reresolve | None]:
    """Every source checked against the policy before any git runs: upstream must pass (else PolicyError); a fork
    that does not is reported as failed with the reason; a renamed fork's new URL is checked too."""
    upstream = policy.check(upstream)
    out = []
    for f in forks:
        if f.source is not None:
            try:
                f = f.model_copy(update={"source": policy.check(f.source)})
            except PolicyError as exc:
                f = f.model_copy(update={"source": None, "error": str(exc)})
        out.append(f)

    def checked_reresolve(fork: ForkInput) -> Source | None:
        moved = reresolve(fork) if reresolve else None
        return policy.check(moved) if moved is not None else None

    return upstream, out, checked_reresolve if reresolve else None


def index_request(settings: Settings, upstream: str, req: JobRequest | None, *, remote: bool) -> SummarizeRequest:
    """What an index job will do, checked now: :class:`PolicyError` (a source a remote caller may not name) or
    :class:`SourceError` before anything runs. ``remote``: the request came over HTTP or Slack."""
    from forkwise.service.runs.jobs import JobRequest

    req = req or JobRequest()
    policy = source_policy(settings) if remote else None

    def source(text: str, name: str | None = None) -> Source:
        if policy is not None:
            return policy.remote(text, name=name)
        return parse_source(text, name=name, github_url=settings.github_url)

    if req.url or req.forks:
        forks = []
        for text in req.forks:
            src = source(text)
            forks.append(ForkInput(name=src.name, source=src))
        up = source(req.url or upstream, name=upstream)
        return SummarizeRequest(upstream=up, forks=forks, discover=False, max_forks=req.max_forks, policy=policy)
    up = parse_source(upstream, github_url=settings.github_url)
    return SummarizeRequest(upstream=up, discover=True, depth=req.depth, max_forks=req.max_forks, policy=policy)


def source_policy(settings: Settings) -> SourcePolicy:
    return SourcePolicy(github_url=settings.github_url, trusted=settings.trusted_prefixes)


def refresh_request(settings: Settings, upstream: str) -> SummarizeRequest:
    """Summarize ``upstream`` again from the sources its stored report came from (the forge, when it was).

    Unattended (the worker's beat, ``forkwise digest``), so it trusts exactly what the first run trusted: a report a
    remote caller asked for is refreshed under the source policy (every clone URL, a renamed fork's new one and the
    addresses they resolve to checked again, and pinned), the operator's own under none."""
    old = load(settings, upstream)
    policy = source_policy(settings) if old.remote_request else None
    if any(f.meta is not None for f in old.forks):
        depth = max(f.meta.depth for f in old.forks if f.meta)
        src = parse_source(upstream, github_url=settings.github_url)
        return SummarizeRequest(upstream=src, discover=True, depth=depth, max_forks=old.coverage.cap, policy=policy)
    if old.upstream.url is None:
        raise SourceError(f"the stored report of {upstream} does not say where it was fetched from")
    up = Source(name=old.upstream.name, url=old.upstream.url, ref=old.upstream.ref)
    forks = [
        ForkInput(name=f.name, source=Source(name=f.name, url=f.url, ref=f.ref)) if f.url else ForkInput(name=f.name)
        for f in old.forks
    ]
    return SummarizeRequest(upstream=up, forks=forks, discover=False, max_forks=old.coverage.cap, policy=policy)


def load(settings: Settings, upstream: str) -> Report:
    """The stored report of ``upstream`` (owner/repo); :class:`NotSummarized` when there is none."""
    from forkwise.service.runs.store import load_report

    report = load_report(settings, upstream)
    if report is None:
        raise NotSummarized(upstream)
    return report


def find_forks(report: Report, who: str) -> list[ForkReport]:
    """Forks named ``who``: an exact ``owner/repo`` (case-insensitive), or every fork of the owner ``who``."""
    who = who.strip().lower()
    if "/" in who:
        return [f for f in report.forks if f.name.lower() == who]
    return [f for f in report.forks if f.name.split("/", 1)[0].lower() == who]


def verdict(settings: Settings, upstream: str, fork: str) -> tuple[Report, ForkReport]:
    """One fork's comparison, verdict and evidence from the stored report; :class:`NoSuchFork` unless exactly one."""
    return verdict_in(load(settings, upstream), upstream, fork)


def verdict_in(report: Report, upstream: str, fork: str) -> tuple[Report, ForkReport]:
    """The fork ``fork`` of ``report``; :class:`NoSuchFork` unless exactly one."""
    hits = find_forks(report, fork)
    if len(hits) != 1:
        raise NoSuchFork(upstream, fork, [f.name for f in hits])
    return report, hits[0]


def answer(
    chat: ChatService,
    upstream: str,
    question: str,
    *,
    fork: str | None = None,
    history: Sequence[Turn] = (),
) -> ChatAnswer:
    """A cited answer about ``upstream``'s forks (or one fork), from its stored report and index."""
    report = load(chat.settings, upstream)
    if fork is not None:
        fork = verdict(chat.settings, upstream, fork)[1].name
    from forkwise.service.verdicts.chat import ChatRequest

    req = ChatRequest(upstream=upstream, question=question, fork=fork, history=list(history))
    return chat.answer(report, req)


def start_job(
    jobs: Jobs,
    upstream: str,
    request: JobRequest | None = None,
    on_done: Callable[[Job], None] | None = None,
    *,
    remote: bool = True,
) -> Job:
    """Summarize and index ``upstream`` in the background; the running job when one already covers it.

    The request is checked first (:func:`index_request`): a source a remote caller may not name raises
    :class:`PolicyError` and nothing starts.
    """
    from forkwise.service.runs.jobs import JobRequest, JobSpec

    checked = index_request(jobs.settings, upstream, request, remote=remote)
    spec = JobSpec(upstream=upstream, request=(request or JobRequest()).model_dump(mode="json"), remote=remote)
    return jobs.start(upstream, checked, on_done, spec=spec)


def job_manager(settings: Settings, keep: int = 200) -> Jobs:
    """The background jobs of a server: on Celery workers when ``FORKWISE_BROKER_URL`` is set, else threads of
    this process, each one :func:`summarize` of a checked :class:`SummarizeRequest`."""
    if settings.broker_url:
        from forkwise.service.runs.queue import QueueJobs

        return QueueJobs(settings)
    from forkwise.service.runs.jobs import JobManager

    def work(upstream: str, req: SummarizeRequest, progress: Progress, job_id: str) -> list[str]:
        summary = summarize(req, settings, progress, job_id=job_id)
        return engine.run_errors(summary.report, summary.vectors)

    return JobManager(settings, work, keep=keep)


class PortError(ValueError):
    """Why a fork's work cannot be pushed as a port branch; the message says what to do."""


class PortResult(BaseModel):
    """What ``forkwise port`` pushed: the replayed commits on upstream's head, and where."""

    fork: str
    onto: str
    ref: str
    head: str
    applied: int
    total: int
    first_conflict: FirstConflict | None
    to: str
    branch: str


def port(settings: Settings, upstream: str, fork: str, to: str, branch: str | None = None) -> PortResult:
    """Push the fork's own commits, replayed onto upstream's head (the port plan of its merge facts), to ``to`` as
    ``branch`` (default ``forkwise/port/<owner>/<name>``). The command line's only: ``to`` is the operator's.

    The replayed commits are taken from the mirror's ``refs/forkwise/port/…``; when the mirror lacks them (evicted,
    or computed by another worker) the fork is fetched into it and the plan replayed again, to the same SHAs."""
    report, fr = verdict(settings, upstream, fork)
    facts = fr.facts
    if facts is None or facts.merge is None or facts.merge.port is None:
        why = (facts.merge_note if facts else None) or fr.error or "it was not analysed"
        raise PortError(f"{fr.name} has no port plan: {why}")
    plan = facts.merge.port
    if not plan.applied:
        first = plan.first_conflict
        raise PortError(
            f"none of {fr.name}'s {plan.total} own commits applies onto upstream as it is"
            + (f": {first.sha[:7]} conflicts in {', '.join(first.paths)}" if first else "")
        )
    check_url(to)
    from forkwise.index.merge import Replay, port_plan, port_ref  # the replay machinery: only `port` needs it

    ref = port_ref(fr.name)
    mirror = mirror_path(settings.mirrors_dir, report.upstream.name, report.upstream.url or "")

    def have(rev: str) -> bool:
        return mirror.exists() and bool(
            run_git(mirror, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}", ok_codes=(0, 1)).strip()
        )

    if not (have(facts.head) and have(facts.merge.onto)):  # evicted, or analysed by another worker
        if not (report.upstream.url and fr.url):
            raise PortError(f"the mirror lacks {fr.name}'s commits and the report does not say where to fetch them")
        up = Source(name=report.upstream.name, url=report.upstream.url, ref=report.upstream.ref)
        src = Source(name=fr.name, url=fr.url, ref=fr.ref)
        mirror = ensure_heads(settings, up, {fr.name: (src, facts.head)})
    skip = frozenset(c.sha for c in facts.own_commits if c.upstream_equivalent)

    def git(*args: str, **kw: Any) -> str:
        return run_git(mirror, *args, timeout=settings.git_timeout, **kw)

    replay = Replay(git=git, mirror=mirror, onto=facts.merge.onto, head=facts.head, skip=skip, ref=ref)
    again, head = port_plan(replay, materialize=True)
    if head is None or again.applied != plan.applied:
        raise PortError(
            f"replaying {fr.name} again applied {again.applied} commits, not {plan.applied}: summarize again"
        )
    branch = branch or ref.removeprefix("refs/")
    check_ref(branch)
    try:
        run_git(mirror, "push", "--quiet", "--", to, f"+{ref}:refs/heads/{branch}", timeout=settings.git_timeout)
    except GitError as exc:
        raise PortError(f"pushing to {to} failed: {exc.message}") from exc
    return PortResult(
        fork=fr.name, onto=facts.merge.onto, ref=ref, head=head, applied=plan.applied, total=plan.total,
        first_conflict=plan.first_conflict, to=to, branch=branch,
    )  # fmt: skip


def digest(settings: Settings, upstream: str) -> tuple[int, Report, Digest]:
    """What changed in ``upstream``'s forks since its last digest: the newest stored run (a summarize, an API job or
    a worker's refresh stored it), that run's report and the :class:`Digest` against the run the last digest
    reported. Call :func:`forkwise.service.runs.digest.save_state` once it is delivered.

    Raises :class:`NotSummarized` when nothing is stored for ``upstream``."""
    from forkwise.service.runs.digest import compute, load_state
    from forkwise.service.runs.store import newest_run

    newest = newest_run(settings, upstream)
    if newest is None:
        raise NotSummarized(upstream)
    run_id, report = newest
    return run_id, report, compute(report, load_state(settings, upstream))
