"""From sources to facts for a whole fork network: resolve refs, fetch into the mirror, analyse each fork.

One broken fork never sinks the run: each fork's result carries either facts or a clear ``error``.
A fork whose heads are unchanged since the last run reuses its stored facts without fetching anything.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError

from forkwise.index.facts import UPSTREAM_REF, UpstreamContext, fork_facts, upstream_facts
from forkwise.index.github import RepoMeta
from forkwise.index.gitio import GitError, close_thread_repos
from forkwise.index.mirror import (
    UPSTREAM_KEY,
    Mirror,
    RemoteRefs,
    SourceProblem,
    ls_remote,
    resolve_target,
    source_key,
)
from forkwise.index.models import ForkFacts, UpstreamFacts
from forkwise.index.settings import Settings
from forkwise.index.sources import Source

ANALYSIS_VERSION = "1"
PREFILTER_REASON = "every head is an upstream commit: decided from ls-remote, no objects fetched"
RANKING = "stars (most first), then last push on GitHub (newest first), then the order given"
STAGES = ("resolve", "fetch", "analyse")

Progress = Callable[[str, str, int | None], None]
"""``progress(stage, event, total)``: event is 'start' (with total), 'advance' or 'done'."""


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
    reason: str


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


def no_progress(stage: str, event: str, total: int | None) -> None:
    return None


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


def _cache_key(upstream_head: str, remote: RemoteRefs, target: str, heads: bool) -> str:
    parts = [ANALYSIS_VERSION, upstream_head, target, remote.refs[target]]
    if heads:
        parts += [f"{b}={s}" for b, s in sorted(remote.heads.items())]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


Reresolve = Callable[[ForkInput], Source | None]
"""Asked for a fork whose URL stopped answering: its new source (renamed on the forge) or None (gone)."""


def _rank(o: ForkOutcome, order: int) -> tuple[int, float, int]:
    meta = o.meta
    pushed = meta.pushed_at.timestamp() if meta and meta.pushed_at else 0.0
    return (-(meta.stars if meta else 0), -pushed, order)


def analyse_network(
    upstream: Source,
    forks: list[ForkInput],
    settings: Settings,
    *,
    as_of: datetime | None = None,
    progress: Progress = no_progress,
    use_cache: bool = True,
    between_stages: Callable[[str], None] | None = None,
    max_forks: int | None = None,
    prefilter: bool = True,
    reresolve: Reresolve | None = None,
) -> NetworkFacts:
    """Facts for ``upstream`` and every fork. Raises :class:`UpstreamError` only if upstream is unusable.

    Stages: *resolve* (``ls-remote`` each fork; no objects move), *prefilter* (a fork whose every head is an
    upstream commit is compared without fetching), the ``max_forks`` cap on the forks left (ranked by
    :data:`RANKING`), *fetch* (only those), *analyse*.
    """
    as_of = as_of or datetime.now(UTC)
    timings: dict[str, float] = {}
    mirror = Mirror(settings.mirrors_dir, upstream, blobless=settings.blobless, timeout=settings.git_timeout)
    cache = _Cache(settings.cache_dir / mirror.path.stem)
    workers = settings.worker_count()

    t0 = time.perf_counter()
    try:
        up_remote = ls_remote(upstream.url)
        up_target, _ = resolve_target(upstream, up_remote)
        mirror.ensure()
        mirror.register({UPSTREAM_KEY: upstream})
        mirror.fetch(UPSTREAM_KEY, upstream, up_remote, up_target, heads=False)
        up_facts, ctx = upstream_facts(
            mirror.path,
            upstream.name,
            upstream.url,
            up_target,
            up_remote.default_branch,
            as_of,
            timeout=settings.git_timeout,
        )
    except (SourceProblem, GitError) as exc:
        raise UpstreamError(f"upstream {upstream.name}: {exc}") from exc

    outcomes: list[ForkOutcome] = []
    sources: dict[str, Source] = {}
    for f in forks:
        key = source_key(f.source) if f.source else None
        if key and key in sources:
            continue
        if key and f.source:
            sources[key] = f.source
        outcomes.append(
            ForkOutcome(
                name=f.name,
                url=f.source.url if f.source else None,
                ref=f.source.ref if f.source else None,
                key=key,
                web_url=f.source.web_url if f.source else None,
                meta=f.meta,
                error=f.error,
            )
        )
    inputs = {source_key(f.source): f for f in forks if f.source}

    # resolve: ls-remote every fork (cheap; no objects move)
    resolved: dict[str, tuple[RemoteRefs, str, bool, str]] = {}
    pending = [o for o in outcomes if o.error is None and o.key]
    progress("resolve", "start", len(pending))

    def resolve(o: ForkOutcome) -> None:
        key = o.key or ""
        try:
            try:
                remote = ls_remote(sources[key].url)
            except SourceProblem:
                moved = reresolve(inputs[key]) if reresolve and key in inputs else None
                if moved is None:
                    raise
                sources[key] = moved
                o.url, o.web_url = moved.url, moved.web_url
                remote = ls_remote(moved.url)
            target, _sha = resolve_target(sources[key], remote)
        except SourceProblem as exc:
            o.error = str(exc)
            return
        finally:
            progress("resolve", "advance", None)
        heads = sources[key].url != upstream.url
        resolved[key] = (remote, target, heads, _cache_key(ctx.head, remote, target, heads))

    with ThreadPoolExecutor(max_workers=max(4, settings.resolve_workers)) as pool:
        list(pool.map(resolve, pending))
    progress("resolve", "done", None)
    timings["resolve"] = time.perf_counter() - t0
    if between_stages:
        between_stages("resolve")

    # reuse stored facts for unchanged heads
    todo: list[ForkOutcome] = []
    cached = 0
    for o in outcomes:
        if o.error or o.key not in resolved:
            continue
        hit = cache.get(o.key, resolved[o.key][3]) if use_cache else None
        if hit is not None:
            o.facts, o.prefiltered = hit
            o.cached = True
            cached += 1
        else:
            todo.append(o)

    # prefilter: a fork whose every head is already an upstream commit needs no fetch
    t_pre = time.perf_counter()
    if prefilter and todo:
        known = set(mirror.git("rev-list", ctx.head).split())
        for o in todo:
            remote, target, heads, _ = resolved[o.key or ""]
            wanted = [remote.refs[target]] + (list(remote.heads.values()) if heads else [])
            o.prefiltered = all(sha in known for sha in wanted)
    timings["prefilter"] = time.perf_counter() - t_pre

    # the cap applies to the forks needing an in-depth look (cached or not, so a rerun reports the same forks)
    deep = [o for o in outcomes if o.key in resolved and o.error is None and not o.prefiltered]
    if max_forks is not None and len(deep) > max_forks:
        order = {id(o): i for i, o in enumerate(outcomes)}
        ranked = sorted(deep, key=lambda o: _rank(o, order[id(o)]))
        for i, o in enumerate(ranked[max_forks:], start=max_forks + 1):
            o.skipped = f"not analysed: --max-forks {max_forks} (ranked {i} of {len(ranked)} by {RANKING})"
            o.facts, o.cached = None, False
        todo = [o for o in todo if o.skipped is None]
        cached = sum(o.cached for o in outcomes)
    to_fetch = [o for o in todo if not o.prefiltered]

    t1 = time.perf_counter()
    mirror.register({o.key: sources[o.key] for o in to_fetch if o.key})
    progress("fetch", "start", len(to_fetch))

    def fetch(o: ForkOutcome) -> None:
        remote, target, heads, _ = resolved[o.key or ""]
        try:
            mirror.fetch(o.key or "", sources[o.key or ""], remote, target, heads=heads)
        except (SourceProblem, GitError) as exc:
            o.error = str(exc)
        finally:
            progress("fetch", "advance", None)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(fetch, to_fetch))
    progress("fetch", "done", None)
    timings["fetch"] = time.perf_counter() - t1
    if between_stages:
        between_stages("fetch")

    t2 = time.perf_counter()
    todo = [o for o in todo if o.error is None]
    progress("analyse", "start", len(todo))

    snapshot_facts: dict[str, ForkFacts] = {}

    def analyse(o: ForkOutcome) -> None:
        remote, target, heads, _ck = resolved[o.key or ""]
        try:
            head = remote.refs[target]
            if target.startswith("refs/tags/"):
                head = mirror.git("rev-parse", f"{head}^{{commit}}").strip()
            if o.prefiltered:
                # every head is an upstream commit, so facts depend on the head alone: forks that stopped at the
                # same upstream commit (common: many forks are made the same week) share one computation
                shared = snapshot_facts.get(head)
                if shared is None:
                    shared = fork_facts(ctx, o.key or "", head=head, default_branch=None, ref=target, branches={})
                    snapshot_facts.setdefault(head, shared)
                o.facts = shared.model_copy(update={"ref": target, "default_branch": remote.default_branch})
                return
            branches = {b: s for b, s in remote.heads.items() if f"refs/heads/{b}" != target} if heads else {}
            o.facts = fork_facts(
                ctx, o.key or "", head=head, default_branch=remote.default_branch, ref=target, branches=branches
            )
        except (GitError, ValueError) as exc:
            o.error = f"analysis failed: {exc}"
        finally:
            close_thread_repos()
            progress("analyse", "advance", None)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(analyse, todo))
    fresh = [o for o in todo if o.facts is not None and o.facts.merge_base]
    if fresh:  # one `git describe` for every new merge base
        described = ctx.describe_many([o.facts.merge_base for o in fresh if o.facts and o.facts.merge_base])
        for o in fresh:
            assert o.facts is not None and o.facts.merge_base
            o.facts = o.facts.model_copy(update={"merge_base_describe": described[o.facts.merge_base]})
    for o in todo:
        if o.facts is not None and o.key:
            cache.put(o.key, resolved[o.key][3], o.facts, o.prefiltered)
    progress("analyse", "done", None)
    timings["analyse"] = time.perf_counter() - t2
    return NetworkFacts(
        upstream=up_facts,
        upstream_web_url=upstream.web_url,
        forks=outcomes,
        stats=RunStats(fetched=mirror.fetches, cached=cached, seconds={k: round(v, 3) for k, v in timings.items()}),
        as_of=as_of,
        coverage=coverage(outcomes, max_forks),
    )


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
    "ForkInput",
    "ForkNote",
    "ForkOutcome",
    "NetworkFacts",
    "UpstreamContext",
    "UpstreamError",
    "analyse_network",
]
