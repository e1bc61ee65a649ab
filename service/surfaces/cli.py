"""The ``forkwise`` command line. Commands parse and render; the work is in the use cases (:mod:`forkwise.service`)."""

from __future__ import annotations

import gc
import json
import os
import sys
import time
import typing
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer._click.exceptions import BadParameter  # typer 0.29 vendors click (pinned in pyproject.toml)
from typer.core import TyperGroup

from forkwise.service.options import WriterName
from forkwise.service.surfaces.console import deferred_console

if TYPE_CHECKING:  # imported where a command runs: `forkwise --help` loads typer and rich, nothing more
    from forkwise.service.runs.usecases import SummarizeRequest
    from forkwise.service.settings import Settings
    from forkwise.service.verdicts.models import Report


class _PlainHelp(TyperGroup):
    """Help that reads as a command line, not as Python: a flag shows no type (typer prints ``<bool>``), values
    show what to type (``TEXT``, ``PATH``, ``N``; choices as ``md|json|html``), arguments in capitals."""

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        cmd = super().get_command(ctx, cmd_name)
        if cmd is None and _add_plugins(self):
            cmd = super().get_command(ctx, cmd_name)
        if cmd is not None:
            _plain(cmd.get_params(ctx))
        return cmd

    def list_commands(self, ctx: Any) -> list[str]:
        _add_plugins(self)
        return list(super().list_commands(ctx))

    def get_params(self, ctx: Any) -> Any:
        return _plain(super().get_params(ctx))

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except BadParameter as exc:  # typer validates through pydantic, whose prefix means nothing here
            exc.message = exc.message.removeprefix("Value error, ")
            raise


def escape(text: str) -> str:
    """Text shown as it is in a rich console line (rich's markup escape, imported when an error is printed)."""
    from rich.markup import escape as rich_escape

    return rich_escape(text)


def _settings() -> Settings:
    """The settings, read from the environment when a command runs (help needs none); a bad value exits 2 with one
    line naming its variable."""
    from pydantic import ValidationError

    from forkwise.index.settings import settings_problem
    from forkwise.service.settings import Settings, get_settings

    try:
        return get_settings()
    except ValidationError as exc:
        err.print(f"[red]error:[/red] bad setting: {escape(settings_problem(Settings, exc))}", soft_wrap=True)
        raise typer.Exit(2) from None


def _plain(params: list) -> list:
    for p in params:
        p.metavar = _metavar(p)
        if p.param_type_name == "argument":  # its name is shown in capitals already; no Python type beside it
            p.display_type_rich = lambda ctx: None
            # usage as a shell user reads it: UPSTREAM FORK for required ones, [UPSTREAM] when optional
            p._usage_display_name = lambda p=p: p.display_name_raw if p.required else f"[{p.display_name_raw}]"
    return params


def _metavar(p: typer.core.TyperArgument | typer.core.TyperOption) -> str:
    if p.metavar is not None:
        return str(p.metavar)
    if getattr(p, "is_flag", False):
        return ""
    if p.param_type_name == "argument":
        return (p.name or "").upper()
    ann = p.type_descriptor.annotation
    choices = getattr(ann, "__members__", None)
    if choices:
        return "|".join(str(m.value) for m in choices.values())
    inner = typing.get_args(ann)[0] if typing.get_origin(ann) is list else ann
    return {int: "N", float: "SECONDS" if "wait" in (p.name or "") else "NUMBER", Path: "PATH"}.get(inner, "TEXT")


app = typer.Typer(
    cls=_PlainHelp,
    help="forkwise: which fork should I use, and why? Compares forks with upstream from git itself.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err = deferred_console(stderr=True)
SCHEMA_PATH = Path(__file__).resolve().parent.parent.parent / "schema" / "report.schema.json"
"""The report's JSON Schema (package ``forkwise.schema``: ``schema/`` in a checkout, beside ``service/`` when
installed), found without importing ``importlib.resources`` on every start."""


class SortOrder(StrEnum):
    stargazers = "stargazers"
    newest = "newest"
    oldest = "oldest"


class Format(StrEnum):
    md = "md"
    json = "json"
    html = "html"


def _summarize(
    req: SummarizeRequest, settings: Settings, *, quiet: bool, verbose: bool = False
) -> tuple[Report, str | None]:
    """Run the summarize use case with progress on stderr; exit 2 when upstream or the input is unusable.

    Returns the report and, when indexing failed (the report is saved all the same), why."""
    from forkwise.index.github import GitHubError
    from forkwise.index.network import UpstreamError, no_progress
    from forkwise.index.sources import SourceError
    from forkwise.service.runs.usecases import summarize
    from forkwise.service.surfaces.console import progress_for

    progress, live = progress_for(err, quiet=quiet, verbose=verbose)
    try:
        with live:
            result = summarize(req, settings, progress=progress or no_progress)
    except (UpstreamError, SourceError, GitHubError) as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(2) from exc
    if result.discovery is not None:
        d = result.discovery
        err.print(
            f"GitHub: {len(d.forks)} forks listed in {d.calls} API calls ({d.not_modified} answered 304, free)"
            + ("" if d.complete else f"\n[yellow]{d.note}[/yellow]")
        )
    st = result.vectors
    if st is not None and st.error:
        err.print(
            f"[red]error:[/red] indexing failed; the report was saved, but chat and the LLM writers cannot use "
            f"it until a run indexes it (exit {EXIT_INDEX}): {st.error}",
            soft_wrap=True,
        )
        return result.report, st.error
    if st is not None and not quiet:
        err.print(
            f"index: {st.chunks} chunks ({st.embedded} embedded now, {st.deleted} dropped; "
            f"{len(st.forks_unchanged)} forks unchanged)"
        )
    return result.report, None


def _check_writer(writer: WriterName | None, settings: Settings) -> None:
    """Exit 2 with one line saying how to install it when the local model is asked for and not installed."""
    if (writer or settings.llm) is not WriterName.local:
        return
    from forkwise.service.verdicts.llm import local_unavailable

    why = local_unavailable(settings)
    if why:
        err.print(f"[red]error:[/red] --writer local: {escape(why)}", soft_wrap=True)
        raise typer.Exit(2)


def _emit(report: Report, fmt: Format, out: Path | None) -> None:
    from forkwise.service.verdicts.report import render

    text = render(report, fmt.value)
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
        err.print(f"report written to [bold]{out}[/bold]")
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")


EXIT_INDEX = 3
"""Exit code when the report was written but indexing failed (see the README's exit codes)."""


def _exit_code(report: Report, index_error: str | None = None) -> int:
    if index_error:
        return EXIT_INDEX
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
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Progress for every fork.")] = False,
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
    sort: Annotated[SortOrder, typer.Option(help="GitHub listing order.")] = SortOrder.stargazers,
    writer: Annotated[
        WriterName | None, typer.Option(help="Verdict writer (default FORKWISE_LLM, else facts).")
    ] = None,
    index: Annotated[bool, typer.Option(help="Index diffs, commits and READMEs for chat and the LLM writers.")] = True,
    max_wait: Annotated[
        float | None,
        typer.Option(
            min=0,
            help="Wait up to this many seconds for a GitHub rate-limit reset (a countdown shows it); "
            "a later reset stops the listing with a partial report. Default FORKWISE_GITHUB_MAX_WAIT (300).",
        ),
    ] = None,
) -> None:
    """Compare every fork with upstream and write verdicts.

    Examples: forkwise summarize deepspeedai/DeepSpeed --depth 2 --max-forks 50;
    forkwise summarize --forks-file forks.toml --format html --out report.html
    """
    from forkwise.index.network import ForkInput
    from forkwise.index.sources import SourceError, load_forks_file, network_sources, parse_source
    from forkwise.service.runs.usecases import SummarizeRequest, fork_inputs
    from forkwise.service.verdicts.report import forks_carrying

    settings = _settings()
    _check_writer(writer, settings)
    try:
        up_file, file_forks = load_forks_file(forks_file, settings.github_url) if forks_file else (None, [])
        if upstream:
            up = parse_source(upstream, ref=ref, github_url=settings.github_url)
        elif up_file:
            up = up_file.model_copy(update={"ref": ref}) if ref else up_file
        else:
            raise SourceError("give UPSTREAM or a forks file with an [upstream] table")
        # a repository holding a whole network (refs/remotes/<owner>/*, e.g. a bundle): its remotes are the forks
        network = network_sources(up) if not fork and not file_forks and not discover_forks else None
    except SourceError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(2) from exc
    if network is not None:
        up, net_forks = network
        file_forks = net_forks
        if not quiet:
            err.print(f"{up.url}: upstream {up.ref}, {len(net_forks)} forks from its remotes", markup=False)
    forks = [ForkInput(name=s.name, source=s) for s in file_forks] + fork_inputs(fork or [], settings)
    if not forks and not (discover_forks or (discover_forks is None and up.forge == "github")):
        err.print("[yellow]no forks given[/yellow] (use --fork or --forks-file); reporting upstream only")
    req = SummarizeRequest(
        upstream=up,
        forks=forks,
        discover=discover_forks,
        depth=depth,
        sort=sort.value,
        max_forks=max_forks,
        writer=writer,
        index=index,
        use_cache=cache,
        max_wait=max_wait,
    )
    report, index_error = _summarize(req, settings, quiet=quiet, verbose=verbose)
    _emit(report, fmt, out)
    if find:
        hits = forks_carrying(report, find)
        err.print(f"forks carrying {find!r}: " + ("; ".join(f"{n} ({', '.join(ev[:2])})" for n, ev in hits) or "none"))
    raise typer.Exit(_exit_code(report, index_error))


@app.command()
def compare(
    upstream: Annotated[str, typer.Argument(help="Upstream: owner/name, git URL or path.")],
    fork: Annotated[str, typer.Argument(help="Fork: owner/name, git URL or path.")],
    ref: Annotated[str | None, typer.Option(help="Upstream ref (or UPSTREAM#REF).")] = None,
    fork_ref: Annotated[str | None, typer.Option(help="Fork ref (or FORK#REF; default branch if unset).")] = None,
    fmt: Annotated[Format, typer.Option("--format", help="Output format.")] = Format.md,
    out: Annotated[Path | None, typer.Option(help="Write the report here instead of stdout.")] = None,
    writer: Annotated[
        WriterName | None, typer.Option(help="Verdict writer (default FORKWISE_LLM, else facts).")
    ] = None,
    index: Annotated[
        bool, typer.Option(help="Index its diffs, commits and README for chat and the LLM writers.")
    ] = True,
    cache: Annotated[bool, typer.Option(help="Reuse its facts when its head did not change.")] = True,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress.")] = False,
) -> None:
    """Compare one fork with upstream.

    Examples: forkwise compare acme/engine amy/engine; forkwise compare net.bundle#refs/remotes/upstream/HEAD
    net.bundle#refs/remotes/amy/HEAD
    """
    from forkwise.index.network import ForkInput
    from forkwise.index.sources import SourceError, parse_source
    from forkwise.service.runs.usecases import SummarizeRequest

    settings = _settings()
    _check_writer(writer, settings)
    try:
        up = parse_source(upstream, ref=ref, github_url=settings.github_url)
        src = parse_source(fork, ref=fork_ref, github_url=settings.github_url)
    except SourceError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(2) from exc
    if src.name == up.name:  # one repository, two refs: name them apart
        src = src.model_copy(update={"name": f"{src.name}#{src.ref or 'default'}"})
    req = SummarizeRequest(upstream=up, forks=[ForkInput(name=src.name, source=src)], discover=False, writer=writer,
                           index=index, use_cache=cache)  # fmt: skip
    report, index_error = _summarize(req, settings, quiet=quiet)
    _emit(report, fmt, out)
    raise typer.Exit(_exit_code(report, index_error))


@app.command()
def port(
    upstream: Annotated[str, typer.Argument(help="The upstream as summarized (owner/name).")],
    fork: Annotated[str, typer.Argument(help="The fork (owner/name, or its owner when that is unique).")],
    to: Annotated[
        str | None,
        typer.Option(help="Repository to push to (a path or URL); default: the git repository you are in."),
    ] = None,
    branch: Annotated[
        str | None, typer.Option(help="Branch to create there; default forkwise/port/<owner>/<name>.")
    ] = None,
) -> None:
    """Push a fork's own commits, replayed onto today's upstream, as a branch: the commits of its port plan (those
    that apply in order, up to the first conflict), with their authors and messages.

    Example: forkwise port acme/trainer habana-ai/trainer --to ../trainer --branch gaudi
    """
    import subprocess

    from forkwise.index.sources import SourceError
    from forkwise.service.runs.usecases import NoSuchFork, NotSummarized, PortError
    from forkwise.service.runs.usecases import port as port_use_case

    if to is None:
        top = subprocess.run(["git", "rev-parse", "--show-toplevel"], capture_output=True, text=True, check=False)
        if top.returncode:
            err.print("[red]error:[/red] not in a git repository: give the repository to push to with --to PATH")
            raise typer.Exit(2)
        to = top.stdout.strip()
    try:
        res = port_use_case(_settings(), upstream, fork, to, branch)
    except (NotSummarized, NoSuchFork, PortError, SourceError) as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(2) from None
    first = res.first_conflict
    print(
        f"pushed {res.branch} to {res.to}: {res.applied} of {res.fork}'s {res.total} own commits on upstream's "
        f"{res.onto[:7]} (head {res.head[:7]})"
        + (f"; the next, {first.sha[:7]}, conflicts in {', '.join(first.paths)}" if first else "")
    )


@app.command()
def schema(
    check: Annotated[bool, typer.Option(help="Fail if the committed schema differs from the models.")] = False,
    path: Annotated[Path, typer.Option(help="Where the schema lives.")] = SCHEMA_PATH,
) -> None:
    """Write (or check) the JSON Schema of the report."""
    from forkwise.service.verdicts.models import Report

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

    from forkwise.service.surfaces.access import is_loopback
    from forkwise.service.surfaces.api import create_app
    from forkwise.service.surfaces.guard import uvicorn_options

    settings = _settings()
    if not settings.public_url:  # links in Slack messages and Location headers: where this server is reached
        import socket

        shown = socket.gethostname() if host in ("0.0.0.0", "::", "") else host
        shown = f"[{shown}]" if ":" in shown else shown
        settings = settings.model_copy(update={"public_url": f"http://{shown}:{port}"})
        if not is_loopback(host):
            err.print(f"[yellow]note:[/yellow] FORKWISE_PUBLIC_URL is unset; links will use {settings.public_url}")
    app = create_app(settings, host=host)
    if app.state.access.disabled:
        err.print(f"[yellow]warning:[/yellow] {app.state.access.disabled}")
    if settings.warm_upstreams:  # before it listens: the first wave of questions finds the stack loaded
        from forkwise.service.runs.store import list_reports

        recent = sorted(list_reports(settings), key=lambda r: r.as_of, reverse=True)[: settings.warm_upstreams]
        t = time.perf_counter()
        problems = app.state.services.chat.warm(recent)
        for problem in problems:
            err.print(f"[yellow]warning:[/yellow] chat index not loaded: {escape(problem)}", soft_wrap=True)
        if len(recent) > len(problems):
            names = escape(", ".join(r.upstream.name for r in recent))
            err.print(f"chat: loaded before listening in {time.perf_counter() - t:.1f} s: {names}", soft_wrap=True)
    # X-Forwarded-For only from FORKWISE_TRUSTED_PROXIES (uvicorn's default trusts any loopback peer)
    uvicorn.run(app, host=host, port=port, log_level="info", **uvicorn_options(settings))


@app.command()
def worker(
    concurrency: Annotated[
        int | None, typer.Option("--concurrency", "-c", help="Jobs this worker runs at once (default: one per core).")
    ] = None,
    beat: Annotated[
        bool, typer.Option(help="Also send the refresh schedule (FORKWISE_REFRESH_HOURS); run one per cluster.")
    ] = False,
    loglevel: Annotated[str, typer.Option(help="Celery log level.")] = "INFO",
) -> None:
    """Run index jobs from the broker (FORKWISE_BROKER_URL) until stopped: see README "Running on several machines"."""
    from forkwise.service.runs.queue import run_worker

    try:
        run_worker(_settings(), concurrency, beat, loglevel)
    except ValueError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(2) from None


@app.command("slack-socket")
def slack_socket() -> None:
    """Run the Slack bot over Socket Mode (development: no public URL needed). Needs SLACK_APP_TOKEN."""
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    from forkwise.service.runs.usecases import job_manager
    from forkwise.service.surfaces.slack import create_slack_app
    from forkwise.service.verdicts.chat import ChatService
    from forkwise.service.verdicts.llm import chat_llm

    settings = _settings()
    if not (settings.slack_app_token and settings.slack_bot_token):
        err.print("[red]error:[/red] Socket Mode needs SLACK_APP_TOKEN (xapp-…) and SLACK_BOT_TOKEN")
        raise typer.Exit(2)
    bolt = create_slack_app(settings, ChatService(settings, chat_llm(settings)), job_manager(settings))
    SocketModeHandler(bolt, settings.slack_app_token).start()


@app.command()
def digest(
    repos: Annotated[list[str] | None, typer.Argument(help="owner/repo … (default: FORKWISE_WATCH).")] = None,
    slack_channel: Annotated[
        str | None, typer.Option(help="Post to this Slack channel (default: FORKWISE_SLACK_CHANNEL).")
    ] = None,
    refresh: Annotated[
        bool, typer.Option(help="Summarize again first (else compare the newest stored run, e.g. a worker refresh's).")
    ] = True,
    quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
) -> None:
    """Post what changed in the forks since the last digest: one message per repository.

    Example: forkwise digest deepspeedai/DeepSpeed --slack-channel C0123456
    """
    from slack_sdk import WebClient

    from forkwise.service.runs.digest import save_state
    from forkwise.service.runs.usecases import NotSummarized, refresh_request
    from forkwise.service.runs.usecases import digest as digest_of
    from forkwise.service.surfaces import digest as dg
    from forkwise.service.surfaces.slack import fallback_text, split_messages

    settings = _settings()
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
            if refresh:
                _, index_error = _summarize(refresh_request(settings, repo), settings, quiet=quiet)
                failed += index_error is not None  # the digest still goes out: the report is fine
            # the run just stored, or the newest a worker's refresh stored, against the last digest's
            run_id, report, d = digest_of(settings, repo)
        except NotSummarized as exc:
            err.print(f"[red]{repo}:[/red] {exc}: run `forkwise summarize {repo}` first")
            failed += 1
            continue
        except typer.Exit:
            failed += 1
            continue
        if client is not None:
            parts = split_messages(dg.blocks(d, report, settings.public_url))
            assert channel is not None  # a client is made only for a channel
            client.chat_postMessage(channel=channel, blocks=parts[0], text=fallback_text(parts[0]))
            for part in parts[1:]:  # only when a digest outgrows one message
                client.chat_postMessage(channel=channel, blocks=part, text=fallback_text(part))
            err.print(f"{repo}: digest posted to {channel}")
        else:
            sys.stdout.write(dg.markdown(d))
        save_state(settings, repo, run_id)
    raise typer.Exit(1 if failed else 0)


def _add_plugins(group: TyperGroup) -> bool:
    """Add the commands that other packages add (entry point group ``forkwise.commands``, e.g. ``forkwise eval``)
    to ``group``, once; False when they were added already. ``forkwise.evals`` builds on the service; registering
    its commands this way keeps imports running one way.

    Looked up only when a command is not a built-in one or the commands are listed (help): reading every installed
    package's entry points takes ~50 ms, which ``summarize`` need not pay."""
    if getattr(group, "_plugins_added", False):
        return False
    group._plugins_added = True  # type: ignore[attr-defined]  # a flag on this one group object
    from importlib.metadata import entry_points

    for ep in entry_points(group="forkwise.commands"):
        if ep.name not in group.commands:
            one = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
            one.command(ep.name)(ep.load())
            group.add_command(typer.main.get_command(one), ep.name)  # a one-command app is that command
    return True


def main() -> None:  # pragma: no cover - the console script
    # pydantic looks for plugins (entry points of every installed package) when the first model is built: ~10 ms
    # of every command, for plugins forkwise does not use. PYDANTIC_DISABLE_PLUGINS= (empty) lets them load.
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    try:
        app()
    finally:
        # the process ends here: its objects go to the permanent generation, so the interpreter's last collection
        # does not walk every object the imports made (~35 ms of a 0.3 s warm summarize); what is left is freed by
        # reference counting, every file and store having been closed by its own context
        gc.freeze()


if __name__ == "__main__":  # pragma: no cover - `python -m forkwise.service.surfaces.cli`
    main()
