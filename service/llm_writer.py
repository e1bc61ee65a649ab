"""LLM verdict writers (``openai``, ``local``): an LCEL chain that may only phrase and select, then validation.

Chain: retrieve evidence scoped to the fork (metadata filter ``fork:<name>``) → prompt (``prompts/verdict_llm.toml``,
repository text fenced in ``<data>``) → model → JSON → :class:`Draft`. The recommendation, archetype, confidence
and terms always come from the classifier. A draft is checked (schema; every cited ID was shown to the model and
resolves in the catalogue; every number is a computed fact; every file path it names is in the evidence); an
invalid draft gets one repair turn, then the deterministic facts writer answers, with ``fallback_reason`` set.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from langchain_core.documents import Document
from langchain_core.runnables import Runnable, RunnableLambda
from pydantic import BaseModel, Field, ValidationError

from forkwise.index.settings import Settings, WriterName
from forkwise.service.llm import chat_model
from forkwise.service.models import Claim, Verdict
from forkwise.service.prompts import load_toml, prompt_hash, text_env
from forkwise.service.writer import FactsWriter, Writer, WriterInput, context, validate

PROMPT = "verdict_llm.toml"

Retrieve = Callable[[str, str, int], list[Document]]
"""``retrieve(fork, query, k)`` → chunks carrying that fork's flag."""

_PATHLIKE = re.compile(
    r"(?<![\w/])(?:[\w.-]+/)+[\w.-]+\.\w+|\b[\w-]+\.(?:py|md|c|cc|cpp|h|js|ts|go|rs|toml|yaml|yml|json)\b"
)


class Draft(BaseModel):
    summary: str = Field(min_length=20, max_length=800)
    choose_fork_if: list[Claim] = Field(default_factory=list, max_length=6)
    choose_upstream_if: list[Claim] = Field(default_factory=list, max_length=6)
    risks: list[Claim] = Field(default_factory=list, max_length=6)


class Shown(BaseModel):
    id: str
    text: str


def parse_json_object(text: str) -> dict[str, Any]:
    """The first JSON object in ``text`` (models wrap JSON in prose or code fences)."""
    start = text.find("{")
    if start < 0:
        raise ValueError("no JSON object in the answer")
    obj, _ = json.JSONDecoder().raw_decode(text[start:])
    if not isinstance(obj, dict):
        raise ValueError("the answer is not a JSON object")
    return obj


def evidence_for(inp: WriterInput, retrieve: Retrieve | None, k: int = 8) -> list[Shown]:
    """What the model is shown: the fork's key facts, then retrieved chunks whose evidence resolves."""
    shown: dict[str, Shown] = {}
    for eid in ("fact:ahead", "fact:behind", "fact:last_commit_date", *inp.classification.evidence):
        if eid in inp.catalogue and eid not in shown:
            e = inp.catalogue[eid]
            shown[eid] = Shown(id=eid, text=f"{e.label}. {e.detail}".strip())
    if retrieve is not None:
        query = f"what {inp.name} changes and adds: " + ", ".join(t.term for t in inp.facts.terms[:5])
        for doc in retrieve(inp.name, query, k):
            eid = str(doc.metadata.get("evidence", ""))
            if eid in inp.catalogue and eid not in shown:
                shown[eid] = Shown(id=eid, text=doc.page_content[:600])
    else:  # no index: the catalogue's top entries stand in for retrieval
        for eid, e in list(inp.catalogue.items())[:k]:
            shown.setdefault(eid, Shown(id=eid, text=f"{e.label}. {e.detail}".strip()))
    return list(shown.values())


def check_draft(verdict: Verdict, inp: WriterInput, shown: list[Shown]) -> list[str]:
    problems = validate(verdict, inp)
    ids = {s.id for s in shown}
    corpus = " ".join(s.id + " " + s.text for s in shown)
    claims = [*verdict.choose_fork_if, *verdict.choose_upstream_if, *verdict.risks]
    for c in claims:
        for eid in c.evidence:
            if eid not in ids:
                problems.append(f"cites {eid!r}, which was not in the EVIDENCE list")
    for text in [verdict.summary, *(c.text for c in claims)]:
        for path in _PATHLIKE.findall(text):
            if path not in corpus:
                problems.append(f"names {path!r}, which is not in the evidence")
    return list(dict.fromkeys(problems))


class LLMWriter:
    """A writer whose sentences come from a chat model, checked against the facts."""

    def __init__(self, model: Runnable, name: str, retrieve: Retrieve | None = None):
        self.model = model
        self.name = name
        self.retrieve = retrieve
        self.facts = FactsWriter()
        spec = load_toml(PROMPT)
        env = text_env()
        self._system = env.from_string(spec["system"])
        self._user = env.from_string(spec["user"])
        self._repair = env.from_string(spec["repair"])
        self.last_raw: list[str] = []

    def chain(self) -> Runnable:
        """retriever → prompt → model → parser, as LCEL."""
        return (
            RunnableLambda(self._with_evidence, name="retrieve")
            | RunnableLambda(self._messages, name="prompt")
            | self.model
            | RunnableLambda(self._keep_raw, name="parse")
        )

    def _with_evidence(self, inp: WriterInput) -> dict[str, Any]:
        return {"inp": inp, "shown": evidence_for(inp, self.retrieve)}

    @staticmethod
    def schema(ids: list[str]) -> dict[str, Any]:
        """The draft's JSON schema, with evidence restricted to the IDs shown (used by constrained decoding)."""
        claim = {
            "type": "object",
            "properties": {
                "text": {"type": "string", "minLength": 20, "maxLength": 240},
                "evidence": {"type": "array", "items": {"type": "string", "enum": ids}, "minItems": 1, "maxItems": 3},
            },
            "required": ["text", "evidence"],
        }
        arr = {"type": "array", "items": claim, "maxItems": 3}
        return {
            "type": "object",
            "properties": {
                "summary": {"type": "string", "minLength": 20, "maxLength": 400},
                "choose_fork_if": arr,
                "choose_upstream_if": {**arr, "minItems": 1},
                "risks": arr,
            },
            "required": ["summary", "choose_fork_if", "choose_upstream_if", "risks"],
        }

    def _messages(self, state: dict[str, Any]) -> dict[str, Any]:
        inp: WriterInput = state["inp"]
        ctx = context(inp)
        facts = {
            k: ctx[k]
            for k in ("ahead", "behind", "unique", "last_date", "upstream_last_date", "files_changed", "lines_added")
            if k in ctx
        }
        user = self._user.render(
            name=inp.name,
            upstream=inp.upstream,
            recommendation=inp.classification.recommendation,
            archetype=inp.classification.archetype,
            rule=inp.classification.rule,
            facts=facts,
            evidence=state["shown"],
        )
        msgs = [{"role": "system", "content": self._system.render()}, {"role": "user", "content": user}]
        if state.get("problems"):
            msgs += [
                {"role": "assistant", "content": state["previous"]},
                {"role": "user", "content": self._repair.render(problems=state["problems"])},
            ]
        return {"messages": msgs, "schema": self.schema([s.id for s in state["shown"]])}

    def _keep_raw(self, text: str) -> str:
        self.last_raw.append(text)
        return text

    def _verdict(self, raw: str, base: Verdict) -> Verdict:
        draft = Draft.model_validate(parse_json_object(raw))
        claims = [*draft.choose_fork_if, *draft.choose_upstream_if, *draft.risks]
        cited = list(dict.fromkeys(e for c in claims for e in c.evidence))
        return base.model_copy(
            update={
                "summary": draft.summary,
                "choose_fork_if": draft.choose_fork_if,
                "choose_upstream_if": draft.choose_upstream_if,
                "risks": draft.risks,
                "evidence": cited,
                "writer": self.name,
                "prompt": f"{PROMPT}@{prompt_hash(PROMPT)}",
                "fallback_reason": None,
            }
        )

    def write(self, inp: WriterInput) -> Verdict:
        base = self.facts.write(inp)
        self.last_raw = []
        state = self._with_evidence(inp)
        problems: list[str] = []
        previous = ""
        for _attempt in range(2):  # the first answer, then one repair
            try:
                raw = (RunnableLambda(self._messages) | self.model | RunnableLambda(self._keep_raw)).invoke(
                    {**state, "problems": problems, "previous": previous}
                )
            except Exception as exc:  # the model or its server failed: nothing to repair
                problems = [f"model call failed: {type(exc).__name__}: {str(exc)[:200]}"]
                break
            previous = raw
            try:
                verdict = self._verdict(raw, base)
            except (ValueError, ValidationError) as exc:
                problems = [f"answer is not a valid verdict JSON: {str(exc).splitlines()[0][:200]}"]
                continue
            problems = check_draft(verdict, inp, state["shown"])
            if not problems:
                return verdict
        reason = f"{self.name} writer failed validation: " + "; ".join(problems[:3])
        return base.model_copy(update={"writer": WriterName.facts, "fallback_reason": reason})


def make_writer(kind: WriterName, settings: Settings, retrieve: Retrieve | None = None) -> Writer:
    """The writer ``kind`` names: the facts writer, or an LLM writer over the configured model."""
    model = chat_model(settings, kind)
    if model is None:
        return FactsWriter()
    return LLMWriter(model, WriterName(kind), retrieve)
