"""Plain values the settings, the command line and the API share, with nothing to import behind them (the
command line's help is built from these without loading pydantic-settings)."""

from __future__ import annotations

from enum import StrEnum


class WriterName(StrEnum):
    """Who writes verdicts and chat answers: the deterministic writer, or an LLM that only phrases and selects."""

    facts = "facts"
    openai = "openai"
    local = "local"


DEFAULT_MAX_FORKS = 100
"""Forks analysed in depth when they were discovered on a forge and no cap was given."""
