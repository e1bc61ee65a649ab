"""When may forkwise call a commit a security fix? Only on strong evidence, never on a keyword.

Keyword lists flag "Improve overflow handling" (fp16 loss scaling), "Adapt Llama injection policy" (a feature),
"Update SECURITY.md", "Sanitize m3u8 URLs", a sanitize-html bump. Telling a user they need "the 10 security
fixes upstream made since" on that is the worst kind of wrong answer. So a commit is a security fix only when:

- its message carries a CVE or GHSA identifier; or
- its message uses explicit vulnerability wording: "vulnerability", "security fix/issue/patch/flaw", XSS, CSRF,
  SSRF, remote/arbitrary code execution, SQL/command/code/shell injection, path/directory traversal, privilege
  escalation, authentication bypass, use-after-free, buffer/heap/stack overflow;

and it changes more than docs, tests and CI (a SECURITY.md, a test or a workflow is never the fix). Merges are
never the fix (the commits they bring are). "overflow", "injection", "sanitize", "exploit" or "security" alone are
not evidence and are not claimed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from forkwise.index.kinds import file_kind

CVE = re.compile(r"\bCVE-\d{4}-\d{4,}\b", re.I)
GHSA = re.compile(r"\bGHSA(?:-[23456789cfghjmpqrvwx]{4}){3}\b", re.I)
EXPLICIT = re.compile(
    r"(?i)\b("
    r"vulnerabilit(?:y|ies)|vulnerable to|"
    r"security[ -](?:fix|issue|vulnerabilit\w*|patch|bug|flaw|hole|advisory|problem)|"
    r"xss|cross[- ]site[- ](?:scripting|request[- ]forgery)|csrf|xsrf|ssrf|server[- ]side[- ]request[- ]forgery|"
    r"(?:remote|arbitrary)[- ]code[- ]execution|rce|"
    r"(?:sql|command|code|shell|os[- ]command|ldap|xpath|template)[- ]injection|sqli|"
    r"(?:path|directory)[- ]traversal|zip[- ]slip|"
    r"privilege[- ]escalation|auth(?:entication|orization)?[- ]bypass|"
    r"use[- ]after[- ]free|(?:buffer|heap|stack)[- ](?:overflow|overrun)|"
    r"open[- ]redirect|xxe|xml[- ]external[- ]entit(?:y|ies)|deserialization[- ]vulnerab\w*"
    r")\b"
)
NOT_THE_FIX = frozenset({"docs", "tests", "ci"})
"""File kinds that are never the fix itself (SECURITY.md is docs)."""


def evidence(message: str, files: Iterable[str] = (), *, is_merge: bool = False) -> str | None:
    """The strong evidence that this commit fixes a vulnerability (quoted from its message), or None.

    ``files`` are the paths it changed; when given and every one is docs, tests or CI, the answer is None.
    """
    if is_merge:
        return None
    ids = list(dict.fromkeys(m.group(0).upper() for rx in (CVE, GHSA) for m in rx.finditer(message)))
    found = ", ".join(ids[:3]) if ids else None
    if found is None:
        m = EXPLICIT.search(message)
        if m is None:
            return None
        found = f"“{m.group(0)}”"
    paths = list(files)
    if paths and all(file_kind(p) in NOT_THE_FIX for p in paths):
        return None
    return found


ANY = re.compile("|".join([CVE.pattern, GHSA.pattern, EXPLICIT.pattern.removeprefix("(?i)")]), re.I)


def candidate(message: str) -> bool:
    """Cheap pre-check on a message alone (one regex): could :func:`evidence` say yes once the files are known?"""
    return ANY.search(message) is not None
