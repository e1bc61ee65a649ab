"""The ``forkwise`` command line. Commands parse and render; the work is in :mod:`service.report`."""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from index.forge import GitHubNetwork, client_for, discover, reresolver
from index.github import GitHubError
from index.network import ForkInput, UpstreamError
from index.settings import Settings, get_settings
from index.sources import Source, SourceError, load_forks_file, parse_source
from service.models import Report
from service.report import forks_carrying, render

app = typer.Typer(
    help="forkwise: which fork should I use, and why? Compares forks with upstream from git itself.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err = Console(stderr=True)
SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schema" / "report.schema.json"


class Format(StrEnum):
    md = "md"
    json = "json"
    html = "html"


class _Bars:
    """One progress bar per stage, fed from worker threads."""

    def __init__(self, enabled: bool):
        self.progress = Progress(
            TextColumn("{task.description:<8}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err,
            disable=not enabled,
            transient=False,
        )
        self.tasks: dict[str, int] = {}

    def __call__(self, stage: str, event: str, total: int | None) -> None:
        if event == "start":
            self.tasks[stage] = self.progress.add_task(stage, total=total or 0)
        elif event == "advance":
            self.progress.advance(self.tasks[stage])
        elif event == "done" and stage in self.tasks:
            t = self.progress.tasks[self.tasks[stage]]
            self.progress.update(self.tasks[stage], completed=t.total)


def _fork_input(text: str, settings: Settings) -> ForkInput:
    try:
        src = parse_source(text, github_url=settings.github_url)
        return ForkInput(name=src.name, source=src)
    except SourceError as exc:
        return ForkInput(name=text, error=str(exc))


def _run(
    upstream: Source,
    forks: list[ForkInput],
    settings: Settings,
    *,
    cache: bool,
    quiet: bool,
    **kw: Any,
) -> Report:
    from service.pipeline import run

    bars = _Bars(enabled=not quiet and err.is_terminal)
    with bars.progress:
        report, stats = run(upstream, forks, settings, progress=bars, use_cache=cache, **kw)
    if stats is not None and not quiet:
        err.print(
            f"index: {stats.chunks} chunks ({stats.embedded} embedded now, {stats.deleted} dropped; "
            f"{len(stats.forks_unchanged)} forks unchanged)"
        )
    return report


def _discover(full_name: str, ref: str | None, depth: int, sort: str, settings: Settings, quiet: bool) -> GitHubNetwork:
    client = client_for(settings)
    status = err.status(f"listing forks of {full_name} on GitHub…") if not quiet and err.is_terminal else None
    try:
        if status:
            status.start()
        net = discover(client, full_name, ref=ref, depth=depth, sort=sort)  # type: ignore[arg-type]
    except GitHubError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    finally:
        if status:
            status.stop()
    d = net.discovery
    err.print(
        f"GitHub: {len(d.forks)} forks listed in {d.calls} API calls ({d.not_modified} answered 304, free)"
        + ("" if d.complete else f"\n[yellow]{d.note}[/yellow]")
    )
    return net


def _emit(report: Report, fmt: Format, out: Path | None) -> None:
    text = render(report, fmt.value)
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
        err.print(f"report written to [bold]{out}[/bold]")
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")


def _exit_code(report: Report) -> int:
    return 1 if report.counts.failed or not report.coverage.listing_complete else 0


@app.command("summarize")
def summarize_command(
    upstream: Annotated[
        str | None, typer.Argument(help="owner/name, git URL or path. Optional with --forks-file.")
    ] = None,
    fork: Annotated[list[str] | None, typer.Option("--fork", "-f", help="A fork: owner/name, git URL or path.")] = None,
    forks_file: Annotated[
        Path | None, typer.Option(help="TOML file with an \\[upstream] table and \\[\\[forks]] entries.")
    ] = None,
    ref: Annotated[str | None, typer.Option(help="Upstream ref to compare against (default branch if unset).")] = None,
    fmt: Annotated[Format, typer.Option("--format", help="Output format.")] = Format.md,
    out: Annotated[Path | None, typer.Option(help="Write the report here instead of stdout.")] = None,
    find: Annotated[str | None, typer.Option(help="Also list the forks whose own changes carry this term.")] = None,
    cache: Annotated[bool, typer.Option(help="Reuse facts of forks whose heads did not change.")] = True,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")] = False,
    discover_forks: Annotated[
        bool | None,
        typer.Option(
            "--discover/--no-discover",
            help="List the forks on GitHub (default: when UPSTREAM is owner/name and no fork is given).",
        ),
    ] = None,
    depth: Annotated[int, typer.Option(min=1, max=5, help="Fork levels to list: 2 adds forks of forks.")] = 1,
    max_forks: Annotated[
        int | None,
        typer.Option(
            min=0,
            help="Fetch and analyse at most N forks with commits of their own (ranked by stars, then last push); "
            "snapshots are always covered. Default: 100 when discovering, no cap for forks given by hand.",
        ),
    ] = None,
    sort: Annotated[str, typer.Option(help="GitHub listing order: stargazers, newest, oldest.")] = "stargazers",
    writer: Annotated[
        str | None, typer.Option(help="Verdict writer: facts, openai or local (default FORKWISE_LLM, else facts).")
    ] = None,
    index: Annotated[bool, typer.Option(help="Index diffs, commits and READMEs for chat and the LLM writers.")] = True,
) -> None:
    """Compare every fork with upstream and write verdicts.

    Examples: forkwise summarize deepspeedai/DeepSpeed --depth 2 --max-forks 50;
    forkwise summarize --forks-file forks.toml --format html --out report.html
    """
    settings = get_settings()
    try:
        up_file, file_forks = load_forks_file(forks_file, settings.github_url) if forks_file else (None, [])
        if upstream:
            up = parse_source(upstream, ref=ref, github_url=settings.github_url)
        elif up_file:
            up = up_file.model_copy(update={"ref": ref}) if ref else up_file
        else:
            raise SourceError("give UPSTREAM or a forks file with an [upstream] table")
    except SourceError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    forks = [ForkInput(name=s.name, source=s) for s in file_forks] + [_fork_input(t, settings) for t in fork or []]
    if discover_forks is None:
        discover_forks = not forks and up.forge == "github"
    if writer not in (None, "facts", "openai", "local"):
        err.print(f"[red]error:[/red] unknown writer {writer!r}; use facts, openai or local")
        raise typer.Exit(2)
    extra: dict[str, Any] = {"max_forks": max_forks}
    if discover_forks:
        if up.forge != "github":
            err.print(f"[red]error:[/red] --discover needs a GitHub owner/name, not {up.url!r}")
            raise typer.Exit(2)
        found = _discover(up.name, ref, depth, sort, settings, quiet)
        up, forks = found.upstream, forks + found.forks
        extra = {
            "max_forks": 100 if max_forks is None else max_forks,
            "reresolve": reresolver(client_for(settings)),
            "listing": found.discovery,
        }
    elif not forks:
        err.print("[yellow]no forks given[/yellow] (use --fork or --forks-file); reporting upstream only")
    try:
        report = _run(up, forks, settings, cache=cache, quiet=quiet, writer=writer, index=index, **extra)
    except UpstreamError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    _emit(report, fmt, out)
    if find:
        hits = forks_carrying(report, find)
        err.print(f"forks carrying {find!r}: " + ("; ".join(f"{n} ({', '.join(ev[:2])})" for n, ev in hits) or "none"))
    raise typer.Exit(_exit_code(report))


@app.command()
def compare(
    upstream: Annotated[str, typer.Argument(help="Upstream: owner/name, git URL or path.")],
    fork: Annotated[str, typer.Argument(help="Fork: owner/name, git URL or path.")],
    ref: Annotated[str | None, typer.Option(help="Upstream ref.")] = None,
    fork_ref: Annotated[str | None, typer.Option(help="Fork ref (default branch if unset).")] = None,
    fmt: Annotated[Format, typer.Option("--format")] = Format.md,
    out: Annotated[Path | None, typer.Option()] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
) -> None:
    """Compare one fork with upstream."""
    settings = get_settings()
    try:
        up = parse_source(upstream, ref=ref, github_url=settings.github_url)
    except SourceError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    fi = _fork_input(fork, settings)
    if fi.source and fork_ref:
        fi = ForkInput(name=fi.name, source=fi.source.model_copy(update={"ref": fork_ref}))
    try:
        report = _run(up, [fi], settings, cache=True, quiet=quiet)
    except UpstreamError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    _emit(report, fmt, out)
    raise typer.Exit(_exit_code(report))


@app.command()
def demo(
    out: Annotated[Path | None, typer.Option(help="Folder for the demo network and reports.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
) -> None:
    """Build a small example fork network locally (no network), summarize it, and say where the report is."""
    from service.demo import run_demo

    settings = get_settings()
    root = out or settings.home / "demo"
    bars = _Bars(enabled=not quiet and err.is_terminal)
    with bars.progress:
        report, paths = run_demo(root, settings, progress=bars)
    for f in report.forks:
        rec = f.verdict.recommendation if f.verdict else "failed"
        arch = f.archetype or "-"
        err.print(f"  {f.name:<28} {arch:<17} {rec:<15} {f.verdict.summary[:70] + '…' if f.verdict else f.error}")
    err.print(
        f"\n{report.counts.analysed} of {report.counts.forks} forks analysed, {report.counts.failed} failed "
        f"(on purpose: the demo includes a broken fork)."
    )
    for p in paths:
        err.print(f"report: [bold]{p}[/bold]")
    err.print(
        f"browse and chat: [bold]FORKWISE_HOME={settings.home} .venv/bin/forkwise serve[/bold], then open "
        f"http://127.0.0.1:8000/{report.upstream.name}"
    )


@app.command()
def schema(
    check: Annotated[bool, typer.Option(help="Fail if the committed schema differs from the models.")] = False,
    path: Annotated[Path, typer.Option(help="Where the schema lives.")] = SCHEMA_PATH,
) -> None:
    """Write (or check) the JSON Schema of the report."""
    text = json.dumps(Report.model_json_schema(), indent=2, sort_keys=True) + "\n"
    if check:
        if not path.exists() or path.read_text() != text:
            err.print(f"[red]{path} is out of date[/red]: run `forkwise schema`")
            raise typer.Exit(1)
        err.print(f"{path} is up to date")
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    err.print(f"schema written to {path}")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
) -> None:
    """Serve the JSON API, chat and OpenAPI docs (/docs) for everything summarized into FORKWISE_HOME."""
    import uvicorn

    from service.api import create_app

    uvicorn.run(create_app(get_settings()), host=host, port=port, log_level="info")


@app.command("slack-socket")
def slack_socket() -> None:
    """Run the Slack bot over Socket Mode (development: no public URL needed). Needs SLACK_APP_TOKEN."""
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    from service.chat import ChatService
    from service.jobs import JobManager
    from service.llm import chat_model
    from service.slack import create_slack_app

    settings = get_settings()
    if not (settings.slack_app_token and settings.slack_bot_token):
        err.print("[red]error:[/red] Socket Mode needs SLACK_APP_TOKEN (xapp-…) and SLACK_BOT_TOKEN")
        raise typer.Exit(2)
    bolt = create_slack_app(settings, ChatService(settings, chat_model(settings)), JobManager(settings))
    SocketModeHandler(bolt, settings.slack_app_token).start()


def _refresh(repo: str, settings: Settings, quiet: bool) -> Report:
    """Summarize ``repo`` again from the sources its stored report came from (GitHub discovery when it was)."""
    from service.store import load_report

    old = load_report(settings, repo)
    if old is None:
        raise SourceError(f"{repo} has not been summarized yet: run `forkwise summarize {repo}` first")
    if any(f.meta is not None for f in old.forks):
        found = _discover(repo, None, max(f.meta.depth for f in old.forks if f.meta), "stargazers", settings, quiet)
        extra: dict[str, Any] = {
            "reresolve": reresolver(client_for(settings)),
            "listing": found.discovery,
            "max_forks": old.coverage.cap,
        }
        return _run(found.upstream, found.forks, settings, cache=True, quiet=quiet, **extra)
    up = Source(name=old.upstream.name, url=old.upstream.url, ref=old.upstream.ref)
    forks = [
        ForkInput(name=f.name, source=Source(name=f.name, url=f.url, ref=f.ref)) if f.url else ForkInput(name=f.name)
        for f in old.forks
    ]
    return _run(up, forks, settings, cache=True, quiet=quiet, max_forks=old.coverage.cap)


@app.command()
def digest(
    repos: Annotated[list[str] | None, typer.Argument(help="owner/repo … (default: FORKWISE_WATCH).")] = None,
    slack_channel: Annotated[
        str | None, typer.Option(help="Post to this Slack channel (default: FORKWISE_SLACK_CHANNEL).")
    ] = None,
    refresh: Annotated[bool, typer.Option(help="Summarize again first (else use the stored report).")] = True,
    quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
) -> None:
    """Post what changed in the forks since the last digest: one message per repository.

    Example: forkwise digest deepspeedai/DeepSpeed --slack-channel C0123456
    """
    from slack_sdk import WebClient

    from service import digest as dg
    from service.slack import fallback_text, split_messages
    from service.store import load_report

    settings = get_settings()
    targets = repos or settings.watch
    if not targets:
        err.print("[red]error:[/red] name a repository or set FORKWISE_WATCH")
        raise typer.Exit(2)
    channel = slack_channel or settings.slack_channel
    client = None
    if channel:
        if not settings.slack_bot_token:
            err.print("[red]error:[/red] posting to Slack needs SLACK_BOT_TOKEN")
            raise typer.Exit(2)
        client = WebClient(token=settings.slack_bot_token, base_url=settings.slack_api_url.rstrip("/") + "/")
    failed = 0
    for repo in targets:
        try:
            report = _refresh(repo, settings, quiet) if refresh else load_report(settings, repo)
            if report is None:
                raise SourceError(f"{repo} has not been summarized yet")
        except (SourceError, UpstreamError) as exc:
            err.print(f"[red]{repo}:[/red] {exc}")
            failed += 1
            continue
        d = dg.compute(report, dg.load_state(settings, repo))
        if client is not None:
            parts = split_messages(dg.blocks(d, report, settings.public_url))
            client.chat_postMessage(channel=channel, blocks=parts[0], text=fallback_text(parts[0]))
            for part in parts[1:]:  # only when a digest outgrows one message
                client.chat_postMessage(channel=channel, blocks=part, text=fallback_text(part))
            err.print(f"{repo}: digest posted to {channel}")
        else:
            sys.stdout.write(dg.markdown(d))
        dg.save_state(settings, dg.state_of(report))
    raise typer.Exit(1 if failed else 0)


def main() -> None:  # pragma: no cover
    app()


class WriterName(StrEnum):
    facts = "facts"
    openai = "openai"
    local = "local"


@app.command("eval")
def eval_command(
    cases: Annotated[Path | None, typer.Option(help="Folder of case files (default: evals/cases).")] = None,
    writer: Annotated[WriterName, typer.Option(help="Verdict writer to score.")] = WriterName.facts,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write per-fork results and metrics here.")] = None,
    thresholds: Annotated[Path | None, typer.Option(help="Thresholds file (default: evals/thresholds.toml).")] = None,
) -> None:
    """Score verdicts against the hand-labeled cases; exit 1 below the thresholds.

    Example: forkwise eval --json eval.json
    """
    from rich.table import Table

    from evals.scorer import CASES_DIR, THRESHOLDS, run_eval
    from service.llm import ModelUnavailable, chat_model
    from service.llm_writer import make_writer
    from service.writer import FactsWriter

    try:
        w = make_writer(writer.value, chat_model(get_settings(), writer.value))
    except ModelUnavailable as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    result = run_eval(
        cases or CASES_DIR, w if writer is not WriterName.facts else FactsWriter(), thresholds or THRESHOLDS
    )
    table = Table(title=f"forkwise eval ({result.writer} writer)")
    for col in ("case", "fork", "archetype", "recommendation", "checks"):
        table.add_column(col)
    for r in result.cases:
        bad = [k for k, v in r.checks.items() if v is False]
        bad += [f"mention:{p}" for p, ok in r.checks["must_mention"].items() if not ok]
        bad += [f"claims:{p}" for p, hit in r.checks["must_not_claim"].items() if hit]
        want = f" (want {r.labels.archetype})" if r.labels.archetype and r.labels.archetype != r.archetype else ""
        table.add_row(
            r.case,
            r.fork,
            f"{r.archetype or 'failed'}{want}",
            r.recommendation or "-",
            "ok" if not bad else "[red]" + ", ".join(bad) + "[/red]",
        )
    Console().print(table)
    m = result.metrics
    Console().print(
        f"cases {m.cases}, forks {m.forks}\n"
        f"recommendation accuracy {m.recommendation_accuracy:.3f}   archetype accuracy {m.archetype_accuracy:.3f}   "
        f"archetype macro-F1 {m.archetype_macro_f1:.3f}\n"
        f"must_mention recall {m.must_mention_recall:.3f}   must_not_claim violations {m.must_not_claim_violations}   "
        f"citation validity {m.citation_validity:.3f}   number consistency {m.number_consistency:.3f}   "
        f"error labels {m.error_label_accuracy:.3f}\n"
        f"time per fork: mean {m.seconds_per_fork_mean * 1000:.0f} ms, p95 {m.seconds_per_fork_p95 * 1000:.0f} ms"
    )
    Console().print("confusion (gold → predicted): " + json.dumps(m.confusion))
    if json_out:
        json_out.write_text(result.model_dump_json(indent=2))
        err.print(f"results written to {json_out}")
    if result.failures:
        err.print("[red]below thresholds:[/red] " + "; ".join(result.failures))
        raise typer.Exit(1)
    err.print("all thresholds met")
