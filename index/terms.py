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
_TOKEN = re.compile(r"[A-Za-z][A-Za-z0-9+]{1,30}")
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")


def tokens(text: str) -> list[str]:
    """Lower-case word tokens; splits paths, snake_case and camelCase; drops stopwords and short tokens."""
    out: list[str] = []
    for raw in _TOKEN.findall(text.replace("_", " ").replace("-", " ")):
        for part in _CAMEL.sub(" ", raw).split():
            t = part.lower()
            if len(t) >= 3 and t not in STOPWORDS and not t.isdigit():
                out.append(t)
    return out


class Vocabulary(BaseModel):
    """Upstream document frequencies."""

    model_config = ConfigDict(frozen=True)
    docs: int
    df: dict[str, int]

    @classmethod
    def build(cls, documents: Iterable[str]) -> Vocabulary:
        df: Counter[str] = Counter()
        n = 0
        for doc in documents:
            n += 1
            df.update(set(tokens(doc)))
        return cls(docs=n, df=dict(df))

    def idf(self, term: str) -> float:
        return math.log((self.docs + 1) / (self.df.get(term, 0) + 1))


class TermScore(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    term: str
    score: float
    count: int = Field(description="Fork documents the term occurs in.")
    evidence: list[str] = Field(description="Up to three evidence IDs where it occurs.")


def _stem(term: str, known: set[str]) -> str:
    """Fold a plural onto its singular when both occur ('accelerators' → 'accelerator')."""
    if term.endswith("s") and term[:-1] in known:
        return term[:-1]
    return term


CONVENTIONAL = re.compile(
    r"^\s*(feat|fix|chore|docs?|deps|build|ci|refactor|perf|style|tests?|revert|release|wip)(\([^)]*\))?!?:\s*",
    re.I,
)
"""A conventional-commit prefix (``chore(deps):``): how the commit is filed, not what the fork is for."""
BOT_SUBJECT = re.compile(r"^(bump|update) \S+ (from \S+ )?to \S+", re.I)
"""A dependency bot's subject ("Bump numpy from 1.0 to 2.0"): never what a fork is for."""


def subject_text(subject: str) -> str:
    """A commit subject without its conventional-commit prefix."""
    return CONVENTIONAL.sub("", subject)


def is_bot_commit(subject: str, author: str = "") -> bool:
    return author.lower().endswith("[bot]") or BOT_SUBJECT.match(subject.strip()) is not None


PRIOR = 500.0
"""Weight of the background in the informative Dirichlet prior (Monroe, Colaresi & Quinn 2008)."""
MIN_Z = 1.0


def distinctive(
    fork_docs: list[tuple[str, str]], vocab: Vocabulary, limit: int = 10, exclude: Iterable[str] = ()
) -> list[TermScore]:
    """Rank terms in ``fork_docs`` (``(evidence_id, text)`` pairs) against upstream (``vocab``) by the log-odds
    ratio with an informative Dirichlet prior ("Fightin' Words"): a token common in upstream's own history and tree
    scores low however often the fork uses it, a one-off scores low by its variance; no stop list needed for
    "unit", "test" or "fix". Counts are documents (a commit, a path, a README heading), each counted once.
    ``exclude``: tokens that never make a term (the project's and owners' names)."""
    banned = {t for x in exclude for t in tokens(x)}
    per_doc = [(ev, set(tokens(text)) - banned) for ev, text in fork_docs]
    known = {t for _ev, ts in per_doc for t in ts}
    tf: Counter[str] = Counter()
    where: dict[str, list[str]] = {}
    for ev, ts in per_doc:
        stems = {_stem(t, known) for t in ts}
        tf.update(stems)
        for t in stems:
            lst = where.setdefault(t, [])
            if len(lst) < 3 and ev not in lst:
                lst.append(ev)
    n_fork = sum(tf.values())
    n_up = sum(vocab.df.values())
    vocabulary = len(set(vocab.df) | set(tf)) or 1
    a0 = max(1.0, min(PRIOR, n_up / 2))  # a small upstream cannot outweigh the fork's own evidence
    scored = []
    for t, y in tf.items():
        bg = max(vocab.df.get(t, 0), vocab.df.get(t + "s", 0))
        alpha = a0 * (bg + 0.5) / (n_up + 0.5 * vocabulary)  # the background's share, smoothed
        rest_fork = max(n_fork + a0 - y - alpha, 1e-6)  # the other tokens' mass (tiny corpora: never zero)
        rest_up = max(n_up + a0 - bg - alpha, 1e-6)
        delta = math.log((y + alpha) / rest_fork) - math.log((bg + alpha) / rest_up)
        z = delta / math.sqrt(1 / (y + alpha) + 1 / (bg + alpha))
        if z >= MIN_Z:
            scored.append(TermScore(term=t, score=round(z, 3), count=y, evidence=where[t]))
    scored.sort(key=lambda x: (-x.score, x.term))
    return scored[:limit]
