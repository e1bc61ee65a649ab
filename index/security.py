"""When may forkwise call a commit a security fix? Only with an advisory identifier, never on wording.

Keyword lists flag "Improve overflow handling" (fp16 loss scaling), "Adapt Llama injection policy" (a feature),
"Update SECURITY.md", "Sanitize m3u8 URLs", "xsrf token extraction" (a scraper), a sanitize-html bump. Telling a user
they need "the 10 security fixes upstream made since" on that is the worst kind of wrong answer. So a commit is a
security fix only when its message (subject, body or trailers) names an advisory: a CVE, GHSA, PYSEC, RUSTSEC,
GO- or OSV identifier, or when the advisory database (:mod:`forkwise.index.advisories`, when configured) names it
as a fix. Wording alone ("XSS", "path traversal", "sanitize", "injection", "vulnerability") is never evidence.

It must also change more than docs, tests and CI (a SECURITY.md, a test or a workflow is never the fix). Merges
are never the fix (the commits they bring are).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from forkwise.index.kinds import file_kind

CVE = re.compile(r"\bCVE-\d{4}-\d{4,}\b", re.I)
GHSA = re.compile(r"\bGHSA(?:-[23456789cfghjmpqrvwx]{4}){3}\b", re.I)
ECOSYSTEM = re.compile(r"\b(?:PYSEC|RUSTSEC|GO|OSV)-\d{4}-\d{1,7}\b")
"""Advisory databases' own identifiers (PyPA, RustSec, the Go vulnerability database, OSV), upper case as issued."""
ADVISORY = (CVE, GHSA, ECOSYSTEM)
NOT_THE_FIX = frozenset({"docs", "tests", "ci"})
"""File kinds that are never the fix itself (SECURITY.md is docs)."""


def evidence(message: str, files: Iterable[str] = (), *, is_merge: bool = False) -> str | None:
    """The advisory identifiers this commit's message names (at most three, as written), or None.

    ``files`` are the paths it changed; when given and every one is docs, tests or CI, the answer is None.
    """
    if is_merge:
        return None
    ids = list(dict.fromkeys(m.group(0).upper() for rx in ADVISORY for m in rx.finditer(message)))
    if not ids:
        return None
    paths = list(files)
    if paths and all(file_kind(p) in NOT_THE_FIX for p in paths):
        return None
    return ", ".join(ids[:3])


ANY = re.compile("|".join(rx.pattern for rx in ADVISORY), re.I)


def candidate(message: str) -> bool:
    """Cheap pre-check on a message alone (one regex): could :func:`evidence` say yes once the files are known?"""
    return ANY.search(message) is not None
