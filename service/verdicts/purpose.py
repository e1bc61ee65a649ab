"""What a fork is for, in words a person would use, with the quote it came from.

Sources, in order (each kept with its evidence ID):

a. what the fork says about itself: README text it wrote, notes files, a changelog section, a package description
   (:mod:`forkwise.index.statements`), and its forge description when it differs from the rest of the network's;
b. its own commit subjects (no merges, no patches upstream has, no dependency bumps or housekeeping) that carry
   its distinctive terms, cleaned of PR numbers, issue refs and conventional-commit prefixes;
c. its other branches' names;
d. distinctive identifiers (:mod:`forkwise.index.terms`): supporting detail only, never the phrase.

The phrase is a short noun phrase extracted from (a), (b) or (c) ("support for gevent without select module",
"Python 3 support", "a version tailor-made for Foo"); :func:`problems` is the check every writer's phrase passes
(deterministic and LLM alike): no identifier list, no names or handles, no SHAs, no test-framework words, no
lockfile names, no bare numbers, not the project's own name, at most 12 words.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import datetime
from functools import lru_cache

from pydantic import BaseModel, ConfigDict, Field

from forkwise.index.models import CommitFact, ForkFacts, Statement
from forkwise.index.terms import TermScore, is_bot_commit, subject_text, tokens

MAX_WORDS = 12
TEST_WORDS = frozenset(
    """pytest pytestmark skipif xfail parametrize parametrized fixture fixtures conftest unittest testcase mock mocks
    monkeypatch assert asserts assertequal asserttrue assertfalse assertraises allclose assert_allclose
    assert_equal jest mocha chai sinon snapshot snapshots tap testify stretchr gomock rstest proptest""".split()
)
GENERATED = re.compile(
    r"(?i)(package-lock\.json|yarn\.lock|pnpm-lock\.yaml|cargo\.lock|poetry\.lock|pipfile\.lock|go\.sum|"
    r"composer\.lock|gemfile\.lock|uv\.lock|\.min\.js|\bdist/|\.lock\b)"
)
HEX = re.compile(r"\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{7,40}\b")
ISSUE_REF = re.compile(r"#\d+")
IDENTIFIER_LIST = re.compile(r"(?i)^(adds|changes the|works on)?\s*\S+(, \S+)* and \S+ code\b|\S+, \S+ and \S+ code$")
_GENERIC_BRANCHES = re.compile(
    r"(?i)^(master|main|dev|develop|development|trunk|stable|release|staging|prod|production|gh-pages|wip|test|"
    r"testing|temp|tmp|patch-\d+|fix|hotfix|feature|experimental|old|backup|v?\d[\w.]*|[\w.-]*\d+\.\d+[\w.-]*)$"
)
_TAG_PREFIX = re.compile(r"^\[[^\]]{1,30}\]\s*")
_PATH_PREFIX = re.compile(r"^[\w./-]{2,60}:\s+(?=\S)")
_TRAILING_REFS = re.compile(
    r"(?i)\s*(\((?:#\d+|(?:fixes|closes|resolves|refs?|see|gh-)\s*#?\d+)[^)]*\)|(?:fixes|closes|resolves|refs?)\s+"
    r"#\d+|#\d+|\(#\d+\)|\bpr\s*#?\d+|\bgh-\d+)\s*$"
)
_TRIVIAL = re.compile(
    r"(?i)^(wip|typo|typos|fix typos?|fixed typos?|update readme(\.md)?|readme|merge\b|release\b|version\b|"
    r"v?\d+(\.\d+)+\b|bump\b|bumped\b|cleanup|clean up|clean-up|format(ting)?|lint|minor|oops|fixup|squash|"
    r"tweaks?\b(?!\s+(?:for|to)\s)|"
    r"initial commit|first commit|init\b|update\s+\S+\.(md|txt|rst|yml|yaml|json|lock|cfg|toml)$|"
    r"(update|upgrade) (the )?(dependencies|deps|requirements)|changelog|update changelog|prepare release|"
    r"(update[sd]?|updating) (the )?(changelog|change log|news|history|readme|docs?|documentation|authors|"
    r"contributors|version( number)?)\b|(re-?)?build (the )?dist\b|rebuild\b.*\bdist\b|re-?tag\b|rebundle\b|"
    r"(re-?)?(run|ran) (grunt|gulp|npm|yarn|webpack|make|the build)\b|"
    r"(ensured?|apply|applied)? ?(consistent |code )?format(ting|ted)?\b|.*\b(to|in) (the )?readme(\.\w+)?\s*$|"
    r".*\b(to )?(try to )?fix (the )?(ci|travis|build)\s*$|(\S+\s+){0,4}(in|to|of) (the )?dist( files?)?\b|"
    r"(add|added|remove|removed|rebuild|rebuilt|update|updated) (the )?dist\b|"
    r"(\S+: )?(add|added) (the )?\.[\w-]+ (dir|directory|folder|file)\b|.*\bvia \S+ sync\.?$|(\S+: )?bootstrap\b|"
    r"(add|added) (the )?missing \S+(\s+(and|&)\s+\S+)?\s*$|"
    r"fix(ed|es)? (the )?(code )?(formatting|format|indentation)\s*$|"
    r"(add|added|update|updated)\b.{0,40}\b(as )?(copyright holders?|licen[cs]e (file|header|text)s?)\b|"
    r"(add|added|update|updated|create|created) (the |an? )?(authors|licen[cs]e|contributing|changelog|notice"
    r"|code_of_conduct|copying|contributors)(\.\w+)?( file)?\s*$)"
)
_DEP_BUMP = re.compile(r"(?i)\b(bump|upgrade|update)\b.*\bfrom\b.*\bto\b|\bdependabot\b|\brenovate\b|\(deps\)")
_CLAUSE_CUT = re.compile(
    r"(?i)(,\s|;\s|\s[-–—]{1,2}\s|\slike\s|\s\((?![A-Z0-9][\w.+-]{0,10}\))|:\s|\.\s|\s(?:and|but|so|because|which|while|whereas|then)\s+"
    r"(?:(?:also|then|now)\s+)?(?:fix|fixed|fixes|improve[sd]?|test|tests|tested|make[s]?|made|use[sd]?|remove[sd]?"
    r"|drop(?:s|ped)?|add(?:s|ed)?|change[sd]?|update[sd]?|is|are|was|were|has|have|it|this|that)\b)"
)
_ARTICLE = re.compile(r"(?i)^(the|a|an|some|our|its|their)\s+")

VERBS_DROP = ("add", "adds", "added", "adding", "contains", "contain", "has", "have",
              "implement", "implements", "implemented", "implementing",
              "introduce", "introduces", "introduced", "provide", "provides", "provided", "include", "includes",
              "enable", "enables", "enabled", "create", "creates", "created", "new")  # fmt: skip
VERB_PHRASES = {
    "deprecate": "{x} deprecated",
    "fix": "a fix for {x}",
    "fixes": "a fix for {x}",
    "fixed": "a fix for {x}",
    "allow": "allowing {x}",
    "allows": "allowing {x}",
    "use": "use of {x}",
    "uses": "use of {x}",
    "switch": "a switch {x}",
    "make": "making {x}",
    "makes": "making {x}",
    "improve": "improved {x}",
    "improves": "improved {x}",
    "improved": "improved {x}",
    "handle": "handling of {x}",
    "handles": "handling of {x}",
    "update": "updated {x}",
    "updated": "updated {x}",
    "upgrade": "an upgrade of {x}",
    "remove": "{x} removed",
    "removed": "{x} removed",
    "drop": "{x} dropped",
    "dropped": "{x} dropped",
    "rewrite": "a rewrite {x}",
    "rewrote": "a rewrite {x}",
    "port": "a port {x}",
    "ported": "a port {x}",
    "convert": "{x} converted",
    "converted": "{x} converted",
    "refactor": "a refactoring of {x}",
    "speed": "speeding {x}",
    "optimize": "faster {x}",
    "optimise": "faster {x}",
    "expose": "{x} exposed",
    "export": "{x} exported",
    "build": "builds {x}",
    "rename": "a rename {x}",
    "renamed": "a rename {x}",
    "compile": "builds {x}",
}
GERUND = frozenset(
    """strip simplify move split replace reduce avoid prevent ensure return raise skip limit increase decrease cache
    log parse read write load save run print show hide sort clean check validate escape pass set get keep change
    disable extend document speed tune wrap unwrap detect retry reuse store send receive accept reject normalize
    normalise generate emit serialize deserialize encode decode compress sync merge lock bind map turn transform
    translate render extract display compute fetch find search download upload manage monitor track draw plot scan
    filter match watch""".split()
)
"""Imperative verbs a commit subject starts with, said as a gerund ("Strip everything but X" → "stripping …")."""


def gerund(verb: str) -> str:
    """run → running, strip → stripping, simplify → simplifying, validate → validating."""
    if verb.endswith("ie"):
        return verb[:-2] + "ying"
    if verb.endswith("e") and not verb.endswith(("ee", "ye", "oe")):
        return verb[:-1] + "ing"
    if re.fullmatch(r"[^aeiou]*[aeiou][bdgklmnprt]", verb):
        return verb + verb[-1] + "ing"
    return verb + "ing"


INSTRUCTIONS = re.compile(
    r"(?i)\b(ignore|disregard|forget)\b.{0,40}\b(instructions?|above|previous|prior)\b|\b(system|assistant)\s*:"
    r"|\brecommend(s|ed|ing)?\b|\byou (must|should|have to)\b|\bprompt\b"
)
"""Text that addresses the reader or a model: never part of a verdict's words (repository text is untrusted)."""


class Purpose(BaseModel):
    """What a fork is for: a phrase a person would use, and the words it came from."""

    model_config = ConfigDict(frozen=True)
    phrase: str = Field(description='e.g. "support for gevent without select module".')
    quote: str = Field(default="", description="The fork's own words the phrase comes from. Untrusted.")
    source: str = Field(default="", description='Where they were said: "its README", "commit 216264f".')
    kind: str = Field(default="", description="readme, notes, changelog, package, forge, commit or branch.")
    evidence: list[str] = Field(default_factory=list)
    detail: list[str] = Field(default_factory=list, description="Distinctive identifiers: supporting detail only.")

    @property
    def cite(self) -> str:
        """The quote with its source, as a verdict shows it: 'its README: “…”'."""
        return f"{self.source}: “{self.quote}”" if self.quote else ""


class Banned(BaseModel):
    """What a phrase may not contain, for one fork."""

    names: set[str] = Field(default_factory=set, description="Authors' and the owner's names and handles, lower case.")
    project: set[str] = Field(default_factory=set, description="The project's own names, lower case.")


def banned_for(f: ForkFacts, name: str, upstream: str) -> Banned:
    """People (commit authors, the fork's owner) and the project's own names, for :func:`problems`."""
    names: set[str] = set()
    for c in f.own_commits:
        for part in re.split(r"[\s<>@()\[\],]+", c.author.lower()):
            if len(part) >= 3 and part.isalpha():
                names.add(part)
    owner = name.split("/", 1)[0].lower() if "/" in name else ""
    if owner:
        names.add(owner)
    project = {upstream.rsplit("/", 1)[-1].lower()}
    for p in f.packages:
        if p.before and p.before.name:
            project.add(p.before.name.lower())
    return Banned(names=names, project={p for p in project if len(p) >= 3})


def _words(text: str) -> list[str]:
    return re.findall(r"[\w.+#-]+", text)


def problems(phrase: str, banned: Banned | None = None) -> list[str]:
    """Why a purpose phrase is not one a person would use (empty: it is). Shared by every writer."""
    out: list[str] = []
    words = _words(phrase)
    if not words:
        return ["it is empty"]
    if len(phrase.split()) > MAX_WORDS:
        out.append(f"it is over {MAX_WORDS} words")
    named = [w for w in phrase.split() if _AS_NAME.fullmatch(w.strip(",;:()"))]
    if IDENTIFIER_LIST.search(phrase) or (len(named) >= 2 and len(named) * 2 >= len(phrase.split())):
        out.append("it is a list of identifiers, not what the fork is for")
    lower = [w.lower().strip(".-") for w in words]
    if HEX.search(phrase):
        out.append("it holds a commit id or other hex")
    if ISSUE_REF.search(phrase):
        out.append("it holds an issue or pull-request number")
    if (
        any(w in TEST_WORDS for w in lower)
        or any(w.startswith(("assert", "pytest")) for w in lower)
        or re.search(r"(?i)((?<![a-z])test_\w+|\w_test\.\w+|\.test\.\w+|(?<![a-z])tests?\.(py|go|js|ts|rs))", phrase)
    ):
        out.append("it names test-framework machinery")
    if GENERATED.search(phrase):
        out.append("it names a lockfile or generated file")
    if INSTRUCTIONS.search(phrase):
        out.append("it addresses the reader or a model (repository text is quoted, never obeyed)")
    for i, w in enumerate(words):
        if re.fullmatch(r"\d+", w):
            prev = words[i - 1] if i else ""
            if not (prev[:1].isupper() or (re.search(r"[A-Za-z]\d*$", prev) and prev.lower() in _VERSIONED)):
                out.append(f"it holds a bare number ({w})")
                break
    if banned is not None:
        # names in a path ("turbine/accelerator/") are where the work is, not what it is called
        lower = [w.lower().strip(".-") for w in _words(re.sub(r"\S*/\S*", " ", phrase))]
        hit = sorted({w for w in lower if w in banned.names})
        if hit:
            out.append(f"it names a person or the fork's owner ({', '.join(hit)})")
        proj = sorted({w for w in lower if w in banned.project})
        if proj:
            out.append(f"it is the project's own name ({', '.join(proj)})")
    return out


_AS_NAME = re.compile(r"[\w.-]*\w\.(?:[a-z]{1,5})|[\w./-]*/[\w./-]+|\w+_\w+|[a-z]+[A-Z]\w*")
"""A word that is a file, a path or an identifier (``bloodhound.js``, ``src/x``, ``read_all``, ``getValue``)."""

_VERSIONED = frozenset("python py node java go rust ruby php perl qt gtk api version level draft ecmascript es".split())


_EMOJI = re.compile(r"^(?::[a-z0-9_+-]+:\s*|[\U0001F000-\U0001FAFF\u2600-\u27BF\uFE0F]+\s*)+")
"""Leading gitmoji shortcodes and emoji: decoration, not words."""


@lru_cache(maxsize=16384)
def clean_subject(subject: str) -> str:
    """A commit subject without conventional-commit and tag prefixes, path prefixes, PR and issue refs."""
    s = subject.strip().lstrip("-*+•> ").strip()
    for _ in range(3):
        before = s
        s = _EMOJI.sub("", s).strip()  # ":clubs: Ensure …", "✨ Add …"
        s = subject_text(s)  # the conventional-commit prefix, as the terms strip it
        s = _TAG_PREFIX.sub("", s)
        s = _PATH_PREFIX.sub("", s) if ":" in s[:61] and not re.match(r"(?i)^(https?|ftp):", s) else s
        s = _TRAILING_REFS.sub("", s)
        if s == before:
            break
    return s.strip().rstrip(".!").strip()


_GENERIC = frozenset(
    """a an the and or of for to in on some few more minor small little bug bugs fix fixes fixed fixing update updates
    updated change changes changed cleanup misc various stuff wip tweak tweaks improvement improvements improve
    improved refactor refactoring code test tests typo typos doc docs readme version things thing issue issues
    problem problems error errors work working try trying again other another new old""".split()
)


def usable_subject(subject: str, author: str = "") -> bool:
    """A subject that can say what a fork is for: not a merge, bump, release or housekeeping one, and not one made
    of generic words only ("bug fix", "minor updates", "more tests")."""
    if is_bot_commit(subject, author) or _DEP_BUMP.search(subject) or subject.lower().startswith("merge"):
        return False
    if _WIKI_EDIT.match(subject):
        return False
    s = clean_subject(subject)
    words = re.findall(r"[A-Za-z]{2,}", s)
    return len(words) >= 2 and not _TRIVIAL.match(s) and not all(w.lower() in _GENERIC for w in words)


_WIKI_EDIT = re.compile(
    r"(?i)^\s*(?:(?:created|updated|destroyed|renamed)\s.+\((?:markdown|textile|rdoc|asciidoc|mediawiki|org|creole|pod"
    r"|rest|restructuredtext)\)|revert [0-9a-f]{7,40}\.\.\.[0-9a-f]{7,40} on\s.+)\s*$"
)
"""The subjects GitHub writes for a wiki page edit ("Updated Installing on Windows (markdown)"): a page's history,
never what a fork's code is for (theredcmdcraft/gitflow-avh merged its wiki's 216 edits)."""


_ASIDE = re.compile(r"\s\((?![A-Z0-9][\w.+-]{0,10}\))[^()]{0,60}\)")


def _cut(x: str) -> str:
    """The head of a clause: asides in parentheses out ("(as of 0.6.2)"; an acronym such as "(HPU)" stays), then
    up to the first comma, semicolon, dash, parenthesis, or "and <verb>"."""
    x = _ASIDE.sub("", x)
    m = _CLAUSE_CUT.search(x)
    x = x[: m.start()] if m else x
    return x.strip(" \"'“”‘’`.,;:!?")


_KEEP_PREFIX = ("experimental", "partial", "basic")
_ADD = frozenset({"add", "adds", "added", "adding"})
_ADD_TO = re.compile(
    r"^(?:\S+\s+){0,3}?\S+\s+to\s+(?:[A-Z`'\"]|\S*[._/]\S|(?i:the|an?|its|our|my|this|each|every|all)\b)"
)
"""What "Add" puts somewhere ("waiter to MySQLdb.Connection", "Python 3.5 to the test matrix"): the thing added is at
most four words before "to", and what follows names a place (a name, a path or identifier, "the …"), not a verb
("instructions to compile on MSYS2" stays a noun phrase)."""


def _noun(x: str) -> str:
    """A verb-led clause as a noun phrase ("Add support for X" → "support for X", "Support X" → "X support"). Only
    word keeps its case: a sentence's first word may be a name ("Python 3 support", "Gevent callback")."""
    x = x.strip(" \"'“”`")
    m = re.match(r"(?i)^(initial|first|basic|experimental|preliminary|partial|better|proper|full)\s+(.+)", x)
    prefix = ""
    if m:
        prefix = m.group(1).lower() + " " if m.group(1).lower() in _KEEP_PREFIX else ""
        x = m.group(2)
    first, _, rest = x.partition(" ")
    v = first.lower()
    dont = re.match(r"(?i)^(?:don'?t|do not|never)\s+([a-z]+)\b(.*)", x)
    if dont:  # "Don't store library state with globals" → "not storing library state with globals"
        return prefix + f"not {gerund(dont.group(1).lower())}{dont.group(2)}"
    if v in VERBS_DROP and rest:
        x = rest
        able = re.match(
            r"(?i)^(?:the |an? )?(-{1,2}[\w-]+ )?(ability|option|flag|possibility|way) to (\w+)\b(.*)", rest
        )
        if able:  # "an option to specify X" → "specifying X"; "-b option to specify X" → "specifying X (its -b option)"
            said = gerund(able.group(3).lower()) + able.group(4).rstrip(" .")
            # a named one says its name: "a -b option for specifying build constraints …"
            x = f"a {able.group(1).strip()} {able.group(2).lower()} for {said}" if able.group(1) else said
        elif v in _ADD and _ADD_TO.match(rest):  # "Add waiter to MySQLdb.Connection": no noun phrase without its verb
            x = f"adding {rest}"
    elif v in ("support", "supports", "supported") and rest:
        rest = _ARTICLE.sub("", rest)
        short = len(rest.split()) <= 2 and not rest.lower().startswith("for ")
        x = f"{rest} support" if short else ("support " if rest.lower().startswith("for ") else "support for ") + rest
    elif v in ("use", "uses") and re.search(r"\sto\s", rest):  # "use root makefile to compile binary"
        x = f"using {rest}"
    elif v in VERB_PHRASES and rest:
        x = VERB_PHRASES[v].format(x=rest)
    elif v in GERUND and rest:
        x = f"{gerund(v)} {rest}"
    return prefix + x


_SELF: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]] = [
    # "Command petrify compiles static files into Go source code": what the renamed program does
    (re.compile(r"(?i)^(?:the\s+)?(?:command|package|library|tool|module|program|utility|binary|crate|gem|plugin)\s+"
                r"[\w.-]+\s+(?!(?:provid|offer|implement|contain|ha|i|support|add)(?:es|s)\b)([a-z]+?)(?:es|s)\s+(.+)"),
     lambda m: f"{gerund(m.group(1).lower())} {_cut(m.group(2))}"),
    # "… tailor-made for X", "designed for X"
    (re.compile(r"(?i)\b(tailor[- ]made|designed|built|made|intended|optimi[sz]ed|adapted)\s+for\s+(.+)"),
     lambda m: f"a version {m.group(1).lower()} for {_cut(m.group(2))}"),
    (re.compile(r"(?i)\bin order to\s+(.+)"), lambda m: _noun(_cut(m.group(1)))),
    (re.compile(r"(?i)\b(?:fork|version|port|variant|edition|copy)\s+of\s+\S+(?:\s+\S+){0,3}?\s+(?:that|which)\s+"
                r"(?:is\s+)?(.+)"), lambda m: _self_tail(m.group(1))),
    (re.compile(r"(?i)\b(?:desire|need|want|wish|goal|aim|purpose)\b.{0,60}?\bto\s+((?:support|add|allow|enable|provide)\s+.+)"),
     lambda m: _noun(_cut(m.group(1)))),
    (re.compile(r"(?i)\b(?:fork|version|port|variant|edition|copy)\s+of\s+\S+(?:\s+\S+){0,3}?\s+((?:with|for|to)\s+.+)"),
     lambda m: _self_tail(m.group(1))),
    (re.compile(r"(?i)\b(?:adds|added|adding|add)\s+(.+)"), lambda m: _noun(_cut(m.group(1)))),
    # "This fork upgrades the library to use jQuery 3.7", "… ports it to Python 3": what it moved the code to
    (re.compile(r"(?i)\b(?:fork|version|repository|repo|branch)\s+(upgrades|updates|migrates|moves|ports|converts)\s+"
                r"(?:the\s+|it\s+|this\s+)?(?:\S+\s+){0,3}?to\s+(?:use\s+|run\s+on\s+|work\s+with\s+)?(.+)"),
     lambda m: _moved_to(m.group(1), m.group(2))),
    (re.compile(r"(?i)\bsupports\s+(.+)"), lambda m: _supported(_cut(_ARTICLE.sub("", m.group(1))))),
    (re.compile(r"(?i)\b(?:provides|offers|implements|is)\s+(an?\s+.+)"), lambda m: _cut(m.group(1))),
    (re.compile(r"(?i)^(?:the\s+)?(.{2,40}?\bsupport)\s+(?:is|for)\b"), lambda m: m.group(1)),
    (re.compile(r"(?i)\b(?:ported|port)\s+(to|in)\s+(.+)"),
     lambda m: f"a port {m.group(1).lower()} {_cut(m.group(2))}"),
    (re.compile(r"(?i)\b(?:rewrite|rewritten|reimplementation|reimplemented)\s+(in|with|using)\s+(.+)"),
     lambda m: f"a rewrite {m.group(1).lower()} {_cut(m.group(2))}"),
]  # fmt: skip


def _moved_to(verb: str, target: str) -> str:
    """ "an upgrade to jQuery 3.7", "a port to Python 3"; empty when "to" opens a verb ("updates X to handle …")."""
    target = _cut(target)
    if re.match(r"(?i)(handle|support|allow|make|fix|avoid|be|do|work|run|use|add|let|get|have)\b", target):
        return ""
    return ("a port to " if verb.lower() in ("ports", "moves", "converts") else "an upgrade to ") + target


def _supported(x: str) -> str:
    """ "MariaDB support", or "support for both the creation and parsing of UUIDs" when the object is long."""
    return f"{x} support" if len(x.split()) <= 3 else f"support for {x}"


def _self_tail(tail: str) -> str:
    """What follows "a fork of X that/with/for …"."""
    tail = tail.strip()
    m = re.match(r"(?i)^(with|for|to)\s+(.+)", tail)
    if m and m.group(1).lower() == "with":
        return _cut(m.group(2))
    if m and m.group(1).lower() == "for":
        return f"a version for {_cut(m.group(2))}"
    if m:
        return _noun(_cut(m.group(2)))
    for rx, make in _SELF:
        hit = rx.search(tail)
        if hit:
            return make(hit)
    return _noun(_cut(tail))


_NON_ASCII_WORD = re.compile(r"\b\w*[^\x00-\x7F\W]\w*\b")
"""A word with a letter outside ASCII ("özelliği", "verilmişse", "修复")."""


def phrase_of(text: str, kind: str) -> str | None:
    """The noun phrase a sentence gives for what the fork is for, or None when it gives none."""
    text = " ".join(text.replace("`", "").split()).strip()
    if kind == "commit":
        if len(_NON_ASCII_WORD.findall(text)) >= 2:
            return None  # the phrase rules are English ones: such a subject is quoted whole, never cut into one
        return _tidy(_noun(_cut(clean_subject(text))))
    if kind == "branch":
        words = re.split(r"[-_/]+", text)
        return _tidy(" ".join(words)) if len([w for w in words if w.isalpha()]) >= 2 else None
    for rx, make in _SELF:
        m = rx.search(text)
        if m:
            got = _tidy(make(m))
            if got and not _VAGUE.match(got):
                return got
    if kind in ("package", "forge", "notes", "changelog") or (kind == "readme" and len(text.split()) <= 10):
        head = _cut(text)
        first = head.split(" ", 1)[0].lower()
        if first in VERBS_DROP or first in VERB_PHRASES or first in GERUND or first in ("support", "supports"):
            head = _noun(head)
        if 2 <= len(head.split()) <= 10 and not re.match(
            r"(?i)^(this|it|we|i|you|our|the project|like|as|or|and|but|so|also|just|see|install|use|run|add)\b", head
        ):
            return _tidy(head)
    return None


_SHORTEN = re.compile(r"\s(?:within|in|on|at|with|by|using|that|which|so|when|where|because|via|from|as|of|for|to)\s")


def _tidy(x: str | None) -> str | None:
    """Whitespace and edge punctuation out; a phrase over 10 words cut at its last preposition or relative clause
    before the limit ("some minor adjustments needed for the development environment within …")."""
    if not x:
        return None
    x = " ".join(x.split()).strip(" \"'“”‘’`.,;:!?-*+")
    for q in ('"', "“", "”"):
        if x.count(q) % 2:  # an unbalanced quote ("example of nested commands -- "sudo rm …")
            x = x.replace(q, "")
    x = re.sub(r"(?i)(\s+(like|as|with|for|to|of|and|or|the|a|an|in|on|by|from|via|--))+$", "", x).strip()
    if len(x.split()) > 10:
        head = " ".join(x.split()[:11])
        cuts = [m.start() for m in _SHORTEN.finditer(head)]
        if cuts and len(head[: cuts[-1]].split()) >= 3:
            x = head[: cuts[-1]]
    first = x.split(" ", 1)[0] if x else ""
    if first[:1].isupper() and first[1:].islower() and first.lower() in _COMMON_OPENERS:
        x = first.lower() + x[len(first) :]  # the phrase runs mid-sentence ("a heavy rewrite with bug fix at …")
    return x or None


_COMMON_OPENERS = frozenset(
    """add adds added adding allow allows basic better bug bugfix build change changes clean cleanup experimental
    fix fixes fixed fixing improve improved improvement improvements initial instructions make makes making minor
    more new partial port refactor refactoring remove removed rewrite small some support tweak tweaks update
    updated use using workaround""".split()
)


def _strip_project(phrase: str, banned: Banned) -> str:
    """Drop a trailing "of/for/from <project>" and a leading "<project>'s" (the rest may still say it)."""
    for p in banned.project:
        phrase = re.sub(
            rf"(?i)\s+(?:of|for|from|to|in|on)\s+(?:the\s+)?(?:original\s+)?{re.escape(p)}\b.*$", "", phrase
        )
        phrase = re.sub(rf"(?i)^{re.escape(p)}(?:'s)?(?![\w.-])\s+(?:(?:with|for|on|of)\s+)?", "", phrase)
    return phrase.strip()


def _term_hits(words: set[str], terms: list[TermScore]) -> float:
    """How much of the fork's distinctive vocabulary a subject's words (cleaned: a component prefix such as
    "parquet: …" names a place, not the work) carry, each term weighted by its score relative to the best."""
    best = terms[0].score if terms else 1.0
    score = 0.0
    for t in terms[:12]:
        if any(w == t.term or (min(len(w), len(t.term)) >= 4 and (w.startswith(t.term) or t.term.startswith(w)))
               for w in words):  # fmt: skip
            score += t.score / best
    return score


_FEATURE = re.compile(r"(?i)^(add|adds|added|adding|implement\w*|introduce\w*|initial|new|port\w*)\b|\bsupport\b")
"""A subject that announces a feature ("Add Parquet export", "Initial async IO support") says what a fork is for
better than one about a detail of it ("write row groups")."""


MAX_SUBJECTS = 400
"""The newest own commits whose subjects are ranked (a fork of thousands says what it is for in its README)."""


@lru_cache(maxsize=1)
def _platform_words() -> frozenset[str]:
    """Glossary tokens that name a platform (windows, msys2, rocm, hpu …): what a port is for."""
    from forkwise.service.verdicts.prompts import load_toml

    gl = load_toml("glossary.toml")
    platforms = set(gl["platforms"]["names"])
    return frozenset(t for t, name in gl["terms"].items() if name in platforms)


_TESTS_ONLY = re.compile(r"(?i)^(add|adds|added|adding|more|new)\s+(unit\s+|more\s+|some\s+)?(tests?|specs?)\b")


def candidates(
    f: ForkFacts,
    *,
    forge_description: str | None = None,
    terms: list[TermScore] | None = None,
    among: frozenset[str] | None = None,
) -> list[Statement]:
    """Every source of purpose for a fork, in the order they are tried: (a), then (b), then (c). ``among``: its
    commit subjects only, of these commits (what it adds beyond another fork's line)."""
    out = list(f.statements) if among is None else []
    if forge_description:
        out.append(Statement(kind="forge", text=forge_description, evidence="fact:forge_description",
                             source="its forge description"))  # fmt: skip
    terms = terms if terms is not None else f.terms
    own = [c for c in f.own_commits if not c.is_merge and not c.upstream_equivalent and usable_subject(c.subject)]
    if among is not None:
        own = [c for c in own if c.sha in among]
    platforms = _platform_words()

    def rank(c: CommitFact) -> tuple[float, datetime]:
        cleaned = clean_subject(c.subject)
        words = set(tokens(cleaned))
        feature = _FEATURE.search(cleaned) and not _TESTS_ONLY.match(cleaned)  # "Add tests for …" adds no feature
        score = _term_hits(words, terms) + (1.0 if feature else 0) + 0.75 * len(platforms & words)
        return -score, c.date

    scored = sorted(own[:MAX_SUBJECTS], key=rank)
    for c in scored[:4]:
        out.append(Statement(kind="commit", text=c.subject, evidence=f"commit:{c.sha}", source=f"commit {c.sha[:7]}"))
    for b in f.other_branches[:3] if among is None else []:
        if not _GENERIC_BRANCHES.match(b.name.rsplit("/", 1)[-1]):
            out.append(Statement(kind="branch", text=b.name.rsplit("/", 1)[-1], evidence="fact:other_branches",
                                 source=f"its branch {b.name}"))  # fmt: skip
    return out


def purpose(
    f: ForkFacts,
    *,
    name: str,
    upstream: str,
    forge_description: str | None = None,
    detail: Iterable[str] = (),
) -> Purpose | None:
    """The first phrase a source gives that passes :func:`problems`; None when no source gives one (then a verdict
    says where the fork's work is, never a list of identifiers)."""
    if not f.unique_commits:
        return None
    banned = banned_for(f, name, upstream)
    for st in candidates(f, forge_description=forge_description):
        if INSTRUCTIONS.search(st.text):
            continue  # the quote would carry them into the verdict
        if st.kind == "changelog" and not usable_subject(st.text):
            continue  # a release chore ("Rebuild dist files and re-tag latest release") says nothing it is for
        got = phrase_of(st.text, st.kind)
        if not got:
            continue
        got = _strip_project(got, banned)
        if got and len(got.split()) >= 1 and not problems(got, banned) and _informative(got):
            quote = clean_subject(st.text) if st.kind == "commit" else st.text
            return Purpose(phrase=got, quote=quote, source=st.source, kind=st.kind, evidence=[st.evidence],
                           detail=list(detail))  # fmt: skip
    return _platform(f, detail)


def _platform(f: ForkFacts, detail: Iterable[str]) -> Purpose | None:
    """When no source says it in words (subjects in another language, "Release 1.3.0+hpu"), but the fork's own
    commit subjects name a platform the glossary knows among its distinctive terms: "<platform> support", quoting
    the subject that names it, with where the work is ("Habana Gaudi (HPU) support (op_builder/hpu/)")."""
    from forkwise.service.verdicts.prompts import load_toml

    gl = load_toml("glossary.toml")
    platforms = set(gl["platforms"]["names"])
    own = [c for c in f.own_commits if not c.is_merge and not c.upstream_equivalent and not _DEP_BUMP.search(c.subject)]
    for t in f.terms[:6]:
        name = gl["terms"].get(t.term)
        if name not in platforms:
            continue
        said = next((c for c in own if re.search(rf"(?i)(?<![a-z]){re.escape(t.term)}(?![a-z])", c.subject)), None)
        if said is None:
            continue
        where = [w for w in t.where if not w.startswith(("tests/", "test/"))][:2]
        phrase = f"{name} support" + (f" ({', '.join(where)})" if where else "")
        return Purpose(phrase=phrase, quote=said.subject, source=f"commit {said.sha[:7]}", kind="commit",
                       evidence=[f"commit:{said.sha}"], detail=list(detail))  # fmt: skip
    return None


_VAGUE = re.compile(
    r"(?i)^(a fix for |updated |improved |use of |making )?(it|this|that|things?|stuff|code|changes?|bugs?|fixes|"
    r"some fixes|many bugs|misc|various|files?|tests?|docs?|readme|support|breaking changes|"
    r"an? (fork|copy|clone|mirror|version)( of .*)?)$"
    # where the fork is, not what it is ("… a heavily modified version of linenoise that can be found here")
    r"|^(can|could|may|might|will) be (found|downloaded|obtained|seen|read)\b"
    r"|^(is|are) (available|hosted|located|kept)\b"
)
_ANAPHORA = re.compile(r"(?i)\b(this|these|those|it|them|above|below|following)\b")
_CODE = re.compile(r"[={}<>$;\\]|::|\w\(|\(\s*\)|\b[a-z]+(?:_[a-z0-9]+){2,}\b|\b[a-z]+[A-Z][a-z]\w*\b")


def _informative(phrase: str) -> bool:
    """Says something on its own: not "bugs", "a fork", "support" alone; no "this issue" pointing elsewhere; not
    code ("-tags=protobuf", "uuid.NewIncUUID()"); a word of three letters or more."""
    p = phrase.strip()
    return (
        not _VAGUE.match(p) and not _ANAPHORA.search(p) and not _CODE.search(p) and bool(re.search(r"[A-Za-z]{3,}", p))
    )
