"""From a GitHub ``owner/name`` to the pipeline's input: discovered forks as sources, with their metadata."""

from __future__ import annotations

import time
from collections.abc import Callable

from pydantic import BaseModel, ConfigDict

from forkwise.index.github import (
    Discovery,
    EtagStore,
    GitHubClient,
    GitHubError,
    NotFound,
    RepoMeta,
    SortOrder,
    discover_forks,
    safe_web_url,
)
from forkwise.index.mirror import SourceProblem
from forkwise.index.network import ForkInput
from forkwise.index.settings import IndexSettings
from forkwise.index.sources import Source, SourceError


class GitHubNetwork(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    upstream: Source
    forks: list[ForkInput]
    discovery: Discovery


def client_for(
    settings: IndexSettings,
    *,
    max_wait: float | None = None,
    sleep: Callable[[float], None] | None = None,
    etags: EtagStore | None = None,
) -> GitHubClient:
    """The configured GitHub client. It waits for a rate-limit reset up to ``max_wait`` seconds (default
    ``FORKWISE_GITHUB_MAX_WAIT``), through ``sleep`` (e.g. a countdown the user sees). ``etags``: where its
    conditional requests keep ETags and bodies (default: files in this machine's home)."""
    return GitHubClient(
        settings.github_api_url,
        settings.github_token,
        etag_dir=settings.http_cache_dir / "github",
        etags=etags,
        max_wait=settings.github_max_wait if max_wait is None else max_wait,
        web_url=settings.github_url,
        sleep=sleep or time.sleep,
    )


def meta_source(meta: RepoMeta, ref: str | None = None, web_url: str = "https://github.com") -> Source:
    """A source for a repository record: clone from the ``clone_url`` the API returned (validated like any URL);
    its ``html_url`` kept only when it is an http(s) page on the forge's web origin ``web_url``."""
    html = safe_web_url(meta.html_url, web_url)
    return Source(name=meta.full_name, url=meta.clone_url, ref=ref, forge="github", html_url=html)


def fork_input(meta: RepoMeta, web_url: str = "https://github.com") -> ForkInput:
    try:
        return ForkInput(name=meta.full_name, source=meta_source(meta, web_url=web_url), meta=meta)
    except (SourceError, ValueError) as exc:
        return ForkInput(name=meta.full_name, error=f"refused clone URL from the API: {exc}", meta=meta)


def discover(
    client: GitHubClient,
    full_name: str,
    *,
    ref: str | None = None,
    depth: int = 1,
    sort: SortOrder = "stargazers",
    progress: Callable[[int], None] | None = None,
) -> GitHubNetwork:
    """List every fork (down to ``depth``) of ``full_name``; all will be compared with this root."""
    found = discover_forks(client, full_name, depth=depth, sort=sort, progress=progress)
    forks = [fork_input(m, client.web_url) for m in found.forks]
    forks += [ForkInput(name=text.split(":", 1)[0], error=text.split(": ", 1)[-1]) for text in found.missing]
    return GitHubNetwork(upstream=meta_source(found.root, ref, client.web_url), forks=forks, discovery=found)


def reresolver(client: GitHubClient) -> Callable[[ForkInput], Source | None]:
    """For a fork whose clone URL stopped answering: look it up by id.

    Renamed → its new source; deleted (404) → :class:`SourceProblem` saying so; API trouble → None (the git
    error stands).
    """

    def reresolve(fork: ForkInput) -> Source | None:
        if fork.meta is None:
            return None
        try:
            moved = client.repo_by_id(fork.meta.id)
        except NotFound as exc:
            raise SourceProblem(
                f"deleted on GitHub: its clone URL and repository id {fork.meta.id} both answer 404"
            ) from exc
        except GitHubError:
            return None
        if moved.clone_url == fork.meta.clone_url:
            return None
        return meta_source(moved, fork.source.ref if fork.source else None, client.web_url)

    return reresolve
