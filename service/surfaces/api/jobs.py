"""Work: start summarizing and indexing an upstream (202 and a job URL), follow the job."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse

from forkwise.service.runs.jobs import Job, JobRequest
from forkwise.service.runs.usecases import start_job
from forkwise.service.surfaces.api.schemas import JobStarted
from forkwise.service.surfaces.deps import ClientDep, JobId, JobsDep, LimitsDep, Segment, SettingsDep, require_key

router = APIRouter(tags=["jobs"])


@router.post(
    "/v1/repos/{owner}/{repo}/index",
    status_code=202,
    response_model=JobStarted,
    dependencies=[Depends(require_key)],
    summary="Start summarizing and indexing; returns a job URL",
)
def index_endpoint(
    request: Request,
    settings: SettingsDep,
    jobs: JobsDep,
    limits: LimitsDep,
    client: ClientDep,
    owner: Segment,
    repo: Segment,
    req: JobRequest | None = None,
) -> JSONResponse:
    limits.hit("job", client)
    job = start_job(jobs, f"{owner}/{repo}", req)
    started = JobStarted(job=job.id, url=f"/v1/jobs/{job.id}")
    # the body's url is relative (same origin, for the web page); Location is absolute, on the public URL
    location = (settings.public_url or str(request.base_url)).rstrip("/") + started.url
    return JSONResponse(started.model_dump(), status_code=202, headers={"Location": location})


@router.get("/v1/jobs/{job_id}", response_model=Job, summary="A job's progress, errors and, when done, its report")
def job_status(job_id: JobId, jobs: JobsDep) -> Job:
    job = jobs.get(job_id)
    if job is None:
        raise HTTPException(404, "no such job")
    return job
