"""The LLM writer's and chat's control flow with scripted models, and indexing with a deterministic embedder.

Each test asserts which branch ran: the first answer accepted, the repair turn, the fallback, the chat check.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from forkwise.index.vector import VectorIndex
from forkwise.service.runs.vectors import sync_vectors
from forkwise.service.settings import Settings, WriterName
from forkwise.service.verdicts.chat import ChatRequest, ChatService
from forkwise.service.verdicts.llm_writer import LLMWriter
from forkwise.service.verdicts.models import Report
from forkwise.service.verdicts.report import stored_input
from forkwise.service.verdicts.writer import validate
from tests.doubles import HashEmbeddings, ScriptedModel

GOOD = {
    "summary": "This fork adds Habana Gaudi (HPU) support to the trainer.",
    "choose_fork_if": [{"text": "you train on Habana Gaudi accelerators.", "evidence": ["fact:ahead"]}],
    "choose_upstream_if": [{"text": "you do not use Habana Gaudi accelerators.", "evidence": ["fact:behind"]}],
    "risks": [],
}


@pytest.fixture(scope="module")
def store(shared_demo) -> tuple[Report, Settings]:
    _net, report, settings, _stats = shared_demo
    return report, settings


def _writer(model: ScriptedModel) -> LLMWriter:
    """The whole-verdict task (a stronger model's); the narrow tasks are in test_llm_tasks.py."""
    return LLMWriter(model.runnable(), WriterName.local, tasks=("verdict",))


def test_a_valid_first_answer_is_used(store: tuple[Report, Settings]) -> None:
    report, _ = store
    inp = stored_input(report, report.fork("habana-ai/trainer"))
    assert inp is not None
    model = ScriptedModel([GOOD])
    v = _writer(model).write(inp)
    assert len(model.requests) == 1
    assert (v.writer, v.fallback_reason, v.summary) == ("local", None, GOOD["summary"])
    assert v.prompt.startswith("verdict_llm.toml@") and validate(v, inp) == []
    assert (v.recommendation, v.archetype) == (inp.classification.recommendation, inp.classification.archetype)


def test_an_invalid_answer_gets_one_repair_turn(store: tuple[Report, Settings]) -> None:
    report, _ = store
    inp = stored_input(report, report.fork("habana-ai/trainer"))
    assert inp is not None
    invented = {**GOOD, "summary": "This fork adds 500 kernels for Habana Gaudi hardware."}
    model = ScriptedModel([invented, GOOD])
    v = _writer(model).write(inp)
    assert len(model.requests) == 2 and v.writer == "local" and v.fallback_reason is None
    assert [(n.field, n.source) for n in v.fields] == [("verdict", "repaired")]
    repair = model.requests[1]["messages"][-1]["content"]
    assert "'500'" in repair  # the repair turn says what was wrong


def test_two_invalid_answers_fall_back_to_the_facts_visibly(store: tuple[Report, Settings]) -> None:
    report, _ = store
    inp = stored_input(report, report.fork("habana-ai/trainer"))
    assert inp is not None
    bad_id = {**GOOD, "choose_upstream_if": [{"text": "upstream is maintained well.", "evidence": ["commit:feed"]}]}
    model = ScriptedModel(["not json at all", bad_id])
    v = _writer(model).write(inp)
    assert len(model.requests) == 2 and v.writer == "facts"
    assert v.fallback_reason == (
        "local writer failed validation: cites unknown evidence 'commit:feed'; "
        "evidence: cites 'commit:feed', which it was not shown; "
        "grounding: 'maintained' not in the terms or the cited evidence"
    )
    assert [(n.field, n.source) for n in v.fields] == [("verdict", "facts")]
    assert validate(v, inp) == []


def test_chat_check_rejects_an_answer_citing_a_snippet_it_was_not_given(store: tuple[Report, Settings]) -> None:
    report, settings = store
    model = ScriptedModel([{"answer": "habana-ai/trainer adds Gaudi support [9].", "citations": [9]}])
    ans = ChatService(settings, model.runnable()).answer(
        report, ChatRequest(upstream="acme/trainer", question="which fork adds Gaudi support?")
    )
    assert len(model.requests) == 1 and ans.mode == "retrieval"
    assert ans.note and "cites [9], which is not a retrieved snippet" in ans.note
    model = ScriptedModel([{"answer": "habana-ai/trainer adds Gaudi support [1].", "citations": [1]}])
    ans = ChatService(settings, model.runnable()).answer(
        report, ChatRequest(upstream="acme/trainer", question="which fork adds Gaudi support?")
    )
    assert ans.mode == "llm" and ans.answer == "habana-ai/trainer adds Gaudi support [1]." and ans.note is None


def test_indexing_with_a_deterministic_embedder_is_idempotent(store: tuple[Report, Settings], tmp_path: Path) -> None:
    report, settings = store
    vi = VectorIndex(settings, report.upstream.name, HashEmbeddings(), HashEmbeddings.id)
    first = sync_vectors(report, settings, vi)
    assert first.embedded == first.chunks > 0 and first.deleted == 0
    again = sync_vectors(report, settings, vi)
    assert (again.embedded, again.deleted, again.chunks) == (0, 0, first.chunks)
    assert len(again.forks_unchanged) == len(first.forks_indexed)
    hits = vi.store.similarity_search("Habana Gaudi HPU", k=3, filter={"fork:habana-ai/trainer": True})
    assert hits and all(h.metadata["fork:habana-ai/trainer"] is True for h in hits)
