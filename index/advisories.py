"""Security advisories as evidence: commits an OSV record names as the fix of a vulnerability.

Off unless ``FORKWISE_OSV_URL`` is set (``https://api.osv.dev``; forkwise works offline by default). One
``POST /v1/querybatch`` asks which known vulnerabilities affect upstream's head and each fork's head; each record
(``GET /v1/vulns/{id}``, cached on disk by its ``modified`` time) lists the commits that fix it (``GIT`` ranges,
``fixed`` events). Then, from git alone:

- a fix that upstream's history holds and the fork's does not, for a vulnerability the advisory says affects the
  fork's head, is a security fix upstream made that the fork lacks;
- a fork commit named as the fix of a vulnerability that affects upstream's head is a fix the fork carries that
  upstream lacks.

The advisory's word is the evidence (``GHSA-… (advisory)``); nothing is guessed from commit messages here.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from forkwise.index.gitio import GitError, run
from forkwise.index.models import CommitFact, ForkFacts

BATCH = 1000
COMMIT_TTL = 24 * 3600.0


class AdvisoryError(RuntimeError):
    pass


class OsvClient:
    """The OSV API (or any server speaking its wire format), with a disk cache."""

    def __init__(self, base_url: str, cache_dir: Path | None = None, timeout: float = 30.0):
        self.base = base_url.rstrip("/")
        self.cache = cache_dir
        import httpx  # loads when advisories are asked for (FORKWISE_OSV_URL), not with every run

        self.http = httpx.Client(timeout=timeout, headers={"User-Agent": "forkwise"})

    def close(self) -> None:
        self.http.close()

    def _cached(self, kind: str, key: str) -> Any:
        if self.cache is None:
            return None
        try:
            return json.loads((self.cache / kind / f"{key}.json").read_text())
        except (OSError, ValueError):
            return None

    def _store(self, kind: str, key: str, value: Any) -> None:
        if self.cache is None:
            return
        folder = self.cache / kind
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{key}.tmp"
        tmp.write_text(json.dumps(value))
        tmp.replace(folder / f"{key}.json")

    def affecting(self, commits: Iterable[str]) -> dict[str, list[tuple[str, str]]]:
        """Commit → the (id, modified) of each known vulnerability affecting it."""
        out: dict[str, list[tuple[str, str]]] = {}
        todo = []
        for c in dict.fromkeys(commits):
            hit = self._cached("commits", c)
            if hit is not None and time.time() - hit["at"] < COMMIT_TTL:
                out[c] = [tuple(v) for v in hit["vulns"]]
            else:
                todo.append(c)
        for i in range(0, len(todo), BATCH):
            chunk = todo[i : i + BATCH]
            import httpx

            try:
                r = self.http.post(f"{self.base}/v1/querybatch", json={"queries": [{"commit": c} for c in chunk]})
                r.raise_for_status()
                results = r.json()["results"]
            except (httpx.HTTPError, ValueError, KeyError) as exc:
                raise AdvisoryError(f"OSV query failed: {exc}") from exc
            for c, res in zip(chunk, results, strict=True):
                vulns = [(v["id"], v.get("modified", "")) for v in (res or {}).get("vulns", [])]
                out[c] = vulns
                self._store("commits", c, {"at": time.time(), "vulns": vulns})
        return out

    def fixes(self, vuln_id: str, modified: str) -> set[str]:
        """The commits the record names as fixing ``vuln_id`` (its ``GIT`` ranges' ``fixed`` events)."""
        key = vuln_id.replace("/", "_")
        hit = self._cached("vulns", key)
        if hit is not None and hit.get("modified") == modified:
            record = hit
        else:
            import httpx

            try:
                r = self.http.get(f"{self.base}/v1/vulns/{vuln_id}")
                r.raise_for_status()
                record = r.json()
            except (httpx.HTTPError, ValueError) as exc:
                raise AdvisoryError(f"OSV record {vuln_id} failed: {exc}") from exc
            self._store("vulns", key, record)
        return {
            e["fixed"]
            for a in record.get("affected", [])
            for rng in a.get("ranges", [])
            if rng.get("type") == "GIT"
            for e in rng.get("events", [])
            if e.get("fixed")
        }


def _status(mirror: Path, commit: str, tip: str) -> int:
    """0 when ``commit`` is in ``tip``'s history."""
    try:
        run(mirror, "merge-base", "--is-ancestor", commit, tip)
        return 0
    except GitError as exc:
        return exc.status or 1


def _commit(mirror: Path, sha: str, evidence: str) -> CommitFact | None:
    try:
        subject, date = run(mirror, "log", "-1", "--format=%s%x00%cI", sha).strip().split("\x00")
    except (GitError, ValueError):
        return None
    return CommitFact(
        sha=sha,
        subject=subject[:300],
        author="",
        date=datetime.fromisoformat(date),
        security=True,
        security_evidence=evidence,
        counterpart="lacks",
    )


def enrich(mirror: Path, upstream_head: str, facts: dict[str, ForkFacts], client: OsvClient) -> dict[str, ForkFacts]:
    """Each fork's facts with the security fixes advisories name (see the module docstring)."""
    wanted = [upstream_head, *(f.head for f in facts.values() if f.shared_history)]
    affecting = client.affecting(wanted)
    fixed_by: dict[str, set[str]] = {}
    for vid, modified in {v for vs in affecting.values() for v in vs}:
        fixed_by[vid] = client.fixes(vid, modified)
    out = dict(facts)
    up_vulns = {vid for vid, _m in affecting.get(upstream_head, [])}
    for name, f in facts.items():
        if not f.shared_history:
            continue
        own = {c.sha: c for c in f.own_commits}
        new_own = list(f.own_commits)
        for vid in up_vulns:  # upstream is affected; the fork holds the fix
            for sha in fixed_by.get(vid, set()) & own.keys():
                i = next(k for k, c in enumerate(new_own) if c.sha == sha)
                new_own[i] = new_own[i].model_copy(
                    update={"security": True, "security_evidence": f"{vid} (advisory)", "counterpart": "lacks"}
                )
        notable = {c.sha: c for c in f.upstream_gain.notable}
        for vid, _m in affecting.get(f.head, []):  # the fork is affected; upstream holds the fix
            for sha in sorted(fixed_by.get(vid, set())):
                if sha in notable or sha in own:
                    continue
                if _status(mirror, sha, upstream_head) == 0 and _status(mirror, sha, f.head) != 0:
                    fact = _commit(mirror, sha, f"{vid} (advisory)")
                    if fact is not None:
                        notable[sha] = fact
        gain = f.upstream_gain.model_copy(
            update={"notable": sorted(notable.values(), key=lambda c: c.date, reverse=True)[:10]}
        )
        out[name] = f.model_copy(update={"own_commits": new_own, "upstream_gain": gain})
    return out
