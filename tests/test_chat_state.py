"""Questions about the forks' state are answered from git's facts, not by text similarity (issue 12, point 3)."""

from __future__ import annotations

from forkwise.service.verdicts.chat import ChatRequest, ChatService, state_answer


def test_which_fork_is_still_maintained_is_answered_from_commit_dates(shared_demo) -> None:
    _net, report, settings, _ = shared_demo
    ans = ChatService(settings).answer(
        report, ChatRequest(upstream="acme/trainer", question="Which fork is still maintained?")
    )
    assert ans.mode == "facts" and ans.note == "answered from the facts (git)"
    adding = [f for f in report.forks if f.facts and f.verdict and f.verdict.recommendation != "upstream"]
    newest = max(adding, key=lambda f: f.facts.last_commit_date)  # type: ignore[union-attr]
    assert ans.citations[0].fork == newest.name and ans.citations[0].evidence == "fact:last_commit_date"
    dates = [report.fork(c.fork).facts.last_commit_date for c in ans.citations]  # type: ignore[union-attr]
    assert dates == sorted(dates, reverse=True)


def test_which_forks_are_only_copies_lists_exactly_the_mirrors_and_snapshots(shared_demo) -> None:
    _net, report, _settings, _ = shared_demo
    ans = state_answer("Which forks are only copies?", report)
    assert ans is not None
    want = {f.name for f in report.forks if f.verdict and f.archetype in ("mirror", "stale-snapshot")}
    assert {c.fork for c in ans.citations} == want and len(want) >= 2


def test_closest_and_default_questions_use_the_picks_and_content_questions_do_not(shared_demo) -> None:
    _net, report, _settings, _ = shared_demo
    closest = state_answer("which fork is closest to upstream?", report)
    assert closest and [c.fork for c in closest.citations] == [report.picks["closest_to_upstream"].fork]
    default = state_answer("Is any fork a better default?", report)
    rec = [f.name for f in report.forks if f.verdict and f.verdict.recommendation == "fork"]
    assert default and [c.fork for c in default.citations] == rec
    for q in ("which fork adds Gaudi support?", "who adds active learning?", "which fork updated the tokenizer?"):
        assert state_answer(q, report) is None


def test_forks_that_carry_the_project_on_are_the_maintained_ones_copies_never(tmp_path) -> None:
    """A translation fork committed last, but "still maintained" asks for the fork carrying the project on."""
    from forkwise.evals.builder import build_network
    from forkwise.evals.scorer import CASES_DIR, load_case
    from forkwise.service.runs.engine import RunRequest
    from forkwise.service.runs.engine import report as engine_report
    from forkwise.service.settings import Settings

    spec = load_case(CASES_DIR / "continuation-and-copies.yaml")
    net = build_network(spec, tmp_path / "net")  # type: ignore[arg-type]
    up, forks = net.inputs()
    report = engine_report(
        RunRequest(upstream=up, forks=forks, as_of=net.as_of, use_cache=False), Settings(home=tmp_path / "home")
    )
    ans = state_answer("which fork is still maintained?", report)
    assert ans is not None
    keeper, narrow = report.fork("keeper/engine"), report.fork("narrow/engine")
    assert narrow.facts.last_commit_date > keeper.facts.last_commit_date  # type: ignore[union-attr]
    assert [c.fork for c in ans.citations][:2] == ["keeper/engine", "narrow/engine"]
    assert ans.citations[0].snippet.endswith("carries the project on")
    assert "copy/engine" not in {c.fork for c in ans.citations}
