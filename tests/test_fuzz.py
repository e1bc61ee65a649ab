"""Fuzzing (issue: safe to put on a network, point 5): schemathesis generates requests from the service's own
OpenAPI schema and sends them over real HTTP to a running server on the demo store; no answer may be a 5xx.
Slack payloads that are malformed or oversized get a 4xx, and the bot keeps working."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from urllib.parse import urlencode

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.conftest import Server

EXAMPLES = 100


@pytest.fixture(scope="module")
def fuzz_server(shared_demo) -> Iterator[str]:
    _net, _report, demo_settings, _ = shared_demo
    s = demo_settings.model_copy(
        update={
            "rate_chat": "100000/minute",  # the fuzzer is one client: let it reach every endpoint's code
            "rate_jobs": "100000/minute",
            "github_api_url": "http://127.0.0.1:9",  # discovery jobs fail fast (nothing listens), they do not hang
            "slack_signing_secret": "fuzz-secret",
            "slack_bot_token": "xoxb-fuzz",
            "slack_api_url": "http://127.0.0.1:9/api/",
        }
    )
    with Server(s) as client:
        yield str(client.base_url).rstrip("/")


def test_no_generated_request_gets_a_5xx(fuzz_server: str) -> None:
    """Every operation in the schema, ``EXAMPLES`` generated requests each (hypothesis, through schemathesis)."""
    api = schemathesis.openapi.from_url(f"{fuzz_server}/openapi.json")
    operations = [r.ok() for r in api.get_all_operations()]
    sent: list[tuple[str, str, int]] = []
    failures: list[str] = []
    for op in operations:

        @given(case=op.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def call(case) -> None:
            response = case.call(base_url=fuzz_server, timeout=60)
            sent.append((case.operation.method.upper(), case.operation.path, response.status_code))
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:300]}")

        call()
    assert failures == []
    assert {(op.method.upper(), op.path) for op in operations} == {(m, p) for m, p, _ in sent}
    assert len(operations) == 8 and len(sent) >= 10 * len(operations)
    print(f"fuzz: {len(sent)} requests over {len(operations)} operations; statuses {sorted({c for *_, c in sent})}")


def _sign(body: str, secret: str = "fuzz-secret") -> dict[str, str]:
    ts = str(int(time.time()))
    sig = "v0=" + hmac.new(secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": sig}


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("payload=%7Bnot-json", "application/x-www-form-urlencoded"),
        (urlencode({"payload": json.dumps({"type": "block_actions"})}), "application/x-www-form-urlencoded"),
        (
            urlencode({"payload": json.dumps({"type": "block_actions", "actions": "nope"})}),
            "application/x-www-form-urlencoded",
        ),
        (json.dumps({"type": "event_callback", "event": "not-a-dict"}), "application/json"),
        (json.dumps({"type": "event_callback"}), "application/json"),
        (json.dumps(["a", "list"]), "application/json"),
        ("{", "application/json"),
        ("\xff\xfe garbage", "text/plain"),
        (urlencode({"command": "/forkwise", "text": "x" * 5000}), "application/x-www-form-urlencoded"),
    ],
)
def test_malformed_slack_payloads_get_a_4xx_or_a_quiet_ack(fuzz_server: str, body: str, content_type: str) -> None:
    r = httpx.post(
        f"{fuzz_server}/slack/events", content=body.encode(), headers={"Content-Type": content_type, **_sign(body)}
    )
    assert r.status_code < 500, r.text
    # and the server still answers afterwards
    assert httpx.get(f"{fuzz_server}/healthz").status_code == 200


def test_oversized_and_unsigned_slack_payloads_are_refused(fuzz_server: str) -> None:
    big = urlencode({"payload": json.dumps({"type": "block_actions", "x": "y" * 400_000})})
    r = httpx.post(
        f"{fuzz_server}/slack/events",
        content=big,
        headers={"Content-Type": "application/x-www-form-urlencoded", **_sign(big)},
    )
    assert r.status_code == 413
    body = urlencode({"command": "/forkwise", "text": "help"})
    unsigned = httpx.post(
        f"{fuzz_server}/slack/events", content=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert unsigned.status_code == 401
    forged = httpx.post(
        f"{fuzz_server}/slack/events",
        content=body,
        headers={"Content-Type": "application/x-www-form-urlencoded", **_sign(body, "wrong")},
    )
    assert forged.status_code == 401
