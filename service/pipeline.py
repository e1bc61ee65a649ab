"""The whole run behind `summarize`, the demo and the API's index job: facts → verdicts → store → index → LLM.

Verdicts are first written by the deterministic writer; the chunks are indexed; then, if an LLM writer is
configured, each verdict is rewritten by the retrieval chain (which needs the index) and validated, falling back
to the facts verdict (flagged) when it fails. The report is saved last, so the store never holds a half run.
"""

from __future__ import annotations

from typing import Any

from index.network import ForkInput
from index.settings import Settings
from index.sources import Source
from index.vector import IndexStats
from service.llm import chat_model
from service.llm_writer import LLMWriter
from service.models import Report
from service.report import summarize, writer_input
from service.store import index_report, retriever, save_report


def rewrite_verdicts(report: Report, writer: Any) -> Report:
    """Each analysed fork's verdict from ``writer`` (validated inside the writer)."""
    forks = []
    for f in report.forks:
        if f.facts is not None and f.verdict is not None:
            inp = writer_input(f.name, f.facts, report.upstream.name, f.web_url, report.upstream.web_url, report.as_of)
            f = f.model_copy(update={"verdict": writer.write(inp)})
        forks.append(f)
    return report.model_copy(update={"forks": forks})


def run(
    upstream: Source,
    forks: list[ForkInput],
    settings: Settings,
    *,
    writer: str | None = None,
    index: bool = True,
    progress: Any = None,
    **kw: Any,
) -> tuple[Report, IndexStats | None]:
    if progress is not None:
        kw["progress"] = progress
    report = summarize(upstream, forks, settings, **kw)
    if index and progress is not None:
        progress("index", "start", None)
    stats = index_report(report, settings) if index else None
    if index and progress is not None:
        progress("index", "done", None)
    model = chat_model(settings, writer)
    if model is not None:
        kind = writer or settings.llm
        llm = LLMWriter(model, kind, retriever(settings, report.upstream.name) if index else None)
        report = rewrite_verdicts(report, llm)
    save_report(report, settings)
    return report, stats
