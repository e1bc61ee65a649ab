"""What a fork is for: terms by the log-odds ratio with an informative prior against upstream (no stop list), mined
from commit messages, the identifiers in the lines a fork added, its paths and README; and the phrase built on them."""

from __future__ import annotations

from pathlib import Path

from forkwise.evals.builder import Gen
from forkwise.index.terms import TermDoc, TermScore, Vocabulary, distinctive, is_bot_commit, subject_text
from forkwise.service.verdicts.purpose import purpose
from forkwise.service.verdicts.writer import term_names, topics
from tests.conftest import analyse, build

UPSTREAM = Vocabulary.build(
    [f"src/engine/unit_{i}.py" for i in range(40)]
    + [f"Fix unit test {i} in the engine" for i in range(60)]
    + ["Add a scheduler", "Faster engine loop", "Engine: document the scheduler"]
)


def commit(i: object, text: str) -> TermDoc:
    return TermDoc(evidence=f"commit:{i}", text=text)


def test_a_token_common_upstream_scores_low_however_often_the_fork_uses_it() -> None:
    docs = [commit(i, f"Fix unit test for Gaudi HPU kernels {i}") for i in range(6)]
    docs += [TermDoc(evidence=f"file:{p}", text=p) for p in ("src/engine/hpu/ops.py", "src/engine/hpu/rt.py")]
    terms = [t.term for t in distinctive(docs, UPSTREAM)]
    assert terms[:1] == ["hpu"] and {"gaudi", "kernels"} <= set(terms)
    assert not {"unit", "engine", "fix", "test"} & set(terms)


def test_names_prefixes_bots_and_chores_never_make_a_term() -> None:
    assert subject_text("chore(deps): pin the metal toolchain") == "pin the metal toolchain"
    assert subject_text("feat!: metal backend") == "metal backend"
    assert is_bot_commit("Bump numpy from 1.26.0 to 2.0.1") and is_bot_commit("Pin deps", "dependabot[bot]")
    assert is_bot_commit("chore: update CI matrix") and is_bot_commit("ci(lint): add ruff")
    assert not is_bot_commit("Bump the metal backend's buffer size for M3 chips")
    assert not is_bot_commit("feat: async checkpoint writer")
    assert is_bot_commit("Update dependency eslint to v8.1.0") and is_bot_commit("Update actions/checkout action to v4")
    assert not is_bot_commit("Update tables to support colspan")  # "to" a version is a bot's; this is a person's
    docs = [commit(i, "Make mysqlclient build on MSYS2") for i in range(3)]
    terms = [t.term for t in distinctive(docs, UPSTREAM, exclude=["PyMySQL/mysqlclient", "farcepest"])]
    assert "msys2" in terms and "mysqlclient" not in terms


def test_a_word_new_in_many_files_outranks_a_one_off_and_an_upstream_word() -> None:
    docs = [commit(i, "Add ROCm backend for AMD GPUs") for i in range(5)] + [commit("x", "Rename zeppelin")]
    docs += [commit(f"s{i}", "Tune the scheduler") for i in range(5)]  # upstream says "scheduler" too
    scores = {t.term: t.score for t in distinctive(docs, UPSTREAM, limit=20)}
    assert scores["rocm"] > scores.get("zeppelin", 0.0)
    assert scores["rocm"] > scores.get("scheduler", 0.0)


def test_identifiers_in_added_lines_are_terms_language_keywords_are_not() -> None:
    code = "def hpu_stream(self, x):\n    return HpuGraph(x)\nfrom __future__ import annotations\n"
    docs = [
        TermDoc(evidence=f"file:src/engine/core_{i}.py", text=f"src/engine/core_{i}.py", code=code) for i in range(4)
    ]
    terms = {t.term: t for t in distinctive(docs, UPSTREAM, limit=20)}
    assert {"hpu", "stream", "graph"} <= set(terms)
    assert not {"self", "return", "def", "future"} & set(terms)
    assert terms["hpu"].files == 4 and terms["hpu"].added_share == 0.0 and terms["hpu"].display == "hpu"
    assert terms["hpu"].evidence == [f"file:src/engine/core_{i}.py" for i in range(3)]


def test_the_fork_spelling_is_kept_for_acronyms_and_mixed_case() -> None:
    docs = [commit(i, "Swap optimizer state to NVMe") for i in range(3)]
    docs += [TermDoc(evidence="file:src/swap.py", text="src/swap.py", code="nvme_path = 1\n")]
    terms = {t.term: t for t in distinctive(docs, UPSTREAM)}
    assert terms["nvme"].display == "NVMe"


def ts(term: str, where: list[str], files: int = 3, added: float = 1.0, score: float = 3.0, **kw) -> TermScore:
    ev = [f"file:{w}x.py" if w.endswith("/") else f"file:{w}" for w in where]
    return TermScore(term=term, score=score, count=files, evidence=ev, where=where, files=files,
                     added_share=added, **kw)  # fmt: skip


def test_terms_are_named_as_people_name_them_and_only_as_detail() -> None:
    terms = [
        ts("hpu", ["op_builder/hpu/", "runtime/hpu_utils.py"], score=4.0),
        ts("habana", ["op_builder/hpu/"], score=3.5),
        ts("markers", ["tests/ci_markers/"], score=2.9),
    ]
    assert term_names(terms) == ["Habana Gaudi (HPU)", "markers"]


def test_terms_in_one_place_are_one_topic_named_in_the_place_order() -> None:
    terms = [
        ts("attention", ["ops/sparse_attention/"]),
        ts("elastic", ["elasticity/"]),
        ts("sparse", ["ops/sparse_attention/"]),
        ts("interleaved", ["runtime/pipe/"]),
    ]
    assert [g.name for g in topics(terms)] == ["sparse attention", "elastic", "interleaved"]
    # two terms that merely share a broad folder stay two topics
    assert [g.name for g in topics([ts("callback", ["MySQLdb/"]), ts("gevent", ["MySQLdb/"])])] == [
        "callback",
        "gevent",
    ]


def test_facts_mine_added_lines_but_not_ci_config_or_chores(tmp_path: Path, settings) -> None:
    spec = {
        "name": "t",
        "upstream": {"name": "acme/engine", "commits": [{"message": "init", "days_ago": 30, "files": {
            **{f"engine/mod{i}.py": Gen(lines=30, code=[]).model_dump() for i in range(12)},
            ".github/workflows/ci.yml": "on: push\n"}}]},
        "forks": [{"name": "yk/engine", "commits": [
            {"message": "fix", "files": {"engine/mod1.py": Gen(lines=30, code=["ykdebug", "trace"]).model_dump(),
                                         "engine/mod2.py": Gen(lines=30, code=["ykdebug", "trace"]).model_dump()}},
            {"message": "bug fix", "files": {"engine/mod3.py": Gen(lines=30, code=["ykdebug"]).model_dump()}},
            {"message": "chore: matrix", "files": {".github/workflows/ci.yml": "on: push\njobs: {matrix: kubeflow}\n"}},
        ]}],
    }  # fmt: skip
    net = build(spec, tmp_path)
    facts = next(f.facts for f in analyse(net, settings).forks if f.name == "yk/engine")
    assert facts is not None
    terms = {t.term: t for t in facts.terms}
    assert "ykdebug" in terms and terms["ykdebug"].files == 3 and terms["ykdebug"].added_share == 0.0
    assert terms["ykdebug"].where == ["engine/"]
    assert not {"matrix", "kubeflow", "jobs", "fix", "engine"} & set(terms)
    # its subjects say nothing ("fix", "bug fix", a chore): no phrase, and never one made of its identifiers
    assert purpose(facts, name="yk/engine", upstream="acme/engine") is None


def test_question_words_keep_what_a_question_asks_about() -> None:
    from forkwise.index.terms import tokens, words

    q = "Which fork fixes typos in the docs?"
    assert words(q) == {"fixes", "typos", "docs"}
    assert tokens(q) == []  # the term tokenizer drops them all: no use for matching a question
    assert words("who adds FP8 support for HPU_graphs?") == {"adds", "fp8", "support", "hpu", "graphs"}


def test_ci_and_tooling_terms_never_name_what_a_fork_is_for() -> None:
    terms = [ts("action", [".github/workflows/"], score=5.0), ts("gevent", ["src/db/"], score=3.0)]
    assert term_names(terms) == ["gevent"]
