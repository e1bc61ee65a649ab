"""Repository names (``owner/repo``): the one definition every surface validates with.

A segment starts with a letter or digit and holds letters, digits, ``.``, ``_`` and ``-`` (at most 100), never
``..``: the characters GitHub allows in owner and repository names, and safe as a path component under
``FORKWISE_HOME``. ``SEGMENT`` is the same rule as a regular expression for FastAPI path parameters.
"""

from __future__ import annotations

import re
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator

SEGMENT = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"
_SEG = r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}"
_SEGMENT = re.compile(SEGMENT)
_IN_TEXT = re.compile(rf"(?<![\w/.-])({_SEG})/({_SEG})(?![\w/])")


def valid_segment(text: str) -> bool:
    return bool(_SEGMENT.match(text)) and ".." not in text


def valid_name(owner: str, repo: str) -> bool:
    """``owner`` and ``repo`` are both valid segments."""
    return valid_segment(owner) and valid_segment(repo)


def is_full_name(text: str) -> bool:
    """``text`` is exactly ``owner/repo``."""
    owner, sep, repo = text.partition("/")
    return bool(sep) and valid_name(owner, repo)


def split_full_name(text: str) -> tuple[str, str]:
    """``"owner/repo"`` → ``("owner", "repo")``; ``ValueError`` with a reason a person can act on otherwise."""
    if not is_full_name(text):
        raise ValueError(f"{text[:120]!r} is not an owner/repo name")
    owner, _, repo = text.partition("/")
    return owner, repo


def full_names_in(text: str) -> list[str]:
    """Every ``owner/repo`` written in free text (a Slack message), in order."""
    return [f"{m.group(1)}/{m.group(2).rstrip('.')}" for m in _IN_TEXT.finditer(text) if valid_name(*m.groups())]


def http_link(url: str | None) -> str | None:
    """``url`` when it may be rendered as a link (an absolute ``http(s)`` URL with a host, no spaces, quotes, angle
    brackets or control characters), else None: ``javascript:`` and friends never reach a page, a Slack message or a
    chat citation, whatever a forge answered or an old report holds."""
    if not url or re.search(r"[\x00-\x20\x7f<>\"'`|\\]", url):
        return None
    parts = urlsplit(url)
    return url if parts.scheme.lower() in ("http", "https") and parts.hostname else None


WebLink = Annotated[str | None, AfterValidator(http_link)]
"""A URL field that is rendered as a link: :func:`http_link` applied on validation (None when refused)."""
