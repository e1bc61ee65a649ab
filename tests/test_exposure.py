"""Safe on a network, second pass: the holes a stranger still found (issue 25), each attack sent over real HTTP to a
running server (stand-ins where GitHub or Slack would answer), each test failing on the code before the fix.

1 the embeddings endpoint · 2 trusted prefixes compared raw · 3 the Slack Index button · 4 Slack link injection through
a fork name · 5 credentials and local paths shown to anyone · 6 cross-site requests and DNS rebinding · 7 the forge's
``Link`` and ``html_url`` · 8 ``X-Forwarded-For`` · 9 invalid ports · 10 the near misses.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
from typer.testing import CliRunner

from forkwise.evals.github_stub import GitHubStub
from forkwise.evals.local_server import LocalServer, QuietHandler
from forkwise.evals.slack_stub import SlackStub
from forkwise.index.github import GitHubClient, GitHubError, discover_forks
from forkwise.index.gitio import run as git_run
from forkwise.index.mirror import Mirror, ls_remote
from forkwise.index.policy import PolicyError, SourcePolicy, canonical, is_public
from forkwise.index.sources import Source
from forkwise.service.runs.store import save_report
from forkwise.service.runs.usecases import refresh_request, summarize
from forkwise.service.settings import Settings
from forkwise.service.surfaces.cli import app as cli
from forkwise.service.verdicts.models import Report
from tests.conftest import ServeProcess, Server
from tests.conftest import build as build_spec
from tests.git_http import GitHTTP, bare
from tests.test_slack import SECRET, sign

PUBLIC = "140.82.112.3"

SMALL = {
    "name": "small",
    "upstream": {"name": "team/up", "preset": "small"},
    "forks": [{"name": "amy/up", "base": "up:6", "commits": [{"message": "Add ROCm", "files": {"rocm.py": "r\n"}}]}],
}


def _wait_job(api: httpx.Client, url: str, timeout: float = 120.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = api.get(url).json()
        if job["status"] in ("done", "failed"):
            return job
        time.sleep(0.1)
    raise AssertionError(f"job did not finish: {job}")


# --- 1. POST /v1/embeddings is work ---------------------------------------------------------------------------------


def test_embeddings_are_off_unless_configured(shared_demo) -> None:
    _net, _report, settings, _ = shared_demo
    with Server(settings) as api:
        r = api.post("/v1/embeddings", json={"input": "x"})
    assert r.status_code == 404 and "FORKWISE_SERVE_EMBEDDINGS" in r.json()["detail"]


def test_embeddings_beyond_loopback_need_the_key_and_have_caps_and_a_rate_limit(tmp_path: Path) -> None:
    env = {"FORKWISE_HOME": str(tmp_path / "home"), "FORKWISE_API_KEY": "k3y", "FORKWISE_SERVE_EMBEDDINGS": "1",
           "FORKWISE_RATE_EMBEDDINGS": "3/minute", "FORKWISE_EMBED_MAX_INPUTS": "8",
           "FORKWISE_EMBED_MAX_CHARS": "500"}  # fmt: skip
    with ServeProcess(env, "--host", "0.0.0.0") as server:
        base, key = server.base, {"X-API-Key": "k3y"}
        assert httpx.post(f"{base}/v1/embeddings", json={"input": "x"}).status_code == 401
        ok = httpx.post(f"{base}/v1/embeddings", json={"input": ["a", "b"]}, headers=key, timeout=60)
        assert ok.status_code == 200 and len(ok.json()["data"]) == 2 and len(ok.json()["data"][0]["embedding"]) == 384
        many = httpx.post(f"{base}/v1/embeddings", json={"input": ["a"] * 2048}, headers=key)
        assert many.status_code == 413 and "at most 8" in many.json()["detail"]  # the 118-second body of the issue
        long = httpx.post(f"{base}/v1/embeddings", json={"input": "y" * 501}, headers=key)
        assert long.status_code == 413 and "at most 500" in long.json()["detail"]
        limited = httpx.post(f"{base}/v1/embeddings", json={"input": "z"}, headers=key)
        assert limited.status_code == 429 and "Retry-After" in limited.headers


def test_chat_does_not_wait_for_another_clients_embeddings(shared_demo) -> None:
    """Two large batches queue on the endpoint's own thread and model; a chat answer comes back while they run, and a
    third batch beyond FORKWISE_EMBED_QUEUE is refused at once."""
    _net, report, settings, _ = shared_demo
    s = settings.model_copy(update={"serve_embeddings": True, "embed_queue": 2, "embed_max_chars": 4000})
    batch = {"input": [f"{i} " + "fork diff chunk with many words " * 60 for i in range(64)]}
    finished: dict[str, float] = {}
    with Server(s) as api:
        api.post("/v1/chat", json={"upstream": report.upstream.name, "question": "warm up"})  # loads chat's model

        def embed(name: str) -> None:
            assert api.post("/v1/embeddings", json=batch, timeout=300).status_code == 200
            finished[name] = time.monotonic()

        threads = [threading.Thread(target=embed, args=(f"e{i}",)) for i in range(2)]
        for t in threads:
            t.start()
        time.sleep(0.5)  # both batches are in the endpoint's queue by now
        assert api.post("/v1/embeddings", json=batch).status_code == 429
        r = api.post("/v1/chat", json={"upstream": report.upstream.name, "question": "which fork adds Gaudi support?"})
        finished["chat"] = time.monotonic()
        assert r.status_code == 200 and "habana-ai/trainer" in r.text
        for t in threads:
            t.join()
    assert finished["chat"] < max(finished["e0"], finished["e1"])


# --- 2. trusted prefixes are compared normalised ----------------------------------------------------------------------


def test_canonical_forms() -> None:
    assert canonical("HTTP://Git.Corp:80/team/./x/../repo.git") == ("url", "http://git.corp/team/repo.git")
    assert canonical("https://h:443/a%2e%2e/%2e%2e/b/") == ("url", "https://h/b/")
    assert canonical("https://h:8443//a//b") == ("url", "https://h:8443/a/b")
    assert canonical("file:///srv/git/trusted/../up.git") == ("path", "/srv/git/up.git")
    assert canonical("relative/path") is None


@pytest.mark.parametrize(
    "url",
    [
        "{trusted_uri}/../up",
        "{trusted_uri}/%2e%2e/up",
        "{trusted_path}/../up",
        "http://h/trusted/../up.git",
        "http://h/trusted/%2E%2E/up.git",
        "http://h:80/trusted/..%2fup.git",
    ],
)
def test_dot_segments_do_not_escape_a_trusted_prefix(tmp_path: Path, url: str) -> None:
    net = build_spec({**SMALL, "forks": []}, tmp_path / "git")
    trusted = net.upstream_path.parent / "trusted"
    trusted.mkdir()
    url = url.format(trusted_uri=trusted.as_uri(), trusted_path=str(trusted))
    settings = Settings(home=tmp_path / "home", workers=2, trusted_sources=f"{trusted.as_uri()}/,http://h/trusted/")
    with Server(settings) as api:
        r = api.post("/v1/repos/team/up/index", json={"url": url})
    assert r.status_code == 403 and r.json()["detail"].startswith("refused"), r.text
    assert not (settings.home / "mirrors").exists()


def test_a_normalised_url_under_a_trusted_prefix_is_fetched_as_normalised(tmp_path: Path) -> None:
    net = build_spec({**SMALL, "forks": []}, tmp_path / "git" / "trusted")
    settings = Settings(home=tmp_path / "home", workers=2, trusted_sources=(tmp_path / "git" / "trusted").as_uri())
    with Server(settings) as api:
        odd = f"file://{net.root}/./x/../{net.upstream_path.name}"
        r = api.post("/v1/repos/team/up/index", json={"url": odd})
        assert r.status_code == 202, r.text
        job = _wait_job(api, r.json()["url"])
        assert job["status"] == "done", job
        assert api.get("/v1/repos/team/up/report").json()["upstream"]["url"] == str(net.upstream_path)


# --- 3 and 4. Slack: who may start work, and names that cannot inject mrkdwn -----------------------------------------


def _press(client: httpx.Client, slack: SlackStub, rid: str, *, team: str = "T1", user: str = "U1") -> None:
    payload = {
        "type": "block_actions",
        "team": {"id": team},
        "user": {"id": user},
        "channel": {"id": "C9"},
        "container": {"type": "message", "message_ts": "1700000999.000100", "channel_id": "C9"},
        "response_url": slack.response_url(rid),
        "actions": [{"type": "button", "action_id": "forkwise_index", "value": "ghost/lib", "block_id": "b"}],
    }
    body = urlencode({"payload": json.dumps(payload)})
    headers = {"Content-Type": "application/x-www-form-urlencoded", **sign(body)}
    assert client.post("/slack/events", content=body, headers=headers).status_code == 200


def _command(client: httpx.Client, slack: SlackStub, text: str, rid: str) -> None:
    form = {"team_id": "T1", "channel_id": "C1", "user_id": "U1", "command": "/forkwise", "text": text,
            "response_url": slack.response_url(rid), "trigger_id": "1.2.3"}  # fmt: skip
    body = urlencode(form)
    headers = {"Content-Type": "application/x-www-form-urlencoded", **sign(body)}
    assert client.post("/slack/events", content=body, headers=headers).status_code == 200


def _slack_settings(tmp_path: Path, slack: SlackStub, gh: GitHubStub, **kw: object) -> Settings:
    return Settings(home=tmp_path / "home", workers=2, slack_signing_secret=SECRET, slack_bot_token="xoxb-t",
                    slack_api_url=slack.api_url, github_api_url=gh.url, public_url="https://fw.example",
                    **kw)  # fmt: skip


def test_the_slack_index_button_starts_nothing_unless_the_operator_allows_it(tmp_path: Path) -> None:
    with SlackStub() as slack, GitHubStub() as gh:
        with Server(_slack_settings(tmp_path, slack, gh)) as client:
            _command(client, slack, "ghost/lib", "ask")
            assert slack.wait(lambda: slack.responses("ask"))
            blocks = slack.responses("ask")[0].payload["blocks"]
            assert [b["type"] for b in blocks] == ["section"]  # no button: this bot only reads
            assert "ask whoever runs forkwise" in blocks[0]["text"]["text"]
            _press(client, slack, "forged")  # a button from an old message, or a hand-made payload
            assert slack.wait(lambda: slack.responses("forged"))
            said = slack.responses("forged")[0].payload
            assert said["response_type"] == "ephemeral" and "FORKWISE_SLACK_ALLOWED" in said["text"]
        assert [c for c in gh.calls if "/repos/ghost/lib" in c.path] == []  # no job ever asked the forge


def test_the_slack_allowed_list_and_the_job_rate_limit(tmp_path: Path) -> None:
    with SlackStub() as slack, GitHubStub() as gh:
        settings = _slack_settings(tmp_path, slack, gh, slack_allowed="T1", rate_jobs="1/hour")
        with Server(settings) as client:
            _press(client, slack, "other-team", team="T2", user="U7")
            _press(client, slack, "first")
            _press(client, slack, "second")
            assert slack.wait(lambda: all(slack.responses(n) for n in ("other-team", "first", "second")))
            assert "not allowed for you" in slack.responses("other-team")[0].payload["text"]
            # the two presses are handled concurrently: whichever comes first starts the job, the other is limited
            said = sorted(slack.responses(n)[0].payload["text"] for n in ("first", "second"))
            assert "Indexing ghost/lib (job " in said[0] and "too many job requests" in said[1], said


def test_fork_names_outside_the_forge_grammar_are_refused(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home", workers=2)
    with Server(settings) as api:
        for fork in ("https://github.com/a/b/x><!channel>/..", "https://github.com/a/b%3E", "https://github.com/a"):
            r = api.post("/v1/repos/a/b/index", json={"forks": [fork]})
            assert r.status_code == 403 and "name grammar" in r.json()["detail"], (fork, r.text)


def test_a_stored_name_with_mrkdwn_cannot_ping_a_channel(tmp_path: Path, shared_demo) -> None:
    """A report stored before names were checked: its fork name reaches Slack escaped, and no link is built from it."""
    _net, report, _settings, _ = shared_demo
    evil = report.forks[0].model_copy(update={"name": "a/b/x><!channel>/..", "web_url": "javascript:alert(1)"})
    bad = report.model_copy(update={"forks": [evil, *report.forks[1:]]})
    with SlackStub() as slack, GitHubStub() as gh:
        settings = _slack_settings(tmp_path, slack, gh)
        save_report(Report.model_validate(bad.model_dump()), settings)
        with Server(settings) as client:
            _command(client, slack, f"{report.upstream.name} a", "evil")
            assert slack.wait(lambda: slack.responses("evil"))
    (said,) = slack.responses("evil")
    mrkdwn = [said.payload["text"]] + [b["text"]["text"] for b in said.payload["blocks"] if b["type"] == "section"]
    mrkdwn += [e["text"] for b in said.payload["blocks"] for e in b.get("elements", []) if "text" in e]
    assert "<!channel>" not in " ".join(mrkdwn) and "&lt;!channel&gt;" in said.payload["text"]
    text = json.dumps(said.payload)
    assert "javascript:" not in text and "Open in forkwise" not in text


# --- 5. credentials and local paths --------------------------------------------------------------------------------


def test_credentials_in_urls_are_never_stored_or_shown(tmp_path: Path) -> None:
    net = build_spec(SMALL, tmp_path / "net")
    root = tmp_path / "served"
    bare(net.upstream_path, root / "team" / "up.git")
    bare(net.forks[0].path, root / "amy" / "up.git")
    home = tmp_path / "home"
    with GitHTTP(root) as srv:
        creds = srv.url.replace("http://", "http://deploy:SECRET@")
        res = CliRunner().invoke(
            cli,
            ["summarize", f"{creds}/team/up.git", "--fork", f"{creds}/amy/up.git", "--no-index", "--format", "json"],
            env={"FORKWISE_HOME": str(home)},
        )
        assert res.exit_code == 0, res.output
        assert "SECRET" not in res.stdout and "deploy" not in res.stdout
        report = Report.model_validate_json(res.stdout)
        assert report.upstream.url == f"{srv.url}/team/up.git" and report.fork("amy/up").facts is not None
    with Server(Settings(home=home, workers=2)) as api:
        body = api.get("/v1/repos/team/up/report").text
    assert "SECRET" not in body and f"{srv.url}/team/up.git" in body
    store = b"".join(p.read_bytes() for p in (home).glob("*.sqlite*")) + b"".join(
        p.read_bytes() for p in (home / "cache").rglob("*") if p.is_file()
    )
    assert b"SECRET" not in store


def test_local_paths_are_shown_to_local_callers_only(shared_demo) -> None:
    """Behind a proxy (FORKWISE_TRUSTED_PROXIES) every caller is remote: the same report without this machine's
    paths, in the API, the whole report and the page."""
    net, report, settings, _ = shared_demo
    local = str(net.upstream_path)
    up = report.upstream.name
    with Server(settings) as api:  # on this machine
        assert local in api.get(f"/v1/repos/{up}/report").text
    proxied = settings.model_copy(update={"trusted_proxies": "127.0.0.1"})
    with Server(proxied) as api:
        far = {"X-Forwarded-For": "203.0.113.9"}
        for path in (f"/v1/repos/{up}", f"/v1/repos/{up}/report", f"/v1/repos/{up}/forks/habana-ai/trainer", f"/{up}",
                     f"/{up}/forks/habana-ai/trainer"):  # fmt: skip
            r = api.get(path, headers=far)
            assert r.status_code == 200 and local not in r.text and str(net.root) not in r.text, path
        whole = api.get(f"/v1/repos/{up}/report", headers=far).json()
        assert whole["upstream"]["url"] is None and all(f["url"] is None for f in whole["forks"])


# --- 6. cross-site requests and DNS rebinding ------------------------------------------------------------------------


def test_a_foreign_host_or_origin_cannot_drive_a_loopback_server(shared_demo) -> None:
    _net, report, settings, _ = shared_demo
    with Server(settings) as api:
        port = api.base_url.port
        assert api.get("/", headers={"Host": f"evil.example:{port}"}).status_code == 400  # DNS rebinding
        assert api.get("/", headers={"Host": f"localhost:{port}"}).status_code == 200
        evil = {"Origin": "http://evil.example"}
        add = api.post("/add", data={"repo": "a/b"}, headers=evil, follow_redirects=False)
        assert add.status_code == 403 and "cross-site" in add.json()["detail"]
        r = api.post("/v1/repos/a/b/index", content="{}", headers={"Content-Type": "text/plain"})
        assert r.status_code == 415  # a text/plain POST needs no CORS preflight: the API takes JSON only
        r = api.post("/v1/repos/a/b/index", json={}, headers={"Referer": "http://evil.example/page"})
        assert r.status_code == 403
        q = {"upstream": report.upstream.name, "question": "which fork is maintained?"}
        assert api.post("/v1/chat", json=q, headers={"Origin": "null"}).status_code == 403
        same = api.post("/v1/chat", json=q, headers={"Origin": f"http://127.0.0.1:{port}"})
        assert same.status_code == 200  # the page itself


# --- 7. the forge client trusts only its own origin -----------------------------------------------------------------


class _Forge(LocalServer):
    """A GitHub stand-in whose fork listing points its next page at another host."""

    def __init__(self, next_url: str):
        self.next_url = next_url

    def handler(self) -> type[QuietHandler]:
        forge = self

        class H(QuietHandler):
            def do_GET(self) -> None:
                if self.path == "/repos/a/b":
                    self.send_json(200, {"id": 1, "full_name": "a/b", "clone_url": "https://github.com/a/b.git",
                                         "html_url": "https://github.com/a/b"})  # fmt: skip
                    return
                body = json.dumps([]).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Link", f'<{forge.next_url}>; rel="next"')
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return H


class _Collector(LocalServer):
    def __init__(self) -> None:
        self.auth: list[str | None] = []

    def handler(self) -> type[QuietHandler]:
        seen = self

        class H(QuietHandler):
            def do_GET(self) -> None:
                seen.auth.append(self.headers.get("Authorization"))
                self.send_json(200, [])

        return H


def test_next_page_links_to_another_host_are_not_followed_with_the_token() -> None:
    with _Collector() as other, _Forge(f"{other.url}/repos/a/b/forks?page=2") as forge:
        client = GitHubClient(forge.url, "tok-secret", timeout=5, retries=0)
        with pytest.raises(GitHubError, match="refused a next-page link"):
            discover_forks(client, "a/b")
    assert other.auth == []


def test_html_urls_off_the_forge_never_become_links(tmp_path: Path) -> None:
    net = build_spec(SMALL, tmp_path / "net")
    with GitHubStub() as gh:
        ids = gh.add_network(net)
        gh.records[ids["amy/up"]]["html_url"] = "javascript:alert(document.cookie)"
        gh.records[ids["team/up"]]["html_url"] = "https://evil.example/team/up"
        settings = Settings(home=tmp_path / "home", workers=2, github_api_url=gh.url, trusted_sources=net.root.as_uri())
        with Server(settings) as api:
            job = _wait_job(api, api.post("/v1/repos/team/up/index", json={}).json()["url"])
            assert job["status"] == "done", job
            page = api.get("/team/up/forks/amy/up").text
            detail = api.get("/v1/repos/team/up/forks/amy/up").json()
            chat = api.post("/v1/chat", json={"upstream": "team/up", "question": "which fork adds ROCm?"}).text
    assert "javascript:" not in page + chat and "evil.example" not in page + chat
    assert detail["fork"]["web_url"] == "https://github.com/amy/up"  # its page on the configured forge, not the API's


# --- 8. X-Forwarded-For only from a trusted proxy ---------------------------------------------------------------------


def test_rotating_x_forwarded_for_does_not_reset_the_rate_limit(tmp_path: Path) -> None:
    env = {"FORKWISE_HOME": str(tmp_path / "home"), "FORKWISE_RATE_CHAT": "2/minute"}
    with ServeProcess(env) as server:
        codes = [
            httpx.post(
                f"{server.base}/v1/chat",
                json={"upstream": "a/b", "question": "q"},
                headers={"X-Forwarded-For": f"198.51.100.{i}"},
            ).status_code
            for i in range(3)
        ]
    assert codes == [404, 404, 429]


def test_behind_a_trusted_proxy_callers_are_remote_and_counted_by_their_address(tmp_path: Path) -> None:
    env = {"FORKWISE_HOME": str(tmp_path / "home"), "FORKWISE_TRUSTED_PROXIES": "127.0.0.1",
           "FORKWISE_RATE_CHAT": "1/minute"}  # fmt: skip
    with ServeProcess(env) as server:
        r = httpx.post(f"{server.base}/v1/repos/a/b/index", json={}, headers={"X-Forwarded-For": "203.0.113.5"})
        assert r.status_code == 403 and "reverse proxy" in r.json()["detail"]  # no key: no work for anyone
        q = {"upstream": "a/b", "question": "q"}
        first = [httpx.post(f"{server.base}/v1/chat", json=q, headers={"X-Forwarded-For": f"203.0.113.{i}"})
                 for i in (1, 2)]  # fmt: skip
        again = httpx.post(f"{server.base}/v1/chat", json=q, headers={"X-Forwarded-For": "203.0.113.1"})
    assert [r.status_code for r in first] == [404, 404] and again.status_code == 429
    assert "behind a reverse proxy" in server.output


# --- 9 and 10. invalid ports and the near misses --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        ({"url": "https://github.com:99999/a/b"}, 403, "between 1 and 65535"),
        ({"forks": ["https://github.com:0/a/b"]}, 403, "between 1 and 65535"),
        ({"url": "https://127.0.0.1\\@github.com/a/b"}, 403, "backslash"),
        ({"url": "https://github.com#@127.0.0.1/a/b"}, 403, "read differently"),
        ({"url": "https://127.0.0.1?@github.com/a/b"}, 403, "read differently"),
        ({"url": "https://token@github.com/a/b"}, 403, "credentials"),
        ({"forks": [" a/b"]}, 422, "string_pattern_mismatch"),
        ({"forks": [""]}, 422, "string_too_short"),
        ({"url": "tests"}, 403, "may name only a repository"),
    ],
)
def test_ambiguous_or_malformed_sources_get_a_clear_4xx(tmp_path: Path, body: dict, status: int, says: str) -> None:
    settings = Settings(home=tmp_path / "home", workers=2)
    with Server(settings) as api:
        r = api.post("/v1/repos/a/b/index", json=body)
    assert r.status_code == status and says in r.text, r.text
    assert str(Path.cwd()) not in r.text  # "tests" exists here; the answer never shows where the server runs


def test_6to4_teredo_and_nat64_forms_of_internal_addresses_are_not_public() -> None:
    for addr in ("2002:7f00:1::", "2002:a00:1::1", "2001:0:4136:e378:8000:63bf:80ff:fffe", "64:ff9b::7f00:1"):
        assert not is_public(addr), addr
        policy = SourcePolicy(resolver=lambda host, port, a=addr: [a])
        with pytest.raises(PolicyError, match="non-public"):
            policy.check(Source(name="a/b", url="https://github.com/a/b.git"))
    assert is_public("2002:8c52:7003::1")  # 6to4 of a public IPv4 address


def test_lazy_blob_fetches_connect_to_the_pinned_address_without_redirects(tmp_path: Path) -> None:
    """The mirror's own config carries the pin: a blob git fetches later, on its own, goes where the check said."""
    net = build_spec({**SMALL, "forks": []}, tmp_path / "net")
    root = tmp_path / "served"
    bare(net.upstream_path, root / "team" / "up.git")
    with GitHTTP(root) as srv:
        port = srv.url.rsplit(":", 1)[1]
        src = Source(name="team/up", url=f"http://forge.invalid:{port}/team/up.git",
                     pinned=f"forge.invalid:{port}:127.0.0.1")  # fmt: skip
        mirror = Mirror(tmp_path / "mirrors", src, blobless=True, timeout=60)
        mirror.ensure()
        mirror.register({"upstream": src})
        remote = ls_remote(src)
        mirror.fetch("upstream", src, remote, "refs/heads/main", heads=False)
        before = len(srv.requests)
        text = git_run(mirror.path, "cat-file", "-p", "refs/upstream/target:README.md", timeout=60)
    assert text.startswith("#") and len(srv.requests) > before  # fetched lazily, through the pinned address
    config = git_run(mirror.path, "config", "--get-regexp", r"^http\.")
    assert f"http.http://forge.invalid:{port}/team/up.git.followredirects false" in config


def test_a_dumb_http_server_is_refused_before_git_loops(tmp_path: Path) -> None:
    net = build_spec({**SMALL, "forks": []}, tmp_path / "net")
    root = tmp_path / "served"
    bare(net.upstream_path, root / "team" / "up.git")
    with GitHTTP(root, smart=False) as srv:
        settings = Settings(home=tmp_path / "home", workers=2, trusted_sources=f"{srv.url}/team/")
        with Server(settings) as api:
            r = api.post("/v1/repos/team/up/index", json={"url": f"{srv.url}/team/up.git"})
            assert r.status_code == 202, r.text
            job = _wait_job(api, r.json()["url"], timeout=60)
    assert job["status"] == "failed" and "'dumb' HTTP server" in " ".join(job["errors"]), job
    assert len(srv.requests) < 10  # one ls-remote, no fetch (the loop took 11,892)


def test_a_refresh_checks_a_remote_callers_sources_again(tmp_path: Path) -> None:
    net = build_spec(SMALL, tmp_path / "net")
    trusted = Settings(home=tmp_path / "home", workers=2, trusted_sources=net.root.as_uri())
    with Server(trusted) as api:
        body = {"url": net.upstream_path.as_uri(), "forks": [net.forks[0].path.as_uri()]}
        job = _wait_job(api, api.post("/v1/repos/team/up/index", json=body).json()["url"])
        assert job["status"] == "done", job
        assert api.get("/v1/repos/team/up/report").json()["remote_request"] is True
    untrusted = trusted.model_copy(update={"trusted_sources": ""})  # the operator withdrew the trust since
    req = refresh_request(untrusted, "team/up")
    assert req.policy is not None
    with pytest.raises(PolicyError, match="refused"):
        summarize(req, untrusted)
    assert refresh_request(trusted, "team/up").policy is not None  # still checked, and allowed by the prefix


def test_a_slow_request_body_is_timed_out(tmp_path: Path) -> None:
    env = {"FORKWISE_HOME": str(tmp_path / "home"), "FORKWISE_BODY_TIMEOUT": "1"}
    with ServeProcess(env) as server:
        port = int(server.base.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(
                b"POST /v1/chat HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                b'Content-Length: 100\r\n\r\n{"upstream": '
            )
            started = time.monotonic()
            reply = s.recv(4096).decode()
            waited = time.monotonic() - started
            # the body may come in a packet of its own: read on until the length the headers announce is there
            head, _, body = reply.partition("\r\n\r\n")
            length = int(next((ln.split(":", 1)[1] for ln in head.split("\r\n") if ln.lower().startswith(
                "content-length:")), "0"))  # fmt: skip
            while len(body.encode()) < length and (more := s.recv(4096).decode()):
                body += more
            reply = f"{head}\r\n\r\n{body}"
    assert reply.startswith("HTTP/1.1 408") and "not received within 1 s" in reply
    assert waited < 8


def test_git_http_helper_speaks_both_protocols(tmp_path: Path) -> None:
    """The helper the tests above rely on: smart answers with git's advertisement, dumb with static files."""
    net = build_spec({**SMALL, "forks": []}, tmp_path / "net")
    bare(net.upstream_path, tmp_path / "served" / "up.git")
    for smart in (True, False):
        with GitHTTP(tmp_path / "served", smart=smart) as srv:
            remote = ls_remote(Source(name="a/b", url=f"{srv.url}/up.git"))
        assert remote.smart is smart and "refs/heads/main" in remote.refs
