"""Who may start work (issue: safe to put on a network, point 2): index jobs, the add box and chat answered by a
configured model need the key when one is set; a server listening beyond loopback with no key refuses them (403)
and says so when it starts. Reading stays open."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import httpx
import pytest

from forkwise.service.surfaces.access import is_loopback
from tests.conftest import ServeProcess, Server, free_port


class _CountingModel(http.server.BaseHTTPRequestHandler):
    """An OpenAI-compatible endpoint that counts the completions asked of it (and answers none usefully)."""

    calls: ClassVar[list[str]] = []

    def do_POST(self) -> None:
        type(self).calls.append(self.path)
        self.rfile.read(int(self.headers.get("content-length", 0)))
        body = json.dumps({"error": {"message": "counting only"}}).encode()
        self.send_response(500)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def model_url() -> Iterator[str]:
    _CountingModel.calls = []
    port = free_port()
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", port), _CountingModel)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{port}/v1"
    srv.shutdown()


def test_loopback_hosts() -> None:
    assert all(is_loopback(h) for h in ("127.0.0.1", "localhost", "::1", "[::1]", "127.8.9.1"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "::", "10.0.0.2", "forkwise.example", "192.168.1.5"))


def test_the_key_guards_jobs_and_model_chat_but_not_reading(shared_demo, model_url: str) -> None:
    _net, report, settings, _ = shared_demo
    s = settings.model_copy(update={"api_key": "s3cret", "llm": "openai", "openai_base_url": model_url})
    up = report.upstream.name
    with Server(s) as api:
        assert api.get(f"/v1/repos/{up}").status_code == 200  # reading stays open
        assert api.post("/v1/repos/evil/x/index", json={}).status_code == 401
        r = api.post("/v1/repos/evil/x/index", json={"url": "/etc"}, headers={"X-API-Key": "s3cret"})
        assert r.status_code == 403 and r.json()["detail"].startswith("refused")  # past the key, the policy
        q = {"upstream": up, "question": "which fork adds Gaudi support?"}
        assert api.post("/v1/chat", json=q).status_code == 401
        assert api.post("/v1/chat", json=q, headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert _CountingModel.calls == []
        r = api.post("/v1/chat", json=q, headers={"Authorization": "Bearer s3cret"})
        assert r.status_code == 200 and len(_CountingModel.calls) >= 1  # the key holder may spend tokens
        # the web page's question box has no key field: it answers from the evidence, spending nothing
        _CountingModel.calls = []
        page = api.get(f"/{up}", params={"q": "which fork adds Gaudi support?"})
        assert page.status_code == 200 and "habana-ai/trainer" in page.text
        assert _CountingModel.calls == []
        assert api.post("/add", data={"repo": "a/b"}, follow_redirects=False).status_code == 401
        assert api.post("/add", data={"repo": "a/b", "api_key": "nope"}, follow_redirects=False).status_code == 401


def test_without_a_key_on_loopback_the_page_may_use_the_model(shared_demo, model_url: str) -> None:
    _net, report, settings, _ = shared_demo
    s = settings.model_copy(update={"llm": "openai", "openai_base_url": model_url, "openai_timeout": 10.0})
    with Server(s) as api:
        page = api.get(f"/{report.upstream.name}", params={"q": "which fork adds Gaudi support?"})
    assert page.status_code == 200 and len(_CountingModel.calls) >= 1


def test_serving_beyond_loopback_without_a_key_refuses_work_and_says_so(tmp_path: Path, model_url: str) -> None:
    env = {"FORKWISE_HOME": str(tmp_path / "home"), "FORKWISE_LLM": "openai", "OPENAI_BASE_URL": model_url,
           "FORKWISE_API_KEY": ""}  # fmt: skip
    with ServeProcess(env, "--host", "0.0.0.0") as server:
        base = server.base
        r = httpx.post(f"{base}/v1/repos/a/b/index", json={}, headers={"X-API-Key": "anything"})
        assert r.status_code == 403 and "without FORKWISE_API_KEY" in r.json()["detail"]
        q = {"upstream": "a/b", "question": "which fork is maintained?"}
        assert httpx.post(f"{base}/v1/chat", json=q).status_code == 403
        assert httpx.post(f"{base}/add", data={"repo": "a/b"}).status_code == 403
        home = httpx.get(f"{base}/")
        assert home.status_code == 200 and 'id="add-disabled"' in home.text and 'id="add-form"' not in home.text
        assert httpx.get(f"{base}/v1/repos").json() == []  # reading stays open
        assert _CountingModel.calls == []
    out = server.output
    assert "warning: starting work is disabled: this server listens on 0.0.0.0 without FORKWISE_API_KEY" in out


def test_the_page_and_the_api_answer_a_refusal_the_same_way(shared_demo, tmp_path: Path) -> None:
    """One exception map (service/surfaces/errors.py): the add form's refusal is the API's, status, detail and
    Retry-After alike."""
    _net, _report, settings, _ = shared_demo
    dead = f"http://127.0.0.1:{free_port()}"  # the job the first request starts fails fast, offline
    s = settings.model_copy(update={"rate_jobs": "1/hour", "github_api_url": dead, "github_url": dead})
    with Server(s) as api:
        first = api.post("/add", data={"repo": "acme/other"}, follow_redirects=False)
        assert first.status_code == 303 and first.headers["location"].startswith("/jobs/")
        page = api.post("/add", data={"repo": "acme/other"}, follow_redirects=False)
        rest = api.post("/v1/repos/acme/other/index", json={})
        assert page.status_code == rest.status_code == 429
        assert page.json() == rest.json() and page.json()["detail"].startswith("too many")
        assert page.headers["retry-after"] == rest.headers["retry-after"] and int(page.headers["retry-after"]) > 0
        missing = api.get("/v1/repos/acme/nothing")
        assert missing.status_code == 404 and missing.json()["detail"].endswith("POST /v1/repos/acme/nothing/index")
