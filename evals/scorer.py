"""The eval runner: build (or open) every labeled case, run the real pipeline, score the verdicts.

Matching of labels is explicit and reproducible (no model judges):

- text of a verdict = headline + summary + choose_fork_if + choose_upstream_if + risks + terms + archetype rule,
  lower-cased, whitespace collapsed;
- a ``must_mention`` / ``must_not_claim`` entry is a phrase, matched case-insensitively as a substring after the
  same normalisation, or a regular expression when written ``/like this/``.
"""

from __future__ import annotations

import os
import re
import statistics
import tempfile
import time
import tomllib
from collections import Counter
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from langchain_core.runnables import Runnable
from pydantic import BaseModel, ConfigDict, Field

from forkwise.evals.builder import ChatQuestion, Labels, NetworkSpec, build_network
from forkwise.evals.demo import DEMO_SPEC
from forkwise.evals.presets import expand
from forkwise.index.network import ForkInput
from forkwise.index.sources import Source
from forkwise.service.runs.engine import RunRequest, rewrite_verdicts
from forkwise.service.runs.engine import report as engine_report
from forkwise.service.runs.vectors import retriever, sync_vectors
from forkwise.service.settings import Settings
from forkwise.service.verdicts import checks
from forkwise.service.verdicts.classify import ARCHETYPES
from forkwise.service.verdicts.llm_writer import LLMWriter
from forkwise.service.verdicts.models import FieldNote, ForkReport, Report, Writer, WriterStats
from forkwise.service.verdicts.purpose import IDENTIFIER_LIST, banned_for
from forkwise.service.verdicts.purpose import problems as phrase_problems
from forkwise.service.verdicts.report import stored_input, verdict_problems
from forkwise.service.verdicts.writer import FactsWriter, purpose_of

EVALS_DIR = Path(str(resources.files("forkwise.evals")))
CASES_DIR = EVALS_DIR / "cases"
THRESHOLDS = EVALS_DIR / "thresholds.toml"
LLM_BOUNDS = EVALS_DIR / "llm.toml"


SECURITY_NOTES = {"security_fork": "fork", "security_upstream": "upstream", "security_landed": "landed"}
"""Verdict notes that are security claims, by the kind of claim (see ``Labels.security_claims``)."""


class EvalSetupError(RuntimeError):
    """The eval cannot judge anything: no cases, or no thresholds to hold them to."""


def case_paths(cases_dir: Path | None = None) -> list[Path]:
    """The case files in ``cases_dir``; by default the packaged cases plus the demo network (it is labeled too)."""
    folder = cases_dir or CASES_DIR
    paths = sorted(folder.glob("*.yaml")) + sorted(folder.glob("*.yml")) if folder.is_dir() else []
    if cases_dir is None and paths:
        paths.append(DEMO_SPEC)
    if not paths:
        raise EvalSetupError(f"no eval cases (*.yaml) in {folder}")
    return paths


def subset_paths(paths: list[Path], bounds: Path = LLM_BOUNDS) -> list[Path]:
    """The cases ``bounds``' ``[subset]`` lists (``cases``, then ``chat``), in its order; a name that matches no
    case is an error."""
    sub = tomllib.loads(bounds.read_text())["subset"]
    wanted = [*sub["cases"], *sub.get("chat", [])]
    by_stem = {p.stem: p for p in paths}
    missing = [w for w in wanted if w not in by_stem]
    if missing:
        raise EvalSetupError(f"{bounds.name} lists cases that do not exist: {', '.join(missing)}")
    return [by_stem[w] for w in wanted]


class ExistingRepo(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    url: str
    ref: str | None = None
    labels: Labels = Field(default_factory=Labels)


class ExistingCase(BaseModel):
    """A case over repositories that already exist (a local mirror or a URL), as in a forks file."""

    model_config = ConfigDict(extra="forbid")
    name: str
    description: str = ""
    upstream: ExistingRepo
    forks: list[ExistingRepo]
    questions: list[ChatQuestion] = Field(default_factory=list)


class ForkResult(BaseModel):
    case: str
    fork: str
    labels: Labels
    recommendation: str | None
    archetype: str | None
    error: str | None
    text: str
    checks: dict[str, Any]
    seconds: float
    writer: str | None = Field(default=None, description="Who wrote the verdict's sentences.")
    fields: list[FieldNote] = Field(default_factory=list, description="Per field an LLM writer was asked for.")


class QuestionResult(BaseModel):
    case: str
    question: str
    expected: str
    forks: list[str] = Field(description="The forks the answer cites, in citation order, each once.")
    mode: str
    rank: int | None = Field(description="1-based rank of the expected fork among the cited forks; None if absent.")
    answer: str = ""
    named: list[str] = Field(default_factory=list, description="The forks the answer's text names, in order.")
    retrieval_rank: int | None = Field(
        default=None,
        description="The same rank for the answer without a model (retrieval alone), when a model answered.",
    )
    model_asked: bool = Field(default=False, description="A model was asked (not a question the facts answer).")


class Metrics(BaseModel):
    cases: int
    forks: int
    recommendation_accuracy: float
    archetype_accuracy: float
    archetype_macro_f1: float
    confusion: dict[str, dict[str, int]]
    must_mention_recall: float
    must_not_claim_violations: int
    false_security_claims: int = Field(description="Security claims a verdict made that its labels do not hold.")
    false_lack_claims: int = Field(description="Claims that a side lacks a fix (fork/upstream) not in the labels.")
    security_claim_recall: float = Field(description="Share of labeled security claims the verdicts make.")
    citation_validity: float
    number_consistency: float
    error_label_accuracy: float
    merge_accuracy: float = Field(
        default=1.0, description="Share of labelled forks whose merge conflicts and port plan are exactly the labels."
    )
    readable: float = Field(
        default=1.0,
        description="Share of forks with work of their own whose phrase comes from their own words or commit subjects "
        "when one gives it, and holds no banned kind (evals.scorer.readable).",
    )
    seconds_per_fork_mean: float
    seconds_per_fork_p95: float
    chat_questions: int = 0
    chat_hit_at_1: float = Field(default=1.0, description="Share of questions whose first citation names the fork.")
    chat_mrr: float = Field(default=1.0, description="Mean reciprocal rank of the labelled fork among cited forks.")
    chat_named_hit_at_1: float = Field(
        default=1.0, description="Share of questions whose answer names the labelled fork first (model answers)."
    )
    chat_model_answers: int = Field(default=0, description="Answers a model wrote that passed the chat checks.")
    chat_model_questions: int = Field(default=0, description="Questions a model was asked (not those git answers).")
    chat_accepted: float = Field(
        default=1.0, description="Share of the questions a model was asked whose answer passed the chat checks."
    )
    chat_retrieval_hit_at_1: float = Field(
        default=1.0, description="hit@1 of the same questions by retrieval alone, measured in the same run."
    )
    chat_hit_at_1_gain: float = Field(
        default=0.0, description="chat_hit_at_1 minus retrieval alone's, over the questions a model was asked."
    )
    contradictions: int = Field(
        default=0, description="Sentences whose polarity contradicts the recommendation (service.checks.polarity)."
    )
    false_claims: int = Field(
        default=0,
        description="must_not_claim hits + false security claims + invalid citations + numbers not computed.",
    )
    injected_claims: int = Field(default=0, description="Labelled injected phrases that reached a verdict.")
    writer_verdicts: int = 0
    fields_asked: int = 0
    fields_fallback: int = 0
    fallback_rate: float = Field(default=0.0, description="Fields that fell back to the facts writer / fields asked.")
    fallback_reasons: dict[str, int] = Field(default_factory=dict)
    seconds_per_verdict: float = Field(default=0.0, description="Writer time per verdict (model calls included).")


class EvalResult(BaseModel):
    writer: str
    cases: list[ForkResult]
    questions: list[QuestionResult] = Field(default_factory=list)
    metrics: Metrics
    thresholds: dict[str, float]
    failures: list[str]

    @property
    def passed(self) -> bool:
        return not self.failures


class CaseError(ValueError):
    """A case file that cannot be read; the message names the file."""


def load_case(path: Path) -> NetworkSpec | ExistingCase:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        if isinstance(data.get("upstream"), dict) and "url" in data["upstream"]:
            case = ExistingCase.model_validate(data)
            for repo in (case.upstream, *case.forks):
                repo.url = _local_url(repo.url, path.parent)
            return case
        return NetworkSpec.model_validate(expand(data))
    except (OSError, yaml.YAMLError, ValueError, KeyError) as exc:
        raise CaseError(f"{path.name}: {exc}") from exc


def _local_url(url: str, folder: Path) -> str:
    """A case's repository location: ``$VARS`` expanded, a relative path taken from the case file's folder; a
    local path that does not exist is an error that says so (not a silently empty case)."""
    url = os.path.expandvars(url)
    if "://" in url or ":" in url.split("/", 1)[0]:
        return url
    local = (folder / url).resolve()
    if not local.exists():
        raise CaseError(f"{url} not found (from {folder})")
    return str(local)


def normalise(text: str) -> str:
    return " ".join(text.replace("\\", "").lower().split())


def matches(pattern: str, text: str) -> bool:
    if len(pattern) > 2 and pattern.startswith("/") and pattern.endswith("/"):
        return re.search(pattern[1:-1], text, re.I) is not None
    return normalise(pattern) in text


def verdict_text(f: ForkReport) -> str:
    v = f.verdict
    if v is None:
        return ""
    parts = [v.headline, v.summary, v.archetype_rule, v.breakdown.text if v.breakdown else "", *v.terms]
    parts += [c.text for c in (*v.choose_fork_if, *v.choose_upstream_if, *v.risks)]
    return normalise(" ".join(parts))


def _score_fork(case: str, f: ForkReport, labels: Labels, report: Report, seconds: float) -> ForkResult:
    text = verdict_text(f)
    checks: dict[str, Any] = {}
    if labels.error:
        checks["error"] = bool(f.error and re.search(labels.error, f.error))
    else:
        checks["analysed"] = f.error is None
    if labels.recommendation:
        checks["recommendation"] = f.verdict is not None and f.verdict.recommendation == labels.recommendation
    if labels.archetype:
        checks["archetype"] = f.archetype == labels.archetype
    if labels.merge_conflicts is not None or labels.port_applied is not None:
        m = f.facts.merge if f.facts else None
        checks["merge"] = m is not None and (
            (labels.merge_conflicts is None or m.conflicts == sorted(labels.merge_conflicts))
            and (labels.port_applied is None or (m.port is not None and m.port.applied == labels.port_applied))
        )
    checks["must_mention"] = {p: matches(p, text) for p in labels.must_mention}
    if f.verdict and f.facts and f.facts.unique_commits:
        why = readable(report, f)
        checks["readable"] = not why
        if why:
            checks["readable_problems"] = why
    claimed = {SECURITY_NOTES[n] for n in (f.verdict.classification.notes if f.verdict else []) if n in SECURITY_NOTES}
    checks["security_claims"] = {"claimed": sorted(claimed), "expected": sorted(labels.security_claims)}
    checks["must_not_claim"] = {p: matches(p, text) for p in labels.must_not_claim}
    checks["injected"] = {p: matches(p, text) for p in labels.injected}
    checks["contradictions"] = contradictions(f)
    if f.verdict and f.facts:
        ids = {e.id for e in f.evidence}
        cited = [*f.verdict.evidence] + [
            e for c in (*f.verdict.choose_fork_if, *f.verdict.choose_upstream_if, *f.verdict.risks) for e in c.evidence
        ]
        checks["citations_valid"] = all(e in ids for e in cited) and bool(cited)
        problems = [p for p in verdict_problems(report, f) if p.startswith("number")]
        checks["numbers_consistent"] = not problems
        if problems:
            checks["number_problems"] = problems
    return ForkResult(
        case=case,
        fork=f.name,
        labels=labels,
        recommendation=f.verdict.recommendation if f.verdict else None,
        archetype=f.archetype,
        error=f.error,
        text=text,
        checks=checks,
        seconds=seconds,
        writer=f.verdict.writer if f.verdict else None,
        fields=f.verdict.fields if f.verdict else [],
    )


SELF_OR_SUBJECT = ("readme", "notes", "changelog", "package", "forge", "commit")
"""Sources of kind (a), what a fork says about itself, and (b), its commit subjects."""


def readable(report: Report, f: ForkReport) -> list[str]:
    """Why a verdict's "what it is for" is not in words a person would use (empty: it is). The phrase must come
    from what the fork says about itself or its commit subjects whenever one of those gives a phrase, hold none of
    the banned kinds (names, hex, test machinery, lockfiles, bare numbers, the project's own name, over 12 words),
    and no headline may be a list of identifiers ("A, B and C code")."""
    v, facts = f.verdict, f.facts
    if v is None or facts is None:
        return []
    out: list[str] = []
    inp = stored_input(report, f)
    found = purpose_of(inp) if inp is not None else None
    if v.purpose:
        out += phrase_problems(v.purpose, banned_for(facts, f.name, report.upstream.name))
        if v.purpose_kind not in SELF_OR_SUBJECT and found is not None and found.kind in SELF_OR_SUBJECT:
            out.append(f"the phrase comes from {v.purpose_kind or 'no source'}, while {found.source} says it")
    elif found is not None:
        out.append(f"{found.source} says what it is for ({found.phrase!r}); the verdict does not")
    if IDENTIFIER_LIST.search(v.headline):
        out.append(f"the headline is a list of identifiers: {v.headline!r}")
    return out


def contradictions(f: ForkReport) -> list[str]:
    """Sentences of a verdict whose polarity contradicts its recommendation (the checks the LLM path must pass,
    applied to whatever text the verdict ended up with)."""
    v = f.verdict
    if v is None:
        return []
    out = []
    sections = {"summary": [v.summary], "purpose": [v.purpose] if v.purpose else []}
    for key in ("choose_fork_if", "choose_upstream_if", "risks"):
        sections[key] = [c.text for c in getattr(v, key)]
    for key, texts in sections.items():
        for t in texts:
            out += checks.polarity(t, v.recommendation, key)
    return out


def ask(
    case: str, questions: list[ChatQuestion], report: Report, settings: Settings, model: Runnable | None = None
) -> list[QuestionResult]:
    """Index the report (local embeddings, embedded Chroma) and ask each labelled question, with ``model`` when
    given (its answers pass the chat checks or fall back to the evidence, as in the service)."""
    from forkwise.service.verdicts.chat import ChatRequest, ChatService, named_forks

    if not questions:
        return []
    sync_vectors(report, settings)
    chat = ChatService(settings, model)
    alone = ChatService(settings, None) if model is not None else None
    out = []
    for q in questions:
        req = ChatRequest(upstream=report.upstream.name, question=q.q)
        ans = chat.answer(report, req)
        forks = list(dict.fromkeys(c.fork for c in ans.citations))
        rank = forks.index(q.fork) + 1 if q.fork in forks else None
        named = named_forks(ans.answer, report) if ans.mode == "llm" else forks
        base_rank = None
        if alone is not None:  # the same question by retrieval alone: what the model's answer is measured against
            base = list(dict.fromkeys(c.fork for c in alone.answer(report, req).citations))
            base_rank = base.index(q.fork) + 1 if q.fork in base else None
        out.append(
            QuestionResult(
                case=case, question=q.q, expected=q.fork, forks=forks, mode=ans.mode, rank=rank, answer=ans.answer,
                named=named, retrieval_rank=base_rank, model_asked=model is not None and ans.mode != "facts",
            )
        )  # fmt: skip
    return out


def run_case(
    path: Path, workdir: Path, writer: Writer, model: Runnable | None = None
) -> tuple[list[ForkResult], list[QuestionResult], WriterStats]:
    spec = load_case(path)
    settings = Settings(home=workdir / "home", workers=2)
    if isinstance(spec, ExistingCase):
        upstream = Source(name=spec.upstream.name, url=spec.upstream.url, ref=spec.upstream.ref)
        forks = [ForkInput(name=f.name, source=Source(name=f.name, url=f.url, ref=f.ref)) for f in spec.forks]
        labels = {f.name: f.labels for f in spec.forks}
        as_of = datetime.now(UTC)
    else:
        net = build_network(spec, workdir / "net")
        upstream, forks = net.inputs()
        labels = {f.name: f.labels for f in net.forks}
        as_of = net.as_of
    t = time.perf_counter()
    req = RunRequest(upstream=upstream, forks=forks, as_of=as_of, use_cache=False)
    if isinstance(writer, LLMWriter):  # as `summarize` runs it: facts verdicts, index, then the model's
        report = engine_report(req, settings)
        sync_vectors(report, settings)
        writer.retrieve = retriever(settings, report.upstream.name)
        report = rewrite_verdicts(report, writer)
    else:
        report = engine_report(req, settings, writer=writer)
    per_fork = (time.perf_counter() - t) / max(1, len(forks))
    results = [_score_fork(spec.name, f, labels[f.name], report, per_fork) for f in report.forks]
    return results, ask(spec.name, spec.questions, report, settings, model), report.stats.writer


def _f1(pairs: list[tuple[str, str]]) -> tuple[float, dict[str, dict[str, int]]]:
    confusion: dict[str, dict[str, int]] = {}
    for gold, pred in pairs:
        confusion.setdefault(gold, Counter())[pred] += 1
    labels = sorted({g for g, _ in pairs} | {p for _, p in pairs})
    f1s = []
    for lab in labels:
        tp = sum(1 for g, p in pairs if g == lab and p == lab)
        fp = sum(1 for g, p in pairs if g != lab and p == lab)
        fn = sum(1 for g, p in pairs if g == lab and p != lab)
        prec = tp / (tp + fp) if tp + fp else 0.0
        rec = tp / (tp + fn) if tp + fn else 0.0
        f1s.append(2 * prec * rec / (prec + rec) if prec + rec else 0.0)
    return (statistics.fmean(f1s) if f1s else 0.0), {g: dict(c) for g, c in sorted(confusion.items())}


def metrics(
    results: list[ForkResult], questions: list[QuestionResult] | None = None, writing: list[WriterStats] | None = None
) -> Metrics:
    def rate(key: str) -> float:
        vals = [r.checks[key] for r in results if key in r.checks]
        return round(sum(vals) / len(vals), 4) if vals else 1.0

    arche = [(r.labels.archetype, r.archetype or "failed") for r in results if r.labels.archetype]
    f1, confusion = _f1(arche)
    mentions = [ok for r in results for ok in r.checks["must_mention"].values()]
    secs = sorted(r.seconds for r in results)
    sec = [r.checks["security_claims"] for r in results if "security_claims" in r.checks]
    false_claims = [c for s in sec for c in s["claimed"] if c not in s["expected"]]
    wanted = [c in s["claimed"] for s in sec for c in s["expected"]]
    return Metrics(
        cases=len({r.case for r in results}),
        forks=len(results),
        recommendation_accuracy=rate("recommendation"),
        archetype_accuracy=rate("archetype"),
        archetype_macro_f1=round(f1, 4),
        confusion=confusion,
        must_mention_recall=round(sum(mentions) / len(mentions), 4) if mentions else 1.0,
        must_not_claim_violations=sum(v for r in results for v in r.checks["must_not_claim"].values()),
        false_security_claims=len(false_claims),
        false_lack_claims=sum(c in ("fork", "upstream") for c in false_claims),
        security_claim_recall=round(sum(wanted) / len(wanted), 4) if wanted else 1.0,
        citation_validity=rate("citations_valid"),
        number_consistency=rate("numbers_consistent"),
        error_label_accuracy=rate("error"),
        merge_accuracy=rate("merge"),
        readable=rate("readable"),
        seconds_per_fork_mean=round(statistics.fmean(secs), 4) if secs else 0.0,
        seconds_per_fork_p95=round(secs[int(0.95 * (len(secs) - 1))], 4) if secs else 0.0,
        chat_questions=len(qs := questions or []),
        chat_hit_at_1=round(sum(q.rank == 1 for q in qs) / len(qs), 4) if qs else 1.0,
        chat_mrr=round(sum(1 / q.rank for q in qs if q.rank) / len(qs), 4) if qs else 1.0,
        chat_named_hit_at_1=round(sum(bool(q.named) and q.named[0] == q.expected for q in qs) / len(qs), 4)
        if qs
        else 1.0,
        chat_model_answers=sum(q.mode == "llm" for q in qs),
        **_model_chat(qs),
        contradictions=sum(len(r.checks.get("contradictions", [])) for r in results),
        false_claims=sum(v for r in results for v in r.checks["must_not_claim"].values())
        + len(false_claims)
        + sum(r.checks.get("citations_valid") is False for r in results)
        + sum(r.checks.get("numbers_consistent") is False for r in results),
        injected_claims=sum(v for r in results for v in r.checks.get("injected", {}).values()),
        **_writing(writing or []),
    )


def _model_chat(qs: list[QuestionResult]) -> dict[str, Any]:
    """Chat figures over the questions a model was asked: accepted share, and hit@1 against retrieval alone."""
    asked = [q for q in qs if q.model_asked]
    if not asked:
        return {}
    hit = sum(q.rank == 1 for q in asked) / len(asked)
    base = sum(q.retrieval_rank == 1 for q in asked) / len(asked)
    return {
        "chat_model_questions": len(asked),
        "chat_accepted": round(sum(q.mode == "llm" for q in asked) / len(asked), 4),
        "chat_retrieval_hit_at_1": round(base, 4),
        "chat_hit_at_1_gain": round(hit - base, 4),
    }


def _writing(stats: list[WriterStats]) -> dict[str, Any]:
    verdicts = sum(s.verdicts for s in stats)
    asked = sum(s.fields_asked for s in stats)
    fell = sum(s.fields_fallback for s in stats)
    reasons: Counter[str] = Counter()
    for s in stats:
        reasons.update(s.reasons)
    return {
        "writer_verdicts": verdicts,
        "fields_asked": asked,
        "fields_fallback": fell,
        "fallback_rate": round(fell / asked, 4) if asked else 0.0,
        "fallback_reasons": dict(reasons),
        "seconds_per_verdict": round(sum(s.seconds for s in stats) / verdicts, 3) if verdicts else 0.0,
    }


def check(m: Metrics, thresholds: dict[str, float]) -> list[str]:
    """Threshold failures. Keys ending in ``_max`` are upper bounds, the rest lower bounds."""
    out = []
    for key, bound in thresholds.items():
        name = key.removesuffix("_max")
        value = getattr(m, name)
        if key.endswith("_max") and value > bound:
            out.append(f"{name} = {value} > {bound}")
        elif not key.endswith("_max") and value < bound:
            out.append(f"{name} = {value} < {bound}")
    return out


def chat_only(bounds: Path = LLM_BOUNDS) -> set[str]:
    """Cases of the subset there for their chat questions: their verdicts are the facts writer's (the writer's
    bounds stay on the writer's cases), their questions are asked of the model."""
    return set(tomllib.loads(bounds.read_text())["subset"].get("chat", []))


def run_eval(
    paths: list[Path],
    writer: Writer | None = None,
    thresholds_path: Path = THRESHOLDS,
    progress=None,
    model: Runnable | None = None,
    chat_cases: set[str] | None = None,
) -> EvalResult:
    """Score every case in ``paths``; :class:`EvalSetupError` when there are none or no thresholds file. Cases
    named in ``chat_cases`` are written by the facts writer and only their chat questions go to ``model``."""
    writer = writer or FactsWriter()
    if not paths:
        raise EvalSetupError("no eval cases given")
    if not thresholds_path.is_file():
        raise EvalSetupError(f"no thresholds file at {thresholds_path}: nothing to hold the verdicts to")
    thresholds = tomllib.loads(thresholds_path.read_text())["thresholds"]
    if not thresholds:
        raise EvalSetupError(f"{thresholds_path} sets no thresholds")
    results: list[ForkResult] = []
    asked: list[QuestionResult] = []
    writing: list[WriterStats] = []
    with tempfile.TemporaryDirectory(prefix="forkwise-eval-") as tmp:
        for i, path in enumerate(paths):
            own = FactsWriter() if path.stem in (chat_cases or set()) else writer
            forks, qs, st = run_case(path, Path(tmp) / f"case{i}", own, model)
            results += forks
            asked += qs
            writing.append(st)
            if progress:
                progress(path.stem)
    m = metrics(results, asked, writing)
    return EvalResult(
        writer=writer.name,
        cases=results,
        questions=asked,
        metrics=m,
        thresholds=thresholds,
        failures=check(m, thresholds),
    )


__all__ = ["ARCHETYPES", "EvalResult", "EvalSetupError", "case_paths", "load_case", "matches", "metrics", "run_eval"]
