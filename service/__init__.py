"""forkwise's use cases: what the command line, the HTTP API, the web page, Slack and the digest call.

Each surface parses its input, calls one of these and renders the result (see :mod:`forkwise.service.runs.usecases`):

- :func:`summarize` ``(SummarizeRequest, settings) → Summary``: list the forks (GitHub), compare each with
  upstream from git, classify, write verdicts, store and index.
- :func:`verdict` ``(settings, upstream, fork) → (Report, ForkReport)``: one fork's facts, verdict and evidence.
- :func:`answer` ``(chat, upstream, question, fork=…) → ChatAnswer``: a cited answer over the index.
- :func:`digest` ``(settings, upstream) → (run id, Report, Digest)``: what changed since the last digest.
- :func:`start_job` ``(jobs, upstream, JobRequest) → Job``: :func:`summarize` in the background.
- :func:`load` ``(settings, upstream) → Report``: the stored report.

Where a verdict is decided: :func:`forkwise.service.verdicts.classify.classify` (archetype and the rule that fired,
recommendation, confidence, the notes a verdict states), from git facts alone. Writers only phrase that
decision: :class:`forkwise.service.verdicts.writer.FactsWriter` with ``prompts/verdict.toml``, or an LLM writer
(:mod:`forkwise.service.verdicts.llm_writer`) held to the same validation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = [
    "NoSuchFork",
    "NotSummarized",
    "SummarizeRequest",
    "Summary",
    "answer",
    "digest",
    "find_forks",
    "job_manager",
    "load",
    "start_job",
    "summarize",
    "verdict",
]

if TYPE_CHECKING:
    from forkwise.service.runs.usecases import (
        NoSuchFork,
        NotSummarized,
        SummarizeRequest,
        Summary,
        answer,
        digest,
        find_forks,
        job_manager,
        load,
        start_job,
        summarize,
        verdict,
    )


def __getattr__(name: str) -> Any:
    # imported on first use: `forkwise --help` and the models stay light (the use cases pull in chromadb)
    if name in __all__:
        from forkwise.service.runs import usecases

        return getattr(usecases, name)
    raise AttributeError(name)
