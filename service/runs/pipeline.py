"""The steps of one summarize run: facts → verdicts → store → index → LLM verdicts → store.

Verdicts are first written by the deterministic writer and the report is saved, so an indexing or model failure
never loses it; the chunks are indexed; then, if an LLM writer is configured, each verdict is rewritten by the
retrieval chain (which needs the index) and validated, falling back to the facts verdict (flagged) when it
fails, and the report is saved again. Called through :func:`forkwise.service.summarize`.
"""

from __future__ import annotations

import time
from datetime import datetime

from forkwise.index.github import Discovery
from forkwise.index.network import ForkInput, Progress, Reresolve, no_progress
from forkwise.index.sources import Source
from forkwise.index.vector import EmbeddingModelError, IndexStats, Material
from forkwise.service.runs.store import save_report
from forkwise.service.runs.vectors import index_report, retriever
from forkwise.service.settings import Settings, WriterName
from forkwise.service.verdicts.models import Report, WriterStats
from forkwise.service.verdicts.report import report_network, stored_input
from forkwise.service.verdicts.writer import Writer


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


def run(
    upstream: Source,
    forks: list[ForkInput],
    settings: Settings,
    *,
    writer: WriterName | None = None,
    index: bool = True,
    progress: Progress = no_progress,
    as_of: datetime | None = None,
    use_cache: bool = True,
    max_forks: int | None = None,
    reresolve: Reresolve | None = None,
    listing: Discovery | None = None,
    job_id: str | None = None,
    remote: bool = False,
) -> tuple[Report, IndexStats | None]:
    """Compare, classify and write (:func:`report_network`), then store and index (:func:`finish`). ``remote``: a
    remote caller asked (recorded on the report, so its refreshes are checked the same way)."""
    report = report_network(
        upstream,
        forks,
        settings,
        progress=progress,
        as_of=as_of,
        use_cache=use_cache,
        max_forks=max_forks,
        reresolve=reresolve,
        listing=listing,
    )
    report = report.model_copy(update={"remote_request": remote})
    return finish(report, settings, writer=writer, index=index, progress=progress, job_id=job_id)


def finish(
    report: Report,
    settings: Settings,
    *,
    writer: WriterName | None = None,
    index: bool = True,
    progress: Progress = no_progress,
    job_id: str | None = None,
    material: dict[str, Material] | None = None,
) -> tuple[Report, IndexStats | None]:
    """Store a built report as a run, index it, let an LLM writer rewrite its verdicts, store it again.
    ``material``: the forks' commit messages and diffs, read by the workers that fetched them."""
    run_id = save_report(report, settings, job_id=job_id)  # first: whatever happens to the index, it is kept
    stats = None
    if index:
        progress("index", "start", None)
        try:
            stats = index_report(report, settings, material=material)
        except EmbeddingModelError as exc:
            stats = IndexStats(error=str(exc))
        except Exception as exc:  # chromadb, an embeddings server: the report stands, the failure is reported
            stats = IndexStats(error=f"{type(exc).__name__}: {str(exc)[:300]}")
        progress("index", "done", None)
    kind = WriterName(writer or settings.llm)
    if kind is not WriterName.facts:
        indexed = index and stats is not None and stats.error is None
        from forkwise.service.verdicts.llm_writer import make_writer

        llm = make_writer(kind, settings, retriever(settings, report.upstream.name) if indexed else None)
        report = rewrite_verdicts(report, llm, progress)
        save_report(report, settings, run_id=run_id)
    return report, stats
