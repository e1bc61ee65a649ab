"""Chat over an upstream's forks: retrieve (vector + keyword rerank), answer with numbered citations.

With a model, the answer is an LCEL chain (retrieve → prompt → model → JSON) and is checked: every cited number
must be a retrieved snippet, every fork it names must exist. Without a model (or when the check fails), the
answer is composed from the retrieved evidence and says so. Citations carry fork, sha, path, forge URL, snippet.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Iterator
from functools import lru_cache
from typing import Any, Literal

from jinja2 import Template
from langchain_core.runnables import Runnable, RunnableLambda
from pydantic import BaseModel, Field

from forkwise.index.names import WebLink
from forkwise.index.terms import words
from forkwise.index.vector import VectorIndex
from forkwise.service.settings import Settings
from forkwise.service.verdicts import checks
from forkwise.service.verdicts.llm import Completion
from forkwise.service.verdicts.llm_writer import parse_json_object
from forkwise.service.verdicts.models import ForkReport, Report
from forkwise.service.verdicts.prompts import applied, count, load_toml, text_template


class Turn(BaseModel):
    role: Literal["user", "assistant"]
    content: str = Field(max_length=4000)


class ChatRequest(BaseModel):
    upstream: str = Field(description="owner/repo of a summarized upstream.")
    question: str = Field(min_length=1, max_length=2000)
    fork: str | None = Field(default=None, description="Scope retrieval to one fork.")
    history: list[Turn] = Field(default_factory=list, max_length=20)
    stream: bool = False


class Citation(BaseModel):
    n: int
    fork: str
    sha: str | None = None
    path: str | None = None
    url: WebLink = None
    evidence: str | None = None
    snippet: str
    score: float


class ChatAnswer(BaseModel):
    answer: str
    citations: list[Citation]
    mode: Literal["llm", "retrieval", "facts"] = Field(
        description="llm: a checked model answer; retrieval: the retrieved evidence as it is; facts: a question about "
        "the forks' state (maintained, copies, closest, which to use), answered from the report's facts."
    )
    note: str | None = None


@lru_cache(maxsize=16384)
def _words(text: str) -> frozenset[str]:
    """:func:`words`, remembered: the same snippets and verdict phrases come back with every question."""
    return frozenset(words(text))


_terms_of: OrderedDict[int, tuple[Report, dict[str, set[str]]]] = OrderedDict()
_terms_lock = threading.Lock()


def fork_terms(report: Report) -> dict[str, set[str]]:
    """Each fork's distinctive terms as question words: the tokens and the words of their glossary names (a
    question about "Gaudi" finds the fork whose term is ``hpu``). Computed once per parsed report (stored reports
    are parsed once per version and shared by every request)."""
    with _terms_lock:
        hit = _terms_of.get(id(report))
        if hit is not None and hit[0] is report:
            _terms_of.move_to_end(id(report))
            return hit[1]
    out = _fork_terms(report)
    with _terms_lock:
        _terms_of[id(report)] = (report, out)
        while len(_terms_of) > 32:
            _terms_of.popitem(last=False)
    return out


def _fork_terms(report: Report) -> dict[str, set[str]]:
    glossary: dict[str, str] = load_toml("glossary.toml")["terms"]
    out: dict[str, set[str]] = {}
    for f in report.forks:
        if f.facts is None:
            continue
        words: set[str] = set(purpose_words(f))
        for t in f.facts.terms[:8]:
            words.add(t.term)
            if t.term in glossary:
                words |= _words(glossary[t.term])
        if words:
            out[f.name] = words
    return out


_GENERIC_Q = frozenset("support supports adds add added which fork forks what who has have uses use".split())


def purpose_words(f: ForkReport) -> set[str]:
    """The content words of what a fork is for, in its own words: the verdict's phrase and the quote it came from."""
    v = f.verdict
    if v is None or not v.purpose:
        return set()
    return {w for w in _words(f"{v.purpose} {v.purpose_quote}") if w not in _GENERIC_Q}


TERM_WEIGHT = 0.6
"""Bonus for a chunk whose fork has the question's words among its distinctive terms (share of the words)."""


def retrieve(vindex: VectorIndex, report: Report, question: str, fork: str | None = None, k: int = 6) -> list[Citation]:
    """Top chunks for the question: vector search, plus the best chunks of forks whose distinctive terms the
    question names; reranked by keyword overlap and by those terms; mapped to citations (one per fork and chunk)."""
    flt = {f"fork:{fork}": True} if fork else None
    vec = vindex.embeddings.embed_query(question)  # once: every search below reuses it
    search = vindex.store.similarity_search_by_vector_with_relevance_scores  # (document, cosine distance)
    # Chroma's where clause matches any metadata value (ours are booleans); langchain-chroma annotates it as str
    hits = search(vec, k=max(k * 3, 12), filter=flt)  # type: ignore[arg-type]
    q = _words(question)
    terms = fork_terms(report)
    named = [name for name, words in terms.items() if q & words and (fork is None or name == fork)]
    for name in named[:5]:  # the forks the question is about by their own work, even if similarity missed them
        hits += search(vec, k=3, filter={f"fork:{name}": True})  # type: ignore[dict-item]  # a boolean where clause (above)
    forks = {f.name: f for f in report.forks}
    scored = []
    seen: set[tuple[str, str]] = set()
    for doc, dist in hits:
        sim = 1.0 - float(dist)  # cosine distance → similarity
        overlap = len(q & _words(doc.page_content)) / max(len(q), 1)
        meta = doc.metadata
        owners = sorted(k.removeprefix("fork:") for k, v in meta.items() if k.startswith("fork:") and v is True)
        owners = [o for o in owners if o != "@upstream"] or [report.upstream.name]
        if fork:
            owners = [fork]
        for owner in owners:
            key = (owner, doc.page_content)
            if key in seen:
                continue
            seen.add(key)
            bonus = TERM_WEIGHT * len(q & terms.get(owner, set())) / max(len(q), 1)
            scored.append((sim + 0.5 * overlap + bonus, overlap + bonus, owner, doc))
    scored.sort(key=lambda x: -x[0])
    out: list[Citation] = []
    for score, relevance, owner, doc in scored:
        if q and relevance == 0 and score < 0.45:
            continue  # semantically loose and no shared word: not evidence for this question
        meta = doc.metadata
        eid = str(meta.get("evidence") or "")
        fr = forks.get(owner)
        url = None
        if fr is not None:
            url = next((e.url for e in fr.evidence if e.id == eid), None) or fr.web_url
        out.append(
            Citation(
                n=0,
                fork=owner,
                sha=str(meta["sha"]) if meta.get("sha") else None,
                path=str(meta["path"]) if meta.get("path") else None,
                url=url,
                evidence=eid or None,
                snippet=doc.page_content[:400],
                score=round(score, 4),
            )
        )
        if len(out) >= k:
            break
    for i, c in enumerate(out[:k], start=1):
        c.n = i
    return out[:k]


STATE_QUESTIONS: list[tuple[str, re.Pattern[str]]] = [
    (
        "maintained",
        re.compile(r"\bmaintained\b|\b(still|actively)[ -](developed|active|alive)\b|\bmost active\b", re.I),
    ),
    ("copies", re.compile(r"\b(only|just|plain|mere) (copies|copy|mirrors?|snapshots?)\b|\badd(s)? nothing\b", re.I)),
    ("closest", re.compile(r"\bclosest to upstream\b|\bnearest to upstream\b|\bleast behind\b", re.I)),
    (
        "merge",
        re.compile(
            r"\bmerges? (cleanly|without (a )?conflicts?)\b|\bmerges? (cleanly )?(on|onto|into|with) upstream\b|"
            r"\bapply (cleanly )?(on|onto|to) upstream\b|\bconflicts? with upstream\b|"
            r"\bport(ed|ing)? (on|onto|to) upstream\b",
            re.I,
        ),
    ),
    (
        "shared",
        re.compile(
            r"\b(several|many|multiple|two or more|more than one|other) forks\b.*\b(share|carry|have|made)\b|"
            r"\bshared (fix(es)?|changes?|patch(es)?)\b|"
            r"\b(fix(es)?|changes?|patch(es)?) (that )?(several|many|multiple) forks\b",
            re.I,
        ),
    ),
    ("default", re.compile(r"\b(better|best) default\b|\bwhich (fork )?should i use\b|\bwhat should i use\b", re.I)),
]


def state_answer(question: str, report: Report) -> ChatAnswer | None:
    """A question about the forks' state answered from the report's facts (archetypes, dates, picks), or None."""
    kind = next((k for k, rx in STATE_QUESTIONS if rx.search(question)), None)
    if kind is None:
        return None
    judged = report.judged()
    ok = [j.report for j in judged]
    copies = ("mirror", "stale-snapshot", "unrelated")
    adding = [j for j in judged if j.report.archetype not in copies and j.verdict.recommendation != "upstream"]
    picks = report.picks
    up = report.upstream
    chosen: list[tuple[ForkReport, str, str]] = []  # (fork report, evidence id, line)
    if kind == "maintained":
        # forks that carry the project on come first (that is what "maintained" asks), then the newest work
        newest = sorted(
            adding, key=lambda j: (j.report.archetype != "continuation", -j.facts.last_commit_date.timestamp())
        )
        for j in newest[:5]:
            line = f"last commit {j.facts.last_commit_date.date()}"
            if j.report.archetype == "continuation":
                line += ", carries the project on"
            chosen.append((j.report, "fact:last_commit_date", line))
        head = (
            f"Upstream's last commit was {up.last_commit_date.date()}. Forks that carry the project on first, then "
            "the other forks with work of their own, newest first:"
        )
    elif kind == "copies":
        for j in judged:
            if j.report.archetype in ("mirror", "stale-snapshot"):
                chosen.append((j.report, "fact:ahead", f"{j.report.archetype}: {j.verdict.headline}"))
        head = "These forks add nothing of their own (mirrors and older copies):"
    elif kind == "merge":
        merging = [(f, f.facts.merge) for f in ok if f.facts and f.facts.merge is not None]
        merging.sort(key=lambda fm: (not fm[1].clean, len(fm[1].conflicts), fm[0].name))
        for f, m in merging[:8]:
            if m.clean:
                line = f"merges onto upstream's {m.onto[:7]} without a conflict"
            else:
                more = f" and {len(m.conflicts) - 3} more" if len(m.conflicts) > 3 else ""
                line = f"conflicts in {count(len(m.conflicts), 'file')} ({', '.join(m.conflicts[:3])}{more})"
            if m.port is not None and m.port.total:
                line += f"; {applied(m.port.applied, m.port.total)} in order"
            chosen.append((f, "fact:merge", line))
        clean = sum(1 for _f, m in merging if m.clean)
        some = (
            f"All {len(merging)} forks"
            if clean == len(merging) > 1
            else f"{count(clean, 'fork')} of the {len(merging)}"
        )
        head = (
            f"{some} with work of their own merge onto upstream today without a conflict (git merge-tree, in memory):"
        )
    elif kind == "shared":
        for s in report.shared[:8]:
            f = next(x for x in ok if x.name == s.forks[0])
            eid = f"commit:{s.commits[f.name]}" if s.kind == "patch" else f"file:{s.files[0]}"
            chosen.append((f, eid, s.sentence))
        head = (
            "Changes several forks carry independently, which upstream lacks:"
            if chosen
            else "No change is carried independently by several forks here."
        )
    elif kind == "closest":
        pick = picks.get("closest_to_upstream")
        for f in ok:
            if pick and f.name == pick.fork:
                chosen.append((f, "fact:behind", pick.reason))
        head = "Of the forks that add work, the closest to upstream:"
    else:
        # the report's one ranking: the fork picked to use, else the forks recommended instead of upstream
        pick = picks.get("use")
        best = [j for j in report.ranked() if (j.name == pick.fork if pick else j.verdict.recommendation == "fork")]
        for j in best[:5]:
            chosen.append((j.report, "fact:unique_commits", j.verdict.headline))
        head = "The fork to use instead of upstream:" if chosen else "No fork is a better default than upstream here."
    cites = [
        Citation(n=i, fork=f.name, evidence=eid, url=f.web_url, snippet=line, score=1.0)
        for i, (f, eid, line) in enumerate(chosen, start=1)
    ]
    lines = [head, *(f"- {c.fork}: {c.snippet} [{c.n}]" for c in cites)]
    if not cites and kind not in ("default", "shared"):
        lines.append("- none")
    return ChatAnswer(answer="\n".join(lines), citations=cites, mode="facts", note="answered from the facts (git)")


ANSWER_TOKENS = 160
"""A chat answer's budget: a few sentences with citations (a longer one is cut off and fails the check)."""

UNKNOWN = re.compile(
    r"\b(no fork|none of the (forks|snippets)|(do|does) not (say|answer|mention|show)|not in the (index|snippets)|"
    r"cannot tell|can't tell|don't know|do not know)\b",
    re.I,
)
"""How an answer says the retrieved evidence does not answer the question."""


NONE = "The snippets do not answer that."


def composed(obj: dict[str, Any]) -> dict[str, Any]:
    """The narrow chat task's answer (``fork``, ``what``, ``citations``) as an answer text with citations; an
    answer already written as ``answer`` (a stronger model's) passes through."""
    if "answer" in obj or "fork" not in obj:
        return obj
    cited = [n for n in obj.get("citations", []) if isinstance(n, int)]
    if obj["fork"] == "none":
        return {"answer": NONE, "citations": []}
    what = " ".join(str(obj.get("what", "")).split()).rstrip(".")
    refs = "".join(f" [{n}]" for n in cited)
    return {"answer": f"{obj['fork']} {what}{refs}.", "citations": cited}


def named_forks(text: str, report: Report) -> list[str]:
    """The forks an answer names, in the order it names them (full owner/name, or the owner alone)."""
    found: list[tuple[int, str]] = []
    for f in report.forks:
        owner = f.name.split("/", 1)[0]
        hits = [m.start() for m in re.finditer(r"(?<![\w/-])" + re.escape(f.name) + r"(?![\w-])", text)]
        if not hits:
            hits = [m.start() for m in re.finditer(r"(?<![\w/-])" + re.escape(owner) + r"(?![\w-])", text)]
        if hits:
            found.append((hits[0], f.name))
    return [n for _i, n in sorted(found)]


def by_purpose(question: str, cites: list[Citation], report: Report) -> list[Citation]:
    """Citations with those of forks whose own words (purpose phrase and quote) carry at least half the question's
    words first, renumbered 1…n; retrieval order otherwise kept. "Which fork adds X?" is answered by the fork that
    says so; "which fork has a gevent waiter sample?" is not answered by a fork that only says "gevent support"."""
    q = _words(question) - _GENERIC_Q
    reports = {f.name: f for f in report.forks}
    said = {n for n, f in reports.items() if q and 2 * len(q & purpose_words(f)) >= len(q)}
    ordered = sorted(cites, key=lambda c: c.fork not in said)
    return [c.model_copy(update={"n": i}) for i, c in enumerate(ordered, start=1)]


@lru_cache(maxsize=1)
def _retrieval_only() -> Template:
    """The retrieval-only answer's template, compiled once per process."""
    return text_template(load_toml("chat.toml")["retrieval_only"])


def compose(question: str, cites: list[Citation], report: Report, failed: str | None = None) -> str:
    """The answer without a model's words: forks ranked by their best evidence, one line each, with citation
    numbers. A fork whose own words (its purpose phrase and the quote it came from) carry the question's words is
    named by that phrase and quote, and comes first; the others by their best snippet. ``failed``: why a configured
    model's answer was not used (the answer says so, never that no model is configured)."""
    by_fork: dict[str, list[Citation]] = {}
    for c in cites:
        if c.fork != report.upstream.name:
            by_fork.setdefault(c.fork, []).append(c)
    q = _words(question) - _GENERIC_Q
    reports = {f.name: f for f in report.forks}
    forks = []
    for name, cs in by_fork.items():
        fr = reports.get(name)
        v = fr.verdict if fr else None
        said = bool(fr and v and v.purpose and q & purpose_words(fr))
        if said and v is not None:
            line = v.purpose + (f" ({v.purpose_cite})" if v.purpose_cite else "")
        else:
            line = cs[0].snippet.splitlines()[0][:160]
        forks.append({"name": name, "line": line, "refs": [c.n for c in cs], "said": said})
    return _retrieval_only().render(question=question, forks=forks, failed=failed).strip()


class ChatService:
    def __init__(self, settings: Settings, model: Runnable[Any, Completion] | None = None):
        self.settings = settings
        self.model = model
        self._indexes: dict[str, VectorIndex] = {}
        self._lock = threading.Lock()
        spec = load_toml("chat.toml")
        self._system = text_template(spec["system"])
        self._user = text_template(spec["user"])

    def index(self, upstream: str) -> VectorIndex:
        """The upstream's vector index, opened once per service and shared by every request thread."""
        with self._lock:
            vi = self._indexes.get(upstream)
            if vi is None:
                vi = self._indexes[upstream] = VectorIndex(self.settings, upstream, pool="query")
            return vi

    def warm(self, reports: list[Report]) -> list[str]:
        """What a first question about each report would load, loaded now: the vector stack, the query model, the
        upstream's index (one search reads its segment) and the fork terms retrieval ranks by. No model is asked,
        and remote embeddings are not called (their indexes are opened, not searched).
        Returns the problems met (an index that cannot be opened is a warning: its questions will say why)."""
        problems = []
        for report in reports:
            try:
                vindex = self.index(report.upstream.name)
                if self.settings.embeddings != "local":
                    continue  # a remote embeddings endpoint is not called at start-up (it may be slow, or down)
                retrieve(vindex, report, "which fork should I use?")
            except Exception as exc:  # a broken index must not keep the server from serving the others
                problems.append(f"{report.upstream.name}: {type(exc).__name__}: {exc}")
        return problems

    def chain(self, vindex: VectorIndex, report: Report, req: ChatRequest) -> Runnable[Any, Any]:
        """retriever → prompt → model → parser (LCEL); the output is ``(raw answer dict, citations)``."""
        assert self.model is not None

        def prompt(cites: list[Citation]) -> dict[str, Any]:
            forks = list(dict.fromkeys(c.fork for c in cites if c.fork != report.upstream.name))
            reports = {f.name: f for f in report.forks}
            said = [
                {"fork": n, "purpose": v.purpose, "quote": v.purpose_quote}
                for n in forks
                if (v := reports[n].verdict if n in reports else None) is not None and v.purpose
            ]
            msgs = [
                {"role": "system", "content": self._system.render(upstream=report.upstream.name)},
                {
                    "role": "user",
                    "content": self._user.render(question=req.question, history=req.history, snippets=cites, said=said),
                },
            ]
            # "none" is no answer when the best snippet carries the question's words (the check would refuse it):
            # the model is only offered the choice among the forks then
            top = next((c for c in cites if c.fork != report.upstream.name), None)
            asked = {checks.stem(w) for w in checks.content_words(req.question, [report.upstream.name])}
            top_words = [top.snippet, top.path or "", *fork_terms(report).get(top.fork, set())] if top else []
            silent_ok = top is None or not (asked & checks.stems(top_words))
            # a narrow task: pick the fork (an enum of the forks retrieved, or "none") and say what it has, in a
            # short phrase; the answer is composed from those, citing the snippets
            schema = {
                "type": "object",
                "properties": {
                    "fork": {"type": "string", "enum": [*forks, "none"] if silent_ok else forks},
                    "what": {"type": "string"},  # no maxLength: long bounds blow up llama.cpp grammars
                    "citations": {"type": "array", "items": {"type": "integer"}, "maxItems": 3},
                },
                "required": ["fork", "what", "citations"],
            }
            return {"messages": msgs, "schema": schema, "cites": cites}

        def call(state: dict[str, Any]) -> tuple[dict[str, Any], list[Citation]]:
            if not state["cites"]:  # nothing retrieved: nothing for a model to phrase, and no guessing
                return {}, []
            model = self.model
            assert model is not None  # chain() is built only with a model
            done = model.invoke({"messages": state["messages"], "schema": state["schema"], "max_tokens": ANSWER_TOKENS})
            text = done.text if isinstance(done, Completion) else str(done)
            if isinstance(done, Completion) and done.truncated:
                raise ValueError(f"truncated: the answer was cut off at max_tokens ({done.max_tokens})")
            return composed(parse_json_object(text)), state["cites"]

        return (
            RunnableLambda(
                lambda r: by_purpose(r.question, retrieve(vindex, report, r.question, r.fork), report), name="retrieve"
            )
            | RunnableLambda(prompt, name="prompt")
            | RunnableLambda(call, name="model+parse")
        )

    def answer(self, report: Report, req: ChatRequest, vindex: VectorIndex | None = None) -> ChatAnswer:
        if req.fork is None and (from_facts := state_answer(req.question, report)) is not None:
            return from_facts  # about the forks' state, not their content: git's facts answer it, not similarity
        vindex = vindex or self.index(report.upstream.name)
        if self.model is None:
            cites = by_purpose(req.question, retrieve(vindex, report, req.question, req.fork), report)
            return ChatAnswer(answer=compose(req.question, cites, report), citations=cites, mode="retrieval")
        try:
            obj, cites = self.chain(vindex, report, req).invoke(req)
            if not cites:  # nothing retrieved: the index does not know, and no model is asked to guess
                return ChatAnswer(
                    answer=f'No fork\'s indexed changes match "{req.question}".',
                    citations=[],
                    mode="retrieval",
                    note="nothing in the index matches the question; the model was not asked",
                )
            problems = self.check(obj, cites, report, req.question)
        except Exception as exc:  # model down or unparsable: say so and answer from the evidence
            cites = retrieve(vindex, report, req.question, req.fork)
            problems = [f"{type(exc).__name__}: {str(exc)[:160]}"]
        if problems:
            cites = by_purpose(req.question, cites, report)
            return ChatAnswer(
                answer=compose(req.question, cites, report, failed="; ".join(problems[:2])),
                citations=cites,
                mode="retrieval",
                note="the model's answer failed validation (" + "; ".join(problems[:3]) + "); showing the evidence",
            )
        used = [int(n) for n in obj.get("citations", [])]
        order = {n: i for i, n in enumerate(dict.fromkeys(used))}
        ranked = sorted(cites, key=lambda c: order.get(c.n, len(order) + c.n))
        return ChatAnswer(answer=str(obj["answer"]).strip(), citations=ranked, mode="llm")

    @staticmethod
    def check(obj: dict[str, Any], cites: list[Citation], report: Report, question: str = "") -> list[str]:
        """What is wrong with a model's answer, before anything is streamed: it must cite retrieved snippets,
        name the fork(s) it is about (the first one named carries the first citation) or say the evidence does
        not answer; never praise a fork the facts do not recommend; and say nothing the snippets do not carry."""
        problems = []
        answer = obj.get("answer")
        if not isinstance(answer, str) or not answer.strip():
            return ["no answer text"]
        valid = {c.n: c for c in cites}
        cited = [int(n) for n in obj.get("citations", []) if isinstance(n, int | str) and str(n).isdigit()]
        inline = [int(n) for n in re.findall(r"\[(\d+)\]", answer)]
        for n in cited + inline:
            if n not in valid:
                problems.append(f"evidence: cites [{n}], which is not a retrieved snippet")
        unknown = UNKNOWN.search(answer) is not None
        top = next((c for c in cites if c.fork != report.upstream.name), None)
        if unknown and top is not None and question:
            asked = {checks.stem(w) for w in checks.content_words(question, [report.upstream.name])}
            carried = checks.stems([top.snippet, top.path or "", *fork_terms(report).get(top.fork, set())])
            if asked & carried:
                problems.append(f"evidence: says the snippets do not answer, but {top.fork}'s snippet matches it")
        if cites and not (cited or inline) and not unknown:
            problems.append("evidence: cites nothing")
        known = {f.name for f in report.forks} | {report.upstream.name}
        owner = report.upstream.name.split("/", 1)[-1]
        for name in re.findall(r"\b[\w.-]+/" + re.escape(owner) + r"\b", answer):
            if name not in known:
                problems.append(f"grounding: names {name!r}, which is not a fork here")
        named = named_forks(answer, report)
        said = checks.content_words(re.sub(r"\[\d+\]", " ", answer), [report.upstream.name, *named])
        if named and not said and not unknown:
            problems.append("names: the answer names a fork but says nothing about it")
        if not named and not unknown:
            problems.append("names: the answer names no fork and does not say the evidence is silent")
        first = next((valid[n] for n in inline + cited if n in valid), None)
        if named and first is not None and first.fork != named[0]:
            problems.append(f"names: it names {named[0]} first but cites {first.fork}'s snippet first")
        elif named and first is not None and top and named[0] != top.fork and question:
            # choosing among the retrieved forks is the model's job: its choice stands when the snippet it cites
            # for that fork carries the question's words (or that fork's own words do); else retrieval's ranking
            asked = {checks.stem(w) for w in checks.content_words(question, [report.upstream.name])}
            fr = next((f for f in report.forks if f.name == first.fork), None)
            carried = checks.stems([first.snippet, first.path or "", *(purpose_words(fr) if fr else set())])
            if not asked & carried:
                problems.append(
                    f"names: it leads with {named[0]}, whose cited snippet does not carry the question's words; "
                    f"the evidence ranks {top.fork} first"
                )
        verdicts = {f.name: f.verdict for f in report.forks if f.verdict}
        for name in named:
            v = verdicts.get(name)
            if v is not None:
                problems += checks.polarity(answer, v.recommendation if len(named) == 1 else "fork", "answer")
        corpus = [question, *(c.snippet for c in cites if c.n in {*cited, *inline}), *(c.fork for c in cites),
                  *(c.path or "" for c in cites)]  # fmt: skip
        if named or not unknown:  # "the snippets do not answer that" claims nothing to ground
            problems += checks.grounding(answer, corpus, [report.upstream.name, *named])
        return list(dict.fromkeys(problems))

    def events(self, report: Report, req: ChatRequest) -> Iterator[tuple[str, dict[str, Any]]]:
        """SSE events for a validated answer: ``token``…, ``citation``…, ``done`` (or ``error``)."""
        try:
            ans = self.answer(report, req)
        except Exception as exc:
            yield "error", {"message": f"{type(exc).__name__}: {exc}"}
            return
        yield from answer_events(ans)


def answer_events(ans: ChatAnswer) -> Iterator[tuple[str, dict[str, Any]]]:
    for tok in re.findall(r"\S+\s*|\s+", ans.answer):
        yield "token", {"text": tok}
    for c in ans.citations:
        yield "citation", c.model_dump()
    yield "done", ans.model_dump()
