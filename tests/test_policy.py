"""What remote callers may make forkwise fetch: only forge repositories (issue: safe to put on a network, point 1).

The attacks are the ones seen on a default server: a local path, ``file://``, loopback, link-local, private hosts
and ``ssh://localhost``, each accepted with 202 and a private repository's README served back. Every one must be
refused with a 4xx *before* git runs, and checked again where git connects (pinned address, no redirects)."""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

from forkwise.evals.github_stub import GitHubStub
from forkwise.index.mirror import SourceProblem, ls_remote
from forkwise.index.policy import PolicyError, SourcePolicy, git_options, is_public
from forkwise.index.sources import Source
from forkwise.service.settings import Settings
from tests.conftest import Server, free_port
from tests.conftest import build as build_spec

PUBLIC = "140.82.112.3"  # an address GitHub answers from (global)


def _resolver(answers: dict[str, list[str]]):
    def resolve(host: str, port: int) -> list[str]:
        if host not in answers:
            raise OSError(f"no such host {host}")
        return answers[host]

    return resolve


def test_owner_name_becomes_a_github_url_without_touching_the_network() -> None:
    calls: list[str] = []

    def resolve(host: str, port: int) -> list[str]:
        calls.append(host)
        return [PUBLIC]

    src = SourcePolicy(resolver=resolve).remote("acme/trainer")
    assert (src.name, src.url, src.pinned) == ("acme/trainer", "https://github.com/acme/trainer.git", None)
    assert calls == []  # checked later, where the job connects


@pytest.mark.parametrize(
    "text",
    [
        "/etc",
        "./private-repo",
        "file:///srv/private/repo",
        "ext::sh -c touch% /tmp/pwned",
        "-uhelp",
        "--upload-pack=touch /tmp/pwned",
        "ssh://localhost/srv/repo",
        "git@github.com:acme/trainer.git",
        "git://github.com/acme/trainer.git",
        "http://127.0.0.1:8080/acme/trainer",
        "http://169.254.169.254/latest/meta-data",
        "https://10.0.0.7/acme/trainer",
        "https://gitlab.example/acme/trainer",
        "https://github.com.evil.example/acme/trainer",
        "https://user:pw@localhost/acme/trainer",
    ],
)
def test_remote_callers_may_not_name_local_or_internal_sources(text: str) -> None:
    policy = SourcePolicy(resolver=_resolver({"github.com": [PUBLIC]}))
    with pytest.raises(PolicyError, match="refused"):
        policy.remote(text)


@pytest.mark.parametrize(
    ("answers", "why"),
    [
        (["127.0.0.1"], "non-public"),
        (["10.1.2.3"], "non-public"),
        (["192.168.0.10"], "non-public"),
        (["169.254.169.254"], "non-public"),
        (["100.64.0.1"], "non-public"),  # carrier-grade NAT
        (["::1"], "non-public"),
        (["::ffff:127.0.0.1"], "non-public"),  # IPv4-mapped loopback
        (["fd00::1"], "non-public"),
        (["224.0.0.1"], "non-public"),
        ([PUBLIC, "127.0.0.1"], "non-public"),  # one bad answer is enough
        ([], "non-public"),
    ],
)
def test_the_github_host_must_resolve_only_to_public_addresses(answers: list[str], why: str) -> None:
    policy = SourcePolicy(resolver=_resolver({"github.com": answers}))
    with pytest.raises(PolicyError, match=why):
        policy.check(Source(name="a/b", url="https://github.com/a/b.git"))


def test_dns_failure_refuses_and_a_checked_address_is_pinned_for_git() -> None:
    with pytest.raises(PolicyError, match="cannot resolve"):
        SourcePolicy(resolver=_resolver({})).check(Source(name="a/b", url="https://github.com/a/b.git"))
    src = SourcePolicy(resolver=_resolver({"github.com": [PUBLIC]})).remote("https://github.com/a/b")
    assert src.pinned == f"github.com:443:{PUBLIC}"
    assert git_options(src) == [
        "-c",
        "http.followRedirects=false",
        "-c",
        f"http.curloptResolve=github.com:443:{PUBLIC}",
    ]
    v6 = SourcePolicy(resolver=_resolver({"github.com": ["2606:50c0:8000::154"]})).remote("https://github.com/a/b")
    assert git_options(v6)[-1] == "http.curloptResolve=github.com:443:[2606:50c0:8000::154]"
    assert git_options(Source(name="a/b", url="/trusted/cli/path")) == []  # the CLI's own arguments: as given
    assert is_public(PUBLIC) and not is_public("0.0.0.0")


def test_trusted_prefixes_are_the_operators_allow_list(tmp_path: Path) -> None:
    root = tmp_path / "mirrors"
    (root / "ok").mkdir(parents=True)
    policy = SourcePolicy(trusted=(str(root), "https://git.corp.example/team/"), resolver=_resolver({}))
    assert policy.remote(str(root / "ok"), name="corp/ok").url == str(root / "ok")
    assert policy.remote("https://git.corp.example/team/repo.git").url == "https://git.corp.example/team/repo.git"
    for text in (str(root / ".." / "secret"), str(tmp_path / "mirrors-evil"), "https://git.corp.example/other/x"):
        with pytest.raises(PolicyError):
            policy.remote(text)


# --- the same refusals through the running server: 403 before any git runs ---------------------------------------


@pytest.fixture()
def private_repo(tmp_path: Path) -> Path:
    net = build_spec(
        {
            "name": "private",
            "upstream": {
                "name": "corp/secret",
                "commits": [{"message": "init", "files": {"README.md": "# secret\n\nDB_PASSWORD=hunter2\n"}}],
            },
            "forks": [],
        },
        tmp_path / "private",
    )
    return net.upstream_path


@pytest.mark.parametrize(
    "body",
    [
        {"url": "{private}"},
        {"url": "file://{private}"},
        {"url": "https://github.com/evil/x", "forks": ["{private}"]},
        {"url": "http://127.0.0.1:9/evil/x"},
        {"url": "http://169.254.169.254/latest/meta-data"},
        {"url": "ssh://localhost{private}"},
        {"forks": ["ext::sh -c evil"]},
    ],
)
def test_the_api_refuses_local_and_internal_sources_with_403(
    tmp_path: Path, private_repo: Path, body: dict[str, object]
) -> None:
    settings = Settings(home=tmp_path / "home", workers=2)
    body = {k: (v.replace("{private}", str(private_repo)) if isinstance(v, str) else v) for k, v in body.items()}
    if "forks" in body:
        body["forks"] = [f.replace("{private}", str(private_repo)) for f in body["forks"]]  # type: ignore[union-attr]
    with Server(settings) as api:
        r = api.post("/v1/repos/evil/x/index", json=body)
        assert r.status_code == 403, r.text
        assert r.json()["detail"].startswith("refused ")
        time.sleep(0.3)  # had a job started, it would have begun fetching by now
        assert api.get("/v1/repos/evil/x").status_code == 404
    assert not (settings.home / "mirrors").exists()  # nothing was fetched
    assert "hunter2" not in "".join(p.read_text(errors="ignore") for p in settings.home.rglob("*") if p.is_file())


def test_the_web_page_add_box_names_only_owner_and_repo(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home", workers=2)
    with Server(settings) as api:
        for repo in ("/etc/passwd", "file:///etc", "../../x", "a/b/c"):
            r = api.post("/add", data={"repo": repo}, follow_redirects=False)
            assert r.status_code == 422, (repo, r.status_code)
    assert not (settings.home / "mirrors").exists()


def test_clone_urls_from_the_forge_must_be_on_the_github_host(tmp_path: Path) -> None:
    """A forge answer (or a compromised one) that points a fork at a local path fails that fork, not the job."""
    net = build_spec(
        {
            "name": "gh",
            "upstream": {"name": "open/lib", "preset": "small"},
            "forks": [
                {"name": "good/lib", "base": "up:6", "commits": [{"message": "ROCm", "files": {"r.py": "r\n"}}]},
                {"name": "bad/lib", "base": "up:5", "commits": [{"message": "x", "files": {"x.py": "x\n"}}]},
            ],
        },
        tmp_path / "net",
    )
    with GitHubStub() as gh:
        gh.add_network(net)
        # the operator trusts the upstream's and good fork's location (standing in for github.com); not bad/lib's
        trusted = ",".join(p.as_uri() for p in (net.upstream_path, net.forks[0].path))
        settings = Settings(home=tmp_path / "home", workers=2, github_api_url=gh.url, trusted_sources=trusted)
        with Server(settings) as api:
            r = api.post("/v1/repos/open/lib/index", json={})
            assert r.status_code == 202
            job = _wait_job(api, r.json()["url"])
    assert job["status"] == "done", job
    (err,) = job["errors"]
    assert err.startswith("bad/lib: refused ") and "only http(s) URLs on github.com may be fetched" in err
    assert not any("bad__lib" in p.name or "bad/lib" in p.name for p in (settings.home / "mirrors").rglob("*"))


def _wait_job(api, url: str) -> dict:
    for _ in range(600):
        job = api.get(url).json()
        if job["status"] in ("done", "failed"):
            return job
        time.sleep(0.1)
    raise AssertionError(f"job did not finish: {job}")


# --- where git connects: no redirects, the pinned address ---------------------------------------------------------


class _Redirector(http.server.BaseHTTPRequestHandler):
    hits: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        type(self).hits.append(self.path)
        if self.path.startswith("/moved/"):
            self.send_response(301)
            self.send_header("Location", self.path.replace("/moved/", "/internal/", 1))
            self.end_headers()
        else:
            self.send_response(404)
            self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def redirector() -> Iterator[int]:
    _Redirector.hits = []
    port = free_port()
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", port), _Redirector)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield port
    srv.shutdown()


def test_git_does_not_follow_redirects_from_a_checked_source(redirector: int) -> None:
    url = f"http://127.0.0.1:{redirector}/moved/repo.git"
    # unchecked (the CLI's own argument): git follows the first redirect, as it does by default
    with pytest.raises(SourceProblem):
        ls_remote(Source(name="a/b", url=url), timeout=20)
    assert any(h.startswith("/internal/") for h in _Redirector.hits)
    # checked for a remote caller: the redirect is not followed
    _Redirector.hits = []
    with pytest.raises(SourceProblem):
        ls_remote(Source(name="a/b", url=url, pinned=f"127.0.0.1:{redirector}:127.0.0.1"), timeout=20)
    assert _Redirector.hits and not any(h.startswith("/internal/") for h in _Redirector.hits)


def test_git_connects_to_the_pinned_address_not_a_fresh_dns_answer(redirector: int) -> None:
    """The name below does not resolve at all; git reaches the server only through the address checked earlier."""
    url = f"http://forge.invalid:{redirector}/moved/repo.git"
    with pytest.raises(SourceProblem):
        ls_remote(Source(name="a/b", url=url, pinned=f"forge.invalid:{redirector}:127.0.0.1"), timeout=20)
    assert _Redirector.hits == ["/moved/repo.git/info/refs?service=git-upload-pack"]
