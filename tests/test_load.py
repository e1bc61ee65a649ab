"""Concurrency (issue: safe to put on a network, point 4): a cold server answers 50 chats arriving together with
no error (chromadb clients and the embedding model are created once per process, under a lock), and reads do
not re-parse the stored report per request. Speed figures are in ``bench/bench_load.py``, not here."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from forkwise.index.once import once
from forkwise.service.runs import store
from forkwise.service.runs.store import delete_upstream, load_report, save_report
from forkwise.service.verdicts.chat import ChatService
from tests.conftest import ServeProcess


@pytest.fixture()
def cold_server(shared_demo) -> Iterator[tuple[str, str]]:
    """``forkwise serve`` in a process of its own: nothing loaded yet when the first requests arrive."""
    _net, report, settings, _ = shared_demo
    env = {
        "FORKWISE_HOME": str(settings.home), "FORKWISE_LLM": "facts", "FORKWISE_WORKERS": "2",
        "FORKWISE_WARM_UPSTREAMS": "0",  # not loaded before listening: the first wave loads it, concurrently
    }  # fmt: skip
    with ServeProcess(env) as server:
        yield server.base, report.upstream.name
    assert "Traceback" not in server.output, server.output[-3000:]


def test_fifty_concurrent_chats_on_a_cold_server_all_succeed(cold_server) -> None:
    base, upstream = cold_server
    barrier = threading.Barrier(50)

    def ask(i: int) -> tuple[int, list[str]]:
        with httpx.Client(base_url=base, timeout=120) as c:
            barrier.wait()  # all fifty at once, before anything is loaded
            r = c.post("/v1/chat", json={"upstream": upstream, "question": "which fork adds Gaudi support?"})
            return r.status_code, [x["fork"] for x in r.json().get("citations", [])] if r.status_code == 200 else []

    with ThreadPoolExecutor(50) as pool:
        results = list(pool.map(ask, range(50)))
    assert [code for code, _ in results] == [200] * 50
    assert all(forks and forks[0] == "habana-ai/trainer" for _, forks in results)  # the same right answer each time


def test_serve_loads_the_chat_stack_before_it_listens(shared_demo) -> None:
    """By default ``serve`` opens and searches the recent upstreams' indexes before it binds its port: the line
    saying so comes before uvicorn's, and the first question is answered from the loaded index."""
    _net, report, settings, _ = shared_demo
    env = {"FORKWISE_HOME": str(settings.home), "FORKWISE_LLM": "facts"}
    with ServeProcess(env) as server, httpx.Client(base_url=server.base, timeout=60) as c:
        r = c.post("/v1/chat", json={"upstream": report.upstream.name, "question": "which fork adds Gaudi support?"})
    assert r.status_code == 200 and r.json()["citations"][0]["fork"] == "habana-ai/trainer"
    out = server.output
    loaded = out.find("chat: loaded before listening in ")
    assert loaded != -1 and report.upstream.name in out[loaded:].splitlines()[0], out[-2000:]
    assert loaded < out.find("Uvicorn running on"), out[-2000:]


def test_warming_a_broken_index_is_a_problem_not_a_failure(shared_demo) -> None:
    _net, report, settings, _ = shared_demo
    good = ChatService(settings)
    assert good.warm([report]) == [] and list(good._indexes) == [report.upstream.name]
    broken = ChatService(settings.model_copy(update={"embeddings": "bogus"}))
    problems = broken.warm([report])
    assert problems == [f"{report.upstream.name}: ValueError: unknown embeddings 'bogus'; use local or openai"]
    # remote embeddings are not called at start-up: here nothing listens, and warming still takes no time
    remote = ChatService(
        settings.model_copy(update={"embeddings": "openai", "embeddings_url": "http://127.0.0.1:9/v1"})
    )
    t = time.monotonic()
    assert remote.warm([report]) == [] and list(remote._indexes) == [report.upstream.name]
    assert time.monotonic() - t < 30  # a call would have waited for its connection to fail, and failed


def test_a_report_is_parsed_once_per_version(tmp_path, shared_demo) -> None:
    _net, report, settings, _ = shared_demo
    s = settings.model_copy(update={"home": tmp_path / "home"})
    save_report(report, s)
    first = load_report(s, report.upstream.name)
    assert first is not None and first == report
    assert load_report(s, report.upstream.name) is first  # cached: not read and validated again
    changed = report.model_copy(update={"forks": report.forks[:3]})
    save_report(changed, s)  # a new version (renamed into place): read again
    second = load_report(s, report.upstream.name)
    assert second is not first and second is not None and len(second.forks) == 3
    assert delete_upstream(s, report.upstream.name)
    assert load_report(s, report.upstream.name) is None
    assert len(store._read_cache) <= store._READ_CACHE


def test_once_builds_each_value_once_under_concurrency() -> None:
    calls: list[int] = []

    @once
    def slow(x: int) -> object:
        calls.append(x)
        time.sleep(0.05)  # long enough for every thread to arrive while the first one builds
        return object()

    with ThreadPoolExecutor(32) as pool:
        got = list(pool.map(lambda i: slow(i % 2), range(64)))
    assert sorted(calls) == [0, 1]
    assert len({id(g) for g in got}) == 2
