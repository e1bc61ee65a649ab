"""Absolute links (issue: safe to put on a network, point 8): FORKWISE_PUBLIC_URL for Slack, digests and the API's
``Location``; without it, ``serve`` links to the address it listens on and other commands leave links out,
never a localhost address others cannot open."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx

from forkwise.service.runs.digest import compute
from forkwise.service.settings import Settings
from forkwise.service.surfaces import digest as dg
from forkwise.service.surfaces.slack import fork_blocks, summary_blocks
from tests.conftest import ServeProcess, Server
from tests.conftest import build as build_spec


def _texts(blocks: list[dict]) -> str:
    out = []
    for b in blocks:
        if "text" in b:
            out.append(b["text"]["text"] if isinstance(b["text"], dict) else str(b["text"]))
        for e in b.get("elements", []):
            out.append(str(e.get("text", "")))
    return "\n".join(out)


def test_slack_and_digest_links_use_the_public_url_or_are_left_out(shared_demo) -> None:
    _net, report, _settings, _ = shared_demo
    fork = report.fork("habana-ai/trainer")
    with_url = _texts(summary_blocks(report, "https://fw.example/") + fork_blocks(report, fork, "https://fw.example"))
    assert "<https://fw.example/acme/trainer|Full report>" in with_url
    assert "<https://fw.example/acme/trainer/forks/habana-ai/trainer|Open in forkwise>" in with_url
    without = _texts(summary_blocks(report, None) + fork_blocks(report, fork, None))
    assert "Full report" not in without and "Open in forkwise" not in without and "127.0.0.1" not in without
    assert f"facts as of {report.as_of.date()}" in without
    d = compute(report, None)
    assert "<https://fw.example/acme/trainer|Full report>" in _texts(dg.blocks(d, report, "https://fw.example"))
    assert "Full report" not in _texts(dg.blocks(d, report, None))


def test_the_api_location_header_is_absolute_on_the_public_url(tmp_path: Path) -> None:
    net = build_spec(
        {"name": "loc", "upstream": {"name": "acme/loc", "preset": "small"}, "forks": []}, tmp_path / "net"
    )
    settings = Settings(
        home=tmp_path / "home", workers=2, public_url="https://fw.example/", trusted_sources=str(net.root)
    )
    with Server(settings) as api:
        r = api.post("/v1/repos/acme/loc/index", json={"url": str(net.upstream_path)})
        assert r.status_code == 202
        assert r.headers["location"] == f"https://fw.example/v1/jobs/{r.json()['job']}"
        assert r.json()["url"] == f"/v1/jobs/{r.json()['job']}"  # same-origin, for the web page


def test_serve_without_a_public_url_links_to_where_it_listens(tmp_path: Path) -> None:
    env = {"FORKWISE_HOME": str(tmp_path / "home"), "FORKWISE_API_KEY": "k", "FORKWISE_PUBLIC_URL": None}
    with ServeProcess(env, "--host", "0.0.0.0") as server:
        r = httpx.post(f"{server.base}/v1/repos/acme/x/index", json={}, headers={"X-API-Key": "k"}, timeout=30)
        assert r.status_code == 202
        assert r.headers["location"] == f"http://{socket.gethostname()}:{server.port}/v1/jobs/{r.json()['job']}"
    assert f"FORKWISE_PUBLIC_URL is unset; links will use http://{socket.gethostname()}:{server.port}" in server.output
