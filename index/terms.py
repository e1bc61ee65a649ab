"""Terms distinctive of a fork's own changes, scored against upstream's vocabulary (log-odds, informative prior).

:func:`tokens` is the one tokenizer of forkwise: terms, retrieval reranking and chat questions all use it.
Fork "documents" are its own commit subjects, the paths it added or changed and the README lines it added.
Upstream documents are the paths of its tree and its recent commit subjects. A term scores high when the
fork uses it often and upstream rarely: "hpu", "gaudi" in a Habana port; never "fix" or "update".
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict, Field

STOPWORDS = frozenset(
    """a an the and or of to in on for with without from by at as is are be been was were it its this that these
    those into onto via per not no yes all any some more most less few many much new old add adds added adding
    update updates updated updating fix fixes fixed fixing bump bumps bumped change changes changed remove
    removes removed removing delete deleted use uses used using make makes made support supports supported
    initial init first version release merge merged branch pull request main master dev develop head readme
    md rst txt py js ts json yaml yml toml cfg ini lock docs doc test tests testing src lib libs file files
    code misc minor small typo typos cleanup clean refactor wip tmp temp todo note notes see also can will
    should would could may might must our your their his her we you they them us i me my so if else then when
    where which who what why how about after before again other same such only own up down out over under
    can't don't won't via etc vs one two three four five six seven eight nine ten
    fork forks has have does did whose any there here
    """.split()
)
CODE_WORDS = frozenset(
    """self cls def return import class none true false elif lambda yield const let var function public private
    protected static void int str bool null nil struct impl func package include define endif ifdef ifndef async
    await try except catch raise throw assert print len range dict list tuple args kwargs isinstance super
    pass break continue while else elif float double char long unsigned auto enum typedef namespace std this
    new export default require module exports println printf sizeof override final extends implements interface
    """.split()
)
"""Programming-language keywords and builtins: in added code lines they say nothing about what a fork is for."""
_TOKEN = re.compile(r"[A-Za-z][A-Za-z0-9+]{1,30}")
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")


_DUNDER = re.compile(r"__\w+?__")


def _pairs(text: str, code: bool = False, unique: bool = False) -> list[tuple[str, str]]:
    """(lower-case token, as written) for every word of ``text`` (see :func:`tokens`); each spelling once when
    ``unique`` (documents count a token once: no need to split a word a thousand times)."""
    out: list[tuple[str, str]] = []
    if "__" in text:
        text = _DUNDER.sub(" ", text)  # __future__, __init__: the language's, not the fork's
    words = _TOKEN.findall(text.replace("_", " ").replace("-", " "))
    for raw in dict.fromkeys(words) if unique else words:
        for part in _CAMEL.sub(" ", raw).split():
            t = part.lower()
            if len(t) >= 3 and t not in STOPWORDS and not t.isdigit() and not (code and t in CODE_WORDS):
                out.append((t, part))
    return out


def tokens(text: str, code: bool = False) -> list[str]:
    """Lower-case word tokens; splits paths, snake_case and camelCase; drops stopwords and short tokens (and, for
    ``code``, language keywords and builtins)."""
    return [t for t, _raw in _pairs(text, code)]


FUNCTION_WORDS = frozenset(
    """a an the and or of to in on for with from by at as is are be been was were it its this that these those
    which who whom whose what why how when where there here any some fork forks repo repository does do did has
    have i me my we our you your can could will would should please tell show find give list""".split()
)


def words(text: str) -> set[str]:
    """The content words of a question (for matching chunks and terms): :func:`tokens` minus plain function words
    only. "fixes", "typos", "docs", "support" stay: a question is short and these are what it asks about."""
    out = set()
    for raw in _TOKEN.findall(text.replace("_", " ").replace("-", " ")):
        for part in _CAMEL.sub(" ", raw).split():
            t = part.lower()
            if len(t) >= 2 and t not in FUNCTION_WORDS and not t.isdigit():
                out.add(t)
    return out


def _display(forms: Counter[str]) -> str:
    """How a term is written: its commonest spelling (prose counts thrice), lower case when that is just the
    capitalised word; kept as written when it is an acronym or mixed case (HPU, NVMe, FLOPs)."""
    best = forms.most_common(1)[0][0]
    if best[:1].isupper() and best[1:].islower():
        return best.lower()
    return best


class Vocabulary(BaseModel):
    """Upstream document frequencies."""

    model_config = ConfigDict(frozen=True)
    docs: int
    df: dict[str, int]

    @classmethod
    def build(cls, documents: Iterable[str], code: Iterable[str] = ()) -> Vocabulary:
        """``documents``: paths, subjects, README paragraphs; ``code``: file contents (keywords dropped)."""
        df: Counter[str] = Counter()
        n = 0
        for doc in documents:
            n += 1
            df.update({t for t, _raw in _pairs(doc, unique=True)})
        for doc in code:
            n += 1
            df.update({t for t, _raw in _pairs(doc, code=True, unique=True)})
        return cls(docs=n, df=dict(df))

    def with_code(self, code: Iterable[str]) -> Vocabulary:
        """This vocabulary plus file contents as more documents."""
        more = Vocabulary.build([], code)
        df = Counter(self.df)
        df.update(more.df)
        return Vocabulary(docs=self.docs + more.docs, df=dict(df))

    def idf(self, term: str) -> float:
        return math.log((self.docs + 1) / (self.df.get(term, 0) + 1))


class TermScore(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    term: str
    score: float
    display: str = Field(default="", description="How the fork writes it (HPU, FLOPs); the term when empty.")
    count: int = Field(description="Fork documents the term occurs in.")
    evidence: list[str] = Field(description="Up to three evidence IDs where it occurs (a commit first, then files).")
    where: list[str] = Field(
        default=[],
        description="Where it concentrates: up to three folders (ending in '/') or files, those naming it first.",
    )
    files: int = Field(default=0, description="Files of the fork's own changes it occurs in (path or added lines).")
    added_share: float = Field(default=0.0, description="Share of those files the fork added (vs modified).")


class TermDoc(BaseModel):
    """One document of a fork's own work: a commit message, a changed file (path and added lines), a README heading."""

    model_config = ConfigDict(frozen=True)
    evidence: str
    text: str
    code: str = Field(default="", description="Added lines of a file (keywords dropped).")
    added: bool = Field(default=False, description="A file the fork added.")


def _stem(term: str, known: set[str]) -> str:
    """Fold a plural onto its singular when both occur ('accelerators' → 'accelerator')."""
    if term.endswith("s") and term[:-1] in known:
        return term[:-1]
    return term


CONVENTIONAL = re.compile(
    r"^\s*(feat|feature|fix|bugfix|chore|docs?|deps|build|ci|refactor|perf|style|tests?|revert|release|wip)"
    r"(\([^)]*\))?!?:\s*",
    re.I,
)
"""A conventional-commit prefix (``chore(deps):``): how the commit is filed, not what the fork is for."""
BOT_SUBJECT = re.compile(r"^(bump|update)\s+(\S+\s+){1,4}?(from\s+\S+\s+)?to\s+v?\d[\w.+-]*(\s|$)", re.I)
"""A dependency bot's subject ("Bump numpy from 1.0 to 2.0", "Update dependency eslint to v8.1.0"): never what a
fork is for. The target is a version: "Update tables to support colspan" is a person's work."""


def subject_text(subject: str) -> str:
    """A commit subject without its conventional-commit prefix."""
    return CONVENTIONAL.sub("", subject)


CHORE = re.compile(r"^\s*(chore|ci|build|deps|style|release)(\([^)]*\))?!?:", re.I)
"""Conventional-commit types that file housekeeping: their subjects never say what a fork is for."""


def is_bot_commit(subject: str, author: str = "") -> bool:
    """A dependency bot's commit, or a housekeeping one by its conventional-commit type (``chore:``, ``ci:``)."""
    return (
        author.lower().endswith("[bot]")
        or BOT_SUBJECT.match(subject.strip()) is not None
        or CHORE.match(subject) is not None
    )


PRIOR = 500.0
"""Weight of the background in the informative Dirichlet prior (Monroe, Colaresi & Quinn 2008)."""
MIN_Z = 1.0


def _where(term: str, paths: list[str], named: list[str]) -> list[str]:
    """Folders (two or more files) and single files where ``term`` occurs (``named``: the paths naming it, which
    come first), most files first."""
    pick = sorted(named) or paths
    folders = Counter(p.rsplit("/", 1)[0] + "/" if "/" in p else p for p in pick)
    out: list[str] = []
    for folder, n in sorted(folders.items(), key=lambda x: (-x[1], x[0])):
        if n >= 2:
            out.append(folder)
        else:
            out.extend(p for p in pick if (p.rsplit("/", 1)[0] + "/" if "/" in p else p) == folder)
    return list(dict.fromkeys(out))[:3]


def distinctive(
    fork_docs: list[TermDoc], vocab: Vocabulary, limit: int = 10, exclude: Iterable[str] = ()
) -> list[TermScore]:
    """Rank terms in ``fork_docs`` against upstream (``vocab``) by the log-odds ratio with an informative
    Dirichlet prior from the pooled corpus ("Fightin' Words"): a token common in upstream's own history and tree
    scores low however often the fork uses it; no stop list needed for "unit", "test" or "fix". Terms whose z-score
    is below ``MIN_Z`` are dropped; the rest rank by the ratio's lower bound (estimate minus one standard error),
    so a word new in twelve files outranks one new in a single subject and one upstream already uses often.
    Counts are documents (a commit, a file, a README heading), each counted once, so one huge generated file
    weighs no more than a small one. ``exclude``: tokens that never make a term (the project's and owners' names)."""
    banned = {t for x in exclude for t in tokens(x)}
    forms: dict[str, Counter[str]] = {}
    per_doc = []
    for d in fork_docs:
        prose, code = _pairs(d.text, unique=True), _pairs(d.code, code=True, unique=True)
        for weight, pairs_of in ((3, prose), (1, code)):
            for t, raw in pairs_of:
                forms.setdefault(t, Counter())[raw] += weight
        pairs = [*prose, *code]
        per_doc.append((d, {t for t, _raw in pairs} - banned))
    known = {t for _d, ts in per_doc for t in ts}
    tf: Counter[str] = Counter()
    docs_of: dict[str, list[TermDoc]] = {}
    for d, ts in per_doc:
        stems = {_stem(t, known) for t in ts}
        tf.update(stems)
        for t in stems:
            docs_of.setdefault(t, []).append(d)
    path_tokens: dict[str, set[str]] = {}

    def in_path(term: str, path: str) -> bool:
        if path not in path_tokens:
            path_tokens[path] = set(tokens(path))
        return term in path_tokens[path]

    n_fork = sum(tf.values())
    n_up = sum(vocab.df.values())
    pooled = n_fork + n_up
    vocabulary = len(set(vocab.df) | set(tf)) or 1
    a0 = max(1.0, min(PRIOR, n_up / 2))  # a small upstream cannot outweigh the fork's own evidence
    scored = []
    for t, y in tf.items():
        bg = max(vocab.df.get(t, 0), vocab.df.get(t + "s", 0))
        alpha = a0 * (y + bg + 0.5) / (pooled + 0.5 * vocabulary)  # the pooled corpus's share, smoothed
        rest_fork = max(n_fork + a0 - y - alpha, 1e-6)  # the other tokens' mass (tiny corpora: never zero)
        rest_up = max(n_up + a0 - bg - alpha, 1e-6)
        delta = math.log((y + alpha) / rest_fork) - math.log((bg + alpha) / rest_up)
        sd = math.sqrt(1 / (y + alpha) + 1 / (bg + alpha))
        if delta / sd < MIN_Z:
            continue
        docs = docs_of[t]
        files = [d for d in docs if d.evidence.startswith("file:")]
        paths = sorted(d.evidence.removeprefix("file:") for d in files)
        commits = [d.evidence for d in docs if d.evidence.startswith("commit:")]
        named = sorted((p for p in paths if in_path(t, p)), key=lambda p: (p.count("/"), p))
        others = [d.evidence for d in docs if not d.evidence.startswith(("commit:", "file:"))]
        evidence = [*commits[:1], *others[:1], *(f"file:{p}" for p in [*named, *paths])]
        evidence = list(dict.fromkeys([*evidence, *commits, *others]))[:3]
        scored.append(
            TermScore(
                term=t,
                score=round(delta - sd, 3),
                display=_display(forms.get(t) or forms.get(t + "s") or Counter({t: 1})),
                count=y,
                evidence=evidence,
                where=_where(t, paths, named),
                files=len(files),
                added_share=round(sum(d.added for d in files) / len(files), 3) if files else 0.0,
            )
        )
    scored.sort(key=lambda x: (-x.score, x.term))
    return scored[:limit]
