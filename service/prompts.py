"""Loading prompt and text templates from ``prompts/`` (files, never strings in code)."""

from __future__ import annotations

import os
import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape


def prompts_dir() -> Path:
    env = os.environ.get("FORKWISE_PROMPTS_DIR")
    return Path(env) if env else Path(__file__).resolve().parent.parent / "prompts"


@lru_cache(maxsize=16)
def load_toml(name: str) -> dict[str, Any]:
    return tomllib.loads((prompts_dir() / name).read_text(encoding="utf-8"))


_MD_SPECIAL = str.maketrans({c: "\\" + c for c in "\\`*_[]<>|#"})


def md_escape(text: object) -> str:
    """Untrusted text made inert in Markdown: one line, special characters escaped."""
    return " ".join(str(text).split()).translate(_MD_SPECIAL)


def _date(value: object) -> str:
    return value.date().isoformat() if hasattr(value, "date") else str(value)


def count(n: int, noun: str, plural: str | None = None) -> str:
    """``3 | count("commit")`` → "3 commits"; ``1 | count("fix", "fixes")`` → "1 fix"."""
    return f"{n} {noun if n == 1 else (plural or noun + 's')}"


@lru_cache(maxsize=1)
def text_env() -> Environment:
    """Jinja for plain text (sentences, Markdown): strict, no autoescape."""
    env = Environment(
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
        loader=FileSystemLoader(str(prompts_dir())),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["md"] = md_escape
    env.filters["day"] = _date
    env.filters["count"] = count
    return env


@lru_cache(maxsize=1)
def html_env() -> Environment:
    env = Environment(
        undefined=StrictUndefined,
        autoescape=select_autoescape(default=True),
        loader=FileSystemLoader(str(prompts_dir())),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["day"] = _date
    env.filters["count"] = count
    return env
