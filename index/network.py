"""From sources to facts for a whole fork network: resolve refs, fetch into the mirror, analyse each fork.

One broken fork never sinks the run: each fork's result carries either facts or a clear ``error``.
A fork whose heads are unchanged since the last run reuses its stored facts without fetching anything.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from pydantic import BaseModel, Field, ValidationError

from forkwise.index.facts import UPSTREAM_REF, UpstreamContext, upstream_facts
from forkwise.index.github import RepoMeta
from forkwise.index.gitio import GitError, close_thread_repos
from forkwise.index.mirror import (
    UPSTREAM_KEY,
    Mirror,
    RemoteRefs,
    SourceProblem,
    enforce_budget,
    ls_remote,
    resolve_target,
    source_key,
)
from forkwise.index.models import ForkFacts, UpstreamFacts
from forkwise.index.settings import IndexSettings
from forkwise.index.sources import Redacted, Source

ANALYSIS_VERSION = "16"  # 8: licences by SPDX text; 9: README sections keep their Markdown; 10: setup.py read with
# ast; 11: indented README code is code, a lead-in is the sentence that ends with the colon; 12: a lead that only
# says what the fork was forked from is read on into the intro; 13: an extensionless file with a #! line is source;
# 14: a "not" in a clause of its own negates no statement, "For those who …" addresses the reader; 15: a licence
# file holding several licence texts names them all; 16: a README section about what the fork changes comes first
MIB = 1024 * 1024
PREFILTER_REASON = "every head is an upstream commit: decided from ls-remote, no objects fetched"
RANKING = "stars (most first), then last push on GitHub (newest first), then the order given"
STAGES = ("resolve", "fetch", "analyse")


class Progress(Protocol):
    """``progress(stage, event, total, detail)``: event is 'start' (with total), 'advance' or 'done'; ``detail``
    names the item an 'advance' is about when that helps a person (the fork a model is writing for)."""

    def __call__(self, stage: str, event: str, total: int | None, detail: str | None = None) -> None: ...


class UpstreamError(RuntimeError):
    """Upstream itself cannot be read: nothing can be compared."""


class ForkInput(BaseModel):
    """A fork as given: a parsed source, or the text that failed to parse and why."""

    name: str
    source: Source | None = None
    error: str | None = None
    meta: RepoMeta | None = Field(default=None, description="Forge metadata, when the fork was discovered there.")


class ForkOutcome(BaseModel):
    name: str
    url: str | None
    ref: str | None
    key: str | None
    web_url: str | None = None
    meta: RepoMeta | None = None
    facts: ForkFacts | None = None
    error: str | None = None
    cached: bool = False
    prefiltered: bool = Field(default=False, description="Decided from its heads alone; nothing was fetched.")
    skipped: str | None = Field(default=None, description="Why it was not analysed (the --max-forks cap).")


class ForkNote(BaseModel):
    name: str
    reason: Redacted


class Coverage(BaseModel):
    """What the run covered, so a reader knows what the verdicts rest on."""

    listed: int = Field(description="Forks listed (discovered on the forge, or given).")
    listing_complete: bool = True
    listing_note: str | None = None
    prefiltered: int = Field(description=PREFILTER_REASON)
    prefilter_reason: str = PREFILTER_REASON
    analysed: int = Field(description="Fetched and compared in depth.")
    skipped_by_cap: int
    cap: int | None = None
    ranking: str = RANKING
    failed: int
    skipped: list[ForkNote] = Field(default_factory=list)
    failures: list[ForkNote] = Field(default_factory=list)


class RunStats(BaseModel):
    fetched: int = 0
    cached: int = 0
    seconds: dict[str, float] = Field(default_factory=dict)


class NetworkFacts(BaseModel):
    upstream: UpstreamFacts
    upstream_web_url: str | None
    forks: list[ForkOutcome]
    stats: RunStats
    as_of: datetime
    coverage: Coverage
    warnings: list[str] = Field(default_factory=list, description="What could not be checked, and why.")


def no_progress(stage: str, event: str, total: int | None, detail: str | None = None) -> None:
    return None


class FactsCache(Protocol):
    """Per-fork facts keyed by what they were computed from (a file per fork here; a table shared by every
    worker in :mod:`forkwise.service.runs.db`)."""

    def get(self, key: str, cache_key: str) -> tuple[ForkFacts, bool] | None: ...

    def put(self, key: str, cache_key: str, facts: ForkFacts, prefiltered: bool) -> None: ...


class _Cache:
    """Per-fork facts stored as JSON, keyed by what they were computed from."""

    def __init__(self, root: Path):
        self.root = root

    def _path(self, key: str) -> Path:
        return self.root / f"{key}.json"

    def get(self, key: str, cache_key: str) -> tuple[ForkFacts, bool] | None:
        try:
            data = json.loads(self._path(key).read_text())
            if data.get("cache_key") != cache_key:
                return None
            return ForkFacts.model_validate(data["facts"]), bool(data.get("prefiltered"))
        except (OSError, ValueError, KeyError, ValidationError):
            return None

    def put(self, key: str, cache_key: str, facts: ForkFacts, prefiltered: bool) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self._path(key).with_suffix(".tmp")
        data = {"cache_key": cache_key, "prefiltered": prefiltered, "facts": facts.model_dump(mode="json")}
        tmp.write_text(json.dumps(data))
        tmp.replace(self._path(key))


def _cache_key(upstream_head: str, remote: RemoteRefs, target: str, heads: bool, merges: bool = True) -> str:
    parts = [ANALYSIS_VERSION, upstream_head, target, remote.refs[target], "merge" if merges else "no-merge"]
    if heads:
        parts += [f"{b}={s}" for b, s in sorted(remote.heads.items())]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


Reresolve = Callable[[ForkInput], Source | None]
"""Asked for a fork whose URL stopped answering: its new source (renamed on the forge) or None (gone)."""


def _rank(o: ForkOutcome, order: int) -> tuple[int, float, int]:
    meta = o.meta
    pushed = meta.pushed_at.timestamp() if meta and meta.pushed_at else 0.0
    return (-(meta.stars if meta else 0), -pushed, order)


@dataclass(frozen=True)
class Resolved:
    """What ``ls-remote`` said about one fork, and the key its facts are cached under."""

    remote: RemoteRefs
    target: str
    heads: bool = field(metadata={"doc": "its other branches count (it has a URL of its own)"})
    cache_key: str


@dataclass
class _Run:
    """What every stage of one :func:`analyse_network` call shares."""

    settings: IndexSettings
    upstream: Source
    mirror: Mirror
    cache: FactsCache
    ctx: UpstreamContext
    progress: Progress
    reresolve: Reresolve | None
    sources: dict[str, Source] = field(default_factory=dict)
    inputs: dict[str, ForkInput] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)

    def timed(self, stage: str, t0: float) -> None:
        self.timings[stage] = round(time.perf_counter() - t0, 3)


def analyse_network(
    upstream: Source,
    forks: list[ForkInput],
    settings: IndexSettings,
    *,
    as_of: datetime | None = None,
    progress: Progress = no_progress,
    use_cache: bool = True,
    max_forks: int | None = None,
    prefilter: bool = True,
    reresolve: Reresolve | None = None,
    between_stages: Callable[[str], None] | None = None,
    cache: FactsCache | None = None,
) -> NetworkFacts:
    """Facts for ``upstream`` and every fork. Raises :class:`UpstreamError` only if upstream is unusable.

    Stages, each a function below: :func:`_resolve` (``ls-remote`` each fork; no objects move), :func:`_reuse`
    (stored facts for unchanged heads), :func:`_prefilter` (a fork whose every head is an upstream commit is
    compared without fetching), :func:`_cap` (``max_forks`` on the forks left, ranked by :data:`RANKING`),
    :func:`_fetch` (only those), :func:`_analyse` and :func:`_store`. The mirror is locked for the whole run.
    """
    as_of = as_of or datetime.now(UTC)
    mirror = Mirror(settings.mirrors_dir, upstream, blobless=settings.blobless, timeout=settings.git_timeout)
    with mirror.lock(), _asking(forks, settings) as early:  # the forks' remotes answer while upstream is read
        t0 = time.perf_counter()
        up_facts, ctx = _upstream(mirror, upstream, settings, as_of)
        cache = cache or _Cache(settings.cache_dir / mirror.path.stem)
        run = _Run(settings, upstream, mirror, cache, ctx, progress, reresolve)
        outcomes = _outcomes(run, forks)
        resolved = _resolve(run, outcomes, early)
        run.timed("resolve", t0)
        if between_stages:  # a hook after each stage that talks to the forks' remotes
            between_stages("resolve")
        todo = _reuse(run, outcomes, resolved) if use_cache else _pending(outcomes, resolved)
        t = time.perf_counter()
        if prefilter:
            _prefilter(run, todo, resolved)
        run.timed("prefilter", t)
        todo = _cap(outcomes, todo, resolved, max_forks)
        t = time.perf_counter()
        _fetch(run, [o for o in todo if not o.prefiltered], resolved)
        run.timed("fetch", t)
        if between_stages:
            between_stages("fetch")
        t = time.perf_counter()
        analysed = _analyse(run, [o for o in todo if o.error is None], resolved)
        _store(run, analysed, resolved)
        warnings = _advisories(settings, mirror, up_facts.head, outcomes)
        run.timed("analyse", t)
        mirror.mark_used()
        if analysed:
            mirror.changed()  # analysis may have fetched blobs lazily (a blobless mirror)
    if settings.mirror_budget_gb:
        evict_mirrors(settings, keep=mirror.path)
    return NetworkFacts(
        upstream=up_facts,
        upstream_web_url=upstream.web_url,
        forks=outcomes,
        stats=RunStats(fetched=mirror.fetches, cached=sum(o.cached for o in outcomes), seconds=run.timings),
        as_of=as_of,
        coverage=coverage(outcomes, max_forks),
        warnings=warnings,
    )


class NetworkPlan(BaseModel):
    """What a fanned-out run will analyse: every fork's outcome so far (failed to resolve, over the cap, or to be
    analysed) and the forks to hand to workers, with their sources after any rename."""

    upstream_head: str
    outcomes: list[ForkOutcome]
    dispatch: list[ForkInput]


def plan_network(
    upstream: Source,
    forks: list[ForkInput],
    settings: IndexSettings,
    *,
    as_of: datetime,
    max_forks: int | None = None,
    progress: Progress = no_progress,
    reresolve: Reresolve | None = None,
) -> NetworkPlan:
    """The cheap stages of :func:`analyse_network` on this machine: upstream into the mirror, ``ls-remote`` every
    fork, prefilter, the cap. The forks left are analysed elsewhere (each worker runs :func:`analyse_network` on
    its chunk with no cap), so the cap bounds the work of the whole cluster, as it does in one process."""
    mirror = Mirror(settings.mirrors_dir, upstream, blobless=settings.blobless, timeout=settings.git_timeout)
    with mirror.lock():
        up_facts, ctx = _upstream(mirror, upstream, settings, as_of)
        run = _Run(settings, upstream, mirror, _Cache(settings.cache_dir / mirror.path.stem), ctx, progress, reresolve)
        outcomes = _outcomes(run, forks)
        resolved = _resolve(run, outcomes)
        todo = _pending(outcomes, resolved)
        _prefilter(run, todo, resolved)
        todo = _cap(outcomes, todo, resolved, max_forks)
        mirror.mark_used()
    for o in todo:
        o.prefiltered = False  # the worker decides again, from its own ls-remote
    dispatch = [
        ForkInput(name=o.name, source=run.sources[o.key], meta=o.meta) for o in todo if o.key and o.key in run.sources
    ]
    return NetworkPlan(upstream_head=up_facts.head, outcomes=outcomes, dispatch=dispatch)


def ensure_heads(
    settings: IndexSettings, upstream: Source, wanted: dict[str, tuple[Source, str]], *, fetch_upstream: bool = True
) -> Path:
    """This machine's mirror of ``upstream`` with every commit in ``wanted`` (name → (source, sha)): forks whose
    commits are missing (analysed by another worker) are fetched. Returns the mirror's path.

    ``fetch_upstream=False``: the caller has just fetched upstream into this mirror (a chunk whose forks' facts
    came from the store: only their objects may be missing)."""
    mirror = Mirror(settings.mirrors_dir, upstream, blobless=settings.blobless, timeout=settings.git_timeout)
    with mirror.lock():
        mirror.ensure()
        if fetch_upstream:
            up_remote = ls_remote(upstream)
            up_target, _ = resolve_target(upstream, up_remote)
            mirror.register({UPSTREAM_KEY: upstream})
            mirror.fetch(UPSTREAM_KEY, upstream, up_remote, up_target, heads=False)
        missing = {source_key(src): src for src, sha in wanted.values() if not _has(mirror, sha)}
        if missing:
            mirror.register(missing)
        for key, src in missing.items():
            try:
                remote = ls_remote(src)
                target, _ = resolve_target(src, remote)
                mirror.fetch(key, src, remote, target, heads=False)
            except (SourceProblem, GitError):
                continue  # that pair's relation stays unknown; the report says nothing about it
        mirror.mark_used()
    return mirror.path


def _has(mirror: Mirror, sha: str) -> bool:
    try:
        mirror.git("cat-file", "-e", f"{sha}^{{commit}}")
        return True
    except GitError:
        return False


def _advisories(settings: IndexSettings, mirror: Mirror, upstream_head: str, outcomes: list[ForkOutcome]) -> list[str]:
    """Security fixes named by advisories (``FORKWISE_OSV_URL``); a failure is a warning, never a lost run."""
    if not settings.osv_url:
        return []
    from forkwise.index.advisories import AdvisoryError, OsvClient, enrich

    facts = {o.name: o.facts for o in outcomes if o.facts is not None and o.error is None}
    client = OsvClient(settings.osv_url, settings.http_cache_dir / "osv")
    try:
        enriched = enrich(mirror.path, upstream_head, facts, client)
    except AdvisoryError as exc:
        return [f"security advisories not checked: {exc}"]
    finally:
        client.close()
    for o in outcomes:
        if o.name in enriched:
            o.facts = enriched[o.name]
    return []


def evict_mirrors(settings: IndexSettings, keep: Path) -> list[Path]:
    """Least recently used mirrors (and their facts caches) go until all fit in ``FORKWISE_MIRROR_BUDGET_GB``."""
    budget = int(settings.mirror_budget_gb * 1024 * MIB)
    return enforce_budget(
        settings.mirrors_dir, budget, keep, on_evict=lambda p: shutil.rmtree(settings.cache_dir / p.stem, True)
    )


def _upstream(
    mirror: Mirror, upstream: Source, settings: IndexSettings, as_of: datetime
) -> tuple[UpstreamFacts, UpstreamContext]:
    """Fetch upstream into the mirror and read its facts; :class:`UpstreamError` when it cannot be read."""
    try:
        up_remote = ls_remote(upstream)
        up_target, _ = resolve_target(upstream, up_remote)
        mirror.ensure()
        mirror.register({UPSTREAM_KEY: upstream})
        mirror.fetch(UPSTREAM_KEY, upstream, up_remote, up_target, heads=False)
        return upstream_facts(
            mirror.path, upstream.name, upstream.url, up_target, up_remote.default_branch, as_of,
            timeout=settings.git_timeout, cache=settings.cache_dir / mirror.path.stem / "upstream-head.json",
            version=ANALYSIS_VERSION,
        )  # fmt: skip
    except (SourceProblem, GitError) as exc:
        raise UpstreamError(f"upstream {upstream.name}: {exc}") from exc


def _outcomes(run: _Run, forks: list[ForkInput]) -> list[ForkOutcome]:
    """One outcome per distinct source (the same URL and ref given twice is compared once)."""
    outcomes: list[ForkOutcome] = []
    for f in forks:
        key = source_key(f.source) if f.source else None
        if key and key in run.sources:
            continue
        if key and f.source:
            run.sources[key], run.inputs[key] = f.source, f
        src = f.source
        outcomes.append(
            ForkOutcome(
                name=f.name, url=src.url if src else None, ref=src.ref if src else None, key=key,
                web_url=src.web_url if src else None, meta=f.meta, error=f.error,
            )
        )  # fmt: skip
    return outcomes


@contextmanager
def _asking(forks: list[ForkInput], settings: IndexSettings) -> Iterator[dict[str, Future[RemoteRefs]]]:
    """``ls-remote`` of every fork, started now (each source once) and answered in :func:`_resolve`. Leaving early
    (upstream could not be read) cancels those not started yet."""
    pool = ThreadPoolExecutor(max_workers=max(4, settings.resolve_workers))
    early: dict[str, Future[RemoteRefs]] = {}
    try:
        for f in forks:
            if f.source is not None and f.error is None and source_key(f.source) not in early:
                early[source_key(f.source)] = pool.submit(ls_remote, f.source)
        yield early
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _resolve(
    run: _Run, outcomes: list[ForkOutcome], early: dict[str, Future[RemoteRefs]] | None = None
) -> dict[str, Resolved]:
    """``ls-remote`` every fork (cheap; no objects move), or its answer to one :func:`_asking` started; a fork that
    stopped answering is looked up again."""
    resolved: dict[str, Resolved] = {}
    pending = [o for o in outcomes if o.error is None and o.key]
    run.progress("resolve", "start", len(pending))
    early = early or {}

    def resolve(o: ForkOutcome) -> None:
        key = o.key or ""
        try:
            try:
                asked = early.get(key)
                remote = asked.result() if asked is not None else ls_remote(run.sources[key])
            except SourceProblem:
                moved = run.reresolve(run.inputs[key]) if run.reresolve and key in run.inputs else None
                if moved is None:
                    raise
                run.sources[key] = moved
                o.url, o.web_url = moved.url, moved.web_url
                remote = ls_remote(moved)
            target, _sha = resolve_target(run.sources[key], remote)
        except SourceProblem as exc:
            o.error = str(exc)
            return
        finally:
            run.progress("resolve", "advance", None)
        heads = run.sources[key].url != run.upstream.url
        cache_key = _cache_key(run.ctx.head, remote, target, heads, run.settings.merge_facts)
        resolved[key] = Resolved(remote, target, heads, cache_key)

    with ThreadPoolExecutor(max_workers=max(4, run.settings.resolve_workers)) as pool:
        list(pool.map(resolve, pending))
    run.progress("resolve", "done", None)
    return resolved


def _pending(outcomes: list[ForkOutcome], resolved: dict[str, Resolved]) -> list[ForkOutcome]:
    return [o for o in outcomes if o.error is None and o.key in resolved]


def _reuse(run: _Run, outcomes: list[ForkOutcome], resolved: dict[str, Resolved]) -> list[ForkOutcome]:
    """Stored facts for forks whose heads are unchanged; returns the forks still to analyse."""
    todo = []
    for o in _pending(outcomes, resolved):
        hit = run.cache.get(o.key or "", resolved[o.key or ""].cache_key)
        if hit is not None:
            o.facts, o.prefiltered = hit
            o.cached = True
        else:
            todo.append(o)
    return todo


def _prefilter(run: _Run, todo: list[ForkOutcome], resolved: dict[str, Resolved]) -> None:
    """Mark the forks whose every head is already an upstream commit: they need no fetch."""
    if not todo:
        return
    known = set(run.mirror.git("rev-list", run.ctx.head).split())
    for o in todo:
        r = resolved[o.key or ""]
        wanted = [r.remote.refs[r.target]] + (list(r.remote.heads.values()) if r.heads else [])
        o.prefiltered = all(sha in known for sha in wanted)


def _cap(
    outcomes: list[ForkOutcome], todo: list[ForkOutcome], resolved: dict[str, Resolved], max_forks: int | None
) -> list[ForkOutcome]:
    """At most ``max_forks`` forks get an in-depth look (cached ones count, so a rerun reports the same forks)."""
    deep = [o for o in _pending(outcomes, resolved) if not o.prefiltered]
    if max_forks is None or len(deep) <= max_forks:
        return todo
    order = {id(o): i for i, o in enumerate(outcomes)}
    ranked = sorted(deep, key=lambda o: _rank(o, order[id(o)]))
    for i, o in enumerate(ranked[max_forks:], start=max_forks + 1):
        o.skipped = f"not analysed: --max-forks {max_forks} (ranked {i} of {len(ranked)} by {RANKING})"
        o.facts, o.cached = None, False
    return [o for o in todo if o.skipped is None]


def _fetch(run: _Run, to_fetch: list[ForkOutcome], resolved: dict[str, Resolved]) -> None:
    """Fetch each fork into its namespace of the mirror; a fork that fails to fetch gets its error."""
    run.mirror.register({o.key: run.sources[o.key] for o in to_fetch if o.key})
    run.progress("fetch", "start", len(to_fetch))

    limit = int(run.settings.max_fork_mb * MIB)
    dropped: list[str] = []

    def fetch(o: ForkOutcome) -> None:
        r = resolved[o.key or ""]
        try:
            fetched = run.mirror.fetch(o.key or "", run.sources[o.key or ""], r.remote, r.target, heads=r.heads)
            if limit and fetched and (size := run.mirror.own_size(o.key or "")) > limit:
                run.mirror.drop(o.key or "")
                dropped.append(o.key or "")
                o.error = (
                    f"fork too large: it brings {size / MIB:,.1f} MiB of objects upstream lacks "
                    f"(limit {run.settings.max_fork_mb:g} MiB, FORKWISE_MAX_FORK_MB); not analysed"
                )
        except (SourceProblem, GitError) as exc:
            o.error = str(exc)
        finally:
            run.progress("fetch", "advance", None)

    with ThreadPoolExecutor(max_workers=run.settings.worker_count()) as pool:
        list(pool.map(fetch, to_fetch))
    if dropped:  # their objects: off the disk now, not at some later gc
        run.mirror.collect_garbage()
    run.progress("fetch", "done", None)


def _analyse(run: _Run, todo: list[ForkOutcome], resolved: dict[str, Resolved]) -> list[ForkOutcome]:
    """Facts for each fork (snapshots at one upstream commit share one computation); returns the analysed."""
    run.progress("analyse", "start", len(todo))
    snapshot_facts: dict[str, ForkFacts] = {}

    def analyse(o: ForkOutcome) -> None:
        from forkwise.index.facts import fork_facts  # loaded when a fork is analysed: a warm run never is

        r = resolved[o.key or ""]
        try:
            head = r.remote.refs[r.target]
            if r.target.startswith("refs/tags/"):
                head = run.mirror.git("rev-parse", f"{head}^{{commit}}").strip()
            if o.prefiltered:
                # every head is an upstream commit, so facts depend on the head alone: forks that stopped at the
                # same upstream commit (common: many forks are made the same week) share one computation
                shared = snapshot_facts.get(head)
                if shared is None:
                    shared = fork_facts(run.ctx, o.key or "", head=head, default_branch=None, ref=r.target, branches={})
                    snapshot_facts.setdefault(head, shared)
                o.facts = shared.model_copy(update={"ref": r.target, "default_branch": r.remote.default_branch})
                return
            branches = {b: s for b, s in r.remote.heads.items() if f"refs/heads/{b}" != r.target} if r.heads else {}
            o.facts = fork_facts(
                run.ctx, o.key or "", head=head, default_branch=r.remote.default_branch, ref=r.target,
                branches=branches, port_name=o.name if run.settings.merge_facts else None,
            )  # fmt: skip
        except (GitError, ValueError) as exc:
            o.error = f"analysis failed: {exc}"
        finally:
            close_thread_repos()
            run.progress("analyse", "advance", None)

    with ThreadPoolExecutor(max_workers=run.settings.worker_count()) as pool:
        list(pool.map(analyse, todo))
    fresh = [o for o in todo if o.facts is not None and o.facts.merge_base]
    if fresh:  # one `git describe` for every new merge base
        described = run.ctx.describe_many([o.facts.merge_base for o in fresh if o.facts and o.facts.merge_base])
        for o in fresh:
            assert o.facts is not None and o.facts.merge_base
            o.facts = o.facts.model_copy(update={"merge_base_describe": described[o.facts.merge_base]})
    run.progress("analyse", "done", None)
    return [o for o in todo if o.facts is not None]


def _store(run: _Run, analysed: list[ForkOutcome], resolved: dict[str, Resolved]) -> None:
    """Keep each fork's facts under the key of what they were computed from, for the next run."""
    for o in analysed:
        if o.facts is not None and o.key:
            run.cache.put(o.key, resolved[o.key].cache_key, o.facts, o.prefiltered)


def coverage(outcomes: list[ForkOutcome], cap: int | None = None) -> Coverage:
    ok = [o for o in outcomes if o.facts is not None and o.error is None]
    skipped = [ForkNote(name=o.name, reason=o.skipped) for o in outcomes if o.skipped]
    failures = [ForkNote(name=o.name, reason=o.error) for o in outcomes if o.error]
    return Coverage(
        listed=len(outcomes),
        prefiltered=sum(o.prefiltered for o in ok),
        analysed=sum(not o.prefiltered for o in ok),
        skipped_by_cap=len(skipped),
        cap=cap,
        failed=len(failures),
        skipped=skipped,
        failures=failures,
    )


__all__ = [
    "STAGES",
    "UPSTREAM_REF",
    "Coverage",
    "FactsCache",
    "ForkInput",
    "ForkNote",
    "ForkOutcome",
    "NetworkFacts",
    "NetworkPlan",
    "UpstreamContext",
    "UpstreamError",
    "analyse_network",
    "ensure_heads",
    "plan_network",
]
