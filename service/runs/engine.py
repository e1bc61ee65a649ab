"""The run engine: a summarize is plan → analyse (per chunk) → assemble → finish, over one typed request.

* :func:`plan`: what will be analysed. In one process (``chunk_forks=None``) the plan is one chunk of every fork,
  whose analysis resolves, prefilters and caps them itself in one pass; for workers, the plan does those cheap
  stages here (upstream into the mirror, ``ls-remote`` every fork, prefilter, the cap) and cuts the forks left
  into chunks.
* :func:`analyse`: one chunk's forks fetched and compared in this machine's mirror (facts from the cache when
  their heads did not change); for workers, with the material the index needs read where the objects are.
* :func:`assemble`: every chunk's facts as one network (outcomes, statistics, coverage, warnings), the forks
  classified, related to each other and written up: one :class:`Report`.
* :func:`finish`: the report stored as a run (first: whatever happens next, it is kept), indexed, rewritten by
  an LLM writer when one is configured, and stored again.

:func:`run` chains them in this process (``forkwise summarize``, the server's job threads); the Celery queue
(:mod:`forkwise.service.runs.queue`) only schedules the same functions on workers and persists what passes between
them.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from contextlib import suppress
from datetime import UTC, datetime

from pydantic import BaseModel, Field

from forkwise.index.github import Discovery
from forkwise.index.gitio import GitError
from forkwise.index.mirror import Rel, mirror_path, relations, source_key
from forkwise.index.network import (
    FactsCache,
    ForkInput,
    ForkOutcome,
    NetworkFacts,
    Progress,
    Reresolve,
    RunStats,
    analyse_network,
    coverage,
    ensure_heads,
    no_progress,
    plan_network,
)
from forkwise.index.sources import Source
from forkwise.index.vector import (
    EmbeddingModelError,
    Material,
    Vectors,
    VectorStats,
    embed_chunks,
    material_chunks,
    read_material,
)
from forkwise.service.runs.litestore import save_report
from forkwise.service.runs.vectors import retriever, sync_vectors
from forkwise.service.settings import Settings, WriterName
from forkwise.service.verdicts.classify import Rules
from forkwise.service.verdicts.models import Report, Writer, WriterStats
from forkwise.service.verdicts.report import build_report, stored_input


class RunRequest(BaseModel):
    """One run: the upstream, the forks as listed and checked (:func:`forkwise.service.runs.usecases.prepare`),
    and how to treat them."""

    upstream: Source
    forks: list[ForkInput] = Field(default_factory=list)
    as_of: datetime = Field(default_factory=lambda: datetime.now(UTC), description="Dates are counted up to it.")
    max_forks: int | None = Field(default=None, description="Analyse at most this many forks (the rest: skipped).")
    writer: WriterName | None = Field(default=None, description="None: the configured one (FORKWISE_LLM).")
    index: bool = True
    use_cache: bool = True
    listing: Discovery | None = Field(default=None, description="The forge listing the forks came from.")
    remote: bool = Field(default=False, description="A remote caller asked (or this refreshes what one asked).")


class Plan(BaseModel):
    """What a run analyses. ``outcomes`` None: one chunk of every fork, resolved, prefiltered and capped by its
    own analysis; else every fork's outcome so far (failed to resolve, prefiltered, over the cap, or handed to a
    chunk) and the chunks."""

    request: RunRequest = Field(description="The request, without its forks (they are in the chunks).")
    outcomes: list[ForkOutcome] | None = None
    dispatched: list[str] = Field(default_factory=list, description="Keys of the outcomes handed to chunks.")
    chunks: list[list[ForkInput]] = Field(default_factory=list)

    @property
    def whole(self) -> bool:
        return self.outcomes is None


class ChunkResult(BaseModel):
    """One chunk analysed: its forks' facts, and what the index needs when it is written elsewhere: the material
    (commit messages, diff excerpts) and its chunks' vectors, embedded here."""

    net: NetworkFacts | None = None
    material: dict[str, Material] = Field(default_factory=dict)
    vectors: Vectors | None = None
    error: str | None = None


def plan(
    req: RunRequest,
    settings: Settings,
    *,
    chunk_forks: int | None = None,
    progress: Progress = no_progress,
    reresolve: Reresolve | None = None,
) -> Plan:
    """One chunk of every fork (``chunk_forks`` None), or the cheap stages here and chunks of ``chunk_forks``."""
    bare = req.model_copy(update={"forks": []})
    if chunk_forks is None:
        return Plan(request=bare, chunks=[list(req.forks)])
    progress("resolve", "start", len(req.forks))
    planned = plan_network(
        req.upstream, req.forks, settings, as_of=req.as_of, max_forks=req.max_forks, reresolve=reresolve
    )
    progress("resolve", "done", None)
    todo = planned.dispatch
    chunks = [todo[i : i + chunk_forks] for i in range(0, len(todo), chunk_forks)]
    dispatched = [o.key for o in planned.outcomes if o.key and o.error is None and o.skipped is None]
    return Plan(request=bare, outcomes=planned.outcomes, dispatched=dispatched, chunks=chunks)


def analyse(
    p: Plan,
    forks: list[ForkInput],
    settings: Settings,
    *,
    progress: Progress = no_progress,
    cache: FactsCache | None = None,
    reresolve: Reresolve | None = None,
    material: bool = False,
) -> ChunkResult:
    """Fetch and compare ``forks`` in this machine's mirror. The cap applies here only to a whole plan (a chunked
    one was capped when planned). ``material``: also read the commit messages and diffs the index needs, for
    the forks whose chunks the assembly will build (the assembly may run on another machine), and embed the
    chunks made of them here, so that the embedding work is spread over the workers that fetched the forks."""
    req = p.request
    net = analyse_network(
        req.upstream,
        forks,
        settings,
        as_of=req.as_of,
        progress=progress,
        use_cache=req.use_cache,
        cache=cache,
        max_forks=req.max_forks if p.whole else None,
        reresolve=reresolve,
    )
    if not material:
        return ChunkResult(net=net)
    wanted = _needs_material(settings, p, [o for o in net.forks if o.facts is not None and o.error is None])
    # facts that came from the store were found by another worker: this mirror may lack those forks' commits,
    # and their material is read from it, so they are fetched first
    sources = {f.name: f.source for f in forks if f.source is not None}
    cached = {o.name: (sources[o.name], o.facts.head) for o in wanted if o.cached and o.facts and o.name in sources}
    mirror = mirror_path(settings.mirrors_dir, req.upstream.name, req.upstream.url)
    if cached:
        with suppress(GitError, OSError):  # then those forks' material is what this mirror has
            mirror = ensure_heads(settings, req.upstream, cached, fetch_upstream=False)
    read: dict[str, Material] = {}
    for o in wanted:
        if o.facts is not None:
            try:
                read[o.name] = read_material(o.facts, mirror)
            except GitError:
                read[o.name] = Material()
    chunks = [c for o in wanted if o.facts is not None for c in material_chunks(o.facts, read[o.name])]
    vectors = None
    if chunks:
        try:
            vectors = embed_chunks(settings, chunks)
        except Exception:  # no model here, an embeddings server away: the assembly embeds them, or says why not
            vectors = None
    return ChunkResult(net=net, material=read, vectors=vectors)


def _needs_material(settings: Settings, p: Plan, outcomes: list[ForkOutcome]) -> list[ForkOutcome]:
    """The forks whose chunks the assembly will build: none when the run does not index; with a shared Chroma
    server (``FORKWISE_CHROMA_URL``), those whose head it does not hold; otherwise (each worker's own embedded
    store says nothing about the assembler's) all of them."""
    if not p.request.index:
        return []
    if not settings.chroma_url:
        return outcomes
    from forkwise.index.vector import VectorIndex

    try:
        indexed = VectorIndex(settings, p.request.upstream.name).heads()
    except Exception:  # the server is down: read everything, the assembly will say what indexing did
        return outcomes
    return [o for o in outcomes if o.facts is not None and indexed.get(o.name) != o.facts.head]


def network(p: Plan, chunks: Sequence[tuple[list[ForkInput], ChunkResult]], settings: Settings) -> NetworkFacts:
    """Every chunk's facts as one network: the plan's outcomes with each analysed fork's (a chunk that failed
    gives its forks its error), statistics summed, coverage counted once over all of them, warnings merged."""
    req = p.request
    analysed: dict[str, ForkOutcome] = {}
    nets: list[NetworkFacts] = []
    warnings: list[str] = []
    for forks, res in chunks:
        if res.net is None:
            for fi in forks:
                key = source_key(fi.source) if fi.source else fi.name
                analysed[key] = ForkOutcome(
                    name=fi.name, url=fi.source.url if fi.source else None, ref=fi.source.ref if fi.source else None,
                    key=key, meta=fi.meta, error=res.error or "analysis failed",
                )  # fmt: skip
            continue
        nets.append(res.net)
        for o in res.net.forks:
            analysed[o.key or o.name] = o
        warnings += [w for w in res.net.warnings if w not in warnings]
    if p.outcomes is None:
        outcomes = [o for net in nets for o in net.forks]
    else:
        outcomes = [analysed.get(o.key or "", o) if o.key in p.dispatched else o for o in p.outcomes]
    if not nets:  # nothing was analysed: upstream's facts from this machine's mirror
        nets.append(analyse_network(req.upstream, [], settings, as_of=req.as_of))
    heads = {n.upstream.head for n in nets}
    if len(heads) > 1:
        warnings.append(f"upstream moved while the forks were analysed ({len(heads)} heads); compared with each")
    stages = dict.fromkeys(k for n in nets for k in n.stats.seconds)
    stats = RunStats(
        fetched=sum(n.stats.fetched for n in nets),
        cached=sum(n.stats.cached for n in nets),
        seconds={k: round(sum(n.stats.seconds.get(k, 0.0) for n in nets), 3) for k in stages},
    )
    return NetworkFacts(
        upstream=nets[0].upstream,
        upstream_web_url=nets[0].upstream_web_url,
        forks=outcomes,
        stats=stats,
        as_of=req.as_of,
        coverage=coverage(outcomes, req.max_forks),
        warnings=warnings,
    )


def assemble(
    p: Plan,
    chunks: Sequence[tuple[list[ForkInput], ChunkResult]],
    settings: Settings,
    *,
    writer: Writer | None = None,
    rules: Rules | None = None,
) -> Report:
    """One report from every chunk (:func:`network`): each fork classified and written by the facts writer, the
    forks on one line related to each other in git (fetched here first when another machine analysed them)."""
    req = p.request
    net = network(p, chunks, settings)
    sources = {o.name: Source(name=o.name, url=o.url, ref=o.ref) for o in net.forks
               if o.url and o.facts is not None and o.error is None}  # fmt: skip
    fork_heads = {o.name: o.facts.head for o in net.forks if o.facts is not None and o.error is None}

    def relate(pairs: list[tuple[str, str]]) -> dict[tuple[str, str], Rel]:
        if p.whole:  # analysed here: every head is in this machine's mirror
            mirror = mirror_path(settings.mirrors_dir, req.upstream.name, req.upstream.url)
        else:
            names = {n for pair in pairs for n in pair}
            wanted = {n: (sources[n], fork_heads[n]) for n in names if n in sources}
            mirror = ensure_heads(settings, req.upstream, wanted)  # forks another worker fetched
        return relations(mirror, fork_heads, pairs, settings.git_timeout)

    memo = None
    if writer is None and req.use_cache:  # the facts writer, its verdicts remembered beside the facts cache
        from forkwise.service.verdicts.memo import RememberedWriter

        stem = mirror_path(settings.mirrors_dir, req.upstream.name, req.upstream.url).stem
        memo = RememberedWriter(settings.cache_dir / stem / "verdicts.json")
    report = build_report(net, writer or memo, rules, req.listing, relate)
    if memo is not None:
        memo.save()
    return report.model_copy(update={"remote_request": req.remote})


def rewrite_verdicts(report: Report, writer: Writer, progress: Progress = no_progress) -> Report:
    """Each analysed fork's verdict from ``writer`` (validated inside the writer), on its recorded classification."""
    todo = [f.name for f in report.forks if f.verdict is not None and f.facts is not None]
    progress("write", "start", len(todo))
    forks = []
    seconds = 0.0
    for f in report.forks:
        inp = stored_input(report, f)
        if inp is not None:
            progress("write", "advance", None, f.name)  # a model takes seconds per fork: say which one
            t = time.perf_counter()
            f = f.model_copy(update={"verdict": writer.write(inp)})
            seconds += time.perf_counter() - t
        forks.append(f)
    progress("write", "done", None)
    written = WriterStats.of(str(writer.name), [f.verdict for f in forks if f.verdict and f.facts], seconds)
    stats = report.stats.model_copy(update={"writer": written})
    return report.model_copy(update={"forks": forks, "stats": stats})


def finish(
    report: Report,
    settings: Settings,
    *,
    writer: WriterName | None = None,
    index: bool = True,
    progress: Progress = no_progress,
    job_id: str | None = None,
    material: dict[str, Material] | None = None,
    vectors: Vectors | None = None,
) -> tuple[Report, VectorStats | None]:
    """Store a built report as a run, index it, let an LLM writer rewrite its verdicts, store it again.
    ``material``: the forks' commit messages and diffs, read by the workers that fetched them; ``vectors``: the
    embeddings those workers computed of them."""
    run_id = save_report(report, settings, job_id=job_id)  # first: whatever happens to the index, it is kept
    stats = None
    if index:
        progress("index", "start", None)
        try:
            stats = sync_vectors(report, settings, material=material, vectors=vectors)
        except EmbeddingModelError as exc:
            stats = VectorStats(error=str(exc))
        except Exception as exc:  # chromadb, an embeddings server: the report stands, the failure is reported
            stats = VectorStats(error=f"{type(exc).__name__}: {str(exc)[:300]}")
        progress("index", "done", None)
    kind = WriterName(writer or settings.llm)
    if kind is not WriterName.facts:
        indexed = index and stats is not None and stats.error is None
        from forkwise.service.verdicts.llm_writer import make_writer

        llm = make_writer(kind, settings, retriever(settings, report.upstream.name) if indexed else None)
        report = rewrite_verdicts(report, llm, progress)
        save_report(report, settings, run_id=run_id)
    return report, stats


def run_errors(report: Report, stats: VectorStats | None) -> list[str]:
    """What a finished run reports as its job's errors: each fork that failed, and indexing when it failed."""
    errors = [f"{f.name}: {f.error}" for f in report.forks if f.error]
    if stats is not None and stats.error:
        errors.append(f"indexing failed (the report was saved; chat cannot use it yet): {stats.error}")
    return errors


def report(
    req: RunRequest,
    settings: Settings,
    *,
    progress: Progress = no_progress,
    reresolve: Reresolve | None = None,
    writer: Writer | None = None,
    rules: Rules | None = None,
) -> Report:
    """Plan, analyse and assemble in this process: the report, neither stored nor indexed. ``writer``: the
    verdicts' writer (the facts writer when None; an LLM writer rewrites them in :func:`finish`)."""
    p = plan(req, settings, progress=progress)
    chunk = p.chunks[0]
    analysed = analyse(p, chunk, settings, progress=progress, reresolve=reresolve)
    return assemble(p, [(chunk, analysed)], settings, writer=writer, rules=rules)


def run(
    req: RunRequest,
    settings: Settings,
    *,
    progress: Progress = no_progress,
    reresolve: Reresolve | None = None,
    job_id: str | None = None,
) -> tuple[Report, VectorStats | None]:
    """A whole run in this process: :func:`report`, then :func:`finish`."""
    built = report(req, settings, progress=progress, reresolve=reresolve)
    return finish(built, settings, writer=req.writer, index=req.index, progress=progress, job_id=job_id)
