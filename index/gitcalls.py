"""The git calls forkwise makes, read from its own source (``ast``), so what the README and docstrings say about
them cannot drift from the code.

A call is one of: ``run(path, "<subcommand>", …)`` (:func:`forkwise.index.gitio.run`), ``<x>.git("<subcommand>",
…)`` / ``git_with`` (a mirror's or an upstream context's), ``git(…)`` (the merge code's), or
``subprocess.run(["git", …, "<subcommand>", …])``. The subcommand is the first argument that reads as one (options
such as ``-c key=value`` and ``-C path`` are skipped); a call whose subcommand is built at run time counts as
``(built)``.

``python -m forkwise.index.gitcalls`` prints the list as Markdown; ``--write FILE`` replaces the block between
``<!-- git-calls:start -->`` and ``<!-- git-calls:end -->`` in FILE, ``--check FILE`` fails when it is stale.
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
from collections.abc import Iterator
from pathlib import Path

START, END = "<!-- git-calls:start -->", "<!-- git-calls:end -->"
_SUBCOMMAND = re.compile(r"^[a-z][a-z-]+$")
_GIT_METHODS = {"git", "git_with"}


def _subcommand(args: list[ast.expr]) -> str:
    skip = False
    for a in args:
        if skip:
            skip = False
            continue
        if isinstance(a, ast.Constant) and isinstance(a.value, str):
            if a.value in ("-c", "-C"):
                skip = True
            elif a.value != "git" and _SUBCOMMAND.match(a.value):
                return a.value
    return "(built)"


def _git_args(call: ast.Call, runners: set[str]) -> list[ast.expr] | None:
    """The arguments of ``call`` that hold git's command line, or None when it does not run git. ``runners``: the
    names :func:`forkwise.index.gitio.run` goes by in the module, and ``git``."""
    f = call.func
    if isinstance(f, ast.Name) and f.id in runners:
        return list(call.args)
    if isinstance(f, ast.Attribute) and f.attr in _GIT_METHODS:
        return list(call.args)
    is_subprocess = isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id == "subprocess"
    if is_subprocess and isinstance(f, ast.Attribute) and f.attr == "run" and call.args:
        first = call.args[0]
        if isinstance(first, ast.List) and first.elts and isinstance(first.elts[0], ast.Constant):
            return list(first.elts) if first.elts[0].value == "git" else None
    return None


def _runners(tree: ast.Module, module: str) -> set[str]:
    names = {"git"}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "forkwise.index.gitio":
            names |= {a.asname or a.name for a in node.names if a.name == "run"}
    if module.endswith("index.gitio"):
        names.add("run")
    return names


def _wrappers(tree: ast.Module, runners: set[str]) -> set[str]:
    """Functions of the module that pass their own ``*args`` on to a runner: runners themselves."""
    found = set()
    for fn in ast.walk(tree):
        if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
            for call in ast.walk(fn):
                args = _git_args(call, runners) if isinstance(call, ast.Call) else None
                if args is not None and _resolve(args, fn) is None:
                    found.add(fn.name)
    return found


_PERSISTENT = {"get_object_header", "get_object_data"}
"""GitPython's persistent ``cat-file --batch-check`` / ``--batch`` process (:func:`forkwise.index.gitio.read_blob`)."""


def _calls(path: Path, module: str) -> Iterator[tuple[str, str]]:
    """(function, subcommand) for each git call in ``path``; the function as ``Class.method`` or ``function`` (a
    function defined inside another counts under the outer one). A wrapper that passes its own ``*args`` on is not
    a call of its own: its callers' are."""
    tree = ast.parse(path.read_text())
    runners = _runners(tree, module)
    runners |= _wrappers(tree, runners)
    Fn = ast.FunctionDef | ast.AsyncFunctionDef

    def visit(node: ast.AST, where: list[str], fn: Fn | None) -> Iterator[tuple[str, str]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef):
                yield from visit(child, [*where, child.name], fn)
                continue
            if isinstance(child, Fn):
                yield from visit(child, where if fn else [*where, child.name], child)
                continue
            if isinstance(child, ast.Call) and fn is not None:
                f = child.func
                if isinstance(f, ast.Attribute) and f.attr in _PERSISTENT:
                    yield ".".join(where), "cat-file"
                elif (args := _git_args(child, runners)) is not None and (resolved := _resolve(args, fn)) is not None:
                    yield ".".join(where), _subcommand(resolved)
            yield from visit(child, where, fn)

    yield from visit(tree, [], None)


def _resolve(args: list[ast.expr], fn: ast.FunctionDef | ast.AsyncFunctionDef) -> list[ast.expr] | None:
    """``args`` with ``*name`` expanded where ``name`` is a list the function builds literally; None when the call
    passes the function's own ``*args`` on (a wrapper)."""
    params = {a.arg for a in [*fn.args.args, *fn.args.posonlyargs, *fn.args.kwonlyargs]}
    if fn.args.vararg is not None:
        params.add(fn.args.vararg.arg)
    lists = {
        t.id: n.value.elts
        for n in ast.walk(fn)
        if isinstance(n, ast.Assign) and isinstance(n.value, ast.List)
        for t in n.targets
        if isinstance(t, ast.Name)
    }
    out: list[ast.expr] = []
    for a in args:
        if isinstance(a, ast.Starred) and isinstance(a.value, ast.Name):
            if a.value.id in params and a.value.id not in lists and _subcommand(out) == "(built)":
                return None  # the subcommand itself comes from the caller
            out += lists.get(a.value.id, [a])
        else:
            out.append(a)
    return out


def git_calls(root: Path, package: str = "forkwise") -> dict[str, list[str]]:
    """``module:function`` → the git subcommands it calls (in source order, each once), for every module under
    ``root``'s ``index/`` and ``service/`` (the repository's top folders)."""
    out: dict[str, list[str]] = {}
    for folder in ("index", "service"):
        for path in sorted((root / folder).rglob("*.py")):
            rel = path.relative_to(root).with_suffix("")
            module = ".".join(p for p in (package, *rel.parts) if p != "__init__")
            if module == f"{package}.index.gitcalls":
                continue
            for func, sub in _calls(path, module):
                subs = out.setdefault(f"{module}:{func}", [])
                if sub not in subs:
                    subs.append(sub)
    return out


def markdown(calls: dict[str, list[str]]) -> str:
    lines = [START, "", "| where | git |", "|---|---|"]
    for where, subs in calls.items():
        module, func = where.split(":")
        lines.append(f"| `{module.removeprefix('forkwise.')}` `{func}` | {', '.join(f'`{s}`' for s in subs)} |")
    return "\n".join([*lines, "", END])


def replaced(text: str, block: str) -> str:
    """``text`` with its generated block replaced by ``block``."""
    if START not in text or END not in text:
        raise ValueError(f"no {START} … {END} block to replace")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    return head + block + tail


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m forkwise.index.gitcalls", description=__doc__.splitlines()[0])
    ap.add_argument("--root", type=Path, default=Path.cwd(), help="the repository (index/, service/ under it)")
    group = ap.add_mutually_exclusive_group()
    group.add_argument("--write", type=Path, metavar="FILE", help="replace FILE's generated block")
    group.add_argument("--check", type=Path, metavar="FILE", help="fail when FILE's generated block is stale")
    a = ap.parse_args(argv)
    block = markdown(git_calls(a.root))
    if a.write:
        a.write.write_text(replaced(a.write.read_text(), block))
    elif a.check:
        if replaced(a.check.read_text(), block) != a.check.read_text():
            print(f"{a.check}: the git calls are stale; run python -m forkwise.index.gitcalls --write {a.check}")
            return 1
        print(f"{a.check}: the git calls are up to date")
    else:
        print(block)
    return 0


if __name__ == "__main__":
    sys.exit(main())
