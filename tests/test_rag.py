"""Vector index (real chromadb, embedded and `chroma run`), chat and the HTTP API over real HTTP (uvicorn)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from forkwise.evals.local_server import wait_until_up
from forkwise.index.vector import VectorIndex, collection_name
from forkwise.service.runs.engine import RunRequest, run
from forkwise.service.runs.vectors import sync_vectors
from forkwise.service.settings import Settings
from forkwise.service.verdicts.models import Report
from tests.conftest import Server, analyse, free_port, git
from tests.conftest import build as build_spec


@pytest.fixture(scope="module")
def demo(shared_demo) -> tuple[Report, Settings, object]:
    net, report, settings, stats = shared_demo
    assert stats is not None and stats.embedded == stats.chunks > 20
    return report, settings, net


@pytest.fixture(scope="module")
def api(demo) -> Iterator[httpx.Client]:
    _report, settings, _net = demo
    with Server(settings.model_copy(update={"serve_embeddings": True})) as client:
        yield client


def test_chunks_carry_fork_flags_and_evidence(demo) -> None:
    report, settings, _net = demo
    vi = VectorIndex(settings, report.upstream.name)
    habana = report.fork("habana-ai/trainer")
    got = vi.collection.get(where={"fork:habana-ai/trainer": True}, include=["metadatas", "documents"])
    kinds = sorted({m["kind"] for m in got["metadatas"]})
    assert kinds == ["card", "commit", "diff", "purpose", "readme"]
    own = {c.sha for c in habana.facts.own_commits}
    commit_shas = {m["sha"] for m in got["metadatas"] if m["kind"] == "commit"}
    assert commit_shas and commit_shas <= own
    ids = {e.id for e in habana.evidence}
    assert all(m["evidence"] in ids for m in got["metadatas"])  # every chunk points at real evidence
    # nothing of another fork's own work leaks into this fork's scope
    assert not any("FP8" in d for d in got["documents"])
    assert vi.name == collection_name("acme/trainer") and 3 <= len(vi.name) <= 63


def test_reindex_is_idempotent_and_only_touches_changed_forks(tmp_path: Path, settings: Settings) -> None:
    spec = {
        "name": "ix",
        "upstream": {"name": "acme/ix", "preset": "small"},
        "forks": [
            {"name": "a/ix", "base": "up:5", "commits": [{"message": "Add Gaudi kernels", "files": {"g.py": "g=1\n"}}]},
            {"name": "b/ix", "base": "fork:a/ix:0", "commits": [{"message": "Tune", "files": {"t.py": "t=2\n"}}]},
        ],
    }
    net = build_spec(spec, tmp_path / "net")
    up, forks = net.inputs()
    report, first = run(RunRequest(upstream=up, forks=forks, as_of=net.as_of), settings)
    assert first and first.embedded == first.chunks and first.forks_indexed == ["a/ix", "b/ix"]
    vi = VectorIndex(settings, "acme/ix")
    shared = vi.collection.get(where={"kind": "commit"}, include=["metadatas", "documents"])
    gaudi = [m for m, d in zip(shared["metadatas"], shared["documents"], strict=True) if "Gaudi" in d]
    assert len(gaudi) == 1 and gaudi[0]["fork:a/ix"] is True and gaudi[0]["fork:b/ix"] is True  # one shared chunk
    again = sync_vectors(report, settings)
    assert (again.embedded, again.deleted, again.chunks) == (0, 0, first.chunks)
    assert again.forks_unchanged == ["a/ix", "b/ix"] and again.forks_indexed == []
    # chunks an older chunker wrote (its cards carry an older version) are rebuilt, the rest are kept
    cards = vi.collection.get(where={"kind": "card"}, include=["metadatas"])
    pairs = zip(cards["ids"], cards["metadatas"], strict=True)
    old = [(i, {**m, "chunks": "1"}) for i, m in pairs if m["fork"] == "a/ix"]
    vi.collection.update(ids=[i for i, _ in old], metadatas=[m for _, m in old])
    rebuilt = sync_vectors(report, settings)
    assert rebuilt.forks_indexed == ["a/ix"] and rebuilt.forks_unchanged == ["b/ix"]
    assert vi.heads() == {"a/ix": net.forks[0].commits[0], "b/ix": net.forks[1].commits[0]}
    # b moves back to a's commit: b's own chunks go, the shared one stays (flag b off), a is untouched
    git(net.forks[1].path, "update-ref", "refs/heads/main", net.forks[0].commits[0])
    _report2, third = run(RunRequest(upstream=up, forks=forks, as_of=net.as_of), settings)
    assert third and third.forks_indexed == ["b/ix"] and third.forks_unchanged == ["a/ix"]
    assert third.deleted >= 2  # b's old card and its "Tune" commit
    assert not [d for d in vi.collection.get()["documents"] if "Tune" in d]
    still = vi.collection.get(where={"fork:b/ix": True}, include=["documents"])["documents"]
    assert any("Gaudi" in d for d in still)


def test_distinctive_files_are_chunked_first_with_a_card_saying_what_the_fork_is_for(demo) -> None:
    from forkwise.index.terms import tokens
    from forkwise.index.vector import fork_chunks

    report, settings, _net = demo
    habana = report.fork("habana-ai/trainer")
    assert habana.facts and habana.verdict
    mirror = next(settings.mirrors_dir.glob("*.git"))
    chunks = fork_chunks(
        habana.name,
        habana.facts,
        mirror,
        purpose=habana.verdict.purpose,
        purpose_cite=habana.verdict.purpose_cite,
        purpose_evidence=habana.verdict.purpose_evidence[0],
    )
    (card,) = [c for c in chunks if c.metadata["kind"] == "purpose"]
    assert habana.verdict.purpose == "Habana Gaudi (HPU) support"
    assert card.text.startswith(
        "Fork habana-ai/trainer is for Habana Gaudi (HPU) support "
        "(its README: “This fork adds Habana Gaudi (HPU) support.”). Distinctive terms: "
    )
    assert card.metadata["evidence"] == "readme:(intro)" == habana.verdict.purpose_evidence[0]
    diffs = [str(c.metadata["path"]) for c in chunks if c.metadata["kind"] == "diff"]
    terms = {t.term for t in habana.facts.terms[:8]}
    evidence = {e.removeprefix("file:") for t in habana.facts.terms[:8] for e in t.evidence}
    carriers = [p for p in diffs if p in evidence or terms & set(tokens(p))]
    assert len(carriers) >= 3 and "trainer/accelerators/hpu.py" in carriers
    assert diffs[: len(carriers)] == carriers  # the files carrying its distinctive terms come first
    # merges and commits upstream already has are never indexed as the fork's own work
    own = {c.sha for c in habana.facts.own_commits if not c.is_merge and not c.upstream_equivalent}
    assert {str(c.metadata["sha"]) for c in chunks if c.metadata["kind"] == "commit"} == own


@pytest.mark.slow
def test_chroma_server_over_http(tmp_path: Path, demo) -> None:
    report, _settings, _net = demo
    chroma = shutil.which("chroma") or str(Path(sys.executable).parent / "chroma")
    port = free_port()
    proc = subprocess.Popen(
        [chroma, "run", "--path", str(tmp_path / "chroma"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert wait_until_up(f"http://127.0.0.1:{port}/api/v2/heartbeat", 15, alive=lambda: proc.poll() is None)
        settings = Settings(home=tmp_path / "home", chroma_url=f"http://127.0.0.1:{port}")
        stats = sync_vectors(report, settings)
        assert stats.embedded == stats.chunks > 20
        vi = VectorIndex(settings, report.upstream.name)
        assert type(vi.client).__name__ != "PersistentClient" and vi.count() == stats.chunks
        assert not (tmp_path / "home" / "chroma").exists()  # nothing embedded locally
        hits = vi.store.similarity_search("Gaudi HPU support", k=3, filter={"fork:habana-ai/trainer": True})
        assert hits and all(h.metadata["fork:habana-ai/trainer"] is True for h in hits)
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_summary_and_fork_endpoints(api: httpx.Client, demo) -> None:
    report, _s, _n = demo
    r = api.get("/v1/repos/acme/trainer")
    assert r.status_code == 200
    body = r.json()
    assert body["upstream"]["name"] == "acme/trainer"
    assert body["coverage"]["listed"] == 12 and body["coverage"]["failed"] == report.coverage.failed
    row = next(f for f in body["forks"] if f["name"] == "bob/trainer")
    assert (row["ahead"], row["behind"], row["archetype"], row["recommendation"]) == (
        0,
        9,
        "stale-snapshot",
        "upstream",
    )
    f = api.get("/v1/repos/acme/trainer/forks/habana-ai/trainer").json()["fork"]
    assert f["verdict"]["recommendation"] == "fork-for-niche" and f["facts"]["ahead"] == 5
    assert set(f["verdict"]["evidence"]) <= {e["id"] for e in f["evidence"]}
    assert api.get("/v1/repos/acme/nothing").status_code == 404
    assert api.get("/v1/repos/acme/trainer/forks/nobody/trainer").status_code == 404
    for bad in ("/v1/repos/-x/trainer", "/v1/repos/acme/a..b", "/v1/repos/acme/tr%2Fainer", "/v1/repos/ac%20me/t"):
        assert api.get(bad).status_code in (404, 422), bad
    spec = api.get("/openapi.json").json()
    assert {"/v1/repos/{owner}/{repo}", "/v1/chat", "/v1/jobs/{job_id}"} <= set(spec["paths"])
    assert api.get("/v1/repos").json()[0]["name"] == "acme/trainer"


def test_chat_without_a_model_answers_from_evidence(api: httpx.Client, demo) -> None:
    report, _s, _net = demo
    r = api.post("/v1/chat", json={"upstream": "acme/trainer", "question": "which fork adds Gaudi support?"})
    assert r.status_code == 200
    ans = r.json()
    assert ans["mode"] == "retrieval" and "No language model is configured" in ans["answer"]
    first = ans["citations"][0]
    assert first["fork"] == "habana-ai/trainer" and first["n"] == 1
    habana = report.fork("habana-ai/trainer")
    assert first["sha"] in {c.sha for c in habana.facts.own_commits} | {habana.facts.head}
    # the answer says what the fork is for in its own words, quoted, before any snippet
    said = "Habana Gaudi (HPU) support (its README: “This fork adds Habana Gaudi (HPU) support.”) [1]"
    assert ans["answer"].splitlines()[1].startswith(f"- habana-ai/trainer: {said}")
    assert all(c["fork"] != "bigco/trainer" for c in ans["citations"][:2])
    scores = [c["score"] for c in ans["citations"]]
    assert scores == sorted(scores, reverse=True)
    scoped = api.post(
        "/v1/chat", json={"upstream": "acme/trainer", "question": "what does it add?", "fork": "bigco/trainer"}
    ).json()
    assert scoped["citations"] and {c["fork"] for c in scoped["citations"]} == {"bigco/trainer"}
    assert api.post("/v1/chat", json={"upstream": "acme/nope", "question": "x"}).status_code == 404
    assert api.post("/v1/chat", json={"upstream": "../etc", "question": "x"}).status_code == 422


def test_chat_streams_server_sent_events(api: httpx.Client) -> None:
    q = {"upstream": "acme/trainer", "question": "which fork adds Gaudi support?", "stream": True}
    events: list[tuple[str, dict]] = []
    with api.stream("POST", "/v1/chat", json=q) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        name = None
        for line in r.iter_lines():
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: ") and name:
                events.append((name, json.loads(line[6:])))
    kinds = [k for k, _ in events]
    assert kinds[0] == "token" and kinds[-1] == "done" and "citation" in kinds
    assert kinds.index("citation") > max(i for i, k in enumerate(kinds) if k == "token")
    done = events[-1][1]
    assert "".join(d["text"] for k, d in events if k == "token") == done["answer"]
    assert [d["n"] for k, d in events if k == "citation"] == [c["n"] for c in done["citations"]]


def test_index_job_with_api_key(tmp_path: Path) -> None:
    net = build_spec(
        {
            "name": "job",
            "upstream": {"name": "acme/job", "preset": "small"},
            "forks": [{"name": "x/job", "base": "up:6", "commits": [{"message": "ROCm", "files": {"r.py": "r\n"}}]}],
        },
        tmp_path / "net",
    )
    # local paths only under the operator's trusted prefix (remote callers may otherwise name owner/name only)
    settings = Settings(home=tmp_path / "home", workers=2, api_key="s3cret", trusted_sources=str(net.root))
    with Server(settings) as api:
        evil = {"url": str(net.upstream_path), "forks": [str(net.forks[0].path), "ext::sh -c evil"]}
        r = api.post("/v1/repos/acme/job/index", json=evil, headers={"Authorization": "Bearer s3cret"})
        assert r.status_code == 403 and "ext::sh" in r.json()["detail"]  # refused before anything ran
        (net.root / "plain").mkdir()  # a folder, not a repository: that fork fails, the job goes on
        body = {"url": str(net.upstream_path), "forks": [str(net.forks[0].path), str(net.root / "plain")]}
        assert api.post("/v1/repos/acme/job/index", json=body).status_code == 401
        assert api.post("/v1/repos/acme/job/index", json=body, headers={"X-API-Key": "nope"}).status_code == 401
        r = api.post("/v1/repos/acme/job/index", json=body, headers={"Authorization": "Bearer s3cret"})
        assert r.status_code == 202 and r.headers["location"] == str(api.base_url).rstrip("/") + r.json()["url"]
        for _ in range(300):
            job = api.get(r.json()["url"]).json()
            if job["status"] in ("done", "failed"):
                break
            time.sleep(0.1)
        assert job["status"] == "done", job
        assert all(job["stages"][s]["state"] == "done" for s in ("resolve", "fetch", "analyse", "index"))
        assert job["stages"]["analyse"]["done"] == job["stages"]["analyse"]["total"] == 1
        assert len(job["errors"]) == 1 and "not a git repository" in job["errors"][0]  # reported; the rest went on
        summary = api.get(job["report_url"]).json()
        assert next(f["name"] for f in summary["forks"]) == "forks/x__job" and summary["forks"][0]["ahead"] == 1
        assert api.get("/v1/jobs/000000000000").status_code == 404
    facts_only = analyse(net, Settings(home=tmp_path / "h2", workers=2))
    assert facts_only.forks[0].facts and facts_only.forks[0].facts.ahead == 1


def test_upstream_readme_sections_and_metadata(demo) -> None:
    report, settings, net = demo
    from forkwise.index import readme as readme_mod

    vi = VectorIndex(settings, report.upstream.name)
    got = vi.collection.get(where={"kind": "upstream-readme"}, include=["metadatas"])
    text = git(net.upstream_path, "show", f"{report.upstream.head}:README.md")
    want = {f"readme:{h}" for h, body in readme_mod.sections(text).items() if body.strip()}
    assert len(want) >= 2 and {m["evidence"] for m in got["metadatas"]} == want
    assert all(m["fork:@upstream"] is True for m in got["metadatas"])
    every = vi.collection.get(include=["metadatas"])["metadatas"]
    assert {m["upstream"] for m in every} == {"acme/trainer"}


def test_openai_compatible_embeddings_over_http(api: httpx.Client, demo, tmp_path: Path) -> None:
    """The `openai` embeddings option, against an OpenAI-format /v1/embeddings endpoint (forkwise's own)."""
    report, local_settings, _net = demo
    settings = Settings(
        home=tmp_path / "home",
        embeddings="openai",
        embeddings_url=str(api.base_url).rstrip("/") + "/v1",
        embeddings_model="minilm-int8",
    )
    vi = VectorIndex(settings, report.upstream.name)
    assert vi.name != VectorIndex(local_settings, report.upstream.name).name  # one collection per embedding model
    stats = sync_vectors(report, settings, vi)
    assert stats.embedded == stats.chunks > 20
    hits = vi.store.similarity_search("Gaudi HPU support", k=2, filter={"fork:habana-ai/trainer": True})
    assert hits and "Gaudi" in " ".join(h.page_content for h in hits)
    # the same vectors as the in-process model: the endpoint really serves MiniLM
    from forkwise.index.embeddings import MiniLMEmbeddings

    remote = vi.embeddings.embed_query("which fork adds Gaudi support?")
    local = MiniLMEmbeddings().embed_query("which fork adds Gaudi support?")
    assert len(remote) == 384 and sum(a * b for a, b in zip(remote, local, strict=True)) > 0.999
    raw = api.post("/v1/embeddings", json={"input": "x", "model": "m"}).json()
    assert raw["object"] == "list" and len(raw["data"][0]["embedding"]) == 384


def test_forkwise_serve_answers_for_what_summarize_stored(demo) -> None:
    _report, settings, _net = demo
    port = free_port()
    env = {**os.environ, "FORKWISE_HOME": str(settings.home)}
    exe = str(Path(sys.executable).parent / "forkwise")
    proc = subprocess.Popen(
        [exe, "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(300):
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/v1/repos", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        assert r.status_code == 200 and [x["name"] for x in r.json()] == ["acme/trainer"]
        docs = httpx.get(f"http://127.0.0.1:{port}/docs", timeout=5)
        assert docs.status_code == 200 and "swagger" in docs.text.lower()
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_an_answer_a_model_failed_says_why_not_that_no_model_is_configured(demo) -> None:
    from forkwise.service.verdicts.chat import Citation, by_purpose, compose

    report, _s, _net = demo
    cites = [
        Citation(n=1, fork="bigco/trainer", evidence="fact:ahead", snippet="FP8 recipes", score=0.9),
        Citation(n=2, fork="habana-ai/trainer", evidence="readme:(intro)", snippet="HPU graphs", score=0.8),
    ]
    ranked = by_purpose("which fork runs on Gaudi?", cites, report)
    assert [(c.n, c.fork) for c in ranked] == [(1, "habana-ai/trainer"), (2, "bigco/trainer")]
    # one word of three in its purpose is not what the question asks about: retrieval order stays
    kept = by_purpose("which fork has Gaudi recipes benchmarks?", cites, report)
    assert [(c.n, c.fork) for c in kept] == [(1, "bigco/trainer"), (2, "habana-ai/trainer")]
    halves = by_purpose("which fork has Gaudi kernels?", cites, report)
    assert [c.fork for c in halves] == ["habana-ai/trainer", "bigco/trainer"]
    text = compose("which fork runs on Gaudi?", ranked, report, failed="names: it names bigco/trainer first")
    assert "The model's answer was not used: names: it names bigco/trainer first." in text
    assert "No language model is configured" not in text
    assert text.splitlines()[1].startswith("- habana-ai/trainer: Habana Gaudi (HPU) support (its README: ")
    assert text.splitlines()[2] == "- bigco/trainer: FP8 recipes [2]"


def test_a_chat_question_never_waits_on_an_indexing_batch(demo) -> None:
    """Chat embeds in its own pool: with the indexing pool's ONNX session held (a long batch of another client),
    a question is still answered; and the embeddings endpoint has a third session."""
    import threading

    from forkwise.index.embeddings import runtime
    from forkwise.service.runs.usecases import answer
    from forkwise.service.verdicts.chat import ChatService

    report, settings, _net = demo
    chat = ChatService(settings)
    index_rt = VectorIndex(settings, report.upstream.name).embeddings.runtime  # what sync_vectors embeds with
    query_rt = chat.index(report.upstream.name).embeddings.runtime
    assert query_rt is runtime(2, "query") and index_rt is runtime(2, "index") and query_rt is not index_rt
    assert runtime(1, "endpoint") is not query_rt
    got: list[str] = []
    with index_rt.lock:  # an indexing batch is running
        t = threading.Thread(target=lambda: got.append(answer(chat, "acme/trainer", "which fork adds Gaudi support?")
                                                       .citations[0].fork))  # fmt: skip
        t.start()
        t.join(timeout=60)
        assert not t.is_alive(), "chat waited on the indexing pool"
    assert got == ["habana-ai/trainer"]
