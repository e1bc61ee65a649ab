"""GitHub REST: list every fork of a repository, within the rate limit, resumably.

* ``Link``-header pagination, never computed page numbers; records de-duplicated by repository ``id``.
* Conditional requests: every 200 stores its ``ETag`` and body; the next request for the same URL sends
  ``If-None-Match`` and a ``304`` (free on GitHub) replays the stored body. A run stopped by the rate limit is
  resumed by running it again: the pages already seen cost nothing.
* Primary limit (``x-ratelimit-remaining``/``-reset``): no request is sent once the budget is known to be gone;
  a 403/429 saying so raises :class:`RateLimitExhausted` (or waits, when the reset is within ``max_wait``).
  Secondary limit (``Retry-After``): waits that long, then retries. 5xx and timeouts: retried with backoff.
* 404 for a listed fork (renamed or deleted): re-resolved through ``GET /repositories/{id}``.

The ETag store (:class:`EtagStore`: a folder of small JSON files, or the shared store's table so every worker's
requests are conditional on what any of them got) rather than an HTTP cache library: GitHub's budget rules (a 304 is
free, the budget headers decide whether to send at all) need explicit control over what is sent, and
hishel/cachecontrol would answer from cache without asking, which is wrong for fork lists that change.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol
from urllib.parse import urljoin, urlsplit

from pydantic import BaseModel, Field

from forkwise.index.names import is_full_name

if TYPE_CHECKING:  # httpx and tenacity load with the first client: a run over given forks never talks to GitHub
    import httpx

USER_AGENT = "forkwise (+https://github.com/forkwise)"


class GitHubError(RuntimeError):
    """A GitHub request failed for good; the message says which and why."""


class NotFound(GitHubError):
    pass


class RateLimitExhausted(GitHubError):
    """The primary budget is gone until ``reset_at``; run again after that to resume."""

    def __init__(self, message: str, reset_at: datetime | None):
        super().__init__(message)
        self.reset_at = reset_at


class _Transient(Exception):
    """A 5xx or a timeout: worth retrying."""


class CallRecord(BaseModel):
    method: str
    url: str
    status: int
    conditional: bool = False


class RepoMeta(BaseModel):
    """What forkwise keeps of a GitHub repository record."""

    id: int
    full_name: str
    clone_url: str
    html_url: str
    default_branch: str | None = None
    stars: int = 0
    forks_count: int = 0
    archived: bool = False
    disabled: bool = False
    fork: bool = False
    license: str | None = Field(default=None, description="SPDX id from the API, when GitHub detected one.")
    description: str | None = None
    created_at: datetime | None = None
    pushed_at: datetime | None = Field(
        default=None, description="Any push to any branch; used to rank the shortlist, never as activity."
    )
    parent: str | None = Field(default=None, description="full_name of the repository this one was forked from.")
    depth: int = Field(default=0, description="0 for the root, 1 for its direct forks, 2 for forks of forks …")

    @classmethod
    def from_api(cls, data: dict[str, Any], *, depth: int = 0, parent: str | None = None) -> RepoMeta:
        lic = data.get("license") or {}
        spdx = lic.get("spdx_id") if isinstance(lic, dict) else None
        return cls(
            id=int(data["id"]),
            full_name=str(data["full_name"]),
            clone_url=str(data["clone_url"]),
            html_url=str(data.get("html_url") or ""),
            default_branch=data.get("default_branch"),
            stars=int(data.get("stargazers_count") or 0),
            forks_count=int(data.get("forks_count") or 0),
            archived=bool(data.get("archived")),
            disabled=bool(data.get("disabled")),
            fork=bool(data.get("fork")),
            license=spdx if spdx and spdx != "NOASSERTION" else None,
            description=(data.get("description") or None),
            created_at=data.get("created_at"),
            pushed_at=data.get("pushed_at"),
            parent=parent or ((data.get("parent") or {}).get("full_name")),
            depth=depth,
        )


def _origin(url: str) -> str:
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = -1
    default = {"https": 443, "http": 80}.get(parts.scheme.lower())
    return f"{parts.scheme.lower()}://{(parts.hostname or '').lower()}:{port or default}"


def safe_web_url(url: str | None, web_url: str) -> str | None:
    """``url`` when it is an http(s) page on the forge's web origin ``web_url``, else None: an ``html_url`` the API
    returns is rendered as a link, and ``javascript:`` or another host must never reach a page or a chat card."""
    if not url or _origin(url) != _origin(web_url) or urlsplit(url).scheme.lower() not in ("http", "https"):
        return None
    return url


class Discovery(BaseModel):
    """The outcome of listing a repository's forks."""

    root: RepoMeta
    forks: list[RepoMeta]
    complete: bool = True
    note: str | None = Field(default=None, description="Why the listing is incomplete, and how to resume.")
    missing: list[str] = Field(default_factory=list, description="Forks whose listing failed (404, deleted).")
    calls: int = 0
    not_modified: int = 0


class EtagStore(Protocol):
    """Where conditional requests keep what they got: URL → ``{"url", "etag", "body", "next"}``. A folder of files
    (:class:`FileEtags`, one machine) or the shared store (``forkwise.service.runs.store.DbEtags``: every worker)."""

    def get(self, url: str) -> dict[str, Any] | None: ...

    def put(self, url: str, etag: str, body: Any, next_url: str | None) -> None: ...


class FileEtags:
    """URL → (etag, body, next link) as JSON files; atomic writes, safe across threads and runs."""

    def __init__(self, root: Path | None):
        self.root = root

    def _path(self, url: str) -> Path | None:
        if self.root is None:
            return None
        return self.root / f"{hashlib.sha256(url.encode()).hexdigest()[:32]}.json"

    def get(self, url: str) -> dict[str, Any] | None:
        p = self._path(url)
        if p is None:
            return None
        try:
            data = json.loads(p.read_text())
            return data if data.get("url") == url else None
        except (OSError, ValueError):
            return None

    def put(self, url: str, etag: str, body: Any, next_url: str | None) -> None:
        p = self._path(url)
        if p is None:
            return
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_suffix(f".{threading.get_ident()}.tmp")
        tmp.write_text(json.dumps({"url": url, "etag": etag, "body": body, "next": next_url}))
        tmp.replace(p)


def _reset_time(headers: httpx.Headers) -> datetime | None:
    raw = headers.get("x-ratelimit-reset")
    try:
        return datetime.fromtimestamp(int(raw), UTC) if raw else None
    except ValueError:
        return None


class GitHubClient:
    """A small, budget-aware GitHub REST client (sync; one instance per run)."""

    def __init__(
        self,
        api_url: str = "https://api.github.com",
        token: str | None = None,
        *,
        etag_dir: Path | None = None,
        etags: EtagStore | None = None,
        timeout: float = 30.0,
        retries: int = 4,
        backoff: float = 1.0,
        max_wait: float = 0.0,
        max_retry_after: float = 120.0,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        web_url: str | None = None,
    ):
        headers = {
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
            "User-Agent": USER_AGENT,
        }
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.api_url = api_url.rstrip("/")
        self._web_url = web_url.rstrip("/") if web_url else None
        import httpx

        self._http = httpx.Client(headers=headers, timeout=timeout, transport=transport, follow_redirects=True)
        self._etags: EtagStore = etags if etags is not None else FileEtags(etag_dir)
        self._retries = retries
        self._backoff = backoff
        self._max_wait = max_wait
        self._max_retry_after = max_retry_after
        self._sleep = sleep
        self._lock = threading.Lock()
        self.remaining: int | None = None
        self.reset_at: datetime | None = None
        self.calls: list[CallRecord] = []

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> GitHubClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- budget -------------------------------------------------------------------------------------------

    def _exhausted_message(self) -> str:
        when = self.reset_at.strftime("%Y-%m-%d %H:%M:%S UTC") if self.reset_at else "an unknown time"
        return (
            f"GitHub API rate limit exhausted (resets at {when}); run the same command again after that to resume"
            " — pages already listed are revalidated for free. Set GITHUB_TOKEN for 5,000 requests an hour."
        )

    def _check_budget(self) -> None:
        if self.remaining is not None and self.remaining <= 0:
            now = datetime.now(UTC)
            if self.reset_at is None or self.reset_at > now:
                wait = (self.reset_at - now).total_seconds() + 1 if self.reset_at else None
                if wait is not None and wait <= self._max_wait:
                    self._sleep(wait)
                    self.remaining = None
                    return
                raise RateLimitExhausted(self._exhausted_message(), self.reset_at)
            self.remaining = None

    def _note_budget(self, r: httpx.Response) -> None:
        if "x-ratelimit-remaining" in r.headers:
            try:
                self.remaining = int(r.headers["x-ratelimit-remaining"])
            except ValueError:
                return
            self.reset_at = _reset_time(r.headers) or self.reset_at

    # -- requests -----------------------------------------------------------------------------------------

    def _send(self, url: str, cached: dict[str, Any] | None) -> httpx.Response:
        import httpx

        headers = {"If-None-Match": cached["etag"]} if cached else {}
        while True:
            with self._lock:
                self._check_budget()
            try:
                r = self._http.get(url, headers=headers)
            except (httpx.TimeoutException, httpx.TransportError) as exc:
                raise _Transient(f"{type(exc).__name__}: {exc}") from exc
            with self._lock:
                self.calls.append(CallRecord(method="GET", url=url, status=r.status_code, conditional=bool(cached)))
                self._note_budget(r)
            if r.status_code in (403, 429):
                retry_after = r.headers.get("retry-after")
                if retry_after is not None:  # secondary limit: wait as told, then try again
                    try:
                        delay = float(retry_after)
                    except ValueError:
                        delay = 60.0
                    if delay > self._max_retry_after:
                        raise RateLimitExhausted(
                            f"GitHub asked to wait {delay:.0f} s (secondary rate limit); run again later to resume",
                            None,
                        )
                    self._sleep(delay)
                    continue
                if r.headers.get("x-ratelimit-remaining") == "0":
                    with self._lock:
                        self._check_budget()  # waits if the reset is near, else raises
                    continue
            if r.status_code >= 500:
                raise _Transient(f"HTTP {r.status_code} from {url}")
            return r

    def get(self, url: str) -> tuple[Any, str | None, bool]:
        """GET ``url`` (absolute or API path): ``(json body, next page URL, served from a 304)``."""
        if url.startswith("/"):
            url = self.api_url + url
        from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

        cached = self._etags.get(url)
        retrying = Retrying(
            retry=retry_if_exception_type(_Transient),
            stop=stop_after_attempt(self._retries + 1),
            wait=wait_exponential(multiplier=self._backoff, max=30),
            sleep=self._sleep,
            reraise=True,
        )
        try:
            r = retrying(self._send, url, cached)
        except _Transient as exc:
            raise GitHubError(f"GitHub API failed after {self._retries + 1} attempts: {exc}") from exc
        if r.status_code == 304 and cached:
            return cached["body"], cached.get("next"), True
        if r.status_code == 404:
            raise NotFound(f"not found on GitHub: {url}")
        if r.status_code >= 400:
            detail = ""
            with contextlib.suppress(ValueError):
                detail = str(r.json().get("message", ""))
            raise GitHubError(f"GitHub API {r.status_code} for {url}: {detail or r.reason_phrase}")
        body = r.json()
        nxt = r.links.get("next", {}).get("url")
        if nxt is not None and _origin(urljoin(url, nxt)) != _origin(self.api_url):
            raise GitHubError(
                f"refused a next-page link to {_origin(urljoin(url, nxt))[:100]} from {url}: only links on the "
                f"configured API ({_origin(self.api_url)}) are followed, with or without the token"
            )
        nxt = urljoin(url, nxt) if nxt is not None else None
        if etag := r.headers.get("etag"):
            self._etags.put(url, etag, body, nxt)
        return body, nxt, False

    @property
    def web_url(self) -> str:
        """The forge's web origin, where repository pages live: ``https://github.com`` for ``api.github.com``,
        ``https://HOST`` for GitHub Enterprise's ``https://HOST/api/v3`` (``FORKWISE_GITHUB_URL`` when given)."""
        if self._web_url:
            return self._web_url
        parts = urlsplit(self.api_url)
        host = parts.netloc.removeprefix("api.") if parts.netloc.startswith("api.") else parts.netloc
        return f"{parts.scheme}://{host}"

    def pages(self, path: str) -> Iterator[tuple[list[dict[str, Any]], bool]]:
        """Each page of a list endpoint, following ``Link: rel="next"`` until there is none."""
        url: str | None = path
        seen: set[str] = set()
        while url and url not in seen:
            seen.add(url)
            body, url, not_modified = self.get(url)
            if not isinstance(body, list):
                raise GitHubError(f"expected a list from {path}, got {type(body).__name__}")
            yield body, not_modified

    def repo(self, full_name: str) -> RepoMeta:
        body, _, _ = self.get(f"/repos/{full_name}")
        return RepoMeta.from_api(body)

    def repo_by_id(self, repo_id: int) -> RepoMeta:
        body, _, _ = self.get(f"/repositories/{repo_id}")
        return RepoMeta.from_api(body)


SortOrder = Literal["stargazers", "newest", "oldest", "watchers"]


def discover_forks(
    client: GitHubClient,
    full_name: str,
    *,
    depth: int = 1,
    sort: SortOrder = "stargazers",
    progress: Callable[[int], None] | None = None,
) -> Discovery:
    """Every fork of ``full_name`` down to ``depth`` levels (1 = direct forks only).

    Forks of forks keep their ``parent``; all of them will be compared with the root. When the budget runs out
    the listing so far is returned with ``complete=False`` and a note saying when to resume.
    """
    calls_before = len(client.calls)
    root = client.repo(full_name)
    found: dict[int, RepoMeta] = {}
    missing: list[str] = []
    note: str | None = None
    complete = True
    not_modified = 0
    queue: list[tuple[RepoMeta, int]] = [(root, 1)]

    def take(name: str, level: int) -> None:
        nonlocal not_modified
        for page, cached in _list_forks(client, name, sort):
            not_modified += int(cached)
            for data in page:
                if not is_full_name(str(data.get("full_name", ""))):
                    missing.append(f"{str(data.get('full_name'))[:100]!r}: refused: not an owner/name GitHub allows")
                    continue
                meta = RepoMeta.from_api(data, depth=level, parent=name)
                if meta.id == root.id or meta.id in found:
                    continue  # records shift between pages; ids don't
                found[meta.id] = meta
                if level < depth and meta.forks_count > 0:
                    queue.append((meta, level + 1))
            if progress:
                progress(len(found))

    try:
        while queue:
            parent, level = queue.pop(0)
            try:
                take(parent.full_name, level)
            except NotFound:
                # renamed or deleted since it was listed: ask by id (the first page is where a 404 shows)
                try:
                    moved = client.repo_by_id(parent.id)
                except NotFound:
                    missing.append(f"{parent.full_name}: deleted on GitHub (404 for repository id {parent.id})")
                    found.pop(parent.id, None)
                    continue
                if parent.id in found:
                    found[parent.id] = moved.model_copy(update={"depth": parent.depth, "parent": parent.parent})
                take(moved.full_name, level)
    except RateLimitExhausted as exc:
        complete = False
        note = f"listing stopped after {len(found)} forks: {exc}"
    return Discovery(
        root=root,
        forks=list(found.values()),
        complete=complete,
        note=note,
        missing=missing,
        calls=len(client.calls) - calls_before,
        not_modified=not_modified,
    )


def _list_forks(client: GitHubClient, full_name: str, sort: SortOrder) -> Iterator[tuple[list[dict[str, Any]], bool]]:
    return client.pages(f"/repos/{full_name}/forks?sort={sort}&per_page=100")
