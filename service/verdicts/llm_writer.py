"""LLM verdict writers (``openai``, ``local``): the model phrases and selects, the facts decide, checks hold it.

**Narrow tasks** (default, ``FORKWISE_LLM_TASKS``): the model writes one field at a time, each with only the
evidence that field needs and a token budget sized to it (``prompts/llm_tasks.toml``):

* ``purpose``: what the fork is for, as a short noun phrase, from what the fork says about itself (README, notes,
  package description) and its commit subjects (:mod:`service.purpose`); the quote beside it is the source's own;
* ``choose_fork_if`` / ``choose_upstream_if``: one or two conditions, replacing the archetype's own (the
  classifier's notes, e.g. security, stay);
* ``summary`` (optional): one sentence.

Numbers, dates, risks, the headline's counts, the recommendation and the archetype stay the facts writer's.
Every answer is JSON (grammar-constrained by llama.cpp, ``json_schema`` where a server supports it); an answer
cut off at ``max_tokens`` is a failure of its own kind. Each field is checked (:mod:`service.checks`: polarity,
conditions, grounding, repetition; plus cited IDs shown, numbers computed, paths in the evidence), gets one
repair turn, and then falls back to the facts writer's text for that field only, recorded in
``Verdict.fields``.

**Whole verdict** (``FORKWISE_LLM_TASKS=verdict``, for a stronger model): one answer with summary and claims,
under the same checks; a failure falls back to the facts writer for the whole verdict.

Repository text reaches the model only inside ``<data>`` blocks, and nothing the model writes changes a label.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from langchain_core.documents import Document
from langchain_core.runnables import Runnable, RunnableLambda
from pydantic import BaseModel, Field, ValidationError

from forkwise.index.models import Statement
from forkwise.service.settings import Settings, WriterName
from forkwise.service.verdicts import checks
from forkwise.service.verdicts.llm import Completion, chat_llm
from forkwise.service.verdicts.models import Claim, FieldNote, Verdict, VerdictField, Writer, WriterInput
from forkwise.service.verdicts.prompts import load_toml, prompt_hash, text_template
from forkwise.service.verdicts.purpose import Purpose, banned_for, candidates
from forkwise.service.verdicts.purpose import problems as phrase_problems
from forkwise.service.verdicts.writer import (
    FactsWriter,
    allowed_numbers,
    context,
    numbers_in,
    purpose_of,
    strong_terms,
    term_name,
    validate,
)

PROMPT = "verdict_llm.toml"
TASKS = "llm_tasks.toml"

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


class Grounds(BaseModel):
    """What a model's text about one fork may rest on: what it was shown (by the IDs it cites), the other text it
    may rephrase (terms, the facts writer's sentences, what the fork says of itself), the names it may use, the
    verdict's recommendation and the numbers the facts give."""

    shown: dict[str, str] = Field(description="Evidence ID, as the model cites it → the text it was shown.")
    corpus: list[str]
    names: list[str]
    recommendation: str
    allowed: set[str]


def check_texts(items: list[tuple[str, list[str]]], field: str, g: Grounds) -> list[str]:
    """The one check of model-written text, for both LLM writers (one field at a time, or a whole verdict): each
    (text, cited IDs) cites only what it was shown, states only computed numbers (none in a purpose phrase),
    names only paths in its evidence, says nothing against the recommendation, uses words its evidence grounds,
    and, as a "choose … if", reads as a condition; then no sentence repeats another. Problems are prefixed by kind
    (``evidence:``, ``numbers:``, ``grounding:``, …: :func:`checks.kind`)."""
    problems: list[str] = []
    for text, cited in items:
        for eid in cited:
            if eid not in g.shown:
                problems.append(f"evidence: cites {eid!r}, which it was not shown")
        for n in numbers_in(text):
            if n not in g.allowed or field == "purpose":
                problems.append(f"numbers: {n!r} is not a computed fact")
        for path in _PATHLIKE.findall(text):
            if not any(path in t for t in g.shown.values()) and not any(path in t for t in g.corpus):
                problems.append(f"grounding: names {path!r}, which is not in the evidence")
        problems += checks.polarity(text, g.recommendation, field)
        problems += checks.grounding(text, [*g.corpus, *(g.shown[i] for i in cited if i in g.shown)], g.names)
        if field in ("choose_fork_if", "choose_upstream_if"):
            problems += checks.condition(text, g.names)
    return list(dict.fromkeys(problems))


def check_draft(verdict: Verdict, inp: WriterInput, shown: list[Shown]) -> list[str]:
    """A whole verdict a model wrote: the facts writer's invariants (:func:`validate`: labels, IDs in the
    catalogue, numbers), then :func:`check_texts` on its summary and each section's claims, grounded in the facts
    writer's own sentences, the fork's terms and what the model was shown."""
    base = FactsWriter().write(inp)
    grounds = Grounds(
        shown={s.id: s.text for s in shown},
        corpus=[*_term_words(inp), base.summary, base.headline,
                *(c.text for c in [*base.choose_fork_if, *base.choose_upstream_if, *base.risks])],
        names=_names(inp),
        recommendation=inp.classification.recommendation,
        allowed=allowed_numbers(context(inp)),
    )  # fmt: skip
    # validate's numbers are check_texts' too (the headline, the one text it alone reads, stays the facts')
    problems = [p for p in validate(verdict, inp) if checks.kind(p) != "numbers"]
    texts: dict[str, list[str]] = {"summary": [verdict.summary]}
    problems += check_texts([(verdict.summary, [])], "summary", grounds)
    for key in ("choose_fork_if", "choose_upstream_if", "risks"):
        claims: list[Claim] = getattr(verdict, key)
        problems += check_texts([(c.text, c.evidence) for c in claims], key, grounds)
        texts[key] = [c.text for c in claims]
    problems += checks.repeated(texts)
    return list(dict.fromkeys(problems))


FIELDS = ("purpose", "summary", "choose_fork_if", "choose_upstream_if")


class Condition(BaseModel):
    text: str = Field(min_length=8, max_length=240)
    evidence: list[str] = Field(min_length=1, max_length=3)


class Conditions(BaseModel):
    conditions: list[Condition] = Field(min_length=1, max_length=2)


class PurposeAnswer(BaseModel):
    phrase: str = Field(min_length=6, max_length=100)
    evidence: list[str] = Field(min_length=1, max_length=3)


class SummaryAnswer(BaseModel):
    summary: str = Field(min_length=20, max_length=400)
    evidence: list[str] = Field(min_length=1, max_length=3)


def _ids_schema(ids: list[str]) -> dict[str, Any]:
    return {"type": "array", "items": {"type": "string", "enum": ids}, "minItems": 1, "maxItems": 3}


def task_schema(field: str, ids: list[str]) -> dict[str, Any]:
    """The JSON schema of a task's answer, evidence restricted to the IDs shown (constrained decoding)."""
    if field == "purpose":
        props: dict[str, Any] = {"phrase": {"type": "string"}, "evidence": _ids_schema(ids)}
    elif field == "summary":
        props = {"summary": {"type": "string"}, "evidence": _ids_schema(ids)}
    else:
        cond = {
            "type": "object",
            "properties": {"text": {"type": "string"}, "evidence": _ids_schema(ids)},
            "required": ["text", "evidence"],
        }
        props = {"conditions": {"type": "array", "items": cond, "minItems": 1, "maxItems": 2}}
    return {"type": "object", "properties": props, "required": list(props)}


def _text(raw: Any) -> Completion:
    return raw if isinstance(raw, Completion) else Completion(text=str(getattr(raw, "content", raw)))


class _Field(BaseModel):
    """One task's outcome: the value to use (None: the facts' text stands) and how it was reached."""

    value: Any = None
    note: FieldNote


class LLMWriter:
    """A writer whose sentences come from a chat model, field by field, checked against the facts."""

    def __init__(
        self,
        model: Runnable[Any, Completion],
        name: WriterName,
        retrieve: Retrieve | None = None,
        tasks: tuple[str, ...] | list[str] = ("purpose", "choose_fork_if", "choose_upstream_if"),
    ):
        self.model = model
        self.name = name
        self.retrieve = retrieve
        self.tasks = tuple(tasks)
        unknown = set(self.tasks) - {*FIELDS, "verdict"}
        if unknown:
            raise ValueError(f"unknown LLM tasks: {', '.join(sorted(unknown))} (known: {', '.join(FIELDS)}, verdict)")
        self.facts = FactsWriter()
        full = load_toml(PROMPT)
        self._system = text_template(full["system"])
        self._user = text_template(full["user"])
        self._repair = text_template(full["repair"])
        narrow = load_toml(TASKS)
        self._task_system = text_template(narrow["system"])
        self._task_repair = text_template(narrow["repair"])
        self._task_user = {k: text_template(v["user"]) for k, v in narrow["tasks"].items()}
        self._task_tokens = {k: int(v["max_tokens"]) for k, v in narrow["tasks"].items()}
        self.last_raw: list[str] = []

    # -- the LCEL chain (whole verdict) ------------------------------------------------------------------------

    def chain(self) -> Runnable[Any, Any]:
        """retriever → prompt → model → parser, as LCEL (the whole-verdict task)."""
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
        """The whole draft's JSON schema, with evidence restricted to the IDs shown (constrained decoding)."""
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
        user = self._user.render(
            name=inp.name,
            upstream=inp.upstream,
            recommendation=inp.classification.recommendation,
            archetype=inp.classification.archetype,
            rule=inp.classification.rule,
            facts=_facts(inp),
            evidence=state["shown"],
        )
        msgs = [{"role": "system", "content": self._system.render()}, {"role": "user", "content": user}]
        if state.get("problems"):
            msgs += [
                {"role": "assistant", "content": state["previous"]},
                {"role": "user", "content": self._repair.render(problems=state["problems"])},
            ]
        return {"messages": msgs, "schema": self.schema([s.id for s in state["shown"]]), "max_tokens": 400}

    def _keep_raw(self, raw: Any) -> str:
        done = _text(raw)
        self.last_raw.append(done.text)
        return done.text

    def _call(self, request: dict[str, Any]) -> Completion:
        done = _text(self.model.invoke(request))
        self.last_raw.append(done.text)
        return done

    # -- writing -------------------------------------------------------------------------------------------------

    def write(self, inp: WriterInput) -> Verdict:
        self.last_raw = []
        if "verdict" in self.tasks:
            return self._write_whole(inp)
        return self._write_fields(inp)

    def _write_fields(self, inp: WriterInput) -> Verdict:
        base = self.facts.write(inp)
        shown = evidence_for(inp, self.retrieve)
        notes: list[FieldNote] = []
        accepted: dict[str, list[str]] = {}
        what: Purpose | None = None
        det = purpose_of(inp)
        if "purpose" in self.tasks and det is not None and _uses_purpose(inp):
            got = self._task(inp, "purpose", shown, base, det, accepted)
            notes.append(got.note)
            if got.value is not None:
                what = got.value
                accepted["purpose"] = [what.phrase]
        drafted = self.facts.write(inp, purpose=what) if what else base
        replace: dict[str, list[Claim]] = {}
        for key in ("choose_fork_if", "choose_upstream_if"):
            if key not in self.tasks or not self.facts.own_claims(inp, key) or not _has_work(inp):
                # the facts leave this section empty (a mirror has no reason to choose it), or the fork has no work
                # of its own to put in a user's terms (a copy: the facts' conditions are exact, a model only blurs)
                continue
            got = self._task(inp, key, shown, drafted, (what or det) if _uses_purpose(inp) else None, accepted)
            notes.append(got.note)
            if got.value is not None:
                replace[key] = got.value
                accepted[key] = [c.text for c in got.value]
        summary = None
        if "summary" in self.tasks:
            got = self._task(inp, "summary", shown, drafted, what or det, accepted)
            notes.append(got.note)
            summary = got.value
        verdict = self.facts.write(inp, purpose=what, replace=replace, summary=summary)
        problems = validate(verdict, inp)
        wrote = any(n.source != "facts" for n in notes)
        if problems:  # the fields passed one by one but not together: the facts' verdict, flagged
            notes = [n if n.source == "facts" else FieldNote(field=n.field, source="facts", reason=problems[0])
                     for n in notes]  # fmt: skip
            verdict, wrote = base, False
        update: dict[str, Any] = {"fields": notes}
        if wrote:
            update |= {"writer": self.name, "prompt": f"{TASKS}@{prompt_hash(TASKS)}"}
        elif notes:
            reasons = "; ".join(dict.fromkeys(n.reason or "" for n in notes))
            update |= {"fallback_reason": f"{self.name} writer failed validation: {reasons}"}
        return verdict.model_copy(update=update)

    def _task(
        self,
        inp: WriterInput,
        field: VerdictField,
        shown: list[Shown],
        drafted: Verdict,
        what: Purpose | None,
        accepted: dict[str, list[str]],
    ) -> _Field:
        """Ask for one field, check it, one repair turn; the value, or None with the reason."""
        evidence = _task_evidence(inp, field, shown, drafted, what)
        # the model cites short handles (E1, E2 …), not 40-hex SHAs: fewer tokens, fewer answers cut off
        handles = {f"E{i}": e for i, e in enumerate(evidence, start=1)}
        facts_text = _facts_text(field, drafted, what)
        user = self._task_user[field].render(
            name=inp.name,
            upstream=inp.upstream,
            headline=drafted.headline,
            purpose=(what.phrase if what else ""),
            draft_purpose=(core(what.phrase) if what else ""),
            said=_said(inp),
            topic=_topic(what),
            lead=" ".join(_draft_of(drafted, field).split(":", 1)[0].split()[:4]),
            recommendation=inp.classification.recommendation,
            terms=_term_rows(inp),
            evidence=[Shown(id=h, text=e.text) for h, e in handles.items()],
            facts=_facts(inp),
            draft=_draft_of(drafted, field),
        )
        msgs: list[dict[str, str]] = [
            {"role": "system", "content": self._task_system.render()},
            {"role": "user", "content": user},
        ]
        schema = task_schema(field, list(handles))
        problems: list[str] = []
        for attempt in range(2):  # the first answer, then one repair
            try:
                done = self._call({"messages": msgs, "schema": schema, "max_tokens": self._task_tokens[field]})
            except Exception as exc:  # the model or its server failed: nothing to repair
                problems = [f"model: call failed: {type(exc).__name__}: {str(exc)[:160]}"]
                break
            value, problems = self._check(inp, field, done, handles, facts_text, what, accepted)
            if not problems:
                return _Field(value=value, note=FieldNote(field=field, source="repaired" if attempt else "model"))
            msgs = [*msgs[:2], {"role": "assistant", "content": done.text},
                    {"role": "user", "content": self._task_repair.render(problems=problems)}]  # fmt: skip
        return _Field(note=FieldNote(field=field, source="facts", reason="; ".join(problems[:2])))

    def _check(
        self,
        inp: WriterInput,
        field: VerdictField,
        done: Completion,
        handles: dict[str, Shown],
        facts_text: list[str],
        what: Purpose | None,
        accepted: dict[str, list[str]],
    ) -> tuple[Any, list[str]]:
        if done.truncated:
            return None, [f"truncated: the answer was cut off at max_tokens ({done.max_tokens})"]
        model: type[PurposeAnswer | SummaryAnswer | Conditions] = (
            PurposeAnswer if field == "purpose" else SummaryAnswer if field == "summary" else Conditions
        )
        try:
            answer = model.model_validate(parse_json_object(done.text))
        except (ValueError, ValidationError) as exc:
            return None, [f"json: not a valid answer: {str(exc).splitlines()[0][:160]}"]
        facts_claims = self.facts.own_claims(inp, field) if field.startswith("choose_") else []
        if what is not None and facts_claims:
            facts_claims = _claims_with(self.facts, inp, field, what)
        names = _names(inp)
        grounds = Grounds(
            shown={h: e.text for h, e in handles.items()},
            corpus=[
                *_term_words(inp),
                *facts_text,
                *(st.text for st in _sources(inp)),
                *([what.phrase] if what else []),
            ],
            names=names,
            recommendation=inp.classification.recommendation,
            allowed=allowed_numbers(context(inp)),
        )
        items: list[tuple[str, list[str]]]
        if isinstance(answer, Conditions):
            items = [(_as_condition(c.text, field), c.evidence) for c in answer.conditions]
        elif isinstance(answer, PurposeAnswer):
            items = [(answer.phrase.strip().rstrip("."), answer.evidence)]
        else:
            items = [(answer.summary.strip(), answer.evidence)]
        problems = check_texts(items, field, grounds)
        for text, _cited in items:  # what only a field written on its own is held to
            if field in ("choose_fork_if", "choose_upstream_if"):
                draft = facts_text[0].split(":", 1)[0] if len(facts_text) > 1 else ""
                problems += checks.rewrite(text, draft, field)
                # what it is for: always in "choose this fork if"; in "choose upstream if" where that says "you do
                # not need …" (a niche fork), not where it is about upstream itself ("you must stay on …")
                wants_topic = field == "choose_fork_if" or checks.negated(checks.main_clause(draft))
                if what is not None and _uses_purpose(inp) and wants_topic:
                    problems += checks.specific(text, [core(what.phrase)], names)
            elif field == "purpose":
                problems += [
                    f"shape: {p}" for p in phrase_problems(text, banned_for(inp.facts, inp.name, inp.upstream))
                ]
        # the purpose is a noun phrase the other fields are meant to carry: only whole sentences may not repeat
        sentences = {k: v for k, v in accepted.items() if k != "purpose"}
        problems += checks.repeated({**sentences, field: [t for t, _ in items]})
        if problems:
            return None, list(dict.fromkeys(problems))
        items = [(t, [handles[h].id for h in cited]) for t, cited in items]
        if isinstance(answer, Conditions):
            out = [Claim(text=_condition(t), evidence=list(dict.fromkeys(ids))) for t, ids in items]
            return _keep_detail(out, facts_claims, what), []
        if isinstance(answer, PurposeAnswer):
            text, ids = items[0]
            det = purpose_of(inp)
            # the quote beside the phrase is the source the model cited, when it is one of the fork's own words
            by_id = {st.evidence: st for st in _sources(inp)}
            src = next((by_id[i] for i in ids if i in by_id), None)
            quote, source, kind = (
                (src.text, src.source, src.kind)
                if src
                else ((det.quote, det.source, det.kind) if det else ("", "", ""))
            )
            ev = list(dict.fromkeys([*ids, *(det.evidence if det and not src else [])]))
            return Purpose(phrase=text, quote=quote, source=source, kind=kind, evidence=ev), []
        return items[0][0], []

    def _write_whole(self, inp: WriterInput) -> Verdict:
        base = self.facts.write(inp)
        state = self._with_evidence(inp)
        problems: list[str] = []
        previous = ""
        for attempt in range(2):  # the first answer, then one repair
            try:
                done = self._call(self._messages({**state, "problems": problems, "previous": previous}))
            except Exception as exc:  # the model or its server failed: nothing to repair
                problems = [f"model: call failed: {type(exc).__name__}: {str(exc)[:200]}"]
                break
            previous = done.text
            if done.truncated:
                problems = [f"truncated: the answer was cut off at max_tokens ({done.max_tokens})"]
                continue
            try:
                verdict = self._verdict(done.text, base)
            except (ValueError, ValidationError) as exc:
                problems = [f"json: not a valid verdict: {str(exc).splitlines()[0][:200]}"]
                continue
            problems = check_draft(verdict, inp, state["shown"])
            if not problems:
                note = FieldNote(field="verdict", source="repaired" if attempt else "model")
                return verdict.model_copy(update={"fields": [note]})
        reason = "; ".join(problems[:3])
        return base.model_copy(
            update={
                "writer": WriterName.facts,
                "fallback_reason": f"{self.name} writer failed validation: {reason}",
                "fields": [FieldNote(field="verdict", source="facts", reason=reason)],
            }
        )

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


def _as_condition(text: str, field: str) -> str:
    """A model's "choose this fork if" that is only the thing needed ("Windows support") as the condition it means
    ("you need Windows support"): phrasing, not a claim; every check then runs on the sentence as shown."""
    t = " ".join(text.split()).strip()
    if field == "choose_fork_if" and t and not re.match(r"(?i)^(you|if|choose)\b", t):
        return "you need " + (t[:1].lower() + t[1:] if t[1:2].islower() else t)
    return t


def _condition(text: str) -> str:
    t = " ".join(text.split()).rstrip()
    t = re.sub(r"(?i)^(choose (this fork|upstream)( instead)? if|if)\s+", "", t)
    return t if t.endswith((".", "!", "?")) else t + "."


COPIES = ("mirror", "stale-snapshot", "unrelated")


_PLACES = re.compile(r"\s*\(([^()]*[/.][^()]*)\)\s*$")


def core(phrase: str) -> str:
    """A purpose phrase without its closing list of places: "adds Habana Gaudi (HPU) support (op_builder/hpu/)"
    → "adds Habana Gaudi (HPU) support"."""
    return _PLACES.sub("", phrase)


def _claims_with(facts: FactsWriter, inp: WriterInput, field: str, what: Purpose) -> list[Claim]:
    """The facts writer's own claims for ``field`` (not the notes'), rendered with ``what`` as the purpose."""
    own = len(facts.own_claims(inp, field))
    return list(getattr(facts.write(inp, purpose=what), field))[:own]


def _keep_detail(claims: list[Claim], facts_claims: list[Claim], what: Purpose | None) -> list[Claim]:
    """The model's first condition keeps the facts' detail after the colon ("you do not need Ascend NPU support"
    + ": upstream has 3 commits this fork lacks (…)"), unless that detail only restates what the fork is for."""
    if not claims or not facts_claims or ":" not in facts_claims[0].text or ":" in claims[0].text:
        return claims
    detail = facts_claims[0].text.split(":", 1)[1].strip()
    if what is not None and core(what.phrase).lower() in detail.lower():
        return claims
    first = claims[0]
    text = first.text.rstrip(".") + ": " + detail
    evidence = list(dict.fromkeys([*first.evidence, *facts_claims[0].evidence]))
    return [Claim(text=text, evidence=evidence), *claims[1:]]


def _draft_of(drafted: Verdict, field: str) -> str:
    """The facts writer's first condition of a section: what a condition task rewrites."""
    claims = getattr(drafted, field) if field in ("choose_fork_if", "choose_upstream_if") else []
    return claims[0].text if claims else ""


def _topic(what: Purpose | None) -> str:
    """What a fork is for as the object of "you need …": the purpose phrase itself (a noun phrase)."""
    return core(what.phrase) if what is not None else ""


def _sources(inp: WriterInput) -> list[Statement]:
    """What the fork says about itself and its chosen commit subjects (:func:`service.purpose.candidates`)."""
    return candidates(inp.facts, forge_description=inp.forge_description)


def _said(inp: WriterInput, limit: int = 5) -> list[dict[str, str]]:
    """The sources of purpose a model sees, each with its evidence ID: the fork's own words, quoted."""
    return [{"id": st.evidence, "source": st.source, "text": st.text[:220]} for st in _sources(inp)[:limit]]


def _uses_purpose(inp: WriterInput) -> bool:
    """Whether the fork's verdict templates say what it is for (a mirror's or a rename's do not)."""
    arch = load_toml("verdict.toml")[inp.classification.template or inp.classification.archetype]
    return "purpose" in repr(arch)


def _has_work(inp: WriterInput) -> bool:
    """Whether the fork has work of its own a model could put in a user's terms (not a copy of another tree)."""
    cls = inp.classification
    return inp.facts.unique_commits > 0 and cls.archetype not in COPIES and (cls.template or "") != "copy-of-fork"


def _names(inp: WriterInput) -> list[str]:
    return [inp.name, inp.upstream, *inp.name.split("/"), *inp.upstream.split("/")]


def _facts(inp: WriterInput) -> dict[str, Any]:
    ctx = context(inp)
    keys = ("ahead", "behind", "unique", "last_date", "upstream_last_date", "files_changed", "lines_added")
    return {k: ctx[k] for k in keys if k in ctx}


def _term_rows(inp: WriterInput) -> list[dict[str, str]]:
    return [{"name": term_name(t), "where": ", ".join(t.where[:2])} for t in strong_terms(inp.facts.terms)[:5]]


def _term_words(inp: WriterInput) -> list[str]:
    """What grounds a phrase: every distinctive term, its spellings, glossary name and places."""
    out = []
    for t in inp.facts.terms[:12]:
        out += [t.term, t.display, term_name(t), *t.where, *t.evidence[:5]]
    return out


def _facts_text(field: str, drafted: Verdict, what: Purpose | None) -> list[str]:
    """The facts writer's own text for a field: the model may rephrase anything it says."""
    if field == "purpose":
        return [what.phrase] if what else []
    if field == "summary":
        return [drafted.summary, drafted.headline]
    return [c.text for c in getattr(drafted, field)] + [drafted.headline]


def _task_evidence(
    inp: WriterInput, field: str, shown: list[Shown], drafted: Verdict, what: Purpose | None, k: int = 6
) -> list[Shown]:
    """Only what a field needs: the facts' own evidence for it first, then the purpose's, then retrieved chunks."""
    want: list[str] = []
    if field in ("choose_fork_if", "choose_upstream_if"):
        want += [e for c in getattr(drafted, field) for e in c.evidence]
    if field in ("purpose", "choose_fork_if", "summary") and what is not None:
        want += what.evidence
    if field == "purpose":
        want += [st.evidence for st in _sources(inp)[:4]]
        want += [e for t in strong_terms(inp.facts.terms)[:2] for e in t.evidence[:1]]
    if field == "summary":
        want += ["fact:ahead", "fact:behind", "fact:last_commit_date"]
    by_id = {s.id: s for s in shown}
    out: dict[str, Shown] = {}
    for eid in want:
        if eid in out or eid not in inp.catalogue:
            continue
        if eid in by_id:
            out[eid] = Shown(id=eid, text=by_id[eid].text[:300])
        else:
            e = inp.catalogue[eid]
            out[eid] = Shown(id=eid, text=f"{e.label}. {e.detail}".strip()[:300])
    if field == "purpose":
        for s in shown:
            if len(out) < k and s.id not in out and not s.id.startswith("fact:"):
                out[s.id] = Shown(id=s.id, text=s.text[:300])
    return list(out.values())[:k]


def make_writer(kind: WriterName, settings: Settings, retrieve: Retrieve | None = None) -> Writer:
    """The writer ``kind`` names: the facts writer, or an LLM writer over the configured model."""
    model = chat_llm(settings, kind)
    if model is None:
        return FactsWriter()
    tasks = [t.strip() for t in settings.llm_tasks.split(",") if t.strip()]
    return LLMWriter(model, WriterName(kind), retrieve, tasks)
