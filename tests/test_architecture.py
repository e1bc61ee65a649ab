"""The house's rules (issue 27), read from the source with ``ast``: imports run surfaces → runs → verdicts →
index (also inside functions), the production package never imports the evals, no import cycle among
module-level imports, paths in the home only from the settings, every ``type: ignore`` says why."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = {"index": "forkwise.index", "service": "forkwise.service", "evals": "forkwise.evals"}
LAYERS = ["forkwise.index", "forkwise.service.verdicts", "forkwise.service.runs", "forkwise.service.surfaces"]
"""Lowest first: a module may import its own layer and those below it."""


def _modules() -> dict[str, Path]:
    out = {}
    for folder, package in FOLDERS.items():
        for path in (ROOT / folder).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            rel = path.relative_to(ROOT / folder).with_suffix("")
            parts = [p for p in rel.parts if p != "__init__"]
            out[".".join([package, *parts])] = path
    return out


MODULES = _modules()


def _imports(path: Path, *, top_level_only: bool = False) -> list[tuple[str, int]]:
    """The forkwise modules ``path`` imports (with line numbers); TYPE_CHECKING blocks left out."""
    tree = ast.parse(path.read_text())
    out: list[tuple[str, int]] = []

    def visit(node: ast.AST, top: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue
            if isinstance(child, ast.Import):
                out.extend((a.name, child.lineno) for a in child.names if a.name.startswith("forkwise."))
            elif isinstance(child, ast.ImportFrom) and child.module and child.module.startswith("forkwise"):
                for a in child.names:
                    name = f"{child.module}.{a.name}"  # a module of the package, or a name in one
                    out.append((name if name in MODULES else child.module, child.lineno))
            inner = isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda)
            if not (top_level_only and inner and not isinstance(child, ast.ClassDef)):
                visit(child, top and not inner)

    visit(tree, True)
    return out


def _layer(module: str) -> int | None:
    found = [i for i, prefix in enumerate(LAYERS) if module == prefix or module.startswith(prefix + ".")]
    return found[-1] if found else None


def test_the_modules_are_found() -> None:
    assert "forkwise.index.facts" in MODULES and "forkwise.service.surfaces.cli" in MODULES
    # beside the three rooms, only what every room may read: the settings and the plain values they share
    assert {m for m in MODULES if m.startswith("forkwise.service.") and _layer(m) is None} == {
        "forkwise.service.settings",
        "forkwise.service.options",
    }


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_only_go_down(module: str) -> None:
    mine = _layer(module)
    wrong = []
    for target, line in _imports(MODULES[module]):
        if module.startswith(("forkwise.index", "forkwise.service")) and target.startswith("forkwise.evals"):
            wrong.append(f"{line}: {target} (the evals are not production code)")
        theirs = _layer(target)
        if mine is not None and theirs is not None and theirs > mine:
            wrong.append(f"{line}: {target} (a layer above {LAYERS[mine]})")
        if module.startswith("forkwise.index") and target.startswith("forkwise.service"):
            wrong.append(f"{line}: {target} (index/ imports nothing above it)")
        if module in ("forkwise.service.settings", "forkwise.service.options") and theirs is not None and theirs > 0:
            wrong.append(f"{line}: {target} (the settings are read by every room and import none)")
    assert wrong == []


def test_no_import_cycle_among_module_level_imports() -> None:
    graph = {m: {t for t, _ in _imports(p, top_level_only=True) if t in MODULES and t != m} for m, p in MODULES.items()}
    # a package's __init__ importing its own modules is how Python packages work, not a cycle between parts
    graph = {m: {t for t in ts if not m.startswith(t + ".")} for m, ts in graph.items()}
    seen: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def walk(m: str) -> None:
        seen[m] = 1
        stack.append(m)
        for t in sorted(graph[m]):
            if seen.get(t) == 1:
                cycles.append([*stack[stack.index(t) :], t])
            elif t not in seen:
                walk(t)
        stack.pop()
        seen[m] = 2

    for m in sorted(graph):
        if m not in seen:
            walk(m)
    assert cycles == []


SETTINGS = {"forkwise.index.settings", "forkwise.service.settings"}


def test_paths_in_the_home_come_only_from_the_settings() -> None:
    users = []
    for module, path in MODULES.items():
        if module in SETTINGS:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
                left = node.left
                if isinstance(left, ast.Attribute) and left.attr == "home":
                    users.append(f"{module}:{node.lineno}: {ast.unparse(node)}")
    assert users == []


def test_the_facts_writer_reads_the_date_only_as_whole_days() -> None:
    """Remembered verdicts (service/verdicts/memo.py) are keyed on ``WriterInput.days()``, not on the moment: the
    writer and what it calls must not read ``as_of`` themselves, nor the clock."""
    readers = []
    for module in ("writer", "purpose", "evidence", "prompts"):
        tree = ast.parse(MODULES[f"forkwise.service.verdicts.{module}"].read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in ("as_of", "now", "today", "utcnow"):
                readers.append(f"{module}:{node.lineno}: {ast.unparse(node)}")
    assert readers == []
    assert "as_of" not in (ROOT / "prompts" / "verdict.toml").read_text()


def test_every_type_ignore_says_why() -> None:
    bare = []
    for module, path in MODULES.items():
        lines = path.read_text().splitlines()
        for i, line in enumerate(lines):
            if "type: ignore" not in line:
                continue
            said = re.search(r"type: ignore\[[^\]]+\]\s*#\s*\S", line) or (i and lines[i - 1].strip().startswith("#"))
            if not said:
                bare.append(f"{module}:{i + 1}: {line.strip()}")
    assert bare == []


def test_every_api_route_answers_a_named_model(tmp_path: Path) -> None:
    """OpenAPI shows each route's body: a named schema (or a list of one), never an untyped object."""
    from forkwise.service.settings import Settings
    from forkwise.service.surfaces.api import create_app

    spec = create_app(Settings(home=tmp_path, serve_embeddings=True)).openapi()
    shapes = {}
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            ok = next(code for code in op["responses"] if code.startswith("2"))
            schema = op["responses"][ok]["content"]["application/json"]["schema"]
            shapes[f"{method.upper()} {path}"] = (schema.get("$ref") or schema["items"]["$ref"]).split("/")[-1]
    assert shapes == {
        "GET /v1/repos": "RepoListItem",
        "GET /v1/repos/{owner}/{repo}": "RepoSummary",
        "GET /v1/repos/{owner}/{repo}/report": "Report",
        "GET /v1/repos/{owner}/{repo}/forks/{fork_owner}/{fork_repo}": "ForkDetail",
        "POST /v1/repos/{owner}/{repo}/index": "JobStarted",
        "GET /v1/jobs/{job_id}": "Job",
        "POST /v1/chat": "ChatAnswer",
        "POST /v1/embeddings": "EmbeddingsResponse",
    }
    summary = spec["components"]["schemas"]["RepoSummary"]["properties"]
    assert summary["upstream"] == {"$ref": "#/components/schemas/UpstreamSummary"}
    assert summary["forks"]["items"] == {"$ref": "#/components/schemas/ForkRow"}


def test_the_git_calls_are_read_from_the_source(tmp_path: Path) -> None:
    from forkwise.index.gitcalls import git_calls

    (tmp_path / "index").mkdir()
    (tmp_path / "service").mkdir()
    (tmp_path / "index" / "x.py").write_text(
        "import subprocess\n"
        "from forkwise.index.gitio import run as run_git\n\n"
        "def _git(path, *args):\n    return run_git(path, *args)\n\n"  # a wrapper: its callers count
        "def heads(path, *refs):\n    return _git(path, '-c', 'a=b', 'for-each-ref', *refs)\n\n"
        "class Mirror:\n"
        "    def fetch(self, key):\n"
        "        args = ['fetch', '--quiet']\n"
        "        self.git(*args, '--', key)\n"
        "        def inner():\n            return self.git('update-ref', 'x', 'y')\n"
        "        return inner()\n\n"
        "def sentinel(path):\n    subprocess.run(['git', '-C', path, 'merge-tree', '--stdin'])\n"
        "    subprocess.run(['ls', path])\n\n"
        "def run(x):\n    return x\n\n"
        "def not_git():\n    return run(3)\n"
    )
    assert git_calls(tmp_path) == {
        "forkwise.index.x:heads": ["for-each-ref"],
        "forkwise.index.x:Mirror.fetch": ["fetch", "update-ref"],
        "forkwise.index.x:sentinel": ["merge-tree"],
    }


def test_the_readme_lists_the_git_calls_the_code_makes() -> None:
    from forkwise.index.gitcalls import git_calls, markdown, replaced

    readme = (ROOT / "README.md").read_text()
    assert replaced(readme, markdown(git_calls(ROOT))) == readme
    # the facts package's docstring names every subcommand its modules run
    import forkwise.index.facts as facts

    doc = facts.__doc__ or ""
    used = {s for where, subs in git_calls(ROOT).items() if where.startswith("forkwise.index.facts") for s in subs}
    assert used and {s for s in used if f"``{s}" not in doc and f" {s} " not in doc} == set()
