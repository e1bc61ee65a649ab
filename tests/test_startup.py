"""A command imports only what it uses (issue 24, point 1): `forkwise --help` and a plain `summarize --no-index`
load none of the vector stack, the queue or the model runtimes. Run in a fresh interpreter each, as a user would."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import build

HEAVY = {"chromadb", "langchain_core", "langchain_chroma", "langchain_openai", "celery", "llama_cpp", "onnxruntime"}
PROBE = """
import json, sys
sys.argv = {argv!r}
from forkwise.service.surfaces.cli import main
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


def test_help_loads_typer_and_rich_only() -> None:
    mods, res = loaded(["forkwise", "--help"])
    assert "summarize" in res.stdout and "port" in res.stdout and "eval" in res.stdout
    never = {"sqlalchemy", "git", "httpx", "fastapi", "uvicorn", "numpy", "slack_bolt", "pydantic_settings", "jinja2"}
    assert not mods & (HEAVY | never), mods & (HEAVY | never)
    assert "forkwise.service.settings" not in mods


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
    assert not mods & {"httpx", "tenacity"}  # forks given by path: no forge is asked anything
    assert "pydantic_settings" not in mods  # settings are read by forkwise.index.settings itself
    assert "sqlalchemy" in mods  # the first run creates the store: the ORM and Alembic's migrations
    mods, res = loaded(argv, env)
    assert json.loads(res.stdout)["forks"][0]["facts"]["ahead"] == 1
    assert not mods & (HEAVY | {"sqlalchemy", "alembic"}), mods  # the next writes its run with sqlite3 alone
    assert not mods & {"pydantic_settings", "asyncio"}, mods & {"pydantic_settings", "asyncio"}
    assert "jinja2" not in mods  # its verdicts were remembered by the first run: no template is rendered
    # nothing printed but the report: no console; upstream's head did not move: its README is not parsed again
    assert not mods & {"rich", "markdown_it"}, mods & {"rich", "markdown_it"}
    mods, res = loaded([*argv[:-1], "md"], env)
    assert res.stdout.startswith("# ") and "rich" not in mods  # Markdown is the report's text, not the console's


def test_text_templates_compile_once_across_processes(tmp_path: Path) -> None:
    """The writer's template strings go through Jinja's bytecode cache: a second process loads the compiled code
    (no compile), and a changed source is a new name, never the old code."""
    probe = """
import sys
import jinja2.environment as je
from forkwise.service.verdicts import prompts
compiled = []
real = je.Environment.compile
je.Environment.compile = lambda self, *a, **k: compiled.append(1) or real(self, *a, **k)
out = prompts.text_template(sys.argv[1]).render(n=3)
print(out, len(compiled))
"""
    env = {**os.environ, "TMPDIR": str(tmp_path)}  # Jinja's per-user cache directory lives under the temp dir

    def run(source: str) -> str:
        return subprocess.run([sys.executable, "-c", probe, source], capture_output=True, text=True, env=env,
                              check=True).stdout.strip()  # fmt: skip

    assert run("{{ n | count('fork') }}.") == "3 forks. 1"  # compiled, and stored
    assert run("{{ n | count('fork') }}.") == "3 forks. 0"  # loaded
    assert run("{{ n | count('fork') }}!") == "3 forks! 1"  # another source: compiled
    files = list(tmp_path.glob("_jinja2-cache-*/__forkwise_text_*.cache"))
    assert len(files) == 2
    for f in files:  # a cache file cut short (a full disk, a crash mid-write): a miss, never a failed render
        f.write_bytes(f.read_bytes()[:40])
    assert run("{{ n | count('fork') }}.") == "3 forks. 1"
    assert run("{{ n | count('fork') }}.") == "3 forks. 0"  # written again


def test_a_second_indexed_summarize_with_nothing_new_loads_no_vector_stack(tmp_path: Path) -> None:
    """The ledger in the store's meta table: same forks, same heads, same upstream chunks and untouched Chroma files
    mean nothing to sync, so chromadb, LangChain and onnxruntime stay unloaded; a Chroma folder written since (here:
    removed) makes the run index again."""
    import os
    import shutil

    net = build({"name": "s", "upstream": {"name": "acme/engine", "preset": "small"},
                 "forks": [{"name": "amy/engine", "base": "up:6",
                            "commits": [{"message": "Add ROCm", "files": {"rocm.py": "rocm = True\n"}}]}]},
                tmp_path / "net")  # fmt: skip
    home = tmp_path / "home"
    env = {**os.environ, "FORKWISE_HOME": str(home)}
    argv = ["forkwise", "summarize", str(net.upstream_path), "--fork", str(net.forks[0].path), "--format", "json"]

    def index_line(res: subprocess.CompletedProcess[str]) -> tuple[int, int, int]:
        """(chunks, embedded now, forks unchanged) from "index: N chunks (E embedded now, D dropped; U forks …)"."""
        m = re.search(r"index: (\d+) chunks \((\d+) embedded now, 0 dropped; (\d+) forks unchanged\)", res.stderr)
        assert m, res.stderr
        return int(m[1]), int(m[2]), int(m[3])

    mods, res = loaded(argv, env)
    chunks, embedded, unchanged = index_line(res)
    assert chunks == embedded > 0 and unchanged == 0 and "chromadb" in mods  # the first run indexed
    mods, res = loaded(argv, env)
    assert index_line(res) == (chunks, 0, 1)
    assert not mods & (HEAVY | {"sqlalchemy"}), mods & (HEAVY | {"sqlalchemy"})
    assert "git" not in mods  # GitPython serves fork analysis; upstream's README alone is one cat-file
    shutil.rmtree(home / "chroma")
    mods, res = loaded(argv, env)
    assert index_line(res) == (chunks, chunks, 0) and "chromadb" in mods


def test_pydantic_plugins_are_not_looked_for_unless_asked() -> None:
    """The command line sets PYDANTIC_DISABLE_PLUGINS=__all__ (forkwise uses no pydantic plugin; looking for them
    reads every installed package's entry points); a value the user set, even empty, stays."""
    probe = """
import os, sys
sys.argv = ["forkwise", "--help"]
from forkwise.service.surfaces.cli import main
try:
    main()
except SystemExit:
    pass
print("PLUGINS " + repr(os.environ.get("PYDANTIC_DISABLE_PLUGINS")), file=sys.stderr)
"""
    env = {k: v for k, v in os.environ.items() if k != "PYDANTIC_DISABLE_PLUGINS"}
    for given, left in ((None, "'__all__'"), ("", "''"), ("logfire", "'logfire'")):
        run_env = env if given is None else {**env, "PYDANTIC_DISABLE_PLUGINS": given}
        res = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=run_env, timeout=120)
        assert f"PLUGINS {left}" in res.stderr.splitlines(), res.stderr[-500:]
