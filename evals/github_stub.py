"""A local HTTP server that speaks the part of GitHub's REST API forkwise uses, for tests and benchmarks.

GitHub cannot be reached from CI, so this stands in for it over real HTTP, following GitHub's documented wire
format: repository records, ``GET /repos/{owner}/{repo}``, ``GET /repos/{owner}/{repo}/forks`` with ``sort``,
``per_page`` (≤ 100) and ``page`` and a ``Link`` header (``rel="next"``, ``"last"``, ``"prev"``, ``"first"``),
``GET /repositories/{id}``, weak ``ETag``s with ``If-None-Match`` → ``304`` (which costs no budget), and the
``x-ratelimit-*`` headers with a 403 once the primary budget is spent. Faults (429 + ``Retry-After``, 5xx, …)
are scripted per path. Every request is recorded so tests can assert what the client sent.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlencode, urlparse

from pydantic import BaseModel, Field

from forkwise.evals.local_server import LocalServer, QuietHandler

if TYPE_CHECKING:
    from forkwise.evals.builder import BuiltNetwork


class Fault(BaseModel):
    """Answer requests whose path starts with ``path`` with ``status`` (``times`` times)."""

    path: str
    status: int
    headers: dict[str, str] = Field(default_factory=dict)
    body: dict[str, Any] = Field(default_factory=lambda: {"message": "Server Error"})
    times: int = 1
    delay: float = 0.0


class Call(BaseModel):
    method: str
    path: str
    query: dict[str, str]
    status: int
    if_none_match: str | None = None
    authorization: str | None = None


class GitHubStub(LocalServer):
    def __init__(self, *, budget: int = 5000, reset_in: float = 3600.0):
        self.records: dict[int, dict[str, Any]] = {}
        self.names: dict[str, int] = {}
        self.forks_of: dict[int, list[int]] = {}
        self.faults: list[Fault] = []
        self.calls: list[Call] = []
        self.limit = budget
        self.remaining = budget
        self.reset_at = int(time.time() + reset_in)
        self.shift_after_first_page = False
        self.hooks: dict[str, Callable[[], None]] = {}
        """path → called (once) right after that path is first answered: renames, deletions mid-run."""
        self._next_id = 1000
        self._lock = threading.RLock()

    # -- data -----------------------------------------------------------------------------------------------

    def add_repo(
        self,
        full_name: str,
        clone_url: str,
        *,
        parent: str | None = None,
        stars: int = 0,
        default_branch: str = "main",
        created_days_ago: float = 100.0,
        pushed_days_ago: float = 1.0,
        license_spdx: str | None = "MIT",
        archived: bool = False,
        description: str | None = None,
    ) -> int:
        """Add a repository (a fork when ``parent`` is given); returns its id."""
        with self._lock:
            self._next_id += 1
            rid = self._next_id
        owner, name = full_name.split("/", 1)
        now = datetime.now(UTC).replace(microsecond=0)
        rec: dict[str, Any] = {
            "id": rid,
            "node_id": f"R_{rid}",
            "name": name,
            "full_name": full_name,
            "owner": {"login": owner, "id": rid + 10_000, "type": "User"},
            "private": False,
            "html_url": f"https://github.com/{full_name}",
            "description": description,
            "fork": parent is not None,
            "url": f"/repos/{full_name}",
            "clone_url": clone_url,
            "default_branch": default_branch,
            "stargazers_count": stars,
            "watchers_count": stars,
            "forks_count": 0,
            "archived": archived,
            "disabled": False,
            "license": {"key": license_spdx.lower(), "name": license_spdx, "spdx_id": license_spdx}
            if license_spdx
            else None,
            "created_at": (now - timedelta(days=created_days_ago)).isoformat().replace("+00:00", "Z"),
            "updated_at": now.isoformat().replace("+00:00", "Z"),
            "pushed_at": (now - timedelta(days=pushed_days_ago)).isoformat().replace("+00:00", "Z"),
        }
        with self._lock:
            self.records[rid] = rec
            self.names[full_name] = rid
            self.forks_of.setdefault(rid, [])
            if parent is not None:
                pid = self.names[parent]
                rec["_parent"] = pid
                self.forks_of[pid].append(rid)
                self.records[pid]["forks_count"] += 1
        return rid

    def add_network(
        self,
        net: BuiltNetwork,
        *,
        parents: dict[str, str] | None = None,
        stars: dict[str, int] | None = None,
        url: Callable[[Path], str] = lambda p: p.as_uri(),
    ) -> dict[str, int]:
        """Publish a built network: upstream as the root, each fork under its parent (default: the root)."""
        parents, stars = parents or {}, stars or {}
        ids = {net.upstream_name: self.add_repo(net.upstream_name, url(net.upstream_path), stars=stars.get("", 0))}
        for i, f in enumerate(net.forks):
            ids[f.name] = self.add_repo(
                f.name,
                url(f.path),
                parent=parents.get(f.name, net.upstream_name),
                stars=stars.get(f.name, 0),
                created_days_ago=50 - i,
            )
        return ids

    def rename(self, rid: int, new_full_name: str, clone_url: str) -> None:
        with self._lock:
            rec = self.records[rid]
            self.names.pop(rec["full_name"], None)
            rec["full_name"] = new_full_name
            rec["name"] = new_full_name.split("/", 1)[1]
            rec["clone_url"] = clone_url
            rec["html_url"] = f"https://github.com/{new_full_name}"
            self.names[new_full_name] = rid

    def delete(self, rid: int) -> None:
        with self._lock:
            rec = self.records.pop(rid)
            self.names.pop(rec["full_name"], None)
            pid = rec.get("_parent")
            if pid in self.forks_of:
                self.forks_of[pid] = [f for f in self.forks_of[pid] if f != rid]
                if pid in self.records:
                    self.records[pid]["forks_count"] -= 1

    def public(self, rid: int, *, full: bool = False) -> dict[str, Any]:
        rec = {k: v for k, v in self.records[rid].items() if not k.startswith("_")}
        if full and "_parent" in self.records[rid]:
            pid = self.records[rid]["_parent"]
            root = pid
            while "_parent" in self.records.get(root, {}):
                root = self.records[root]["_parent"]
            if pid in self.records:
                rec["parent"] = self.public(pid)
            if root in self.records:
                rec["source"] = self.public(root)
        return rec

    def calls_to(self, pattern: str) -> list[Call]:
        return [c for c in self.calls if re.search(pattern, c.path)]

    # -- server ---------------------------------------------------------------------------------------------

    def handler(self) -> type[BaseHTTPRequestHandler]:
        stub = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:
                stub._handle(self)

        return Handler

    def _rate_headers(self) -> dict[str, str]:
        return {
            "x-ratelimit-limit": str(self.limit),
            "x-ratelimit-remaining": str(max(self.remaining, 0)),
            "x-ratelimit-reset": str(self.reset_at),
            "x-ratelimit-used": str(self.limit - max(self.remaining, 0)),
            "x-ratelimit-resource": "core",
        }

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        parsed = urlparse(h.path)
        query = {k: v[-1] for k, v in parse_qs(parsed.query).items()}
        inm = h.headers.get("If-None-Match")
        status, headers, body = self._route(parsed.path, query, inm)
        if hook := self.hooks.pop(parsed.path, None):
            hook()
        with self._lock:
            self.calls.append(
                Call(
                    method="GET",
                    path=parsed.path,
                    query=query,
                    status=status,
                    if_none_match=inm,
                    authorization=h.headers.get("Authorization"),
                )
            )
        payload = b"" if status == 304 else json.dumps(body).encode()
        try:
            h.send_response(status)
            for k, v in headers.items():
                h.send_header(k, v)
            h.send_header("Content-Type", "application/json; charset=utf-8")
            h.send_header("Content-Length", str(len(payload)))
            h.end_headers()
            if payload:
                h.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client timed out and left: that is what the test wanted

    def _route(self, path: str, query: dict[str, str], inm: str | None) -> tuple[int, dict[str, str], Any]:
        fault = None
        with self._lock:
            for f in self.faults:
                if f.times > 0 and path.startswith(f.path):
                    f.times -= 1
                    fault = f
                    break
        if fault is not None:
            time.sleep(fault.delay)  # outside the lock: other requests are answered meanwhile
            return fault.status, {**self._rate_headers(), **fault.headers}, fault.body
        with self._lock:
            if time.time() >= self.reset_at:  # the window is over: GitHub refills the budget
                self.remaining = self.limit
                self.reset_at = int(time.time() + 3600)
            if self.remaining <= 0:
                return (
                    403,
                    self._rate_headers(),
                    {
                        "message": "API rate limit exceeded for 127.0.0.1.",
                        "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api",
                    },
                )
            status, headers, body = self._resource(path, query)
            if status == 200:
                etag = 'W/"' + hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:40] + '"'
                headers["ETag"] = etag
                if inm and inm == etag:
                    return 304, {**self._rate_headers(), "ETag": etag}, None  # free: no budget used
            self.remaining -= 1
            return status, {**self._rate_headers(), **headers}, body

    def _resource(self, path: str, query: dict[str, str]) -> tuple[int, dict[str, str], Any]:
        not_found: tuple[int, dict[str, str], Any] = (
            404,
            {},
            {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"},
        )
        if m := re.fullmatch(r"/repositories/(\d+)", path):
            rid = int(m.group(1))
            return (200, {}, self.public(rid, full=True)) if rid in self.records else not_found
        if m := re.fullmatch(r"/repos/([^/]+/[^/]+)", path):
            rid_or_none = self.names.get(m.group(1))
            return (200, {}, self.public(rid_or_none, full=True)) if rid_or_none is not None else not_found
        if m := re.fullmatch(r"/repos/([^/]+/[^/]+)/forks", path):
            pid = self.names.get(m.group(1))
            if pid is None:
                return not_found
            return self._fork_page(path, pid, query)
        return not_found

    def _fork_page(self, path: str, pid: int, query: dict[str, str]) -> tuple[int, dict[str, str], Any]:
        sort = query.get("sort", "newest")
        per_page = max(1, min(int(query.get("per_page", "30")), 100))
        page = max(1, int(query.get("page", "1")))
        ids = list(self.forks_of[pid])
        if sort == "stargazers":
            ids.sort(key=lambda i: (-self.records[i]["stargazers_count"], -i))
        elif sort == "oldest":
            ids.sort(key=lambda i: (self.records[i]["created_at"], i))
        else:
            ids.sort(key=lambda i: (self.records[i]["created_at"], i), reverse=True)
        last = max(1, -(-len(ids) // per_page))
        body = [self.public(i) for i in ids[(page - 1) * per_page : page * per_page]]
        base = {k: v for k, v in query.items() if k != "page"}

        def link(p: int) -> str:
            return f"<{self.url}{path}?{urlencode({**base, 'page': p})}>"

        rels = []
        if page < last:
            rels += [f'{link(page + 1)}; rel="next"', f'{link(last)}; rel="last"']
        if page > 1:
            rels += [f'{link(page - 1)}; rel="prev"', f'{link(1)}; rel="first"']
        headers = {"Link": ", ".join(rels)} if rels else {}
        if page == 1 and self.shift_after_first_page and len(ids) > per_page:
            # a fork appears while the client pages: every record shifts one place down
            self.shift_after_first_page = False
            top = self.records[ids[0]]
            parent = self.records[pid]["full_name"]
            self.add_repo(f"newcomer/{top['name']}", top["clone_url"], parent=parent, stars=top["stargazers_count"] + 1)
        return 200, headers, body
