"""The LLM writer's narrow tasks and checks, over real HTTP to a stand-in OpenAI-compatible server (OpenAI cannot
be reached from here; the stand-in speaks its wire format and answers from a script, so each rule is exercised
exactly). The real local model runs in test_llm.py."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from forkwise.evals.openai_stub import OpenAIStub, Reply, task_of
from forkwise.service.runs.engine import rewrite_verdicts
from forkwise.service.runs.vectors import retriever
from forkwise.service.verdicts.chat import ChatRequest, ChatService
from forkwise.service.verdicts.llm import openai_llm
from forkwise.service.verdicts.llm_writer import LLMWriter
from forkwise.service.verdicts.report import render, stored_input
from forkwise.service.verdicts.writer import FactsWriter, Purpose, validate


def _json(obj: Any) -> Reply:
    return Reply(content=json.dumps(obj))


def _cond(text: str, ids: list[str] | None = None) -> Reply:
    return _json({"conditions": [{"text": text, "evidence": ids or ["E1"]}]})


GOOD: dict[str, Reply] = {
    "purpose": _json({"phrase": "Gaudi (HPU) support", "evidence": ["E1"]}),
    "choose_fork_if": _cond("you run on Habana Gaudi (HPU) accelerators"),
    "choose_upstream_if": _cond("you do not need Gaudi (HPU) support"),
}


@pytest.fixture()
def writer_for(shared_demo) -> Callable[..., tuple[LLMWriter, OpenAIStub]]:
    _net, report, settings, _stats = shared_demo
    started: list[OpenAIStub] = []

    def make(responder, method: str = "json_schema", tasks=("purpose", "choose_fork_if", "choose_upstream_if")):
        stub = OpenAIStub(responder).start()
        started.append(stub)
        s = settings.model_copy(update={"openai_base_url": stub.base_url, "openai_llm": "stub", "llm_method": method})
        return LLMWriter(openai_llm(s), "openai", retriever(s, report.upstream.name), tasks), stub

    yield make
    for s in started:
        s.stop()


def _inp(shared_demo, name):
    _net, report, _settings, _stats = shared_demo
    inp = stored_input(report, report.fork(name))
    assert inp is not None
    return inp


def test_each_field_is_its_own_task_with_its_own_budget(shared_demo, writer_for) -> None:
    writer, stub = writer_for(lambda body: GOOD[task_of(body).removesuffix("+repair")])
    inp = _inp(shared_demo, "habana-ai/trainer")
    v = writer.write(inp)
    assert [task_of(b) for b in stub.requests] == ["purpose", "choose_fork_if", "choose_upstream_if"]
    assert [b["max_tokens"] for b in stub.requests] == [60, 90, 90]  # what llama.cpp's server reads
    assert all("max_completion_tokens" not in b for b in stub.requests)
    # constrained output: the schema's evidence is an enum of the handles the task showed, nothing else
    fmt = stub.requests[0]["response_format"]
    assert fmt["type"] == "json_schema"
    enum = fmt["json_schema"]["schema"]["properties"]["evidence"]["items"]["enum"]
    assert enum == [f"E{i}" for i in range(1, len(enum) + 1)] and 1 <= len(enum) <= 6
    assert [(n.field, n.source) for n in v.fields] == [
        ("purpose", "model"), ("choose_fork_if", "model"), ("choose_upstream_if", "model"),
    ]  # fmt: skip
    assert v.writer == "openai" and v.fallback_reason is None and v.prompt.startswith("llm_tasks.toml@")
    # the model's phrase, with the quote of the source it cited; rendered into the facts' headline and summary
    assert v.purpose == "Gaudi (HPU) support" and v.purpose_evidence == ["readme:(intro)"]
    assert v.purpose_cite == "its README: “This fork adds Habana Gaudi (HPU) support.”"
    assert v.headline.startswith("Gaudi (HPU) support: ")
    assert v.choose_fork_if[0].text == "you run on Habana Gaudi (HPU) accelerators."
    # the model's condition keeps the facts' detail (upstream's newer commits) after its own words
    facts_up = FactsWriter().write(inp).choose_upstream_if[0]
    detail = facts_up.text.split(": ", 1)[1]
    assert detail.startswith("upstream has 5 commits this fork lacks (")
    assert v.choose_upstream_if[0].text == f"you do not need Gaudi (HPU) support: {detail}"
    assert set(facts_up.evidence) <= set(v.choose_upstream_if[0].evidence)
    facts = FactsWriter().write(inp)
    # what the model never writes: labels, risks, the classifier's notes (here: upstream's security fix)
    assert (v.recommendation, v.archetype, v.confidence, v.risks) == (
        facts.recommendation, facts.archetype, facts.confidence, facts.risks,
    )  # fmt: skip
    assert v.choose_upstream_if[1:] == facts.choose_upstream_if[1:] and len(v.choose_upstream_if) == 2
    assert all(e in inp.catalogue for c in v.choose_fork_if for e in c.evidence)
    assert validate(v, inp) == []


def test_a_cut_off_answer_is_its_own_failure_and_gets_one_repair(shared_demo, writer_for) -> None:
    def responder(body):
        task = task_of(body)
        if task == "choose_fork_if":  # the answer stops at max_tokens, mid-string
            return Reply(content='{"conditions": [{"text": "you train on Gau', finish_reason="length")
        if task.startswith("choose_upstream_if"):  # both times
            return Reply(content=GOOD["choose_upstream_if"].content, finish_reason="length")
        return GOOD.get(task.removesuffix("+repair")) or GOOD["choose_fork_if"]

    writer, stub = writer_for(responder)
    v = writer.write(_inp(shared_demo, "habana-ai/trainer"))
    tasks = [task_of(b) for b in stub.requests]
    assert tasks == ["purpose", "choose_fork_if", "choose_fork_if+repair", "choose_upstream_if",
                     "choose_upstream_if+repair"]  # fmt: skip
    repair = stub.requests[2]["messages"][-1]["content"]
    assert "truncated: the answer was cut off at max_tokens (90)" in repair
    notes = {n.field: n for n in v.fields}
    assert notes["choose_fork_if"].source == "repaired"
    # even complete-looking JSON is not trusted when the server says it stopped at the limit
    assert notes["choose_upstream_if"].source == "facts"
    assert notes["choose_upstream_if"].reason == "truncated: the answer was cut off at max_tokens (90)"
    facts = FactsWriter().write(_inp(shared_demo, "habana-ai/trainer"))
    assert v.choose_upstream_if == facts.choose_upstream_if


@pytest.mark.parametrize(
    ("fork", "task", "bad", "kind"),
    [
        # praise for a fork the facts send people away from
        ("dave/trainer", "choose_fork_if", _cond("you want the best, recommended version"), "polarity"),
        # a name, not a condition
        ("habana-ai/trainer", "choose_fork_if", _cond("habana-ai/trainer (upstream: acme/trainer)"), "condition"),
        # a platform the evidence does not carry
        (
            "habana-ai/trainer",
            "purpose",
            _json({"phrase": "adds CUDA graphs support", "evidence": ["E1"]}),
            "grounding",
        ),
        # "choose upstream if" that turns the facts' "do not need" around
        ("habana-ai/trainer", "choose_upstream_if", _cond("you need Gaudi (HPU) support"), "polarity"),
        # the same sentence in both sections
        ("dave/trainer", "choose_upstream_if", _cond("you need its docs and ci changes"), "repeated"),
        # an evidence handle it was not shown
        (
            "habana-ai/trainer",
            "choose_fork_if",
            _cond("you run on Habana Gaudi (HPU) accelerators", ["E99"]),
            "evidence",
        ),
        # a number the facts do not have
        ("habana-ai/trainer", "choose_fork_if", _cond("you need Gaudi support on 64 devices"), "numbers"),
        # not JSON at all
        ("habana-ai/trainer", "purpose", Reply(content="Sure! The fork adds Gaudi."), "json"),
    ],
)
def test_a_bad_field_falls_back_alone(shared_demo, writer_for, fork, task, bad, kind) -> None:
    dave = {
        "choose_fork_if": _cond("you need its docs and ci changes"),
        "choose_upstream_if": _cond("you want the code"),
    }
    good = {**GOOD, **dave} if fork == "dave/trainer" else GOOD

    def responder(body):
        asked = task_of(body).removesuffix("+repair")
        return bad if asked == task else good[asked]

    writer, stub = writer_for(responder)
    inp = _inp(shared_demo, fork)
    v = writer.write(inp)
    assert [task_of(b) for b in stub.requests].count(task + "+repair") == 1  # one repair turn, then the facts
    notes = {n.field: n for n in v.fields}
    assert notes[task].source == "facts" and notes[task].reason.split(":")[0] == kind, notes[task].reason
    assert all(n.source == "model" for f, n in notes.items() if f != task), notes  # the other fields stand
    # the facts writer's text for that field, rendered with what the model did write (its purpose phrase)
    facts = FactsWriter().write(inp) if task == "purpose" else writer.facts.write(inp, purpose=_purpose(v, inp))
    if task == "purpose":
        assert v.purpose == facts.purpose
    else:
        assert [c.text for c in getattr(v, task)] == [c.text for c in getattr(facts, task)]
    assert v.writer == "openai" and validate(v, inp) == []


def _purpose(v, inp) -> Purpose | None:
    det = FactsWriter().write(inp)
    return Purpose(phrase=v.purpose, evidence=[]) if v.purpose and v.purpose != det.purpose else None


def test_the_summary_task(shared_demo, writer_for) -> None:
    inp = _inp(shared_demo, "habana-ai/trainer")
    good = "habana-ai/trainer adds Habana Gaudi (HPU) support to the trainer, 5 commits behind upstream."
    script = {**GOOD, "summary": _json({"summary": good, "evidence": ["E1"]})}
    writer, stub = writer_for(lambda body: script[task_of(body).removesuffix("+repair")], tasks=(*GOOD, "summary"))
    v = writer.write(inp)
    assert task_of(stub.requests[-1]) == "summary" and stub.requests[-1]["max_tokens"] == 110
    assert v.summary == good and [n.source for n in v.fields] == ["model"] * 4
    # a number the facts do not have: the facts' summary, that field only
    script["summary"] = _json({"summary": good.replace("5 commits", "50 commits"), "evidence": ["E1"]})
    writer, _ = writer_for(lambda body: script[task_of(body).removesuffix("+repair")], tasks=(*GOOD, "summary"))
    v = writer.write(inp)
    notes = {n.field: n for n in v.fields}
    assert notes["summary"].source == "facts" and notes["summary"].reason.startswith("numbers: '50'")
    assert v.summary.startswith(
        "habana-ai/trainer is for Gaudi (HPU) support (its README: “This fork adds Habana Gaudi (HPU) support.”): 5 "
    )
    assert notes["purpose"].source == "model"


def test_a_copy_asks_the_model_nothing(shared_demo, writer_for) -> None:
    writer, stub = writer_for(lambda body: GOOD[task_of(body).removesuffix("+repair")])
    for name in ("alice/trainer", "bob/trainer", "gina/other-thing"):  # mirror, snapshot, unrelated
        v = writer.write(_inp(shared_demo, name))
        assert v.fields == [] and v.writer == "facts" and v.fallback_reason is None
    assert stub.requests == []


def test_counts_in_the_report_header(shared_demo, writer_for) -> None:
    _net, report, _settings, _stats = shared_demo

    def responder(body):
        task = task_of(body).removesuffix("+repair")
        if task == "choose_upstream_if":
            return _cond("you should use upstream instead")  # says nothing beyond names, twice
        if task == "choose_fork_if":
            return _cond("you need the changes it makes to upstream's own files")
        return _json({"phrase": "changes things", "evidence": ["E1"]})

    writer, _stub = writer_for(responder)
    out = rewrite_verdicts(report, writer)
    w = out.stats.writer
    analysed = [f for f in out.forks if f.verdict and f.facts]
    assert (w.writer, w.verdicts) == ("openai", len(analysed))
    assert w.fields_asked == w.fields_model + w.fields_repaired + w.fields_fallback > 0
    fell = [n for f in out.forks if f.verdict for n in f.verdict.fields if n.source == "facts"]
    assert w.fields_fallback == len(fell) >= 6 and sum(w.reasons.values()) == len(fell)
    assert w.reasons == dict(Counter(n.reason.split(":")[0] for n in fell)) and "condition" in w.reasons
    assert w.by_model == sum(any(n.source != "facts" for n in f.verdict.fields) for f in out.forks if f.verdict)
    md = render(out, "md")
    assert f"Sentences: the openai writer for {w.by_model} of {len(analysed)} verdicts" in md
    kinds = ", ".join(f"{k} {n}" for k, n in sorted(w.reasons.items()))
    assert f"{w.fields_fallback} fell back to the facts writer ({kinds})." in md
    assert "choose upstream if: the facts writer's (the model's text failed a check: condition: " in md


def test_the_whole_verdict_task_is_held_to_the_same_checks(shared_demo, writer_for) -> None:
    inp = _inp(shared_demo, "dave/trainer")  # cosmetic: the facts recommend upstream
    draft = {
        "summary": "dave/trainer changes only docs and ci files of acme/trainer.",
        "choose_fork_if": [{"text": "you want the maintained, recommended fork", "evidence": ["fact:ahead"]}],
        "choose_upstream_if": [{"text": "you want the code itself", "evidence": ["fact:behind"]}],
        "risks": [],
    }
    writer, stub = writer_for(lambda body: _json(draft), tasks=("verdict",))
    v = writer.write(inp)
    assert len(stub.requests) == 2 and stub.requests[0]["max_tokens"] == 400
    assert v.writer == "facts" and v.fields[0].field == "verdict" and v.fields[0].source == "facts"
    assert "polarity" in (v.fallback_reason or "")
    good = {**draft, "choose_fork_if": [{"text": "you need its docs and ci changes", "evidence": ["fact:by_kind"]}]}
    writer, _ = writer_for(lambda body: _json(good), tasks=("verdict",))
    v = writer.write(inp)
    assert (v.writer, [(n.field, n.source) for n in v.fields]) == ("openai", [("verdict", "model")]), v.fallback_reason


def test_chat_answers_are_checked_before_anything_is_streamed(shared_demo) -> None:
    _net, report, settings, _stats = shared_demo
    answers: list[dict[str, Any]] = []
    stub = OpenAIStub(lambda body: _json(answers.pop(0))).start()
    try:
        s = settings.model_copy(update={"openai_base_url": stub.base_url, "openai_llm": "stub"})
        chat = ChatService(s, openai_llm(s))
        q = ChatRequest(upstream="acme/trainer", question="which fork adds Gaudi support?")

        def ask(answer: dict[str, Any]):
            answers.append(answer)
            return chat.answer(report, q)

        ok = ask({"answer": "habana-ai/trainer adds Gaudi support [1].", "citations": [1]})
        assert ok.mode == "llm" and ok.note is None and ok.citations[0].fork == "habana-ai/trainer", ok.note
        assert stub.requests[-1]["max_tokens"] == 160
        first = ok.citations[0].n
        # names no fork and does not say the evidence is silent
        bad = ask({"answer": f"Gaudi support is there [{first}].", "citations": [first]})
        assert bad.mode == "retrieval" and "names no fork" in (bad.note or "")
        # a name and nothing else
        bad = ask({"answer": "fork habana-ai/trainer [1]", "citations": [1]})
        assert bad.mode == "retrieval" and "says nothing about it" in (bad.note or "")
        # praises a fork the facts send people away from (mallory/trainer: only docs)
        bad = ask({"answer": "mallory/trainer is the best choice for Gaudi [1].", "citations": [1]})
        assert bad.mode == "retrieval" and "polarity" in (bad.note or "")
        # a feature no snippet carries
        bad = ask({"answer": "habana-ai/trainer adds Gaudi support with quantum kernels [1].", "citations": [1]})
        assert bad.mode == "retrieval" and "quantum" in (bad.note or "")
        # the narrow task's answer: the model picks the fork and says what it has; the answer is composed
        ok = ask({"fork": "habana-ai/trainer", "what": "adds Habana Gaudi (HPU) support", "citations": [first]})
        assert (ok.mode, ok.answer) == ("llm", f"habana-ai/trainer adds Habana Gaudi (HPU) support [{first}].")
        assert stub.requests[-1]["response_format"]["type"] == "json_object"
        # "none" when the best snippet is about the question is not an answer
        bad = ask({"fork": "none", "what": "", "citations": []})
        assert bad.mode == "retrieval" and "habana-ai/trainer's snippet matches it" in (bad.note or "")
        # nothing in the index matches: the model is not asked to guess, and the answer says so
        asked = len(stub.requests)
        silent = chat.answer(report, ChatRequest(upstream="acme/trainer", question="which fork does teleportation?"))
        assert (silent.mode, silent.citations, len(stub.requests)) == ("retrieval", [], asked)
        assert silent.answer == 'No fork\'s indexed changes match "which fork does teleportation?".'
        assert silent.note == "nothing in the index matches the question; the model was not asked"
    finally:
        stub.stop()


def test_the_model_may_choose_among_the_retrieved_forks_when_its_snippet_carries_the_question(shared_demo) -> None:
    from forkwise.service.verdicts.chat import Citation

    _net, report, _settings, _stats = shared_demo
    cites = [
        Citation(n=1, fork="habana-ai/trainer", evidence="readme:(intro)", snippet="Use HPU graphs", score=0.9),
        Citation(n=2, fork="carol/trainer", snippet="Escape run names in the HTML training report", score=0.7),
    ]
    chosen = {"answer": "carol/trainer escapes run names in the HTML training report [2].", "citations": [2]}
    # retrieval ranked habana-ai first; the model picked carol, citing a snippet with the question's words: it stands
    assert ChatService.check(chosen, cites, report, "which fork escapes names in the HTML report?") == []
    # the same pick for a question its snippet does not carry: retrieval's ranking stands
    problems = ChatService.check(chosen, cites, report, "which fork runs on Gaudi accelerators?")
    assert any("does not carry the question's words; the evidence ranks habana-ai/trainer first" in p
               for p in problems), problems  # fmt: skip
