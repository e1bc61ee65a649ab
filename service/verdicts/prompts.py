"""Loading prompt and text templates from ``prompts/`` (files, never strings in code)."""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
import re
import tomllib
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from markupsafe import Markup

if TYPE_CHECKING:  # Jinja loads when a template is first rendered: a run whose verdicts are all remembered
    # (service/verdicts/memo.py) renders none
    from jinja2 import Environment, FileSystemBytecodeCache, Template


def prompts_dir() -> Path:
    """The ``forkwise.prompts`` package data (``FORKWISE_PROMPTS_DIR`` overrides it, for editing templates)."""
    env = os.environ.get("FORKWISE_PROMPTS_DIR")
    return Path(env) if env else Path(str(resources.files("forkwise.prompts")))


@lru_cache(maxsize=16)
def load_toml(name: str) -> dict[str, Any]:
    return tomllib.loads((prompts_dir() / name).read_text(encoding="utf-8"))


@lru_cache(maxsize=16)
def prompt_hash(name: str) -> str:
    """sha256 (first 12 hex digits) of a prompt file, recorded with every verdict written from it."""
    return hashlib.sha256((prompts_dir() / name).read_bytes()).hexdigest()[:12]


_MD_SPECIAL = str.maketrans({c: "\\" + c for c in "\\`*_[]<>|#"})


def md_escape(text: object) -> str:
    """Untrusted text made inert in Markdown: one line, special characters escaped."""
    return " ".join(str(text).split()).translate(_MD_SPECIAL)


def day(value: object) -> str:
    """A datetime as ``YYYY-MM-DD`` ("unknown" for None); other values as text."""
    if value is None:
        return "unknown"
    return value.date().isoformat() if hasattr(value, "date") else str(value)


def pct(x: float) -> str:
    """``0.254`` → ``"25%"``."""
    return f"{round(x * 100)}%"


def count(n: int, noun: str, plural: str | None = None) -> str:
    """``3 | count("commit")`` → "3 commits"; ``1 | count("fix", "fixes")`` → "1 fix"."""
    return f"{n} {noun if n == 1 else (plural or noun + 's')}"


@lru_cache(maxsize=1)
def applied(n: int, total: int) -> str:
    """How many of a fork's own commits apply onto upstream in order, as a person says it."""
    if n == total:
        return {1: "its one own commit applies", 2: "both its own commits apply"}.get(
            total, f"all {total} of its own commits apply"
        )
    return f"{n} of its {count(total, 'own commit')} apply"


def _bytecode_cache() -> FileSystemBytecodeCache | None:
    """Jinja's file cache of compiled templates in its per-user directory under the temp dir (created 0700 and
    checked to be this user's), which never fails a render: a file it cannot read (truncated, another version's) is
    a miss, one it cannot write is skipped. None when there is no safe directory: templates are then compiled per
    process, as before."""
    from jinja2 import FileSystemBytecodeCache
    from jinja2.bccache import Bucket

    class _QuietBytecodeCache(FileSystemBytecodeCache):
        def load_bytecode(self, bucket: Bucket) -> None:
            try:
                super().load_bytecode(bucket)
            except (OSError, EOFError, ValueError, TypeError, pickle.UnpicklingError):
                bucket.reset()

        def dump_bytecode(self, bucket: Bucket) -> None:
            with contextlib.suppress(OSError):
                super().dump_bytecode(bucket)

    try:
        return _QuietBytecodeCache(pattern="__forkwise_text_%s.cache")
    except (OSError, RuntimeError):
        return None


_STRINGS: dict[str, str] = {}
"""Template strings of the prompt files by name (``text:<sha1 of the source>``), for :func:`text_template`."""


@lru_cache(maxsize=1)
def text_env() -> Environment:
    """Jinja for plain text (sentences, Markdown): strict, no autoescape. One per process; what it compiles is
    kept in Jinja's bytecode cache (its per-user directory under the temp dir, keyed by name and source checksum):
    a command is a new process, and compiling the writer's two dozen templates cost it ~40 ms each run."""
    from jinja2 import ChoiceLoader, DictLoader, Environment, FileSystemLoader, StrictUndefined

    env = Environment(
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
        loader=ChoiceLoader([DictLoader(_STRINGS), FileSystemLoader(str(prompts_dir()))]),
        trim_blocks=True,
        lstrip_blocks=True,
        bytecode_cache=_bytecode_cache(),
    )
    env.filters.update(_COMMON_FILTERS, md=md_escape)
    return env


@lru_cache(maxsize=1024)
def text_template(source: str) -> Template:
    """A template string of the prompt files, compiled once (per process, and across processes through the
    bytecode cache): the writer renders the same few dozen for every fork."""
    name = "text:" + hashlib.sha1(source.encode()).hexdigest()
    _STRINGS[name] = source
    return text_env().get_template(name)


_AS_WRITTEN = re.compile(r"\S*(?:[._/\\:@#]\S|[0-9]|[a-z][A-Z])\S*")
"""A word written as its author must see it: a file, a path, a version, an identifier (``pdffonts.py``,
``go.uuid``, ``iOS``, ``v2``)."""


def first_upper(s: object) -> str:
    """The text with its first letter capitalised (a phrase opening a sentence), the rest as it is; a text that
    opens with a file name or an identifier keeps it as written ("pdffonts.py extracts …", not "Pdffonts.py")."""
    text = str(s)
    first = text.split(maxsplit=1)[0].rstrip(",;:") if text.strip() else ""
    if _AS_WRITTEN.fullmatch(first):
        return text
    return text[:1].upper() + text[1:]


def with_phrase(s: object) -> str:
    """A phrase joined to "a rewrite …": "with X" for a noun phrase ("with support for comments"), "for X" for
    what the work does ("for enforcing pep8", never "with enforcing pep8")."""
    text = str(s)
    first = text.split(maxsplit=1)[0].lower() if text.strip() else ""
    stem = first.removesuffix("ing")
    gerund = stem != first and len(stem) >= 3 and re.search(r"[aeiouy]", stem) is not None  # not "string", "thing"
    return f"for {text}" if gerund else f"with {text}"


_COMMON_FILTERS = {"day": day, "count": count, "first_upper": first_upper, "with_phrase": with_phrase}
"""The filters both template environments share (text and HTML)."""


_INLINE_TAGS = {"a", "em", "strong", "code"}


def markdown_inline(text: object) -> Markup:
    """Untrusted inline Markdown as safe HTML: raw HTML off in the parser, then sanitised (links, emphasis, code)."""
    import nh3
    from markdown_it import MarkdownIt

    html = MarkdownIt("commonmark", {"html": False}).renderInline(str(text or ""))
    clean = nh3.clean(
        html, tags=_INLINE_TAGS, attributes={"a": {"href"}}, url_schemes={"http", "https"}, link_rel="nofollow noopener"
    )
    return Markup(clean)


_BLOCK_TAGS = _INLINE_TAGS | {"p", "pre", "ul", "ol", "li", "blockquote", "h1", "h2", "h3", "h4", "h5", "h6", "hr",
                               "table", "thead", "tbody", "tr", "th", "td", "br", "del"}  # fmt: skip
_ALERT = re.compile(r"^(\s*>\s*)\[!(NOTE|TIP|IMPORTANT|WARNING|CAUTION)\]\s*$", re.MULTILINE)


def markdown_block(text: object) -> Markup:
    """Untrusted Markdown (a README section) as safe HTML: raw HTML off in the parser, GitHub's alerts
    (``> [!NOTE]``) as a bold label, images dropped (the page loads nothing from elsewhere), then sanitised."""
    from markdown_it import MarkdownIt

    src = _ALERT.sub(lambda m: f"{m.group(1)}**{m.group(2).capitalize()}:**", str(text or ""))
    import nh3

    html = MarkdownIt("commonmark", {"html": False}).enable("table").enable("strikethrough").render(src)
    clean = nh3.clean(
        html, tags=_BLOCK_TAGS, attributes={"a": {"href"}}, url_schemes={"http", "https"}, link_rel="nofollow noopener"
    )
    return Markup(clean)


@lru_cache(maxsize=1)
def html_env() -> Environment:
    from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

    env = Environment(
        undefined=StrictUndefined,
        autoescape=select_autoescape(default=True),
        loader=FileSystemLoader(str(prompts_dir())),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(_COMMON_FILTERS, markdown_inline=markdown_inline, markdown_block=markdown_block)
    return env
