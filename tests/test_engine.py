"""The run engine (issue 27): plan → analyse (per chunk) → assemble → finish, the same stages in one process and
across workers. Here the chunked form runs in this process, chunk by chunk in separate homes (as workers with
their own mirrors would), against the one-process run of the same request."""

from __future__ import annotations

from pathlib import Path

from forkwise.evals.builder import BuiltNetwork, build_network
from forkwise.evals.demo import DEMO_SPEC, load_spec
from forkwise.service.runs import engine
from forkwise.service.runs.engine import ChunkResult, RunRequest
from forkwise.service.runs.store import load_report
from forkwise.service.settings import Settings
from forkwise.service.verdicts.models import Report


def _outline(report: Report) -> list[tuple]:
    return [
        (f.name, f.status, f.facts.head if f.facts else None, f.archetype,
         f.verdict.recommendation if f.verdict else None, f.verdict.headline if f.verdict else None, f.error)
        for f in report.forks
    ]  # fmt: skip


def _net(tmp_path: Path) -> BuiltNetwork:
    return build_network(load_spec(DEMO_SPEC), tmp_path / "net")


def test_chunked_on_separate_machines_equals_one_process(tmp_path: Path) -> None:
    net = _net(tmp_path)
    up, forks = net.inputs()
    req = RunRequest(upstream=up, forks=forks, as_of=net.as_of, index=False, max_forks=6)
    whole = engine.report(req, Settings(home=tmp_path / "one", workers=2))

    planner = Settings(home=tmp_path / "planner", workers=2)
    p = engine.plan(req, planner, chunk_forks=3)
    # 12 forks: 1 that cannot be read, 3 over the cap (2 copies of upstream's commits do not count), 8 to chunks
    assert not p.whole and [len(c) for c in p.chunks] == [3, 3, 2]
    outcomes = p.outcomes or []
    assert len(outcomes) == len(forks)
    assert [o.name for o in outcomes if o.skipped] == ["gina/other-thing", "hank/trainer", "mallory/trainer"]
    assert [o.name for o in outcomes if o.error] == ["ghost/trainer"]
    # the plan travels as JSON (stored on the job's row), each chunk on a machine of its own
    p = engine.Plan.model_validate_json(p.model_dump_json())
    results = []
    for i, chunk in enumerate(p.chunks):
        worker = Settings(home=tmp_path / f"worker{i}", workers=2)
        res = engine.analyse(p, chunk, worker, material=True)
        results.append((chunk, ChunkResult.model_validate_json(res.model_dump_json())))
        assert res.net is not None and set(res.material) <= {f.name for f in chunk}
    assembled = engine.assemble(p, results, Settings(home=tmp_path / "assembler", workers=2))
    assert _outline(assembled) == _outline(whole)
    assert assembled.coverage == whole.coverage and assembled.counts == whole.counts
    assert assembled.picks == whole.picks


def test_a_failed_chunk_gives_its_forks_its_error_and_the_others_stand(tmp_path: Path) -> None:
    net = _net(tmp_path)
    up, forks = net.inputs()
    req = RunRequest(upstream=up, forks=forks, as_of=net.as_of, index=False)
    settings = Settings(home=tmp_path / "home", workers=2)
    p = engine.plan(req, settings, chunk_forks=4)
    first, *rest = p.chunks
    results = [(first, ChunkResult(error="analysis failed on worker w1: OSError: disk full"))]
    results += [(c, engine.analyse(p, c, settings)) for c in rest]
    report = engine.assemble(p, results, settings)
    failed = {f.name: f.error for f in report.forks if f.status == "failed"}
    lost = "analysis failed on worker w1: OSError: disk full"
    assert failed == {**{f.name: lost for f in first}, "ghost/trainer": failed["ghost/trainer"]}
    assert failed["ghost/trainer"].startswith("no such path: ")
    assert report.counts.failed == len(first) + 1 and report.coverage.failed == len(first) + 1
    assert {f.name for f in report.forks if f.verdict} == {f.name for c in rest for f in c}


def test_run_stores_the_report_and_says_what_failed(tmp_path: Path) -> None:
    net = _net(tmp_path)
    up, forks = net.inputs()
    settings = Settings(home=tmp_path / "home", workers=2)
    broken = forks[0].model_copy(update={"source": forks[0].source.model_copy(update={"url": str(tmp_path / "gone")})})
    report, stats = engine.run(RunRequest(upstream=up, forks=[broken, *forks[1:]], as_of=net.as_of, index=False),
                               settings)  # fmt: skip
    assert stats is None
    stored = load_report(settings, up.name)
    assert stored is not None and _outline(stored) == _outline(report)
    assert engine.run_errors(report, stats) == [
        f"{broken.name}: no such path: {tmp_path / 'gone'}",
        f"ghost/trainer: no such path: {net.root / 'forks' / 'ghost__trainer.git'}",
    ]


def test_chunks_embed_their_forks_and_the_assembly_stores_those_vectors(tmp_path: Path) -> None:
    import numpy as np

    from forkwise.index.embeddings import MiniLMEmbeddings
    from forkwise.index.vector import Chunk, VectorIndex, Vectors, material_chunks

    net = _net(tmp_path)
    up, forks = net.inputs()
    req = RunRequest(upstream=up, forks=forks, as_of=net.as_of)
    p = engine.plan(req, Settings(home=tmp_path / "planner", workers=2), chunk_forks=4)
    results = []
    for i, chunk in enumerate(p.chunks):
        res = engine.analyse(p, chunk, Settings(home=tmp_path / f"worker{i}", workers=2), material=True)
        res = ChunkResult.model_validate_json(res.model_dump_json())  # as stored on the chunk's row
        made = [c for o in (res.net.forks if res.net else []) if o.facts is not None
                for c in material_chunks(o.facts, res.material[o.name])]  # fmt: skip
        assert res.vectors is not None and res.vectors.model == "minilm-int8"
        assert set(res.vectors.by_id) == {c.id for c in made}
        results.append((chunk, res))
    vectors = results[0][1].vectors
    for _c, res in results[1:]:
        vectors = vectors.merged(res.vectors)
    assert vectors is not None and len(vectors.by_id) > 10

    assembler = Settings(home=tmp_path / "assembler", workers=2)
    report = engine.assemble(p, results, assembler)
    material = {n: m for _c, res in results for n, m in res.material.items()}
    report, stats = engine.finish(report, assembler, material=material, vectors=vectors)
    assert stats is not None and stats.error is None
    # every commit and diff chunk came from the workers; only cards, purposes, READMEs and upstream's were embedded
    assert stats.reused == len(vectors.by_id) and stats.embedded + stats.reused == stats.chunks
    vi = VectorIndex(assembler, up.name)
    kinds = {m["kind"] for m in vi.collection.get(include=["metadatas"])["metadatas"]}
    assert {"commit", "diff", "card"} <= kinds
    cid = next(iter(vectors.by_id))
    stored = vi.collection.get(ids=[cid], include=["embeddings", "documents"])
    here = MiniLMEmbeddings(threads=1, pool="index").embed_documents(stored["documents"])
    assert np.allclose(stored["embeddings"][0], vectors.get(cid)) and np.allclose(here[0], vectors.get(cid), atol=1e-5)
    # vectors of another model are never mixed in: those chunks are embedded here
    fresh = VectorIndex(assembler, "acme/other")
    chunk = Chunk(id="c1", text="Commit abc: add Gaudi support", metadata={"kind": "commit"})
    vec = vectors.get(cid)
    other = Vectors.of("openai:text-embedding-3-small", ["c1"], [vec])
    assert (fresh.sync({"@upstream": [chunk]}, vectors=other).reused, fresh.count()) == (0, 1)
    fresh.collection.delete(ids=["c1"])
    same = Vectors.of("minilm-int8", ["c1"], [vec])
    assert fresh.sync({"@upstream": [chunk]}, vectors=same).model_dump(include={"embedded", "reused"}) == {
        "embedded": 0,
        "reused": 1,
    }
    assert np.allclose(fresh.collection.get(ids=["c1"], include=["embeddings"])["embeddings"][0], vec)


def test_refreshes_due_together_are_spread_over_the_beat() -> None:
    from forkwise.service.runs.queue import beat_interval, spread

    assert spread(["a/x", "b/x", "c/x", "d/x"], 3600.0) == {"a/x": 0.0, "b/x": 900.0, "c/x": 1800.0, "d/x": 2700.0}
    assert spread(["a/x"], 3600.0) == {"a/x": 0.0} and spread([], 3600.0) == {}
    assert beat_interval(Settings(refresh_hours=24)) == 3600.0 and beat_interval(Settings(refresh_hours=0.25)) == 900.0
