"""Checks every model-written sentence passes before anyone sees it (verdict fields and chat answers).

A model may only phrase and select. What it writes is held to:

* **polarity**: nothing may recommend the fork when the facts recommend upstream (or call it better, official,
  the best choice), nor send a user to upstream when the facts recommend the fork; the recommendation itself is
  never the model's to state;
* **conditions**: "choose this fork if" / "choose upstream if" entries are conditions a user can check ("you need
  …"), not a repository name, a restated label or a sentence about the tool;
* **grounding**: every content word of a phrase or condition appears in the fork's distinctive terms, in the
  evidence the sentence cites, or in the facts' own sentence for that field (after a light stemming), so a
  small model cannot add a feature, a platform or a claim the evidence does not carry;
* **repetition**: no sentence repeated across fields.

Each problem is ``"<kind>: <detail>"``; the kind is what the writer statistics count.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from forkwise.index.terms import words
from forkwise.service.verdicts.prompts import load_toml

_FORK_PRAISE = re.compile(
    r"\b(recommend\w*|best|official|superior|better (?:than|choice|option|fork|version)|"
    r"should (?:use|choose|pick|switch to) (?:this|the) fork|"
    r"(?:you should|always|just) (?:use|choose|pick|prefer) this fork|"
    r"go with this fork)\b",
    re.I,
)
"""The model never states the recommendation, and never praises the fork: both are the facts'."""

_FORK_STANDING = re.compile(
    r"\b(maintained|up[- ]to[- ]date|latest|newest|more recent|ahead of upstream|improve[sd]?|faster|"
    r"fix(?:es)? upstream's|replaces upstream)\b",
    re.I,
)
"""Claims of standing that contradict an ``upstream`` recommendation when said of the fork."""

_UPSTREAM_PUSH = re.compile(
    r"\b((?:use|choose|prefer|stick with|stay (?:on|with)) upstream instead|(?:do not|don't|never) use this fork|"
    r"avoid this fork)\b",
    re.I,
)
"""Sentences that send every user to upstream, contradicting a ``fork`` recommendation."""

_LABELS = re.compile(
    r"\b(niche-variant|feature-superset|stale-snapshot|patch-fork|copy-of-fork|variant-of-fork|extends-fork|"
    r"other-continuation|fork-for-niche|other-fork)\b|\(upstream:",
    re.I,
)


def _spec() -> dict[str, list[str]]:
    spec: dict[str, list[str]] = load_toml("llm_tasks.toml")["grounding"]
    return spec


def stem(word: str) -> str:
    """A light stem: enough that "profiling"/"profiler", "supports"/"support", "fixes"/"fix" meet."""
    w = word.lower()
    for suffix in ("ing", "ed", "es", "er", "s"):
        if len(w) > len(suffix) + 3 and w.endswith(suffix):
            w = w[: -len(suffix)]
            break
    return w[:6]


def stems(texts: Iterable[str]) -> set[str]:
    out: set[str] = set()
    for t in texts:
        out |= {stem(w) for w in words(t)}
    return out


def content_words(text: str, names: Iterable[str] = ()) -> list[str]:
    """The words a sentence says something with: not function words, not the generic words any verdict uses,
    not the repositories' own names."""
    generic = {stem(w) for w in _spec()["generic"]}
    own = stems(names)
    return sorted(w for w in words(text) if stem(w) not in generic and stem(w) not in own)


def polarity(text: str, recommendation: str, field: str) -> list[str]:
    """Sentences that contradict the recommendation (or state one)."""
    out = []
    if m := _FORK_PRAISE.search(text):
        out.append(f"polarity: says {m.group(0)!r}; the recommendation is the facts' ({recommendation})")
    if recommendation == "upstream" and field != "choose_upstream_if" and (m := _FORK_STANDING.search(text)):
        out.append(f"polarity: claims {m.group(0)!r} for a fork the facts do not recommend")
    if recommendation in ("fork", "fork-for-niche") and (m := _UPSTREAM_PUSH.search(text)):
        out.append(f"polarity: says {m.group(0)!r}, but the facts recommend the fork")
    return out


def condition(text: str, names: Iterable[str]) -> list[str]:
    """A "choose … if" entry must be a condition about the user, with something to say beyond names."""
    out = []
    t = text.strip()
    if not re.match(r"(?i)(you|your)\b", t):
        out.append(f"condition: {t[:60]!r} is not a condition (it must start with 'you')")
    if _LABELS.search(t):
        out.append(f"condition: {t[:60]!r} restates a label instead of a condition")
    own = stems(names) | stems(_PLAIN)
    if not [w for w in words(t) if stem(w) not in own]:
        out.append(f"condition: {t[:60]!r} says nothing beyond names")
    return out


_PLAIN = ["you your need needs want wants use using used choose upstream fork instead should would are is be"]
_NEGATION = re.compile(r"\b(not|no|never|without|n't|none)\b|n't\b", re.I)
_AVOID = {
    "choose_upstream_if": re.compile(r"\b(not|never|don't|avoid) (use|using|choose|want) upstream\b", re.I),
    "choose_fork_if": re.compile(r"\b(not|never|don't|avoid) (use|using|choose|want) (this|the) fork\b", re.I),
}


def negated(text: str) -> bool:
    return _NEGATION.search(text) is not None


def main_clause(text: str) -> str:
    """A condition's leading clause ("you need this fix: upstream … does not have it" → "you need this fix")."""
    return re.split(r"[:;,(]| and | but | because ", text, maxsplit=1)[0]


def rewrite(text: str, draft: str, field: str) -> list[str]:
    """A condition rewritten from the facts' draft keeps its sense: negated when the draft is, and never turned
    against the section it is in ("choose upstream if you should not use upstream")."""
    out = []
    if draft and negated(main_clause(text)) != negated(main_clause(draft)):
        out.append(
            f"polarity: {text[:60]!r} {'negates' if negated(text) else 'drops the negation of'} the facts' condition"
        )
    rx = _AVOID.get(field)
    if rx and (m := rx.search(text)):
        out.append(f"polarity: says {m.group(0)!r} in {field.replace('_', ' ')}")
    return out


def specific(text: str, topic: Iterable[str], names: Iterable[str]) -> list[str]:
    """A condition about a fork that has a purpose names it: at least one content word of the topic."""
    want = {stem(w) for w in content_words(" ".join(topic), names)}
    if want and not (want & {stem(w) for w in words(text)}):
        sample = ", ".join(sorted(content_words(" ".join(topic), names))[:4])
        return [f"vague: {text[:60]!r} does not say what the fork is for (use words such as {sample})"]
    return []


def grounding(text: str, corpus: Iterable[str], names: Iterable[str]) -> list[str]:
    """Content words that appear nowhere in what the sentence may rest on."""
    known = stems(corpus)
    missing = [w for w in content_words(text, names) if stem(w) not in known]
    if missing:
        return [f"grounding: {', '.join(repr(w) for w in missing[:4])} not in the terms or the cited evidence"]
    return []


def repeated(texts: dict[str, list[str]]) -> list[str]:
    """A sentence said twice across fields (same content words, or one inside the other)."""
    seen: list[tuple[str, set[str]]] = []
    out = []
    for field, items in texts.items():
        for t in items:
            ws = {stem(w) for w in words(t)} | ({"not"} if negated(t) else set())
            if not ws:
                continue
            for other, ows in seen:
                if ("not" in ws) != ("not" in ows):
                    continue  # "you need X" / "you do not need X": the two sides of one choice, not a repeat
                if other != field and (ws <= ows or ows <= ws or len(ws & ows) / len(ws | ows) >= 0.8):
                    out.append(f"repeated: {t[:60]!r} in {field} repeats {other}")
                    break
            seen.append((field, ws))
    return out


def kind(problem: str) -> str:
    """The category of a problem string (``"polarity: …"`` → ``polarity``)."""
    head = problem.split(":", 1)[0].strip()
    if head.isidentifier():
        return head
    for prefix, name in (("number", "numbers"), ("cites", "evidence"), ("names", "grounding"),
                         ("recommendation", "labels"), ("archetype", "labels")):  # fmt: skip
        if problem.startswith(prefix):
            return name
    return "other"
