"""A command imports only what it uses (issue 24, point 1): `forkwise --help` and a plain `summarize --no-index`
load none of the vector stack, the queue or the model runtimes. Run in a fresh interpreter each, as a user would."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import build

HEAVY = {"chromadb", "langchain_core", "langchain_chroma", "langchain_openai", "celery", "llama_cpp", "onnxruntime"}
PROBE = """
import json, sys
sys.argv = {argv!r}
from forkwise.service.cli import main
try:
    main()
except SystemExit:
    pass
print("MODULES " + json.dumps(sorted({{m.split(".")[0] for m in sys.modules}})), file=sys.stderr)
"""


def loaded(argv: list[str], env: dict[str, str] | None = None) -> tuple[set[str], subprocess.CompletedProcess[str]]:
    res = subprocess.run([sys.executable, "-c", PROBE.format(argv=argv)], capture_output=True, text=True, env=env,
                         timeout=300)  # fmt: skip
    line = next(ln for ln in res.stderr.splitlines() if ln.startswith("MODULES "))
    return set(json.loads(line.removeprefix("MODULES "))), res


def test_help_loads_typer_and_the_settings_only() -> None:
    mods, res = loaded(["forkwise", "--help"])
    assert "summarize" in res.stdout and "port" in res.stdout
    assert not mods & (HEAVY | {"sqlalchemy", "git", "httpx", "fastapi", "uvicorn", "numpy", "slack_bolt"})


def test_summarize_without_index_loads_no_vector_stack_queue_or_model(tmp_path: Path) -> None:
    import os

    net = build({"name": "s", "upstream": {"name": "acme/engine", "preset": "small"},
                 "forks": [{"name": "amy/engine", "base": "up:6",
                            "commits": [{"message": "Add ROCm", "files": {"rocm.py": "rocm = True\n"}}]}]},
                tmp_path / "net")  # fmt: skip
    env = {**os.environ, "FORKWISE_HOME": str(tmp_path / "home")}
    argv = ["forkwise", "summarize", str(net.upstream_path), "--fork", str(net.forks[0].path), "--no-index", "-q",
            "--format", "json"]  # fmt: skip
    mods, res = loaded(argv, env)
    report = json.loads(res.stdout)
    assert report["forks"][0]["facts"]["ahead"] == 1  # it did the work
    assert not mods & HEAVY, mods & HEAVY
