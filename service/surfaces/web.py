"""The web page: server-rendered (Jinja2, ``prompts/web``) with a small vanilla script (``service/static``).

Every view has its own URL and renders without JavaScript: ``/`` (repositories, search, add), ``/{o}/{r}``
(summary, forks table, chat), ``/{o}/{r}/forks/{fo}/{fr}`` (the same page with that fork's panel),
``/{o}/{r}/compare?a=…&b=…`` (two forks side by side), ``/jobs/{id}`` (progress). The script sorts and filters
the table, swaps the panel in place (``/{o}/{r}/panel/{fo}/{fr}`` fragments, ``history.pushState``), streams chat
answers (SSE from ``/v1/chat``) and follows index jobs. All assets are served from here: no CDN.
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path as FsPath
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from forkwise.index.names import split_full_name
from forkwise.service.runs.store import list_reports
from forkwise.service.runs.usecases import NoSuchFork, answer, find_forks, start_job
from forkwise.service.surfaces.deps import (
    AccessDep,
    ClientDep,
    JobId,
    JobsDep,
    LimitsDep,
    Segment,
    Services,
    ServicesDep,
    SettingsDep,
    ShownReport,
)
from forkwise.service.verdicts.models import ForkReport, Report
from forkwise.service.verdicts.prompts import html_env

STATIC_DIR = FsPath(str(resources.files("forkwise.service.surfaces"))) / "static"


def bars(groups: dict[str, Any], limit: int = 8) -> list[dict[str, Any]]:
    """Rows for a horizontal bar chart: ``{label, added, deleted, pct_added, pct_deleted}``, largest first."""
    rows = sorted(
        ((k if k != "." else "(root)", g.added, g.deleted) for k, g in groups.items()), key=lambda r: -(r[1] + r[2])
    )[:limit]
    top = max((a + d for _k, a, d in rows), default=0) or 1
    return [
        {"label": k, "added": a, "deleted": d, "pct_added": 100 * a / top, "pct_deleted": 100 * d / top}
        for k, a, d in rows
    ]


def table_rows(report: Report) -> list[ForkReport]:
    """The table's rows before the reader sorts them: the report's one ranking, then the forks without a verdict
    (failed, skipped) in the report's order."""
    ranked = [j.report for j in report.ranked()]
    seen = {f.name for f in ranked}
    return ranked + [f for f in report.forks if f.name not in seen]


def chat_placeholder(report: Report) -> str:
    """An example question from this repository's own forks: a named thing one of them carries ("Which fork
    supports MariaDB?"), else what one says it is for; a generic question when neither is there. The forks are
    taken in the report's one ranking (:meth:`Report.ranked`): the example is about a fork worth asking about."""
    ranked = report.ranked()
    order = {j.name: i for i, j in enumerate(ranked)}
    named = sorted(report.terms.items(), key=lambda kv: (min(order.get(n, 1 << 30) for n in kv[1]), kv[0]))
    if named:
        return f"Which fork supports {named[0][0]}?"
    for j in ranked:
        v = j.verdict
        if v.purpose and v.recommendation != "upstream" and not re.match(r"(?i)(a|an|the)\b", v.purpose):
            return f"Which fork is for {v.purpose}?"
    return "Which fork should I use, and why?"


def _render(name: str, **ctx: Any) -> str:
    return html_env().get_template(f"web/{name}").render(**ctx)


router = APIRouter(include_in_schema=False)


def fork_of(report: Report, name: str) -> ForkReport:
    hits = find_forks(report, name)
    if len(hits) != 1:
        raise NoSuchFork(report.upstream.name, name, [f.name for f in hits])
    return hits[0]


def page(services: Services, report: Report, *, selected: list[ForkReport], question: str | None = None) -> str:
    reply = None
    if question:
        fork = selected[0].name if len(selected) == 1 else None
        reply = answer(services.page_chat(), report.upstream.name, question, fork=fork)
    return _render(
        "repo.html.j2",
        r=report,
        rows=table_rows(report),
        selected=selected,
        bars=bars,
        question=question or "",
        answer=reply,
        archetypes=sorted({f.archetype for f in report.forks if f.archetype}),
        placeholder=chat_placeholder(report),
    )


Question = Annotated[str | None, Query(max_length=2000)]


@router.get("/", response_class=HTMLResponse)
def home(settings: SettingsDep, access: AccessDep, q: Annotated[str | None, Query(max_length=200)] = None) -> str:
    reports = list_reports(settings)
    if q:
        reports = [r for r in reports if q.lower() in r.upstream.name.lower()]
    return _render(
        "index.html.j2", reports=reports, q=q or "", needs_key=access.key is not None, disabled=access.disabled
    )


@router.post("/add")
def add(
    jobs: JobsDep,
    access: AccessDep,
    limits: LimitsDep,
    client: ClientDep,
    repo: Annotated[str, Form(max_length=200)],
    api_key: Annotated[str, Form()] = "",
) -> RedirectResponse:
    try:
        owner, name = split_full_name(repo.strip())
    except ValueError:
        raise HTTPException(422, "give the repository as owner/repo") from None
    access.check(api_key or None)
    limits.hit("job", client)  # refusals answer as the API's do (service/surfaces/errors.py)
    job = start_job(jobs, f"{owner}/{name}")
    return RedirectResponse(f"/jobs/{job.id}", status_code=303)


@router.get("/jobs/{job_id}", response_class=HTMLResponse)
def job_page(job_id: JobId, jobs: JobsDep) -> str:
    job = jobs.get(job_id)
    if job is None:
        raise HTTPException(404, "no such job")
    return _render("job.html.j2", job=job)


@router.get("/{owner}/{repo}", response_class=HTMLResponse)
def repo_page(report: ShownReport, services: ServicesDep, client: ClientDep, q: Question = None) -> str:
    if q:
        services.limits.hit("chat", client)
    return page(services, report, selected=[], question=q)


@router.get("/{owner}/{repo}/forks/{fork_owner}/{fork_repo}", response_class=HTMLResponse)
def fork_page(
    report: ShownReport, services: ServicesDep, client: ClientDep, fork_owner: Segment, fork_repo: Segment,
    q: Question = None,
) -> str:  # fmt: skip
    if q:
        services.limits.hit("chat", client)
    return page(services, report, selected=[fork_of(report, f"{fork_owner}/{fork_repo}")], question=q)


@router.get("/{owner}/{repo}/compare", response_class=HTMLResponse)
def compare_page(
    report: ShownReport,
    services: ServicesDep,
    a: Annotated[str, Query(max_length=200)],
    b: Annotated[str, Query(max_length=200)],
) -> str:
    return page(services, report, selected=[fork_of(report, a), fork_of(report, b)])


@router.get("/{owner}/{repo}/panel/{fork_owner}/{fork_repo}", response_class=HTMLResponse)
def panel(report: ShownReport, fork_owner: Segment, fork_repo: Segment, request: Request) -> str:
    other = request.query_params.get("with")
    selected = [fork_of(report, f"{fork_owner}/{fork_repo}")]
    if other:
        selected.append(fork_of(report, other))
    return _render("panel.html.j2", r=report, selected=selected, bars=bars)
