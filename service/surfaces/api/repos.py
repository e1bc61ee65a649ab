"""Reading: the summarized upstreams, one upstream's summary, its whole report, one fork's verdict."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from forkwise.service.runs.store import list_reports
from forkwise.service.surfaces.api.schemas import ForkDetail, RepoListItem, RepoSummary
from forkwise.service.surfaces.deps import Segment, ServicesDep, SettingsDep, ShownReport, fork_verdict
from forkwise.service.surfaces.guard import is_local_caller
from forkwise.service.verdicts.models import Report
from forkwise.service.verdicts.report import render

router = APIRouter(prefix="/v1/repos", tags=["repos"])


@router.get("", response_model=list[RepoListItem], summary="Repositories summarized so far")
def repos(settings: SettingsDep) -> list[RepoListItem]:
    return [
        RepoListItem(
            name=r.upstream.name, forks=r.coverage.listed, analysed=r.coverage.analysed, generated_at=r.generated_at
        )
        for r in list_reports(settings)
    ]


@router.get("/{owner}/{repo}", response_model=RepoSummary, summary="Upstream summary, forks, coverage")
def repo_summary(report: ShownReport) -> RepoSummary:
    return RepoSummary.of(report)


@router.get(
    "/{owner}/{repo}/report",
    response_model=Report,
    summary="The whole stored report: the schema of `forkwise summarize --format json`",
)
def whole_report(report: ShownReport) -> Response:
    return Response(render(report, "json"), media_type="application/json")


@router.get("/{owner}/{repo}/forks/{fork_owner}/{fork_repo}", response_model=ForkDetail, summary="One fork's verdict")
async def fork_detail(
    request: Request, services: ServicesDep, owner: Segment, repo: Segment, fork_owner: Segment, fork_repo: Segment
) -> Response:
    r, fork = await fork_verdict(services.settings, f"{owner}/{repo}", f"{fork_owner}/{fork_repo}")
    local = is_local_caller(request, services.settings)
    key = (id(r), local, fork.name)
    body = services.details.get(key, r)
    if body is None:
        detail = ForkDetail(upstream=r.upstream.name, fork=(r if local else r.for_remote()).fork(fork.name))
        body = services.details.put(key, r, detail.model_dump_json().encode())
    return Response(body, media_type="application/json")  # serialized once per report version and caller kind
