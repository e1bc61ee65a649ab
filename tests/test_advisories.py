"""Advisories as security evidence: a local server speaking OSV's wire format (``POST /v1/querybatch``,
``GET /v1/vulns/{id}``) names commits whose messages say nothing about security."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from forkwise.evals.local_server import QuietHandler
from forkwise.service.runs.engine import RunRequest
from forkwise.service.runs.engine import report as engine_report
from forkwise.service.settings import Settings
from tests.conftest import build, free_port


class _Osv(QuietHandler):
    affected: ClassVar[dict[str, list[str]]] = {}  # commit → vulnerability ids
    records: ClassVar[dict[str, dict[str, Any]]] = {}
    calls: ClassVar[list[str]] = []

    def do_POST(self) -> None:
        type(self).calls.append(self.path)
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        results = []
        for q in body["queries"]:
            ids = type(self).affected.get(q.get("commit", ""), [])
            results.append(
                {"vulns": [{"id": i, "modified": type(self).records[i]["modified"]} for i in ids]} if ids else {}
            )
        self.send_json(200, {"results": results})

    def do_GET(self) -> None:
        type(self).calls.append(self.path)
        vid = self.path.rsplit("/", 1)[-1]
        rec = type(self).records.get(vid)
        self.send_json(200, rec) if rec else self.send_json(404, {"code": 5, "message": "Bug not found."})


@pytest.fixture()
def osv() -> Iterator[str]:
    _Osv.affected, _Osv.records, _Osv.calls = {}, {}, []
    port = free_port()
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", port), _Osv)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{port}"
    srv.shutdown()


def _record(vid: str, fixed: str) -> dict[str, Any]:
    return {
        "id": vid,
        "modified": "2026-01-01T00:00:00Z",
        "affected": [{"ranges": [{"type": "GIT", "repo": "https://example/x", "events": [
            {"introduced": "0"}, {"fixed": fixed}]}]}],
    }  # fmt: skip


def test_advisories_name_fixes_the_messages_do_not(tmp_path: Path, osv: str) -> None:
    net = build(
        {
            "name": "adv",
            "upstream": {"name": "acme/lib", "preset": "small"},
            "forks": [
                {
                    "name": "f/lib",
                    "base": "up:5",
                    "commits": [{"message": "Refactor the parser", "files": {"engine/parse.py": {"lines": 60}}}],
                }
            ],
        },
        tmp_path / "net",
    )
    up_fix = net.upstream_commits[6]  # "Release 1.1": the advisory says it fixed GHSA-1 (the message does not)
    fork_fix = net.forks[0].commits[0]
    _Osv.records = {"GHSA-1111-2222-3333": _record("GHSA-1111-2222-3333", up_fix),
                    "GHSA-4444-5555-6666": _record("GHSA-4444-5555-6666", fork_fix)}  # fmt: skip
    _Osv.affected = {
        net.forks[0].commits[0]: ["GHSA-1111-2222-3333"],
        net.upstream_commits[-1]: ["GHSA-4444-5555-6666"],
    }
    up, forks = net.inputs()
    settings = Settings(home=tmp_path / "home", workers=2, osv_url=osv)
    report = engine_report(RunRequest(upstream=up, forks=forks, as_of=net.as_of), settings)
    f = report.fork("f/lib")
    assert f.verdict and f.facts and report.warnings == []
    assert set(f.verdict.classification.notes) >= {"security_fork", "security_upstream"}
    notable = {c.sha: c for c in f.facts.upstream_gain.notable}
    assert notable[up_fix].security_evidence == "GHSA-1111-2222-3333 (advisory)"
    own = {c.sha: c for c in f.facts.own_commits}
    assert own[fork_fix].security_evidence == "GHSA-4444-5555-6666 (advisory)"
    text = " ".join(c.text for c in (*f.verdict.choose_fork_if, *f.verdict.choose_upstream_if))
    assert fork_fix[:7] in text and up_fix[:7] in text
    assert _Osv.calls.count("/v1/querybatch") == 1  # one batch for every head
    # the records are cached by their modified time: a second run asks only which vulnerabilities affect the heads
    _Osv.calls = []
    engine_report(RunRequest(upstream=up, forks=forks, as_of=net.as_of, use_cache=False), settings)
    assert not any(c.startswith("/v1/vulns/") for c in _Osv.calls)


def test_an_unreachable_advisory_service_is_a_warning_not_a_failure(tmp_path: Path) -> None:
    net = build({"name": "adv2", "upstream": {"name": "acme/lib", "preset": "small"},
                 "forks": [{"name": "g/lib", "base": "up:5"}]}, tmp_path / "net")  # fmt: skip
    up, forks = net.inputs()
    settings = Settings(home=tmp_path / "home", workers=2, osv_url="http://127.0.0.1:9")
    report = engine_report(RunRequest(upstream=up, forks=forks, as_of=net.as_of), settings)
    assert report.fork("g/lib").verdict is not None
    assert len(report.warnings) == 1 and report.warnings[0].startswith("security advisories not checked: OSV query")
