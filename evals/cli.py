"""``forkwise eval``: score verdicts against the hand-labeled cases; exit 1 below the thresholds, 2 when unusable.

Also ``forkwise demo`` (the demo network is an eval case, built by the same repository builder). Both are
registered with the ``forkwise`` command through the ``forkwise.commands`` entry point group, so the service never
imports the evals (imports run one way: evals → service → index).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from forkwise.service.options import WriterName
from forkwise.service.surfaces.console import make_console

err = make_console(stderr=True)


def eval_command(
    cases: Annotated[
        Path | None, typer.Option(help="Folder of case files (default: the packaged cases and the demo network).")
    ] = None,
    writer: Annotated[WriterName, typer.Option(help="Verdict writer to score.")] = WriterName.facts,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write per-fork results and metrics here.")] = None,
    thresholds: Annotated[
        Path | None,
        typer.Option(
            help="Thresholds file (default: thresholds.toml in --cases, else the packaged one; llm.toml for an LLM "
            "writer)."
        ),
    ] = None,
    subset: Annotated[
        bool, typer.Option(help="Only the cases evals/llm.toml lists (the CI subset for an LLM writer).")
    ] = False,
) -> None:
    """Score verdicts against the hand-labeled cases; exit 1 below the thresholds.

    Example: forkwise eval --json eval.json
    """
    from forkwise.evals.scorer import (
        LLM_BOUNDS,
        THRESHOLDS,
        EvalSetupError,
        case_paths,
        chat_only,
        run_eval,
        subset_paths,
    )  # fmt: skip
    from forkwise.service.verdicts.llm import ModelUnavailable, chat_llm
    from forkwise.service.verdicts.llm_writer import make_writer

    try:
        from forkwise.service.settings import get_settings

        settings = get_settings()
        w = make_writer(writer, settings)
        model = chat_llm(settings, writer)
        own = cases / "thresholds.toml" if cases else None  # a folder of cases may carry its own bounds
        default = LLM_BOUNDS if model is not None else THRESHOLDS
        paths = subset_paths(case_paths(cases)) if subset else case_paths(cases)
        result = run_eval(
            paths, w, thresholds or (own if own and own.is_file() else default), model=model,
            chat_cases=chat_only() if subset else None,
        )  # fmt: skip
    except (ModelUnavailable, EvalSetupError) as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(2) from exc
    table = Table(title=f"forkwise eval ({result.writer} writer)")
    for col in ("case", "fork", "archetype", "recommendation", "checks"):
        table.add_column(col)
    for r in result.cases:
        bad = [k for k, v in r.checks.items() if v is False]
        bad += [f"mention:{p}" for p, ok in r.checks["must_mention"].items() if not ok]
        bad += [f"claims:{p}" for p, hit in r.checks["must_not_claim"].items() if hit]
        bad += [escape(p) for p in r.checks.get("readable_problems", [])]
        sc = r.checks.get("security_claims")
        if sc and sc["claimed"] != sc["expected"]:
            bad.append(f"security:{sc['claimed']} (labeled {sc['expected']})")
        want = f" (want {r.labels.archetype})" if r.labels.archetype and r.labels.archetype != r.archetype else ""
        table.add_row(
            r.case,
            r.fork,
            f"{r.archetype or 'failed'}{want}",
            r.recommendation or "-",
            "ok" if not bad else "[red]" + ", ".join(bad) + "[/red]",
        )
    out = make_console()
    out.print(table)
    m = result.metrics
    out.print(
        f"cases {m.cases}, forks {m.forks}\n"
        f"recommendation accuracy {m.recommendation_accuracy:.3f}   archetype accuracy {m.archetype_accuracy:.3f}   "
        f"archetype macro-F1 {m.archetype_macro_f1:.3f}\n"
        f"must_mention recall {m.must_mention_recall:.3f}   must_not_claim violations {m.must_not_claim_violations}   "
        f"citation validity {m.citation_validity:.3f}   number consistency {m.number_consistency:.3f}   "
        f"error labels {m.error_label_accuracy:.3f}   readable {m.readable:.3f}\n"
        f"security claims: {m.false_security_claims} false ({m.false_lack_claims} saying a side lacks a fix it "
        f"holds or has none), recall {m.security_claim_recall:.3f}\n"
        f"time per fork: mean {m.seconds_per_fork_mean * 1000:.0f} ms, p95 {m.seconds_per_fork_p95 * 1000:.0f} ms"
    )
    out.print("confusion (gold → predicted): " + json.dumps(m.confusion))
    if m.fields_asked:
        reasons = ", ".join(f"{k} {n}" for k, n in sorted(m.fallback_reasons.items())) or "none"
        out.print(
            f"{result.writer} writer: {m.writer_verdicts} verdicts, {m.fields_asked} fields asked, "
            f"{m.fields_fallback} fell back (rate {m.fallback_rate:.3f}; {reasons}); "
            f"{m.seconds_per_verdict:.1f} s per verdict\n"
            f"contradictions {m.contradictions}   false claims {m.false_claims}   injected claims {m.injected_claims}"
        )
    if result.questions:
        qt = Table(title="chat questions (first citation)")
        for col in ("case", "question", "expected", "cited forks", "rank"):
            qt.add_column(col)
        for q in result.questions:
            mark = "" if q.rank == 1 else "[red]"
            qt.add_row(q.case, q.question, q.expected, ", ".join(q.forks[:3]), f"{mark}{q.rank or '-'}")
        out.print(qt)
        out.print(f"chat: {m.chat_questions} questions, hit@1 {m.chat_hit_at_1:.3f}, MRR {m.chat_mrr:.3f}")
        if m.chat_model_questions:
            out.print(
                f"chat with the model: {m.chat_model_answers} of {m.chat_model_questions} answers accepted "
                f"({m.chat_accepted:.3f}); hit@1 {m.chat_hit_at_1_gain:+.3f} against retrieval alone "
                f"({m.chat_retrieval_hit_at_1:.3f}, same questions, same run)"
            )
        if m.chat_model_answers or result.writer != "facts":
            out.print(
                f"chat with the model: {m.chat_model_answers} answers passed the checks; the fork named first is "
                f"the labelled one in {m.chat_named_hit_at_1:.3f}"
            )
    if json_out:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(result.model_dump_json(indent=2))
        err.print(f"results written to {json_out}")
    if result.failures:
        err.print("[red]below thresholds:[/red] " + "; ".join(result.failures))
        raise typer.Exit(1)
    err.print("all thresholds met")


def demo_command(
    out: Annotated[Path | None, typer.Option(help="Folder for the demo network and reports.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Progress for every fork.")] = False,
) -> None:
    """Build a small example fork network locally (no network), summarize it, and say where the report is."""
    from forkwise.evals.demo import run_demo
    from forkwise.index.network import no_progress
    from forkwise.service.settings import get_settings
    from forkwise.service.surfaces.cli import EXIT_INDEX
    from forkwise.service.surfaces.console import progress_for

    settings = get_settings()
    root = out or settings.demo_dir
    progress, live = progress_for(err, quiet=quiet, verbose=verbose)
    with live:
        report, paths, index_error = run_demo(root, settings, progress=progress or no_progress)
    for f in report.forks:
        rec = f.verdict.recommendation if f.verdict else "failed"
        arch = f.archetype or "-"
        err.print(f"  {f.name:<28} {arch:<17} {rec:<15} {f.verdict.headline if f.verdict else f.error}", markup=False)
    err.print(
        f"\n{report.counts.analysed} of {report.counts.forks} forks analysed, {report.counts.failed} failed "
        f"(on purpose: the demo includes a broken fork)."
    )
    for p in paths:
        err.print(f"report: [bold]{p}[/bold]")
    if index_error:
        err.print(f"[red]error:[/red] indexing failed, so chat will not work: {escape(index_error)}", soft_wrap=True)
        raise typer.Exit(EXIT_INDEX)
    home = "" if "FORKWISE_HOME" not in os.environ else f"FORKWISE_HOME={settings.home} "
    err.print(
        f"browse and chat: [bold]{escape(home + invoked_as())} serve[/bold], then open "
        f"http://127.0.0.1:8000/{report.upstream.name}"
    )


def invoked_as() -> str:
    """How to run forkwise again the way this process was started: ``forkwise`` when that is on PATH and is this
    program, else the path that was typed (``.venv/bin/forkwise``)."""
    argv0 = Path(sys.argv[0])
    if argv0.name != "forkwise":
        return "forkwise"
    found = shutil.which("forkwise")
    if found and Path(found).resolve() == argv0.resolve():
        return "forkwise"
    rel = os.path.relpath(argv0.absolute())
    if rel.startswith(".."):
        return str(argv0.absolute())
    return rel if "/" in rel else f"./{rel}"
