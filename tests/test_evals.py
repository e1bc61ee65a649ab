"""The eval scorer: label matching, metrics, thresholds, and cases over existing repositories."""

from __future__ import annotations

import json
import shutil
import tomllib
from pathlib import Path

import yaml
from typer.testing import CliRunner

from forkwise.evals.scorer import (
    CASES_DIR,
    EVALS_DIR,
    LLM_BOUNDS,
    THRESHOLDS,
    EvalSetupError,
    ForkResult,
    QuestionResult,
    case_paths,
    load_case,
    matches,
    metrics,
    normalise,
    run_eval,
)
from forkwise.service.surfaces.cli import app
from forkwise.service.verdicts.classify import ARCHETYPES
from tests.conftest import AS_OF, build


def test_matching_is_explicit() -> None:
    text = normalise("bob/trainer is an older copy: 0 commits\n ahead and 9 behind")
    assert matches("0 commits ahead", text) and matches("Older Copy", text)
    assert matches(r"/\d+ behind/", text) and not matches("/custom(ised|ized)?/", text)
    assert not matches("adds support", text)


def test_case_files_are_valid_and_numerous() -> None:
    paths = sorted(CASES_DIR.glob("*.yaml"))
    assert len(paths) >= 30
    labeled = [f for p in paths for f in load_case(p).forks]
    archetypes = {f.labels.archetype for f in labeled if f.labels.archetype}
    assert archetypes == set(ARCHETYPES)  # every archetype the classifier can give has a labelled case


def test_no_eval_gate_bounds_wall_time() -> None:
    """The eval gates on what the verdicts say; seconds are a benchmark's (a slow machine failed CI at 15.06 s per
    verdict against a 15 s bound, with every verdict right). The speed bound stays, where bench_llm reads it."""
    gates = [THRESHOLDS, LLM_BOUNDS, *EVALS_DIR.glob("*/thresholds.toml")]
    assert len(gates) >= 3
    for path in gates:
        keys = tomllib.loads(path.read_text())["thresholds"]
        assert not [k for k in keys if "second" in k], path
    assert tomllib.loads(LLM_BOUNDS.read_text())["speed"] == {"seconds_per_verdict_max": 15}


def test_metrics_and_confusion() -> None:
    from forkwise.evals.builder import Labels

    def r(gold: str, pred: str, rec_ok: bool) -> ForkResult:
        return ForkResult(
            case="c",
            fork=f"{gold}-{pred}",
            labels=Labels(archetype=gold),
            recommendation=None,
            archetype=pred,
            error=None,
            text="",
            seconds=0.1,
            checks={
                "recommendation": rec_ok,
                "archetype": gold == pred,
                "must_mention": {"a": True},
                "must_not_claim": {"b": False},
                "citations_valid": True,
                "numbers_consistent": True,
            },
        )

    m = metrics([r("mirror", "mirror", True), r("pruned", "diverged", False), r("diverged", "diverged", True)])
    assert (m.archetype_accuracy, m.recommendation_accuracy) == (round(2 / 3, 4), round(2 / 3, 4))
    assert m.confusion == {"diverged": {"diverged": 1}, "mirror": {"mirror": 1}, "pruned": {"diverged": 1}}
    # F1: mirror 1.0, diverged 2/3, pruned 0 → mean 5/9
    assert m.archetype_macro_f1 == round(5 / 9, 4)


def test_wrong_label_fails_the_gate(tmp_path: Path) -> None:
    cases = tmp_path / "cases"
    cases.mkdir()
    data = yaml.safe_load((CASES_DIR / "behind-only.yaml").read_text())
    data["forks"][0]["labels"]["recommendation"] = "fork"
    data["forks"][0]["labels"]["must_not_claim"].append("older copy")
    (cases / "wrong.yaml").write_text(yaml.safe_dump(data))
    shutil.copy(CASES_DIR / "mirror.yaml", cases / "mirror.yaml")
    result = run_eval(case_paths(cases))
    assert result.metrics.recommendation_accuracy == 0.5 and result.metrics.must_not_claim_violations == 1
    assert "recommendation_accuracy = 0.5 < 1.0" in result.failures
    res = CliRunner().invoke(app, ["eval", "--cases", str(cases), "--json", str(tmp_path / "out.json")])
    assert res.exit_code == 1 and "below thresholds" in res.stderr
    out = json.loads((tmp_path / "out.json").read_text())
    assert {c["fork"] for c in out["cases"]} == {"late/engine", "copy/engine"} and "metrics" in out


def test_case_over_existing_repositories(tmp_path: Path) -> None:
    from forkwise.evals.presets import expand

    spec = expand(yaml.safe_load((CASES_DIR / "port-rocm.yaml").read_text()))
    built = build(spec, tmp_path / "net2", as_of=AS_OF)
    cases = tmp_path / "cases"
    cases.mkdir()
    (cases / "existing.yaml").write_text(
        yaml.safe_dump(
            {
                "name": "existing",
                "upstream": {"name": "acme/engine", "url": str(built.upstream_path), "ref": "main"},
                "forks": [
                    {
                        "name": "amd/engine",
                        "url": str(built.forks[0].path),
                        "labels": {
                            "archetype": "niche-variant",
                            "recommendation": "fork-for-niche",
                            "must_mention": ["AMD ROCm"],
                        },
                    }
                ],
            }
        )
    )
    no_chat = tmp_path / "thresholds.toml"  # this case labels no chat questions
    no_chat.write_text("\n".join(ln for ln in THRESHOLDS.read_text().splitlines() if not ln.startswith("chat_")))
    result = run_eval(case_paths(cases), thresholds_path=no_chat)
    assert result.passed, result.failures
    (c,) = result.cases
    assert (c.fork, c.archetype, c.checks["must_mention"]) == ("amd/engine", "niche-variant", {"AMD ROCm": True})


def test_eval_refuses_to_pass_on_nothing(tmp_path: Path) -> None:
    """No cases, or no thresholds: the gate fails (exit 2) instead of scoring zero forks as a pass."""
    empty = tmp_path / "empty"
    empty.mkdir()
    res = CliRunner().invoke(app, ["eval", "--cases", str(empty)])
    assert res.exit_code == 2 and "no eval cases" in res.stderr
    cases = tmp_path / "cases"
    cases.mkdir()
    shutil.copy(CASES_DIR / "mirror.yaml", cases / "mirror.yaml")
    res = CliRunner().invoke(app, ["eval", "--cases", str(cases), "--thresholds", str(tmp_path / "none.toml")])
    assert res.exit_code == 2 and "no thresholds file" in res.stderr
    (tmp_path / "empty.toml").write_text("[thresholds]\n")
    try:
        run_eval(case_paths(cases), thresholds_path=tmp_path / "empty.toml")
    except EvalSetupError as exc:
        assert "sets no thresholds" in str(exc)
    else:
        raise AssertionError("an empty thresholds table passed the gate")


def test_default_cases_include_the_demo_network() -> None:
    paths = case_paths()
    assert paths[-1].name == "demo.yaml" and len(paths) == len(list(CASES_DIR.glob("*.yaml"))) + 1


def test_chat_questions_are_scored_by_the_first_cited_fork() -> None:
    def q(rank: int | None) -> QuestionResult:
        return QuestionResult(case="c", question="q?", expected="a/x", forks=[], mode="retrieval", rank=rank)

    m = metrics([], [q(1), q(2), q(None), q(1)])
    assert (m.chat_questions, m.chat_hit_at_1, m.chat_mrr) == (4, 0.5, round((1 + 0.5 + 0 + 1) / 4, 4))
    assert metrics([], []).chat_questions == 0


def test_labelled_questions_are_asked_of_the_real_index(tmp_path: Path) -> None:
    """Each question is answered through the real chroma index and local embeddings; a wrong label is a miss, and a
    folder's own thresholds.toml is the gate for that folder."""
    from forkwise.evals.presets import expand

    rocm = yaml.safe_load((CASES_DIR / "port-rocm.yaml").read_text())
    npu = yaml.safe_load((CASES_DIR / "port-npu.yaml").read_text())
    spec = expand({**rocm, "name": "two-ports", "forks": rocm["forks"] + npu["forks"]})
    spec["questions"] = [
        {"q": "which fork adds Ascend NPU support?", "fork": "ascend/engine"},
        {"q": "which fork runs on AMD ROCm?", "fork": "amd/engine"},
        {"q": "which fork adds the ROCm backend?", "fork": "ascend/engine"},  # labelled wrong on purpose
    ]
    cases = tmp_path / "cases"
    cases.mkdir()
    (cases / "two.yaml").write_text(yaml.safe_dump(spec))
    (cases / "thresholds.toml").write_text("[thresholds]\nchat_questions = 3\nchat_hit_at_1 = 0.9\n")
    res = CliRunner().invoke(app, ["eval", "--cases", str(cases), "--json", str(tmp_path / "out.json")])
    assert res.exit_code == 1 and "chat_hit_at_1 = 0.6667 < 0.9" in res.stderr
    out = json.loads((tmp_path / "out.json").read_text())
    ranks = [(q["expected"], q["forks"][0], q["rank"]) for q in out["questions"]]
    assert ranks[:2] == [("ascend/engine", "ascend/engine", 1), ("amd/engine", "amd/engine", 1)]
    assert ranks[2][1] == "amd/engine" and ranks[2][2] != 1
    assert out["metrics"]["chat_questions"] == 3 and out["metrics"]["chat_hit_at_1"] == 0.6667


def test_chat_with_a_model_is_measured_against_retrieval_alone_on_the_same_questions() -> None:
    from forkwise.evals.scorer import QuestionResult, metrics

    def q(mode: str, rank: int | None, base: int | None, asked: bool = True) -> QuestionResult:
        return QuestionResult(case="c", question="?", expected="a/x", forks=["a/x"], mode=mode, rank=rank,
                              retrieval_rank=base, model_asked=asked)  # fmt: skip

    qs = [q("llm", 1, 2), q("llm", 1, 1), q("retrieval", 2, 2), q("llm", 1, 1), q("facts", 1, None, asked=False)]
    m = metrics([], qs)
    assert (m.chat_questions, m.chat_model_questions, m.chat_model_answers) == (5, 4, 3)
    assert (m.chat_accepted, m.chat_retrieval_hit_at_1, m.chat_hit_at_1_gain) == (0.75, 0.5, 0.25)
    # no model asked: nothing to hold it to
    m = metrics([], [q("retrieval", 1, None, asked=False)])
    assert (m.chat_model_questions, m.chat_accepted, m.chat_hit_at_1_gain) == (0, 1.0, 0.0)
