"""What a fork is for: terms by the log-odds ratio with an informative prior against upstream (no stop list)."""

from __future__ import annotations

from forkwise.index.terms import Vocabulary, distinctive, is_bot_commit, subject_text

UPSTREAM = Vocabulary.build(
    [f"src/engine/unit_{i}.py" for i in range(40)]
    + [f"Fix unit test {i} in the engine" for i in range(60)]
    + ["Add a scheduler", "Faster engine loop", "Engine: document the scheduler"]
)


def test_a_token_common_upstream_scores_low_however_often_the_fork_uses_it() -> None:
    docs = [(f"commit:{i}", f"Fix unit test for Gaudi HPU kernels {i}") for i in range(6)]
    docs += [
        ("file:src/engine/hpu/ops.py", "src/engine/hpu/ops.py"),
        ("file:src/engine/hpu/rt.py", "src/engine/hpu/rt.py"),
    ]
    terms = [t.term for t in distinctive(docs, UPSTREAM)]
    assert terms[:1] == ["hpu"] and {"gaudi", "kernels"} <= set(terms)
    assert not {"unit", "engine", "fix", "test"} & set(terms)


def test_names_prefixes_and_bots_never_make_a_term() -> None:
    assert subject_text("chore(deps): pin the metal toolchain") == "pin the metal toolchain"
    assert subject_text("feat!: metal backend") == "metal backend"
    assert is_bot_commit("Bump numpy from 1.26.0 to 2.0.1") and is_bot_commit("Pin deps", "dependabot[bot]")
    assert not is_bot_commit("Bump the metal backend's buffer size for M3 chips")
    docs = [(f"commit:{i}", "Make mysqlclient build on MSYS2") for i in range(3)]
    terms = [t.term for t in distinctive(docs, UPSTREAM, exclude=["PyMySQL/mysqlclient", "farcepest"])]
    assert "msys2" in terms and "mysqlclient" not in terms


def test_one_off_tokens_are_shrunk_by_their_variance() -> None:
    docs = [(f"commit:{i}", "Add ROCm backend for AMD GPUs") for i in range(5)] + [("commit:x", "Rename zeppelin")]
    scores = {t.term: t.score for t in distinctive(docs, UPSTREAM, limit=20)}
    assert scores["rocm"] > scores.get("zeppelin", 0.0)
