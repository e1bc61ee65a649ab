"""GitHub discovery against a local server speaking GitHub's REST format, and forks served over local git."""

from __future__ import annotations

import json
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from forkwise.evals.github_stub import Fault, GitHubStub
from forkwise.index.github import GitHubClient, GitHubError, RateLimitExhausted, discover_forks
from forkwise.service.surfaces.cli import app
from forkwise.service.verdicts.models import Report
from tests.conftest import AS_OF, build


@pytest.fixture
def stub() -> Iterator[GitHubStub]:
    with GitHubStub() as s:
        yield s


def _records(stub: GitHubStub, n: int, root: str = "acme/proj") -> dict[str, int]:
    ids = {root: stub.add_repo(root, "https://git.example/acme/proj.git", stars=900)}
    for i in range(n):
        name = f"user{i:03d}/proj"
        ids[name] = stub.add_repo(name, f"https://git.example/{name}.git", parent=root, stars=(i * 7) % 50)
    return ids


def _client(stub: GitHubStub, tmp_path: Path, sleeps: list[float] | None = None, **kw) -> GitHubClient:
    rec = sleeps if sleeps is not None else []
    return GitHubClient(
        stub.url, "tok-123", etag_dir=tmp_path / "etags", backoff=0.01, sleep=lambda s: rec.append(s), **kw
    )


def test_lists_every_fork_following_link_headers(stub: GitHubStub, tmp_path: Path) -> None:
    ids = _records(stub, 250)
    with _client(stub, tmp_path) as client:
        found = discover_forks(client, "acme/proj")
    assert found.complete and found.note is None
    assert sorted(f.id for f in found.forks) == sorted(i for n, i in ids.items() if n != "acme/proj")
    pages = stub.calls_to(r"/forks$")
    assert [c.query.get("page") for c in pages] == [None, "2", "3"]  # page 1 as given, then the Link URLs
    assert all(c.query["per_page"] == "100" and c.query["sort"] == "stargazers" for c in pages)
    assert found.calls == 4 and len(stub.calls) == 4
    assert {c.authorization for c in stub.calls} == {"Bearer tok-123"}
    f = next(f for f in found.forks if f.full_name == "user007/proj")
    assert (f.stars, f.parent, f.depth, f.license, f.default_branch) == (49, "acme/proj", 1, "MIT", "main")
    assert f.clone_url == "https://git.example/user007/proj.git"


def test_records_shifting_between_pages_are_deduplicated_by_id(stub: GitHubStub, tmp_path: Path) -> None:
    ids = _records(stub, 150)
    stub.shift_after_first_page = True  # a new top fork appears after page 1: page 2 repeats page 1's last
    with _client(stub, tmp_path) as client:
        found = discover_forks(client, "acme/proj")
    got = [f.id for f in found.forks]
    assert len(got) == len(set(got)) == 150
    assert set(got) == {i for n, i in ids.items() if n != "acme/proj"}


def test_second_listing_is_all_304s_and_costs_no_budget(stub: GitHubStub, tmp_path: Path) -> None:
    _records(stub, 120)
    with _client(stub, tmp_path) as client:
        first = discover_forks(client, "acme/proj")
    spent = stub.limit - stub.remaining
    assert spent == 3 and first.not_modified == 0
    n = len(stub.calls)
    with _client(stub, tmp_path) as client:
        second = discover_forks(client, "acme/proj")
    again = stub.calls[n:]
    assert [c.status for c in again] == [304, 304, 304]
    assert all(c.if_none_match and c.if_none_match.startswith('W/"') for c in again)
    assert stub.limit - stub.remaining == spent  # nothing more spent
    assert second.not_modified == 2 and [f.id for f in second.forks] == [f.id for f in first.forks]
    # one request per URL: a 304 is never followed by a repeat of the same call
    assert len({(c.path, tuple(sorted(c.query.items()))) for c in again}) == len(again)


def test_etags_in_the_shared_store_serve_every_machine(stub: GitHubStub, tmp_path: Path) -> None:
    """Two workers (their own homes, one database): the second's listing is all 304s on what the first got."""
    from forkwise.service.runs.store import DbEtags
    from forkwise.service.settings import Settings

    _records(stub, 120)
    db = f"sqlite:///{tmp_path / 'shared.db'}"
    one, two = (Settings(home=tmp_path / name, database_url=db) for name in ("w1", "w2"))
    with _client(stub, tmp_path / "w1", etags=DbEtags(one)) as client:
        first = discover_forks(client, "acme/proj")
    n = len(stub.calls)
    with _client(stub, tmp_path / "w2", etags=DbEtags(two)) as client:
        second = discover_forks(client, "acme/proj")
    assert [c.status for c in stub.calls[n:]] == [304, 304, 304]
    assert second.not_modified == 2 and [f.id for f in second.forks] == [f.id for f in first.forks]
    assert not (tmp_path / "w1" / "etags").exists() and not (tmp_path / "w2" / "etags").exists()  # no files
    # summarize's listing uses the store's: a forge listing by any worker makes the next one free
    from forkwise.index.sources import parse_source
    from forkwise.service.runs.usecases import SummarizeRequest, prepare

    cfg = two.model_copy(update={"github_api_url": stub.url, "github_url": stub.url})
    n = len(stub.calls)
    req, _reresolve = prepare(SummarizeRequest(upstream=parse_source("acme/proj", github_url=stub.url)), cfg)
    assert len(req.forks) == 120 and [c.status for c in stub.calls[n:]] == [304, 304, 304]


def test_primary_limit_stops_cleanly_and_resumes(stub: GitHubStub, tmp_path: Path) -> None:
    _records(stub, 250)
    stub.remaining = 2  # root + the first page; page 1 says 0 remain, so page 2 is never asked for
    with _client(stub, tmp_path) as client:
        partial = discover_forks(client, "acme/proj")
        assert not partial.complete and len(partial.forks) == 100
        assert partial.note and "rate limit exhausted" in partial.note and "resets at" in partial.note
        assert [c.status for c in stub.calls] == [200, 200]
        # the client knows the budget is gone: nothing more is sent
        with pytest.raises(RateLimitExhausted) as exc:
            client.get("/repos/acme/proj")
        assert exc.value.reset_at is not None and exc.value.reset_at.timestamp() == stub.reset_at
        assert len(stub.calls) == 2
    stub.remaining = 10  # the hour has passed
    with _client(stub, tmp_path) as client:
        resumed = discover_forks(client, "acme/proj")
    assert resumed.complete and len(resumed.forks) == 250
    assert [c.status for c in stub.calls[2:]] == [304, 304, 200, 200]  # pages already seen were free
    assert stub.remaining == 8


def test_primary_limit_waits_when_the_reset_is_near(stub: GitHubStub, tmp_path: Path) -> None:
    _records(stub, 5)
    stub.remaining = 0  # spent by someone else: the first answer is a 403 with the reset 3 s away
    sleeps: list[float] = []

    def after_sleep(s: float) -> None:
        sleeps.append(s)
        stub.remaining = 5  # reset passed while we slept

    stub.reset_at = int(time.time()) + 3
    client = GitHubClient(stub.url, etag_dir=tmp_path / "e", max_wait=10, sleep=after_sleep)
    found = discover_forks(client, "acme/proj")
    assert found.complete and len(found.forks) == 5
    assert len(sleeps) == 1 and 0 < sleeps[0] <= 5
    assert [c.status for c in stub.calls] == [403, 200, 200]


def test_secondary_limit_honours_retry_after(stub: GitHubStub, tmp_path: Path) -> None:
    _records(stub, 3)
    stub.faults.append(
        Fault(path="/repos/acme/proj/forks", status=429, headers={"Retry-After": "7"}, body={"message": "slow"})
    )
    sleeps: list[float] = []
    with _client(stub, tmp_path, sleeps) as client:
        found = discover_forks(client, "acme/proj")
    assert len(found.forks) == 3 and sleeps == [7.0]
    assert [c.status for c in stub.calls_to("/forks$")] == [429, 200]


def test_server_errors_are_retried_with_backoff(stub: GitHubStub, tmp_path: Path) -> None:
    _records(stub, 3)
    stub.faults.append(Fault(path="/repos/acme/proj/forks", status=502, times=2))
    sleeps: list[float] = []
    with _client(stub, tmp_path, sleeps) as client:
        found = discover_forks(client, "acme/proj")
    assert len(found.forks) == 3
    assert [c.status for c in stub.calls_to("/forks$")] == [502, 502, 200]
    assert len(sleeps) == 2 and sleeps[1] > sleeps[0]  # exponential
    stub.faults.append(Fault(path="/repos/acme/proj", status=503, times=99))
    with _client(stub, tmp_path, retries=2) as client, pytest.raises(GitHubError, match="after 3 attempts"):
        client.repo("acme/proj")


def test_forks_of_forks_renamed_and_deleted_are_reresolved(stub: GitHubStub, tmp_path: Path) -> None:
    _records(stub, 2)
    a = stub.add_repo("alice/proj", "https://git.example/alice/proj.git", parent="acme/proj", stars=5)
    b = stub.add_repo("bob/proj", "https://git.example/bob/proj.git", parent="acme/proj", stars=4)
    stub.add_repo("carol/proj", "https://git.example/carol/proj.git", parent="alice/proj")
    stub.add_repo("dave/proj", "https://git.example/dave/proj.git", parent="bob/proj")
    grand = stub.add_repo("erin/proj", "https://git.example/erin/proj.git", parent="carol/proj")

    def churn() -> None:  # right after the root's fork list is served
        stub.rename(a, "alice/proj-ng", "https://git.example/alice/proj-ng.git")
        stub.delete(b)

    stub.hooks["/repos/acme/proj/forks"] = churn
    with _client(stub, tmp_path) as client:
        found = discover_forks(client, "acme/proj", depth=2)
    by = {f.full_name: f for f in found.forks}
    assert set(by) == {"user000/proj", "user001/proj", "alice/proj-ng", "carol/proj"}
    assert by["carol/proj"].parent == "alice/proj-ng" and by["carol/proj"].depth == 2
    assert by["alice/proj-ng"].id == a and by["alice/proj-ng"].depth == 1
    assert grand not in {f.id for f in found.forks}  # depth 2 stops before forks of forks of forks
    assert found.missing == [f"bob/proj: deleted on GitHub (404 for repository id {b})"]
    assert [c.path for c in stub.calls if c.status == 404] == [
        "/repos/alice/proj/forks",
        "/repos/bob/proj/forks",
        f"/repositories/{b}",
    ]
    assert {c.path for c in stub.calls_to("^/repositories/")} == {f"/repositories/{a}", f"/repositories/{b}"}


NETWORK = {
    "name": "gh",
    "upstream": {"name": "acme/proj", "preset": "small"},
    "forks": [
        {
            "name": "alice/proj",
            "base": "up:4",
            "commits": [
                {"message": "Add Gaudi backend", "files": {"gaudi/backend.py": {"lines": 80}}},
                {"message": "Gaudi docs", "files": {"docs/gaudi.md": "# Gaudi\n"}},
            ],
        },
        {"name": "bob/proj", "base": "up:3"},
        {"name": "carol/proj", "base": "head"},
        {
            "name": "dan/proj",
            "base": "fork:alice/proj:1",
            "commits": [{"message": "Tune Gaudi kernels", "files": {"gaudi/kernels.py": {"lines": 40}}}],
        },
        {
            "name": "erin/proj",
            "base": "up:5",
            "branches": {"release-2": {"commits": [{"message": "Vendor patch", "files": {"vendor.py": "x=1\n"}}]}},
        },
        {"name": "frank/proj", "base": "up:2", "commits": [{"message": "Tweak", "files": {"t.py": "t=1\n"}}]},
        {"name": "gone/proj", "base": "up:1", "commits": [{"message": "Old", "files": {"o.py": "o=1\n"}}]},
        {"name": "moved/proj", "base": "up:6", "commits": [{"message": "Moved", "files": {"m.py": "m=1\n"}}]},
    ],
}


def test_summarize_discovers_prefilters_caps_and_discloses_coverage(
    stub: GitHubStub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    net = build(NETWORK, tmp_path / "net", as_of=AS_OF)
    ids = stub.add_network(
        net,
        parents={"dan/proj": "alice/proj"},
        stars={"alice/proj": 40, "erin/proj": 30, "frank/proj": 1, "moved/proj": 20, "gone/proj": 10},
    )
    path = {f.name: f.path for f in net.forks}
    # after listing: one fork is renamed (its old URL stops answering), one is deleted
    new_path = path["moved/proj"].with_name("moved2.git")

    def churn() -> None:
        shutil.move(path["moved/proj"], new_path)
        stub.rename(ids["moved/proj"], "moved/proj2", new_path.as_uri())
        shutil.rmtree(path["gone/proj"])
        stub.delete(ids["gone/proj"])

    stub.hooks["/repos/alice/proj/forks"] = churn
    monkeypatch.setenv("FORKWISE_GITHUB_API_URL", stub.url)
    monkeypatch.setenv("GITHUB_TOKEN", "tok-xyz")
    home = tmp_path / "fw-home"
    res = CliRunner().invoke(
        app, ["summarize", "acme/proj", "--depth", "2", "--max-forks", "3", "--format", "json", "-q"]
    )
    assert res.exit_code == 1, res.output  # one fork failed (deleted)
    report = Report.model_validate_json(res.stdout)
    cov = report.coverage
    # listed: 8 forks (7 direct incl. the renamed one + dan, a fork of a fork); gone is listed and fails at git
    assert (cov.listed, cov.prefiltered, cov.analysed, cov.skipped_by_cap, cov.failed) == (8, 2, 3, 2, 1)
    assert cov.listing_complete and cov.cap == 3
    status = {f.name: f.status for f in report.forks}
    assert status == {
        "alice/proj": "analysed",
        "erin/proj": "analysed",  # 0 ahead on main, but a branch upstream lacks: fetched, not prefiltered
        "moved/proj": "analysed",  # renamed: re-resolved by id, fetched from its new URL
        "dan/proj": "skipped",  # 0 stars: ranked after the three
        "frank/proj": "skipped",
        "bob/proj": "prefiltered",
        "carol/proj": "prefiltered",
        "gone/proj": "failed",
    }
    gone = report.fork("gone/proj")
    assert gone.error and "deleted on GitHub" in gone.error and str(ids["gone/proj"]) in gone.error
    moved = report.fork("moved/proj")
    assert moved.url == new_path.as_uri() and moved.web_url == "https://github.com/moved/proj2"
    assert moved.facts and moved.facts.ahead == 1
    assert [n.name for n in cov.skipped] == ["frank/proj", "dan/proj"]
    assert all("--max-forks 3" in n.reason for n in cov.skipped)
    bob = report.fork("bob/proj")
    assert bob.facts and (bob.facts.ahead, bob.facts.behind) == (0, 4) and bob.archetype == "stale-snapshot"
    assert report.fork("carol/proj").archetype == "mirror"
    erin = report.fork("erin/proj")
    assert erin.facts and [b.name for b in erin.facts.other_branches] == ["release-2"]
    assert erin.meta and erin.meta.stars == 30 and erin.meta.parent == "acme/proj"
    # the mirror holds refs only for the fetched forks: snapshots were decided from ls-remote alone
    mirror = next((home / "mirrors").iterdir())
    refs = (mirror / "packed-refs").read_text() if (mirror / "packed-refs").exists() else ""
    loose = {p.parent.name for p in (mirror / "refs" / "forks").rglob("target")}
    assert "bob" not in refs and "carol" not in refs and not any(k.startswith(("bob", "carol")) for k in loose)
    # coverage is disclosed in the Markdown too; the second run lists the renamed fork under its new name
    md = CliRunner().invoke(app, ["summarize", "acme/proj", "--depth", "2", "--max-forks", "3", "-q"])
    assert md.exit_code == 0, md.output
    (line,) = [ln for ln in md.stdout.splitlines() if "Coverage:" in ln]
    assert line.startswith(
        "- Coverage: 7 forks listed; 2 prefiltered as snapshots (every head is an upstream commit; nothing fetched); "
        "3 analysed in depth; 2 skipped by the cap (--max-forks 3, ranked by stars"
    )
    assert re.search(r"^\| \[moved/proj2\]\(#movedproj2\) \| [^|]+ \| 1 \| 1 \|", md.stdout, re.M)
    assert all(c.authorization == "Bearer tok-xyz" for c in stub.calls)


def test_fork_of_fork_is_compared_with_the_root(stub: GitHubStub, tmp_path: Path, monkeypatch) -> None:
    net = build(NETWORK, tmp_path / "net", as_of=AS_OF)
    stub.add_network(net, parents={"dan/proj": "alice/proj"})
    monkeypatch.setenv("FORKWISE_GITHUB_API_URL", stub.url)
    res = CliRunner().invoke(app, ["summarize", "acme/proj", "--depth", "2", "--format", "json", "-q"])
    assert res.exit_code == 0, res.output
    report = Report.model_validate_json(res.stdout)
    dan = report.fork("dan/proj")
    assert dan.meta and dan.meta.parent == "alice/proj" and dan.meta.depth == 2
    # against the root: the parent's 2 commits plus its own 1, behind by what upstream gained after up:4
    assert dan.facts and (dan.facts.ahead, dan.facts.behind) == (3, 3)
    assert dan.facts.merge_base == net.upstream_commits[4]
    json.dumps(report.coverage.model_dump(mode="json"))


def test_rate_limit_before_listing_is_a_clear_error(stub: GitHubStub, monkeypatch) -> None:
    _records(stub, 3)
    stub.remaining = 0
    monkeypatch.setenv("FORKWISE_GITHUB_API_URL", stub.url)
    res = CliRunner().invoke(app, ["summarize", "acme/proj", "-q"])
    assert res.exit_code == 2
    msg = " ".join(res.stderr.split())
    assert "rate limit exhausted" in msg and "run the same command again after that to resume" in msg
    assert len(stub.calls) == 1


def test_timeouts_are_retried(stub: GitHubStub, tmp_path: Path) -> None:
    _records(stub, 3)
    stub.faults.append(Fault(path="/repos/acme/proj/forks", status=504, delay=1.5, times=1))
    sleeps: list[float] = []
    with _client(stub, tmp_path, sleeps, timeout=0.5) as client:
        found = discover_forks(client, "acme/proj")
    assert len(found.forks) == 3 and len(sleeps) == 1  # one timeout, one backoff, then the page
    assert [c.status for c in client.calls if "/forks" in c.url] == [200]  # the timed-out call got no answer


@pytest.fixture()
def small_network(tmp_path: Path):
    return build(
        {
            "name": "wait",
            "upstream": {"name": "acme/proj", "preset": "small"},
            "forks": [
                {"name": "amy/proj", "base": "up:6", "commits": [{"message": "ROCm", "files": {"r.py": "r\n"}}]},
                {"name": "bo/proj", "base": "up:3"},
            ],
        },
        tmp_path / "net",
    )


@pytest.mark.parametrize("max_wait", [30, 0])
def test_a_rate_limit_reset_within_max_wait_is_waited_for_with_a_countdown(
    small_network, tmp_path: Path, monkeypatch, max_wait: int
) -> None:
    with GitHubStub(reset_in=3) as stub:
        stub.add_network(small_network)
        stub.remaining = 1  # the root's record spends it; the forks page would need the next window
        monkeypatch.setenv("FORKWISE_GITHUB_API_URL", stub.url)
        monkeypatch.setenv("FORKWISE_HOME", str(tmp_path / "home"))
        t = time.monotonic()
        res = CliRunner().invoke(app, ["summarize", "acme/proj", "--format", "json", "--max-wait", str(max_wait)])
        took = time.monotonic() - t
    report = Report.model_validate_json(res.stdout)
    if max_wait:
        assert res.exit_code == 0, res.stderr
        assert re.search(r"wait started: \d+ to do \(GitHub rate limit: waiting \d+ s for the reset\)", res.stderr)
        assert "wait 1/" in res.stderr and " 0 s left" in res.stderr and "wait done" in res.stderr
        assert report.coverage.listing_complete and {f.name for f in report.forks} == {"amy/proj", "bo/proj"}
        assert took >= 1.5  # it really waited for the window to turn
    else:  # a reset beyond --max-wait: stop with what was listed, as before
        assert res.exit_code == 1
        assert "wait started" not in res.stderr and "rate limit exhausted" in " ".join(res.stderr.split())
        assert not report.coverage.listing_complete and report.forks == []
