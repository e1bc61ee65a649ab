"""The Slack bot over real HTTP: requests signed as Slack signs them, replies recorded by a local Slack API server."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
from typer.testing import CliRunner

from forkwise.evals.github_stub import GitHubStub
from forkwise.evals.slack_stub import SlackStub
from forkwise.service.settings import Settings
from forkwise.service.surfaces.cli import app as cli
from forkwise.service.surfaces.slack import MAX_BLOCKS, MAX_SECTION, section, split_messages
from tests.conftest import Server, demo_store, git
from tests.conftest import build as build_spec

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"


def sign(body: str, ts: int | None = None, secret: str = SECRET) -> dict[str, str]:
    ts = int(time.time()) if ts is None else ts
    base = f"v0:{ts}:{body}".encode()
    sig = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": str(ts), "X-Slack-Signature": sig}


@pytest.fixture(scope="module")
def slack() -> Iterator[SlackStub]:
    with SlackStub() as s:
        yield s


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory, slack: SlackStub) -> Iterator[tuple[httpx.Client, Settings]]:
    _net, _report, settings, _stats = demo_store(
        tmp_path_factory.mktemp("slack"),
        slack_signing_secret=SECRET,
        slack_bot_token="xoxb-test-token",
        slack_api_url=slack.api_url,
        public_url="https://forkwise.example",
        slack_allowed="T1",  # the workspace the tests sign as may start jobs
    )
    with Server(settings) as client:
        yield client, settings


def command(client: httpx.Client, slack: SlackStub, text: str, rid: str, **kw) -> httpx.Response:
    form = {
        "token": "legacy",
        "team_id": "T1",
        "channel_id": "C1",
        "user_id": "U1",
        "command": "/forkwise",
        "text": text,
        "response_url": slack.response_url(rid),
        "trigger_id": "1.2.3",
    }
    body = urlencode(form)
    headers = {"Content-Type": "application/x-www-form-urlencoded", **sign(body, **kw)}
    return client.post("/slack/events", content=body, headers=headers)


def blocks_text(blocks: list[dict]) -> str:
    out = []
    for b in blocks:
        if "text" in b:
            out.append(b["text"]["text"])
        for e in b.get("elements", []):
            out.append(e.get("text") if isinstance(e.get("text"), str) else json.dumps(e))
    return "\n".join(out)


def test_summary_command_acks_fast_then_answers_with_blocks(bot, slack: SlackStub) -> None:
    client, _settings = bot
    t = time.monotonic()
    r = command(client, slack, "acme/trainer", "sum")
    assert r.status_code == 200 and time.monotonic() - t < 3.0
    assert "looking at acme/trainer" in r.text
    assert slack.wait(lambda: slack.responses("sum"))
    (reply,) = slack.responses("sum")
    p = reply.payload
    assert p["response_type"] == "in_channel" and p["blocks"][0]["text"]["text"] == "Forks of acme/trainer"
    text = blocks_text(p["blocks"])
    assert "Coverage: 12 forks listed" in text
    # top forks: the fork recommendations first; each with archetype, ahead/behind and a "choose … if" line
    assert "*fork* · patch-fork · 1 ahead / 0 behind" in text  # carol/trainer, the security fix
    assert "carol/trainer" in text and "habana-ai/trainer" in text
    assert text.index("carol/trainer") < text.index("habana-ai/trainer")
    assert "Choose this fork if:" in text and "<https://forkwise.example/acme/trainer|Full report>" in text
    assert "ignore previous instructions" not in text.lower()  # repository text never reaches Slack as-is


def test_fork_verdict_and_ask(bot, slack: SlackStub) -> None:
    client, _ = bot
    command(client, slack, "acme/trainer habana-ai", "fork")
    assert slack.wait(lambda: slack.responses("fork"))
    text = blocks_text(slack.responses("fork")[0].payload["blocks"])
    assert "habana-ai/trainer vs acme/trainer" in text and "*fork-for-niche* · niche-variant" in text
    assert "Choose this fork if…" in text and "Choose upstream if…" in text and "Evidence:" in text
    command(client, slack, "ask acme/trainer which fork adds Gaudi support?", "ask")
    assert slack.wait(lambda: slack.responses("ask"))
    blocks = slack.responses("ask")[0].payload["blocks"]
    assert "habana-ai/trainer" in blocks[0]["text"]["text"] and "[1]" in blocks[0]["text"]["text"]
    assert blocks[1]["type"] == "context" and blocks[1]["elements"][0]["text"].startswith("[1] habana-ai/trainer")


def test_help_and_malformed_input_answer_in_the_ack(bot, slack: SlackStub) -> None:
    client, _ = bot
    r = command(client, slack, "help", "help")
    assert r.status_code == 200 and "/forkwise ask owner/repo" in r.text
    r = command(client, slack, "not a repo at all", "bad")
    assert r.status_code == 200 and "is not an owner/repo" in r.text
    r = command(client, slack, "ask acme/trainer", "bad2")
    assert "usage: /forkwise ask owner/repo" in r.text
    time.sleep(0.3)
    assert not slack.responses("help") and not slack.responses("bad") and not slack.responses("bad2")


def test_forged_and_replayed_requests_are_rejected(bot, slack: SlackStub) -> None:
    client, _ = bot
    assert command(client, slack, "acme/trainer", "forged", secret="wrong").status_code == 401
    assert command(client, slack, "acme/trainer", "stale", ts=int(time.time()) - 600).status_code == 401
    body = urlencode({"command": "/forkwise", "text": "acme/trainer", "response_url": slack.response_url("tamper")})
    headers = {"Content-Type": "application/x-www-form-urlencoded", **sign(body)}
    tampered = body.replace("trainer", "trainex")
    assert client.post("/slack/events", content=tampered, headers=headers).status_code == 401
    time.sleep(0.3)
    assert not slack.responses("forged") and not slack.responses("stale") and not slack.responses("tamper")


def _event(event_id: str, text: str, ts: str) -> str:
    return json.dumps(
        {
            "token": "legacy",
            "team_id": "T1",
            "api_app_id": "A1",
            "type": "event_callback",
            "event_id": event_id,
            "event_time": int(time.time()),
            "event": {"type": "app_mention", "user": "U1", "text": text, "ts": ts, "channel": "C9"},
        }
    )


def test_mention_is_answered_once_in_its_thread(bot, slack: SlackStub) -> None:
    client, _ = bot
    body = _event("Ev001", "<@UFORKWISE> which fork of acme/trainer supports Gaudi?", "1700000001.000200")
    h = {"Content-Type": "application/json", **sign(body)}
    t = time.monotonic()
    assert client.post("/slack/events", content=body, headers=h).status_code == 200
    assert time.monotonic() - t < 3.0
    retry = {**h, **sign(body), "X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
    assert client.post("/slack/events", content=body, headers=retry).status_code == 200
    assert slack.wait(lambda: [c for c in slack.posts() if c.payload.get("channel") == "C9"])
    time.sleep(1.0)  # give a duplicate the chance to appear
    posts = [c for c in slack.posts() if c.payload.get("channel") == "C9"]
    assert len(posts) == 1
    p = posts[0]
    assert p.token == "xoxb-test-token" and p.payload["thread_ts"] == "1700000001.000200"
    assert "habana-ai/trainer" in blocks_text(p.payload["blocks"])


def test_url_verification_challenge(bot) -> None:
    client, _ = bot
    body = json.dumps({"type": "url_verification", "challenge": "abc123", "token": "x"})
    r = client.post("/slack/events", content=body, headers={"Content-Type": "application/json", **sign(body)})
    assert r.status_code == 200 and r.json()["challenge"] == "abc123"


def test_unsummarized_repo_offers_a_button_that_indexes_and_posts_in_the_thread(
    bot, slack: SlackStub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, settings = bot
    net = build_spec(
        {
            "name": "new",
            "upstream": {"name": "neo/lib", "preset": "small"},
            "forks": [{"name": "amy/lib", "base": "up:6", "commits": [{"message": "ROCm", "files": {"r.py": "r\n"}}]}],
        },
        tmp_path / "net",
    )
    with GitHubStub() as gh:
        gh.add_network(net)
        settings.github_api_url = gh.url  # the running app reads it when the job starts
        settings.trusted_sources = net.root.as_uri()  # the stub's clone URLs stand in for github.com
        command(client, slack, "neo/lib", "unsummarized")
        assert slack.wait(lambda: slack.responses("unsummarized"))
        blocks = slack.responses("unsummarized")[0].payload["blocks"]
        button = blocks[1]["elements"][0]
        assert "has not been summarized yet" in blocks[0]["text"]["text"]
        assert (button["action_id"], button["value"]) == ("forkwise_index", "neo/lib")
        payload = {
            "type": "block_actions",
            "team": {"id": "T1"},
            "user": {"id": "U1"},
            "channel": {"id": "C7"},
            "container": {"type": "message", "message_ts": "1700000555.000100", "channel_id": "C7"},
            "response_url": slack.response_url("button"),
            "actions": [{"type": "button", "action_id": "forkwise_index", "value": "neo/lib", "block_id": "b"}],
        }
        body = urlencode({"payload": json.dumps(payload)})
        r = client.post(
            "/slack/events",
            content=body,
            headers={"Content-Type": "application/x-www-form-urlencoded", **sign(body)},
        )
        assert r.status_code == 200
        assert slack.wait(lambda: slack.responses("button"))
        assert "I'll post the result in this thread" in slack.responses("button")[0].payload["text"]
        assert slack.wait(lambda: [c for c in slack.posts() if c.payload.get("channel") == "C7"], timeout=120)
        (done,) = [c for c in slack.posts() if c.payload.get("channel") == "C7"]
        assert done.payload["thread_ts"] == "1700000555.000100"
        text = blocks_text(done.payload["blocks"])
        assert "Forks of neo/lib" in text and "amy/lib" in text and "1 ahead / 1 behind" in text


def test_long_answers_are_split_within_slack_limits() -> None:
    blocks = [section("x" * 100) for _ in range(120)] + [section("\n".join(["line " * 50] * 40))]
    parts = split_messages(blocks)
    assert all(len(p) <= MAX_BLOCKS for p in parts) and len(parts) == 3
    assert all(len(b["text"]["text"]) <= MAX_SECTION for p in parts for b in p)
    assert sum(len(p) for p in parts) > 121  # the long section became several


def test_digest_posts_one_message_per_repository(tmp_path: Path, slack: SlackStub, monkeypatch) -> None:
    net = build_spec(
        {
            "name": "dg",
            "upstream": {"name": "dig/lib", "preset": "small"},
            "forks": [
                {"name": "a/lib", "base": "up:5", "commits": [{"message": "Add NPU", "files": {"npu.py": "n\n"}}]},
                {"name": "b/lib", "base": "up:3"},
            ],
        },
        tmp_path / "net",
    )
    home = tmp_path / "home"
    with GitHubStub() as gh:
        ids = gh.add_network(net)
        env = {
            "FORKWISE_HOME": str(home),
            "FORKWISE_GITHUB_API_URL": gh.url,
            "SLACK_BOT_TOKEN": "xoxb-digest",
            "SLACK_API_URL": slack.api_url,
            "FORKWISE_WATCH": '["dig/lib"]',
        }
        for k, v in env.items():
            monkeypatch.setenv(k, v)
        from forkwise.service.settings import get_settings

        get_settings.cache_clear()
        runner = CliRunner()
        assert runner.invoke(cli, ["summarize", "dig/lib", "-q"]).exit_code == 0
        r = runner.invoke(cli, ["digest", "--slack-channel", "CDIG", "-q"])
        assert r.exit_code == 0, r.output
        first = [c for c in slack.posts() if c.payload.get("channel") == "CDIG"]
        assert len(first) == 1 and "First digest for *dig/lib*: 2 forks analysed" in blocks_text(
            first[0].payload["blocks"]
        )
        # a fork gains commits, a snapshot starts its own work, and a new fork appears
        base = net.forks[0].commits[-1]
        own = git(net.forks[0].path, "-c", "user.name=A", "-c", "user.email=a@b", "commit-tree",
                  f"{base}^{{tree}}", "-p", base, "-m", "More NPU").strip()  # fmt: skip
        git(net.forks[0].path, "update-ref", "refs/heads/main", own)
        b = net.upstream_commits[3]
        # b's own work: a real change (an empty commit adds nothing and changes no verdict); the tree of a's fork
        # (npu.py on a newer upstream) on top of b: npu.py is b's own, the rest is upstream's, copied
        git(net.forks[1].path, "fetch", "-q", str(net.forks[0].path), f"+{base}:refs/tmp/a")
        own_b = git(net.forks[1].path, "-c", "user.name=A", "-c", "user.email=a@b", "commit-tree",
                    f"{base}^{{tree}}", "-p", b, "-m", "Own work").strip()  # fmt: skip
        git(net.forks[1].path, "update-ref", "refs/heads/main", own_b)
        gh.add_repo("c/lib", net.forks[0].path.as_uri(), parent="dig/lib")
        r = runner.invoke(cli, ["digest", "--slack-channel", "CDIG", "-q"])  # the watch list
        assert r.exit_code == 0, r.output
        posts = [c for c in slack.posts() if c.payload.get("channel") == "CDIG"]
        assert len(posts) == 2  # one message for the repository, not one per change
        text = blocks_text(posts[1].payload["blocks"])
        assert "*Forks with new commits*" in text and "a/lib" in text and "now 2 ahead (was 1)" in text
        assert "*New forks worth a look*" in text and "c/lib" in text
        assert "*Verdicts that changed*" in text and "b/lib" in text and "stale-snapshot" in text
        assert posts[1].token == "xoxb-digest"
        assert ids  # the network was published
    get_settings.cache_clear()


def test_digest_compares_stored_runs(tmp_path: Path, monkeypatch) -> None:
    """`--no-refresh`: the digest compares the newest stored run (a worker's scheduled refresh stores one) with
    the run the last digest reported; nothing is kept beside the store."""
    net = build_spec(
        {
            "name": "dgs",
            "upstream": {"name": "acme/tool", "preset": "small"},
            "forks": [
                {"name": "x/tool", "base": "up:4", "commits": [{"message": "Add NPU", "files": {"npu.py": "n"}}]}
            ],
        },
        tmp_path / "net",
    )
    ff = tmp_path / "forks.toml"
    ff.write_text(net.forks_toml())
    home = tmp_path / "home"
    monkeypatch.setenv("FORKWISE_HOME", str(home))
    from forkwise.service.runs.store import run_history
    from forkwise.service.settings import get_settings

    get_settings.cache_clear()
    runner = CliRunner()

    def summarize() -> None:
        assert runner.invoke(cli, ["summarize", "--forks-file", str(ff), "-q", "--no-index"]).exit_code == 0

    def digest() -> str:
        r = runner.invoke(cli, ["digest", "acme/tool", "--no-refresh", "-q"])
        assert r.exit_code == 0, r.output
        return r.stdout

    assert runner.invoke(cli, ["digest", "acme/tool", "--no-refresh", "-q"]).exit_code == 1  # nothing stored yet
    summarize()
    assert digest() == "# What changed in the forks of acme/tool\nFirst digest: baseline recorded.\n"
    assert digest() == "# What changed in the forks of acme/tool\n"  # the same run: nothing changed
    fork = net.forks[0]
    head = fork.commits[-1]
    more = git(fork.path, "-c", "user.name=A", "-c", "user.email=a@b", "commit-tree", f"{head}^{{tree}}",
               "-p", head, "-m", "More NPU").strip()  # fmt: skip
    git(fork.path, "update-ref", "refs/heads/main", more)
    summarize()  # the refresh a worker's beat would run: a second stored run
    summarize()  # and a third, unchanged: the digest still compares with the run it last reported
    assert len(run_history(get_settings(), "acme/tool")) == 3
    text = digest()
    assert f"- New commits: x/tool: now 2 ahead (was 1), head {more[:7]}" in text
    assert digest() == "# What changed in the forks of acme/tool\n"
    assert not (home / "digest").exists()
    get_settings.cache_clear()


def test_a_retry_reaching_another_server_is_not_answered_again(tmp_path: Path, slack: SlackStub) -> None:
    """Two servers behind one Slack app share the Redis of FORKWISE_BROKER_URL: an event answered by one is not
    answered again when Slack's retry reaches the other."""
    from tests.services import redis_server

    with redis_server(tmp_path / "redis") as broker:
        _net, _report, settings, _stats = demo_store(
            tmp_path / "store",
            slack_signing_secret=SECRET,
            slack_bot_token="xoxb-test-token",
            slack_api_url=slack.api_url,
            broker_url=broker,
        )
        body = _event("EvTwo", "<@UFORKWISE> which fork of acme/trainer supports Gaudi?", "1700000002.000300")
        h = {"Content-Type": "application/json", **sign(body)}
        with Server(settings) as one, Server(settings) as two:
            assert one.post("/slack/events", content=body, headers=h).status_code == 200
            retry = {**h, **sign(body), "X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
            assert two.post("/slack/events", content=body, headers=retry).status_code == 200
            other = _event("EvThree", "<@UFORKWISE> which fork of acme/trainer supports Gaudi?", "1700000003.000300")
            assert two.post("/slack/events", content=other, headers={**h, **sign(other)}).status_code == 200
            threads = ("1700000002.000300", "1700000003.000300")

            def mine() -> list:
                return [c for c in slack.posts() if c.payload.get("thread_ts") in threads]

            assert slack.wait(lambda: len(mine()) >= 2)
            time.sleep(1.0)  # give a duplicate the chance to appear
            assert sorted(c.payload["thread_ts"] for c in mine()) == list(threads)
