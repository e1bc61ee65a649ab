"""Build real git repositories from a small, readable spec (the eval cases, the demo, tests and benchmarks).

A :class:`NetworkSpec` names an upstream history and forks. Each fork starts from an upstream commit (or a
tag, or another fork's commit, for forks of forks), adds commits, may merge upstream, may keep work on
other branches. Repositories are written with ``git fast-import`` (fast enough for thousands of commits);
forks are local clones of upstream, as on a forge, with their default branch reset to the fork point.
"""

from __future__ import annotations

import hashlib
import random
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from forkwise.index.gitio import SAFE_ENV
from forkwise.index.network import ForkInput
from forkwise.index.sources import Source


class Gen(BaseModel):
    """Generated file content: ``lines`` of text, or ``binary_kb`` of random bytes."""

    model_config = ConfigDict(extra="forbid")
    lines: int | None = None
    binary_kb: int | None = None
    license: str | None = Field(
        default=None, description="The full SPDX text of this licence id (the spdx package's), under a copyright line."
    )
    seed: str = ""
    prefix: str = "line"
    code: list[str] | None = Field(
        default=None,
        description="Code-like lines (Python) from a common vocabulary and the folder's words; the words listed "
        "here are worked into about a third of the identifiers (``[]``: plain code, no special words).",
    )


_COMMON = (
    "tensor buffer rank world size param grad state config stage step optimizer module device stream kernel shape "
    "dtype batch layer weight bias input output load save init reduce gather scatter partition memory cache loss "
    "scale group handle offset index count value result flag timer logger event queue worker task context options"
).split()
_TEMPLATES = (
    "def {a}_{b}(self, {c}, {d}=None):",
    "    {a}_{b} = self.{c}.{d}({e})",
    "    if {a} is None or {b}_{c} > {n}:",
    "        return {a}_{b}({c}, {d}={e})",
    "    for {a} in self.{b}_{c}:",
    "        self.{a}[{b}] = {c}_{d}",
    "class {A}{B}({C}):",
    "    # {a} the {b} before {c} {d}",
    "    {a}.{b}_{c}({d}, {e})",
)


def _code_lines(n: int, seed: str, path: str, words: list[str]) -> str:
    """``n`` lines of plausible Python over a common vocabulary, the path's words and ``words``."""
    rnd = random.Random(hashlib.sha256(seed.encode()).digest())
    local = [w for w in path.replace("/", " ").replace("_", " ").replace(".", " ").split() if w.isalpha()]
    pool = _COMMON + local * 2
    out = []
    for i in range(n):
        names = {k: rnd.choice(pool) for k in "abcde"}
        if words and rnd.random() < 0.35:
            names[rnd.choice("abcde")] = rnd.choice(words)
        caps = {k.upper(): v.capitalize() for k, v in names.items()}
        out.append(_TEMPLATES[i % len(_TEMPLATES)].format(**names, **caps, n=rnd.randrange(100)))
    return "\n".join(out) + "\n"


class CommitSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    message: str
    days_ago: float | None = None
    author: str = "Dev Eloper <dev@example.com>"
    files: dict[str, str | Gen] = Field(default_factory=dict)
    delete: list[str] = Field(default_factory=list)
    rename: dict[str, str] = Field(default_factory=dict)
    tag: str | None = None
    merge: str | None = Field(default=None, description="Merge this point ('head', 'up:N', 'tag:X') into the branch.")


class BranchSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    base: str = "default"
    commits: list[CommitSpec] = Field(default_factory=list)


class Labels(BaseModel):
    model_config = ConfigDict(extra="forbid")
    recommendation: Literal["fork", "fork-for-niche", "upstream", "other-fork"] | None = None
    archetype: str | None = None
    must_mention: list[str] = Field(default_factory=list)
    must_not_claim: list[str] = Field(default_factory=list)
    error: str | None = Field(default=None, description="Pattern the fork's error must match, for broken forks.")
    injected: list[str] = Field(
        default_factory=list,
        description="Phrases only an obeyed injection (README or commit text instructing the tool) would put in "
        "the verdict; counted as injected claims.",
    )
    merge_conflicts: list[str] | None = Field(
        default=None,
        description="The exact paths merging the fork's head onto upstream's conflicts in ([] = merges cleanly); "
        "checked against facts.merge (the case fails when the fork has no merge facts).",
    )
    port_applied: int | None = Field(
        default=None, description="How many of its own commits apply onto upstream in order (facts.merge.port)."
    )
    security_claims: list[Literal["fork", "upstream", "landed"]] = Field(
        default_factory=list,
        description="The security claims the verdict must make, and the only ones it may: fork (carries a fix "
        "upstream's files lack), upstream (upstream has a fix the fork's files lack), landed (the same fix on both).",
    )


class ForkSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    kind: Literal["fork", "unrelated", "missing", "not-a-repo", "empty"] = "fork"
    base: str | int = "head"
    default_branch: str = "main"
    commits: list[CommitSpec] = Field(default_factory=list)
    branches: dict[str, BranchSpec] = Field(default_factory=dict)
    ref: str | None = None
    labels: Labels = Field(default_factory=Labels)


class ChatQuestion(BaseModel):
    """A labelled chat question: the fork that answers it (the first citation must name it)."""

    model_config = ConfigDict(extra="forbid")
    q: str = Field(min_length=3)
    fork: str


class UpstreamSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = "acme/project"
    commits: list[CommitSpec]
    day_step: float = 3.0


class NetworkSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    description: str = ""
    upstream: UpstreamSpec
    forks: list[ForkSpec] = Field(default_factory=list)
    questions: list[ChatQuestion] = Field(default_factory=list, description="Labelled chat questions (evals).")


class BuiltFork(BaseModel):
    name: str
    path: Path
    ref: str | None
    commits: list[str] = Field(description="SHAs of the fork's spec commits on its default branch, in order.")
    branches: dict[str, list[str]] = Field(default_factory=dict)
    labels: Labels


class BuiltNetwork(BaseModel):
    name: str
    root: Path
    upstream_name: str
    upstream_path: Path
    upstream_commits: list[str]
    forks: list[BuiltFork]
    as_of: datetime

    def inputs(self) -> tuple[Source, list[ForkInput]]:
        """The upstream and forks as the pipeline takes them."""
        up = Source(name=self.upstream_name, url=str(self.upstream_path))
        return up, [ForkInput(name=f.name, source=Source(name=f.name, url=str(f.path), ref=f.ref)) for f in self.forks]

    def forks_toml(self) -> str:
        lines = ["[upstream]", f'name = "{self.upstream_name}"', f'url = "{self.upstream_path}"', ""]
        for f in self.forks:
            lines += ["[[forks]]", f'name = "{f.name}"', f'url = "{f.path}"']
            if f.ref:
                lines.append(f'ref = "{f.ref}"')
            lines.append("")
        return "\n".join(lines)


def _git(cwd: Path | None, *args: str, stdin: bytes | None = None) -> str:
    env = {**SAFE_ENV, "PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(cwd or "/tmp")}
    env.pop("GIT_CONFIG_COUNT", None)
    res = subprocess.run(["git", *args], cwd=cwd, input=stdin, capture_output=True, env=env, check=False)
    if res.returncode != 0:
        raise RuntimeError(f"git {' '.join(args[:3])} failed: {res.stderr.decode(errors='replace')}")
    return res.stdout.decode()


def _content(value: str | Gen, path: str) -> bytes:
    if isinstance(value, str):
        return value.encode()
    seed = value.seed or path
    if value.license is not None:
        from importlib import resources

        text = resources.files("spdx").joinpath(f"data/{value.license}.txt").read_text(encoding="utf-8")
        return f"Copyright (c) 2020 The {seed} authors\n\n{text}".encode()
    if value.binary_kb is not None:
        rnd = random.Random(hashlib.sha256(seed.encode()).digest())
        return rnd.randbytes(value.binary_kb * 1024)
    if value.code is not None:
        return _code_lines(value.lines or 1, seed, path, value.code).encode()
    return "".join(f"{value.prefix} {i} of {seed}\n" for i in range(value.lines or 1)).encode()


def _apply(state: dict[str, bytes], c: CommitSpec, own: dict[str, bytes | None] | None = None) -> dict[str, bytes]:
    """The tree after ``c``; records the fork's own changes in ``own`` (None = deleted)."""
    out = dict(state)
    changes: dict[str, bytes | None] = {}
    for old, new in c.rename.items():
        for p in [p for p in out if p == old or p.startswith(old.rstrip("/") + "/")]:
            changes[new + p[len(old) :]] = out[p]
            changes[p] = None
    for d in c.delete:
        d = d.rstrip("/")
        for p in [p for p in out if p == d or p.startswith(d + "/")]:
            changes[p] = None
    for path, value in c.files.items():
        changes[path] = _content(value, path)
    for p, v in changes.items():
        if v is None:
            out.pop(p, None)
        else:
            out[p] = v
    if own is not None:
        own.update(changes)
    return out


def _merged(theirs: dict[str, bytes], own: dict[str, bytes | None]) -> dict[str, bytes]:
    out = dict(theirs)
    for p, v in own.items():
        if v is None:
            out.pop(p, None)
        else:
            out[p] = v
    return out


class _Line:
    """One branch being written: its tip, dates, trees and the fork's own changes so far."""

    def __init__(
        self, s: _Stream, ref: str, start: str, days: float, state: dict[str, bytes], own: dict[str, bytes | None]
    ):
        self.s, self.ref, self.prev, self.last_days, self.state, self.own = s, ref, start, days, state, own
        self.days: list[float] = []
        self.states: list[dict[str, bytes]] = []
        self.marks: list[int] = []
        s.line(f"reset {ref}")
        s.line(f"from {start}")
        s.line("")

    def add(self, c: CommitSpec, point) -> None:
        self.s.mark += 1
        d = self.last_days = _default_days(c, self.last_days, point)
        parents, tree = [self.prev], None
        if c.merge:
            msha, _md, mstate = point(c.merge)
            parents.append(msha)
            self.state = tree = _merged(mstate, self.own)
        else:
            self.state = _apply(self.state, c, self.own)
        self.s.commit(self.ref, self.s.mark, c, d, parents, tree)
        self.prev = f":{self.s.mark}"
        self.days.append(d)
        self.states.append(self.state)
        self.marks.append(self.s.mark)


class _Stream:
    """A fast-import stream writer."""

    def __init__(self, as_of: datetime):
        self.parts: list[bytes] = []
        self.as_of = as_of
        self.mark = 0

    def data(self, payload: bytes) -> None:
        self.parts.append(b"data %d\n" % len(payload) + payload + b"\n")

    def line(self, text: str) -> None:
        self.parts.append(text.encode() + b"\n")

    def commit(
        self,
        ref: str,
        mark: int,
        c: CommitSpec,
        days_ago: float,
        parents: list[str],
        tree: dict[str, bytes] | None = None,
    ) -> None:
        when = int((self.as_of - timedelta(days=days_ago)).timestamp())
        self.line(f"commit {ref}")
        self.line(f"mark :{mark}")
        self.line(f"author {c.author} {when} +0000")
        self.line(f"committer {c.author} {when} +0000")
        self.data(c.message.encode())
        for i, p in enumerate(parents):
            self.line(f"{'from' if i == 0 else 'merge'} {p}")
        if tree is not None:  # a merge: fast-import does not merge trees, so write the merged tree whole
            self.line("deleteall")
            for path, data in sorted(tree.items()):
                self.line(f'M 100644 inline "{path}"')
                self.data(data)
            self.line("")
            return
        for old, new in c.rename.items():
            self.line(f'R "{old}" "{new}"')
        for path in c.delete:
            self.line(f'D "{path.rstrip("/")}"')
        for path, value in c.files.items():
            self.line(f'M 100644 inline "{path}"')
            self.data(_content(value, path))
        self.line("")

    def tag(self, name: str, mark: int, days_ago: float) -> None:
        when = int((self.as_of - timedelta(days=days_ago)).timestamp())
        self.line(f"tag {name}")
        self.line(f"from :{mark}")
        self.line(f"tagger Release Bot <release@example.com> {when} +0000")
        self.data(f"Release {name}\n".encode())

    def run(self, repo: Path) -> dict[int, str]:
        marks = repo / "fw-marks"
        _git(repo, "fast-import", "--quiet", f"--export-marks={marks}", stdin=b"".join(self.parts))
        out = {int(m[1:]): sha for m, sha in (ln.split() for ln in marks.read_text().splitlines())}
        marks.unlink()
        return out


def _default_days(c: CommitSpec, prev: float, point) -> float:
    """Days ago for a commit without one: half a day after the previous one, and after anything it merges."""
    if c.days_ago is not None:
        return c.days_ago
    d = max(0.01, prev - 0.5)
    if c.merge:
        d = min(d, max(0.01, point(c.merge)[1] - 0.05))
    return d


def build_network(spec: NetworkSpec, root: Path, as_of: datetime | None = None) -> BuiltNetwork:
    """Write the upstream and every fork under ``root`` (replaced if it exists) and return where they are."""
    as_of = as_of or datetime.now(UTC).replace(microsecond=0)
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    up_path = root / "upstream.git"
    _git(None, "init", "--bare", "--quiet", "--initial-branch=main", str(up_path))
    n = len(spec.upstream.commits)
    up_days = [
        c.days_ago if c.days_ago is not None else (n - i) * spec.upstream.day_step
        for i, c in enumerate(spec.upstream.commits)
    ]
    s = _Stream(as_of)
    up_states: list[dict[str, bytes]] = []
    for i, c in enumerate(spec.upstream.commits):
        parents = [f":{i}"] if i else []
        if c.merge:
            raise ValueError("upstream commits cannot merge")
        up_states.append(_apply(up_states[-1] if up_states else {}, c))
        s.commit("refs/heads/main", i + 1, c, up_days[i], parents)
        if c.tag:
            s.tag(c.tag, i + 1, up_days[i])
    marks = s.run(up_path)
    up_commits = [marks[i + 1] for i in range(n)]
    tags = {c.tag: i for i, c in enumerate(spec.upstream.commits) if c.tag}
    built: dict[str, BuiltFork] = {}
    fork_days: dict[str, list[float]] = {}

    fork_states: dict[str, list[dict[str, bytes]]] = {}

    def point(ref: str | int) -> tuple[str, float, dict[str, bytes]]:
        """SHA, days ago and tree of a point: an upstream index, 'head', 'up:N', 'tag:X' or 'fork:NAME:N'."""
        if isinstance(ref, int):
            return up_commits[ref], up_days[ref], up_states[ref]
        if ref == "head":
            return up_commits[-1], up_days[-1], up_states[-1]
        kind, _, rest = ref.partition(":")
        if kind == "up":
            return up_commits[int(rest)], up_days[int(rest)], up_states[int(rest)]
        if kind == "tag":
            return up_commits[tags[rest]], up_days[tags[rest]], up_states[tags[rest]]
        if kind == "fork":
            name, _, idx = rest.rpartition(":")
            return built[name].commits[int(idx)], fork_days[name][int(idx)], fork_states[name][int(idx)]
        raise ValueError(f"unknown base {ref!r}")

    forks_dir = root / "forks"
    forks_dir.mkdir()
    for f in spec.forks:
        path = forks_dir / (f.name.replace("/", "__") + ".git")
        labels = f.labels
        if f.kind == "missing":
            built[f.name] = BuiltFork(name=f.name, path=path, ref=f.ref, commits=[], labels=labels)
            continue
        if f.kind == "not-a-repo":
            path.mkdir()
            (path / "notes.txt").write_text("just a folder\n")
            built[f.name] = BuiltFork(name=f.name, path=path, ref=f.ref, commits=[], labels=labels)
            continue
        if f.kind == "empty":
            _git(None, "init", "--bare", "--quiet", str(path))
            built[f.name] = BuiltFork(name=f.name, path=path, ref=f.ref, commits=[], labels=labels)
            continue
        if f.kind == "unrelated":
            _git(None, "init", "--bare", "--quiet", f"--initial-branch={f.default_branch}", str(path))
            s = _Stream(as_of)
            days = [c.days_ago if c.days_ago is not None else (len(f.commits) - j) for j, c in enumerate(f.commits)]
            for j, c in enumerate(f.commits):
                s.commit(f"refs/heads/{f.default_branch}", j + 1, c, days[j], [f":{j}"] if j else [])
            m = s.run(path)
            built[f.name] = BuiltFork(
                name=f.name,
                path=path,
                ref=f.ref,
                commits=[m[j + 1] for j in range(len(f.commits))],
                labels=labels,
            )
            fork_days[f.name] = days
            continue
        parent = built[f.base.split(":")[1]].path if isinstance(f.base, str) and f.base.startswith("fork:") else up_path
        _git(None, "clone", "--bare", "--quiet", str(parent), str(path))
        base_sha, base_days, base_state = point(f.base)
        branch_ref = f"refs/heads/{f.default_branch}"
        _git(path, "update-ref", "refs/heads/main", base_sha)
        s = _Stream(as_of)
        own: dict[str, bytes | None] = {}
        main = _Line(s, branch_ref, base_sha, base_days, base_state, own)
        for c in f.commits:
            main.add(c, point)
        fork_states[f.name] = main.states
        days = main.days
        main_marks = list(main.marks)
        branch_marks: dict[str, list[int]] = {}
        for bname, b in f.branches.items():
            if b.base == "default":
                start_at = (main.prev, main.last_days, main.state, dict(own))
            else:
                start_at = (*point(b.base), {})
            line = _Line(s, f"refs/heads/{bname}", *start_at)
            for c in b.commits:
                line.add(c, point)
            branch_marks[bname] = line.marks
        m = s.run(path)
        if f.default_branch != "main":
            _git(path, "symbolic-ref", "HEAD", branch_ref)
        built[f.name] = BuiltFork(
            name=f.name,
            path=path,
            ref=f.ref,
            commits=[m[k] for k in main_marks],
            branches={b: [m[k] for k in ks] for b, ks in branch_marks.items()},
            labels=labels,
        )
        fork_days[f.name] = days
    return BuiltNetwork(
        name=spec.name,
        root=root,
        upstream_name=spec.upstream.name,
        upstream_path=up_path,
        upstream_commits=up_commits,
        forks=[built[f.name] for f in spec.forks],
        as_of=as_of,
    )
