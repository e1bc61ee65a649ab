"""Can I have this fork's work on today's upstream? (issue 26) Merge facts and the port plan, from real repositories,
checked against what git itself does in a work tree."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from forkwise.evals.builder import BuiltNetwork
from forkwise.index.merge import parse_merge_tree, port_ref
from forkwise.index.models import ForkFacts
from forkwise.index.network import NetworkFacts
from forkwise.service.settings import Settings
from forkwise.service.verdicts.models import Report
from tests.conftest import analyse, build, git

FIVE = "alpha = 1\nalpha = 2\nalpha = 3\nalpha = 4\nalpha = 5\n"


def a_py(line: int, value: int) -> str:
    """``a.py`` with one line changed."""
    return FIVE.replace(f"alpha = {line}", f"alpha = {value}")


MERGE_SPEC = {
    "name": "merges",
    "upstream": {
        "name": "team/lib",
        "commits": [
            {"message": "Initial import", "days_ago": 100, "files": {
                "a.py": FIVE, "b.py": "b1\nb2\n", "c.py": "c1\nc2\nc3\n", "README.md": "# lib\n\nA library.\n"}},
            {"message": "Upstream tweaks a.py", "days_ago": 50, "files": {"a.py": a_py(1, 10)}},
            {"message": "Upstream drops b.py", "days_ago": 45, "delete": ["b.py"]},
            {"message": "Upstream renames c.py", "days_ago": 40, "rename": {"c.py": "c2.py"}},
            {"message": "Upstream adds e.py", "days_ago": 35, "files": {"e.py": "upstream e\n"}},
        ],
    },
    "forks": [
        {"name": "clean/lib", "base": "up:0", "commits": [
            {"message": "Tweak the last line of a.py", "days_ago": 30, "files": {"a.py": a_py(5, 50)}},
            {"message": "Add f.py", "days_ago": 29, "files": {"f.py": "f\n"}},
        ]},
        {"name": "content/lib", "base": "up:0", "commits": [
            {"message": "Rewrite the first line of a.py", "days_ago": 30, "files": {"a.py": a_py(1, 11)}},
        ]},
        {"name": "moddel/lib", "base": "up:0", "commits": [
            {"message": "Edit b.py", "days_ago": 30, "files": {"b.py": "b1\nB2\n"}},
        ]},
        {"name": "renamedel/lib", "base": "up:0", "commits": [
            {"message": "Remove c.py", "days_ago": 30, "delete": ["c.py"]},
        ]},
        {"name": "addadd/lib", "base": "up:0", "commits": [
            {"message": "Add e.py", "days_ago": 30, "files": {"e.py": "fork e\n"}},
        ]},
        {"name": "third/lib", "base": "up:0", "commits": [
            {"message": "Add g.py", "days_ago": 30, "files": {"g.py": "g\n"}},
            {"message": "Add h.py", "days_ago": 29, "files": {"h.py": "h\n"}},
            {"message": "Edit the first line of a.py", "days_ago": 28, "files": {"a.py": a_py(1, 12)}},
            {"message": "Add i.py", "days_ago": 27, "files": {"i.py": "i\n"}},
        ]},
        {"name": "merged/lib", "base": "up:0", "commits": [
            {"message": "Upstream tweaks a.py", "days_ago": 49, "files": {"a.py": a_py(1, 10)}},
        ]},
        {"name": "behind/lib", "base": "up:2"},
        {"name": "deeper/lib", "base": "fork:clean/lib:1", "commits": [
            {"message": "Add j.py", "days_ago": 20, "files": {"j.py": "j\n"}},
        ]},
    ],
}  # fmt: skip


@pytest.fixture(scope="module")
def merges(tmp_path_factory: pytest.TempPathFactory) -> tuple[BuiltNetwork, NetworkFacts, Settings]:
    root = tmp_path_factory.mktemp("merges")
    net = build(MERGE_SPEC, root / "net")
    settings = Settings(home=root / "home", workers=2)
    return net, analyse(net, settings), settings


def facts(nf: NetworkFacts, name: str) -> ForkFacts:
    (o,) = [o for o in nf.forks if o.name == name]
    assert o.facts is not None, o.error
    return o.facts


@pytest.mark.parametrize(
    ("fork", "clean", "kinds", "port"),
    [
        ("clean/lib", True, {}, (2, 2, None)),
        ("content/lib", False, {"a.py": "content"}, (0, 1, ("Rewrite the first line of a.py", ["a.py"]))),
        ("moddel/lib", False, {"b.py": "modify/delete"}, (0, 1, ("Edit b.py", ["b.py"]))),
        ("renamedel/lib", False, {"c2.py": "rename/delete"}, (0, 1, ("Remove c.py", ["c2.py"]))),
        ("addadd/lib", False, {"e.py": "add/add"}, (0, 1, ("Add e.py", ["e.py"]))),
        ("third/lib", False, {"a.py": "content"}, (2, 4, ("Edit the first line of a.py", ["a.py"]))),
        ("deeper/lib", True, {}, (3, 3, None)),
    ],
)
def test_merge_facts_and_port_plan(merges, fork: str, clean: bool, kinds: dict, port: tuple) -> None:
    _net, nf, _settings = merges
    f = facts(nf, fork)
    assert f.merge is not None and f.merge_note is None
    m = f.merge
    assert m.onto == nf.upstream.head
    assert (m.clean, m.conflicts, m.conflict_kinds) == (clean, sorted(kinds), kinds)
    applied, total, first = port
    assert m.port is not None and (m.port.applied, m.port.total) == (applied, total)
    if first is None:
        assert m.port.first_conflict is None
    else:
        subject, paths = first
        fc = m.port.first_conflict
        assert fc is not None and (fc.subject, fc.paths) == (subject, paths)
        assert fc.sha == next(c.sha for c in f.own_commits if c.subject == subject)
    assert m.port.ref == (port_ref(fork) if applied else None)


def test_nothing_to_merge_for_copies_and_older_states(merges) -> None:
    _net, nf, _settings = merges
    merged = facts(nf, "merged/lib")  # its only commit is upstream's patch
    assert merged.ahead == 1 and merged.unique_commits == 0 and merged.merge is None
    behind = facts(nf, "behind/lib")  # an older upstream state: nothing of its own
    assert behind.ahead == 0 and behind.merge is None


def materialize(settings: Settings, f: ForkFacts, name: str) -> str | None:
    """What `forkwise port` does before it pushes: replay and record the commits, keep the last at the port ref."""
    from forkwise.index.gitio import run
    from forkwise.index.merge import Replay, port_plan

    mirror = next(settings.mirrors_dir.glob("*.git"))
    skip = {c.sha for c in f.own_commits if c.upstream_equivalent}
    assert f.merge is not None
    replay = Replay(git=lambda *a, **kw: run(mirror, *a, **kw), mirror=mirror, onto=f.merge.onto, head=f.head,
                    skip=frozenset(skip), ref=port_ref(name))  # fmt: skip
    plan, head = port_plan(replay, materialize=True)
    assert f.merge.port is not None and plan.applied == f.merge.port.applied  # the same plan, every commit replayed
    return head


def test_the_port_ref_holds_the_replayed_commits_on_upstream(merges) -> None:
    """The branch under refs/forkwise/port/… is upstream's head plus the commits that applied, with their authors
    and messages, and its tree is what a cherry-pick in a work tree gives."""
    _net, nf, settings = merges
    mirror = next(settings.mirrors_dir.glob("*.git"))
    third = facts(nf, "third/lib")
    assert third.merge and third.merge.port
    ref = third.merge.port.ref
    assert ref == "refs/forkwise/port/third/lib"
    head = materialize(settings, third, "third/lib")
    assert head == materialize(settings, third, "third/lib")  # the same inputs, the same commits
    assert git(mirror, "rev-parse", ref).strip() == head
    log = git(mirror, "log", "--format=%s|%an", f"{nf.upstream.head}..{ref}").splitlines()
    assert log == ["Add h.py|Dev Eloper", "Add g.py|Dev Eloper"]
    assert git(mirror, "rev-parse", f"{ref}~2").strip() == nf.upstream.head
    files = set(git(mirror, "ls-tree", "-r", "--name-only", ref).split())
    assert {"g.py", "h.py", "c2.py", "e.py"} <= files and "i.py" not in files and "b.py" not in files


def test_the_port_plan_agrees_with_git_cherry_pick_in_a_work_tree(merges, tmp_path: Path) -> None:
    net, nf, settings = merges
    mirror = next(settings.mirrors_dir.glob("*.git"))
    work = tmp_path / "work"
    subprocess.run(["git", "clone", "--quiet", str(net.upstream_path), str(work)], check=True)
    third = next(f for f in net.forks if f.name == "third/lib")
    git(work, "fetch", "--quiet", str(third.path), "main:third")
    own = git(work, "rev-list", "--reverse", "main..third").split()
    applied = 0
    for sha in own:
        r = subprocess.run(["git", "-C", str(work), "-c", "user.name=t", "-c", "user.email=t@t", "cherry-pick", sha],
                           capture_output=True, text=True)  # fmt: skip
        if r.returncode:
            conflicted = git(work, "diff", "--name-only", "--diff-filter=U").split()
            break
        applied += 1
    f = facts(nf, "third/lib")
    assert f.merge and f.merge.port and f.merge.port.first_conflict
    materialize(settings, f, "third/lib")
    assert (applied, own[applied]) == (f.merge.port.applied, f.merge.port.first_conflict.sha)
    assert conflicted == f.merge.port.first_conflict.paths
    # the replayed trees equal the cherry-picked ones
    git(work, "cherry-pick", "--abort")
    assert (
        git(work, "rev-parse", "HEAD^{tree}").strip()
        == git(mirror, "rev-parse", "refs/forkwise/port/third/lib^{tree}").strip()
    )
    # and the whole-head merge agrees with `git merge` in a work tree
    r = subprocess.run(["git", "-C", str(work), "-c", "user.name=t", "-c", "user.email=t@t", "merge", "--no-edit",
                        "third"], capture_output=True, text=True)  # fmt: skip
    assert r.returncode != 0
    assert git(work, "diff", "--name-only", "--diff-filter=U").split() == f.merge.conflicts


def test_unrelated_histories_say_why_there_is_no_merge(tmp_path: Path) -> None:
    spec = {
        "name": "unrel",
        "upstream": {"name": "team/lib", "commits": MERGE_SPEC["upstream"]["commits"][:2]},  # type: ignore[index]
        "forks": [{"name": "other/thing", "kind": "unrelated",
                   "commits": [{"message": "Start", "files": {"x.py": "x\n"}}]}],
    }  # fmt: skip
    net = build(spec, tmp_path / "net")
    nf = analyse(net, Settings(home=tmp_path / "home", workers=2))
    f = facts(nf, "other/thing")
    assert f.merge is None and f.merge_note is not None and "no merge base" in f.merge_note


def test_merge_tree_output_is_parsed_with_every_kind() -> None:
    out = "\x00".join(
        ["tree", "a.py", "c2.py", "", "1", "a.py", "Auto-merging", "Auto-merging a.py\n",
         "1", "a.py", "CONFLICT (contents)", "CONFLICT (content): Merge conflict in a.py\n",
         "2", "c.py", "c2.py", "CONFLICT (rename/delete)", "CONFLICT (rename/delete): c.py renamed …\n",
         ""]
    )  # fmt: skip
    tree, paths, kinds = parse_merge_tree(out, 1)
    assert tree is None and paths == ["a.py", "c2.py"] and kinds == {"a.py": "content", "c2.py": "rename/delete"}
    assert parse_merge_tree("abc\x00\x00", 0) == ("abc", [], {})
    assert port_ref("o/x.lock") == "refs/forkwise/port/o/x" and port_ref("a/b><c") == "refs/forkwise/port/a/b__c"


def test_forkwise_port_pushes_the_replayed_commits(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from forkwise.service.runs.engine import RunRequest, run
    from forkwise.service.surfaces.cli import app as cli

    net = build(MERGE_SPEC, tmp_path / "net")
    settings = Settings(home=tmp_path / "home", workers=2)
    up, forks = net.inputs()
    report, _ = run(RunRequest(upstream=up, forks=forks, as_of=net.as_of, index=False), settings)
    plan = report.fork("third/lib").facts.merge.port  # type: ignore[union-attr]
    assert plan is not None and plan.ref is not None
    target = tmp_path / "mine.git"
    subprocess.run(["git", "init", "--quiet", "--bare", str(target)], check=True)
    env = {"FORKWISE_HOME": str(settings.home)}
    res = CliRunner().invoke(cli, ["port", "team/lib", "third/lib", "--to", str(target), "--branch", "third"], env=env)
    assert res.exit_code == 0, res.output
    assert "2 of third/lib's 4 own commits" in res.stdout and "conflicts in a.py" in res.stdout
    pushed = git(target, "rev-parse", "refs/heads/third").strip()
    mirror = next(settings.mirrors_dir.glob("*.git"))
    assert git(mirror, "rev-parse", plan.ref).strip() == pushed
    assert git(target, "log", "--format=%s", "-2", "third").split("\n")[:2] == ["Add h.py", "Add g.py"]
    # the mirror lost the ref (evicted, or another worker computed it): replayed again, to the same commits
    git(mirror, "update-ref", "-d", plan.ref)
    res = CliRunner().invoke(cli, ["port", "team/lib", "third", "--to", str(target)], env=env)
    assert res.exit_code == 0, res.output
    assert git(target, "rev-parse", "refs/heads/forkwise/port/third/lib").strip() == pushed
    # nothing to push: a copy, or a fork whose first commit conflicts
    for fork, says in (("merged/lib", "nothing of its own to merge"), ("content/lib", "conflicts in a.py")):
        res = CliRunner().invoke(cli, ["port", "team/lib", fork, "--to", str(target)], env=env)
        assert res.exit_code == 2 and says in res.output, res.output


FIX = {"a.py": a_py(3, 33)}  # the same one-line fix, made by several forks on their own
CONF = {"conf/settings.toml": "[run]\nmode = 'fast'\nthreads = 4\n"}  # the same file, reached two ways
SHARED_SPEC = {
    "name": "shared",
    "upstream": MERGE_SPEC["upstream"],
    "forks": [
        {"name": "ann/lib", "base": "up:0", "commits": [
            {"message": "Fix the third value", "days_ago": 30, "author": "Ann <ann@example.com>", "files": FIX},
            {"message": "Add notes", "days_ago": 29, "files": {"notes.md": "# notes for ann\n"}},
        ]},
        {"name": "bob/lib", "base": "up:1", "commits": [
            {"message": "fix value 3 (#12)", "days_ago": 20, "author": "Bob <bob@example.com>",
             "files": {"a.py": a_py(1, 10).replace("alpha = 3", "alpha = 33")}},
        ]},
        {"name": "cat/lib", "base": "fork:ann/lib:0", "commits": [
            {"message": "Cat's own work", "days_ago": 10, "files": {"cat.py": "print('cat')\n"}},
        ]},
        {"name": "dan/lib", "base": "up:0", "commits": [
            {"message": "Start the config", "days_ago": 25, "files": {"conf/settings.toml": "[run]\nmode = 'x'\n"}},
            {"message": "Finish the config", "days_ago": 24, "files": CONF},
        ]},
        {"name": "eve/lib", "base": "up:0", "commits": [
            {"message": "Add the config", "days_ago": 22, "files": CONF},
        ]},
    ],
}  # fmt: skip


def test_changes_several_forks_carry_independently(tmp_path: Path) -> None:
    from forkwise.service.verdicts.report import build_report

    net = build(SHARED_SPEC, tmp_path / "net")
    report = build_report(analyse(net, Settings(home=tmp_path / "home", workers=2)))
    by_kind = {s.kind: s for s in report.shared}
    assert set(by_kind) == {"patch", "content"}, report.shared
    fix = by_kind["patch"]
    # ann and cat hold the same commit (cat forked ann): one line of work; bob made the same fix on his own
    assert (fix.files, fix.forks, fix.lines) == (["a.py"], ["ann/lib", "bob/lib", "cat/lib"], 2)
    assert fix.commits["ann/lib"] == fix.commits["cat/lib"] != fix.commits["bob/lib"]
    assert fix.merges_cleanly is True  # line 3 merges with upstream's change of line 1
    conf = by_kind["content"]
    assert (conf.files, conf.forks, conf.lines, conf.merges_cleanly) == (
        ["conf/settings.toml"],
        ["dan/lib", "eve/lib"],
        2,
        True,
    )
    # no other change is shared: ann's notes, cat's own file and upstream's own edits are not
    assert len(report.shared) == 2


@pytest.mark.parametrize("spec", [MERGE_SPEC, SHARED_SPEC], ids=["merges", "shared"])
def test_the_shortcuts_give_what_git_gives(spec: dict, tmp_path: Path) -> None:
    """Every fork's merge and port plan with the shortcuts (disjoint paths skip git) equal the full computation."""
    from forkwise.index.gitio import run
    from forkwise.index.merge import Replay, merge, port_plan

    net = build(spec, tmp_path / "net")
    settings = Settings(home=tmp_path / "home", workers=2)
    nf = analyse(net, settings)
    mirror = next(settings.mirrors_dir.glob("*.git"))

    def g(*a: str, **kw: object) -> str:
        return run(mirror, *a, **kw)  # type: ignore[arg-type]

    checked = 0
    for o in nf.forks:
        if o.facts is None or o.facts.merge is None:
            continue
        f, m = o.facts, o.facts.merge
        tree, conflicts, kinds = merge(g, m.onto, f.head)
        assert (tree is not None, conflicts, kinds) == (m.clean, m.conflicts, m.conflict_kinds), o.name
        skip = {c.sha for c in f.own_commits if c.upstream_equivalent}
        replay = Replay(git=g, mirror=mirror, onto=m.onto, head=f.head, skip=frozenset(skip), ref=port_ref(o.name))
        full, _ = port_plan(replay)  # no shortcut: every commit replayed
        assert full == m.port, o.name
        checked += 1
    assert checked >= 5


def test_the_page_chat_and_slack_carry_merge_facts_and_shared_changes(tmp_path: Path) -> None:
    from forkwise.service.runs.engine import RunRequest, run
    from forkwise.service.surfaces.slack import fork_blocks, summary_blocks
    from tests.conftest import Server

    settings = Settings(home=tmp_path / "home", workers=2)
    for spec in (MERGE_SPEC, {**SHARED_SPEC, "upstream": {**MERGE_SPEC["upstream"], "name": "team/shared"}}):  # type: ignore[dict-item]
        net = build(spec, tmp_path / spec["upstream"]["name"].replace("/", "_"))  # type: ignore[index]
        up, forks = net.inputs()
        run(RunRequest(upstream=up, forks=forks, as_of=net.as_of, index=False), settings)
    with Server(settings) as api:
        panel = api.get("/team/lib/forks/third/lib").text
        assert "On today's upstream" in panel and '<code>a.py</code> <span class="muted">(content)</span>' in panel
        assert "2 of its 4 own commits apply onto upstream in order" in panel
        moddel = api.get("/team/lib/panel/moddel/lib").text
        assert '<code>b.py</code> <span class="muted">(modify/delete)</span>' in moddel
        ask = {"upstream": "team/lib", "question": "which forks merge cleanly onto upstream?"}
        ans = api.post("/v1/chat", json=ask).json()
        assert ans["mode"] == "facts" and [c["fork"] for c in ans["citations"]][:2] == ["clean/lib", "deeper/lib"]
        assert "content/lib: conflicts in 1 file (a.py)" in ans["answer"]
        shared = api.post(
            "/v1/chat", json={"upstream": "team/shared", "question": "which fixes do several forks share?"}
        )
        assert "3 forks carry the same change to a.py: ann/lib, bob/lib and cat/lib" in shared.json()["answer"]
        page = api.get("/team/shared").text
        assert (
            "1 change several forks carry" not in page and "2 changes several forks carry, which upstream lacks" in page
        )
        report = Report.model_validate(api.get("/v1/repos/team/shared/report").json())
        detail = api.get("/v1/repos/team/lib/forks/third/lib").json()["fork"]["facts"]["merge"]
    assert detail["conflicts"] == ["a.py"] and detail["port"]["first_conflict"]["paths"] == ["a.py"]
    text = json.dumps(summary_blocks(report, None))
    assert "Changes several forks carry, which upstream lacks" in text and "conf/settings.toml" in text
    from forkwise.service.runs.usecases import verdict

    lib, third = verdict(settings, "team/lib", "third/lib")
    assert "the 3rd" in json.dumps(fork_blocks(lib, third, None))
